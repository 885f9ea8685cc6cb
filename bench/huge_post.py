"""How long one huge POST holds up another client, per server kind.

Usage: python3 bench/huge_post.py [PACKETS] [KIND ...]

KIND is one of bench/run.sh's server kinds (default: engineio-sync
engineio-sync-threading pyeio-eventlet); an engineio-sync kind ending in
``@before`` runs from the checkout in $ENGINEIO_SYNC_BEFORE. Each server
is started fresh on core 0. A bystander client does polling round trips
(POST a message, GET its echo) back to back from core 1 while another
client POSTs one payload of PACKETS tiny messages (``4x``, so 330,000
packets are a 660 KB body). Reported: how long the huge POST took, the
bystander's slowest round trip while it ran, and how many round trips it
completed meanwhile. The lower the slowest round trip, the less one
client's huge POST stalls the others.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.environ.get('BENCH_PY', os.path.expanduser(
    '~/.cache/engineio-bench-venv/bin/python'))
KINDS = {
    'engineio-sync': ([PY, 'servers/engineio_sync_server.py'], 8411,
                      ['native', 'eventlet']),
    'engineio-sync-threading': ([PY, 'servers/engineio_sync_server.py'],
                                8412, ['native', 'threading']),
    'pyeio-eventlet': ([PY, 'servers/pyeio_eventlet.py'], 8413, []),
}
QS = '/engine.io/?EIO=4&transport=polling'


def request(conn: http.client.HTTPConnection, method: str, path: str,
            body: bytes | None = None) -> bytes:
    conn.request(method, path, body=body,
                 headers={'Content-Type': 'text/plain;charset=UTF-8'})
    return conn.getresponse().read()


def handshake(conn: http.client.HTTPConnection) -> str:
    body = request(conn, 'GET', QS)
    return json.loads(body.decode().split('\x1e')[0][1:])['sid']


def measure(kind: str, packets: int) -> dict:
    base_kind = kind.removesuffix('@before')
    env = dict(os.environ)
    if base_kind != kind:
        env['ENGINEIO_SYNC_PATH'] = os.environ['ENGINEIO_SYNC_BEFORE']
    cmd, port, args = KINDS[base_kind]
    server = subprocess.Popen(['taskset', '-c', '0'] + cmd + [str(port)] +
                              args, cwd=HERE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
    os.sched_setaffinity(0, {1})
    try:
        for _ in range(150):  # up to 15 s to come up
            try:
                conn = http.client.HTTPConnection('127.0.0.1', port,
                                                  timeout=120)
                big_sid = handshake(conn)
                break
            except OSError:
                time.sleep(0.1)
        small = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        small_sid = handshake(small)
        small_q = f'{QS}&sid={small_sid}'
        body = '\x1e'.join(['4x'] * packets).encode()
        done = threading.Event()
        took: list[float] = []

        def big_post() -> None:
            start = time.perf_counter()
            request(conn, 'POST', f'{QS}&sid={big_sid}', body)
            took.append(time.perf_counter() - start)
            done.set()

        worst = 0.0
        trips = 0
        thread = threading.Thread(target=big_post)
        thread.start()
        while not done.is_set() and trips < 100_000:
            start = time.perf_counter()
            request(small, 'POST', small_q, b'4ping')
            while b'4ping' not in request(small, 'GET', small_q):
                pass
            worst = max(worst, time.perf_counter() - start)
            trips += 1
        thread.join(120)
        return {'kind': kind, 'packets': packets,
                'huge_post_s': round(took[0], 3) if took else None,
                'bystander_worst_round_trip_ms': round(worst * 1000, 1),
                'bystander_round_trips_meanwhile': trips}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 330_000
    kinds = sys.argv[2:] or list(KINDS)
    os.environ.setdefault('ENGINEIO_SYNC_PATH', os.path.dirname(HERE))
    for kind in kinds:
        print(measure(kind, n), flush=True)

"""Server memory per parked long-poll GET, for several server kinds.

Usage: python3 bench/parked_memory.py [N] [KIND ...]
KIND is one of bench/run.sh's server kinds (default: pyeio-eventlet
engineio-sync engineio-sync-wsgi); an engineio-sync kind ending in
``@before`` runs from the checkout in $ENGINEIO_SYNC_BEFORE. Each server is started fresh, pinned to
core 0; node parks N polling sessions (one GET waiting in each) from core 1
and the server's RSS is read before and after. Ping interval 25 s keeps
every GET parked for the whole measurement.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.environ.get('BENCH_PY', os.path.expanduser(
    '~/.cache/engineio-bench-venv/bin/python'))
KINDS = {
    'pyeio-eventlet': ([PY, 'servers/pyeio_eventlet.py'], 8401),
    'engineio-sync': ([PY, 'servers/engineio_sync_server.py'], 8404),
    'engineio-sync-wsgi': ([PY, 'servers/engineio_sync_server.py'], 8405),
    'engineio-sync-threading': ([PY, 'servers/engineio_sync_server.py'],
                                8406),
    'node-engineio': (['node', 'servers/node_engineio.js'], 8403),
}
# Extra arguments of a kind after its port.
EXTRA = {'engineio-sync-wsgi': ['wsgi'],
         'engineio-sync-threading': ['native', 'threading']}


def rss_kib(pid: int) -> int:
    with open(f'/proc/{pid}/status') as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))


def measure(kind: str, n: int) -> dict:
    base_kind = kind.removesuffix('@before')
    env = dict(os.environ)
    if base_kind != kind:
        env['ENGINEIO_SYNC_PATH'] = os.environ['ENGINEIO_SYNC_BEFORE']
    cmd, port = KINDS[base_kind]
    args = cmd + [str(port)] + EXTRA.get(base_kind, [])
    server = subprocess.Popen(['taskset', '-c', '0'] + args, cwd=HERE,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
    try:
        for _ in range(150):  # up to 15 s to come up
            probe = subprocess.run(
                ['curl', '-s', '-o', '/dev/null', '-m', '1',
                 f'http://127.0.0.1:{port}/engine.io/?EIO=4&transport=polling'],
                capture_output=True)
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        time.sleep(1)
        base = rss_kib(server.pid)
        parker = subprocess.Popen(
            ['taskset', '-c', '1', 'node', os.path.join(HERE, 'node',
                                                          'parked.js'),
             str(port), str(n), '10000'],
            stdout=subprocess.PIPE, text=True)
        line = parker.stdout.readline()
        parked = int(re.search(r'"parked":(\d+)', line).group(1))
        time.sleep(2)
        loaded = rss_kib(server.pid)
        parker.kill()
        return {'kind': kind, 'parked': parked, 'rss_base_kib': base,
                'rss_loaded_kib': loaded,
                'kib_per_parked_poll': round((loaded - base) / max(1, parked),
                                             1)}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    kinds = sys.argv[2:] or list(KINDS)
    os.environ.setdefault('ENGINEIO_SYNC_PATH', os.path.dirname(HERE))
    for kind in kinds:
        print(measure(kind, n), flush=True)

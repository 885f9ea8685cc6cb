"""What one client that stops reading costs the others, per server kind.

Usage: python3 bench/stuck_peer.py [SECONDS] [KIND ...]

KIND is one of bench/run.sh's server kinds (default: engineio-sync
engineio-sync-threading pyeio-eventlet); an engineio-sync kind ending in
``@before`` runs from the checkout in $ENGINEIO_SYNC_BEFORE. Each server
is started fresh (the echo servers of bench/servers/, pinned to core 0).

1. **A stuck WebSocket.** One client opens a WebSocket with a 4 KB receive
   buffer, sends 20,000 messages of 1,000 bytes (the server echoes them:
   20 MB) and never reads. Beside it, three canary WebSocket clients do
   echo round trips back to back for SECONDS (default 10), with the
   servers' ping interval set to 1 s. Reported: the canaries' round trips
   and their slowest one, the longest time a canary went without a ping
   (a frozen heartbeat shows here), how much the server's RSS grew, and
   whether (and when) the server cut the stuck connection.
2. **A dead long-poll.** A polling client parks a GET on a connection of
   its own and resets that connection; then it POSTs 10 messages (echoed
   back) and polls once more. Reported: how many of the 10 echoes that
   poll brings.
"""

import base64
import http.client
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.environ.get('BENCH_PY', os.path.expanduser(
    '~/.cache/engineio-bench-venv/bin/python'))
KINDS = {
    'engineio-sync': ([PY, 'servers/engineio_sync_server.py'], 8421,
                      ['native', 'eventlet']),
    'engineio-sync-threading': ([PY, 'servers/engineio_sync_server.py'],
                                8422, ['native', 'threading']),
    'pyeio-eventlet': ([PY, 'servers/pyeio_eventlet.py'], 8423, []),
    # As run.sh serves it: gunicorn's gthread worker.
    'pyeio-threading': ([PY, '-m', 'gunicorn', '-w', '1', '--threads',
                         '100', '--chdir', 'servers', 'pyeio_threading:app',
                         '-b'], 8424, []),
}
WS_PATH = '/engine.io/?EIO=4&transport=websocket'
POLL_PATH = '/engine.io/?EIO=4&transport=polling'


def rss_kib(pid: int) -> int:
    """RSS of a process and its children (gunicorn's worker)."""
    with open(f'/proc/{pid}/status') as f:
        total = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    return total + sum(rss_kib(child) for child in children)


def frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    elif n < 65536:
        head = bytes([0x81, 0x80 | 126]) + struct.pack('!H', n)
    else:
        head = bytes([0x81, 0x80 | 127]) + struct.pack('!Q', n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class WebSocket:
    """Just enough of a WebSocket client for echo round trips."""

    def __init__(self, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(('127.0.0.1', port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f'GET {WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n'
            '\r\n').encode())
        self.buf = b''
        self.pings: list[float] = []
        while b'\r\n\r\n' not in self.buf:
            self.buf += self.recv()
        self.buf = self.buf.split(b'\r\n\r\n', 1)[1]
        opened = self.receive()
        assert opened.startswith('0{'), opened

    def recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError('closed by the server')
        return data

    def receive(self) -> str:
        """The next text message (pings are answered on the way)."""
        for _ in range(1000):
            while len(self.buf) < 2:
                self.buf += self.recv()
            n = self.buf[1] & 0x7F
            start = 2
            if n == 126:
                start = 4
            elif n == 127:
                start = 10
            while len(self.buf) < start:
                self.buf += self.recv()
            if n == 126:
                n = struct.unpack('!H', self.buf[2:4])[0]
            elif n == 127:
                n = struct.unpack('!Q', self.buf[2:10])[0]
            while len(self.buf) < start + n:
                self.buf += self.recv()
            text = self.buf[start:start + n].decode()
            self.buf = self.buf[start + n:]
            if text == '2':
                self.pings.append(time.monotonic())
                self.sock.sendall(frame('3'))
                continue
            return text
        raise RuntimeError('only pings')


def stuck_websocket(port: int, pid: int, seconds: float) -> dict:
    canaries = [WebSocket(port) for _ in range(3)]
    rss_before = rss_kib(pid)
    stuck = WebSocket(port, rcvbuf=4096)
    message = frame('4' + 'x' * 1000)
    # A server that stops reading from the stuck client (it is blocked
    # writing to it) makes these sends time out.
    stuck.sock.settimeout(2)
    sent = 0
    try:
        for _ in range(20):
            stuck.sock.sendall(message * 1000)
            sent += 1000
    except OSError:
        pass              # the server cut it while we were still sending
    stuck_started = watch_start = time.monotonic()
    stuck.sock.setblocking(False)
    cut_after = None
    trips, slowest = 0, 0.0
    end = time.monotonic() + seconds
    peak_rss = rss_before
    while time.monotonic() < end and trips < 1_000_000:
        for n, ws in enumerate(canaries):
            t0 = time.monotonic()
            ws.sock.sendall(frame(f'4c{trips}'))
            assert ws.receive() == f'4c{trips}'
            slowest = max(slowest, time.monotonic() - t0)
            trips += 1
        if cut_after is None and _is_cut(stuck.sock):
            cut_after = time.monotonic() - stuck_started
        if trips % 300 == 0:
            peak_rss = max(peak_rss, rss_kib(pid))
    peak_rss = max(peak_rss, rss_kib(pid))
    if cut_after is None and _is_cut(stuck.sock):
        cut_after = time.monotonic() - stuck_started
    watch_end = time.monotonic()
    gaps = []
    for ws in canaries:
        times = [t for t in ws.pings if t >= watch_start] + [watch_end]
        gaps.append(max(b - a for a, b in zip([watch_start] + times,
                                              times)))
    for ws in canaries + [stuck]:
        ws.sock.close()
    return {'stuck_messages_sent': sent, 'canary_round_trips': trips,
            'canary_slowest_ms': round(slowest * 1000, 1),
            'canary_pings': sum(len([t for t in ws.pings
                                     if t >= watch_start])
                                for ws in canaries),
            'canary_longest_without_ping_s': round(max(gaps), 1),
            'rss_growth_mib': round((peak_rss - rss_before) / 1024, 1),
            'stuck_cut_after_s': (None if cut_after is None
                                  else round(cut_after, 1))}


def _is_cut(sock: socket.socket) -> bool:
    """True once the server closed or reset the connection; what it sent
    is read and thrown away (this client reads only to find out)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1 << 20) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


def dead_long_poll(port: int) -> dict:
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    conn.request('GET', POLL_PATH)
    body = conn.getresponse().read().decode()
    sid = json.loads(body[1:body.index('}') + 1])['sid']
    path = f'{POLL_PATH}&sid={sid}'
    raw = socket.create_connection(('127.0.0.1', port), timeout=5)
    raw.sendall(f'GET {path} HTTP/1.1\r\nHost: x\r\n\r\n'.encode())
    time.sleep(0.3)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack('ii', 1, 0))
    raw.close()
    time.sleep(0.3)
    conn.request('POST', path, body='\x1e'.join(f'4m{i}' for i in range(10)))
    conn.getresponse().read()
    time.sleep(0.3)
    conn.request('GET', path)
    try:
        got = conn.getresponse().read().decode().split('\x1e')
    except TimeoutError:
        got = []          # the poll parked: the echoes are gone
    conn.close()
    return {'dead_get_echoes_recovered': sum(
        1 for p in got if re.fullmatch(r'4m\d', p)), 'of': 10}


def run(kind: str, seconds: float) -> dict:
    name, _, before = kind.partition('@')
    cmd, port, args = KINDS[name]
    env = dict(os.environ, BENCH_PING_INTERVAL='1')
    if before:
        env['ENGINEIO_SYNC_PATH'] = os.environ['ENGINEIO_SYNC_BEFORE']
    proc = subprocess.Popen(
        ['taskset', '-c', '0'] + cmd + [
            f'127.0.0.1:{port}' if cmd[-1] == '-b' else str(port)] + args,
        cwd=HERE,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(('127.0.0.1', port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        result = {'kind': kind}
        result.update(dead_long_poll(port))
        result.update(stuck_websocket(port, proc.pid, seconds))
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    kinds = sys.argv[2:] or ['engineio-sync', 'engineio-sync-threading',
                             'pyeio-eventlet']
    os.sched_setaffinity(0, {1})
    for kind in kinds:
        print(json.dumps(run(kind, seconds)), flush=True)


if __name__ == '__main__':
    main()

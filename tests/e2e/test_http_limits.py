"""The HTTP servers at their limits: the descriptor limit, and stop().

At the descriptor limit accept() fails with EMFILE while the pending
connection stays in the backlog. The server must pause between tries
(not spin), log about it once per interval (not per failure), keep serving
the connections it has, and accept again by itself once descriptors are
free: engineio_sync's own server on eventlet and threads, and eventlet.wsgi
as ``listen(http_server='wsgi')`` runs it (which used to exit).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# listen(http_server='wsgi') on eventlet, limited once it listens.
WSGI_SCRIPT = textwrap.dedent('''
    import logging, os, resource, sys
    sys.path.insert(0, sys.argv[1])
    import eventlet
    import engineio_sync
    logging.basicConfig(level=logging.WARNING,
                        format='%(name)s %(levelname)s %(message)s')

    def plain(environ, start_response):
        body = ('app:' + environ['PATH_INFO']).encode()
        start_response('200 OK', [('Content-Length', str(len(body)))])
        return [body]

    def ready(server):
        used = len(os.listdir('/proc/self/fd'))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 6, hard))
        print('LISTENING', server.listening_port, flush=True)

    engineio_sync.listen(0, async_mode='eventlet', http_server='wsgi',
                         wsgi_app=plain, ready=ready)
''')


class Proc:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **env})
        line = self.proc.stdout.readline()
        if not line.startswith('LISTENING'):
            self.proc.kill()
            raise RuntimeError('no server: ' + line + self.proc.stderr.read())
        self.port = int(line.split()[1])
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def stop(self) -> None:
        stop_process(self.proc)
        self.pump.join(2)


def request(sock: socket.socket, path: str) -> bytes:
    """One keep-alive GET on ``sock``; the response (Content-Length)."""
    sock.sendall(f'GET {path} HTTP/1.1\r\nHost: a\r\n\r\n'.encode())
    out = b''
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        head, sep, body = out.partition(b'\r\n\r\n')
        if sep:
            length = int(head.lower().split(b'content-length:')[1]
                         .split(b'\r\n')[0])
            if len(body) >= length:
                return out
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


@pytest.mark.parametrize('kind', ['native-eventlet', 'native-threading',
                                  'eventlet.wsgi'])
def test_descriptor_limit_backs_off_serves_and_recovers(kind):
    if kind == 'eventlet.wsgi':
        server = Proc([sys.executable, '-c', WSGI_SCRIPT, REPO], {})
        path, expect = '/x', b'app:/x'
    else:
        server = Proc([sys.executable, os.path.join(HERE, 'strict_app.py'),
                       kind.split('-')[1]], {'EIO_STRICT_NOFILE': '6'})
        path, expect = '/info', b'/info||a'
    extra: list[socket.socket] = []
    try:
        held = socket.create_connection(('127.0.0.1', server.port),
                                        timeout=5)
        assert request(held, path).endswith(expect)
        # More connections than descriptors: the first few are accepted,
        # then accept() fails with EMFILE and the rest wait in the backlog.
        for _ in range(20):
            extra.append(socket.create_connection(
                ('127.0.0.1', server.port), timeout=5))
        time.sleep(2.0)
        assert server.proc.poll() is None, 'the server exited'
        # The connection it has is still served.
        assert request(held, path).endswith(expect)
        failures = [line for line in server.stderr
                    if 'accept() failed' in line]
        assert 1 <= len(failures) <= 2, ''.join(server.stderr[-20:])
        for sock in extra:
            sock.close()
        extra.clear()
        # Descriptors are free again: a newcomer is served, by itself.
        deadline = time.monotonic() + 10
        while True:
            fresh = socket.create_connection(('127.0.0.1', server.port),
                                             timeout=5)
            try:
                if request(fresh, path).endswith(expect):
                    break
            except OSError:
                pass
            finally:
                fresh.close()
            assert time.monotonic() < deadline, 'never recovered'
            time.sleep(0.2)
        assert any('accept() works again' in line for line in server.stderr)
        held.close()
    finally:
        for sock in extra:
            sock.close()
        server.stop()
    assert not any('Traceback' in line for line in server.stderr), \
        ''.join(server.stderr)


STOP_SCRIPT = textwrap.dedent('''
    import socket, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    driver_name = sys.argv[2]
    if driver_name == 'eventlet':
        import eventlet
    import engineio_sync
    from engineio_sync.http_server import HTTPServer

    def app(environ, start_response):
        start_response('200 OK', [('Content-Length', '2')])
        return [b'ok']

    driver = engineio_sync.Server(async_mode=driver_name).driver
    http = HTTPServer(app, '127.0.0.1', 0, driver=driver)
    returned = []

    def serve():
        http.serve_forever()
        returned.append(time.monotonic())

    driver.spawn(serve)
    driver.sleep(0.3)
    stopped = time.monotonic()
    http.stop()
    for _ in range(30):
        if returned:
            break
        driver.sleep(0.1)
    try:
        socket.create_connection(('127.0.0.1', http.port), timeout=1).close()
        listening = True
    except OSError:
        listening = False
    print('RETURNED' if returned else 'STUCK',
          'LISTENING' if listening else 'CLOSED',
          round(returned[0] - stopped, 3) if returned else None, flush=True)
''')


@pytest.mark.parametrize('driver', ['eventlet', 'threading'])
def test_stop_makes_serve_forever_return(driver):
    out = subprocess.run([sys.executable, '-c', STOP_SCRIPT, REPO, driver],
                         capture_output=True, text=True, timeout=30)
    words = out.stdout.split()
    assert words[:2] == ['RETURNED', 'CLOSED'], out.stdout + out.stderr
    assert float(words[2]) < 1.5

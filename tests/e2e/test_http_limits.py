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
import time

import pytest

from support.processes import ListeningProcess
from support.waiting import wait_until

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
        server = ListeningProcess([sys.executable, '-c', WSGI_SCRIPT, REPO])
        path, expect = '/x', b'app:/x'
    else:
        server = ListeningProcess(
            [sys.executable, os.path.join(HERE, 'strict_app.py'),
             kind.split('-')[1]],
            env={**os.environ, 'EIO_STRICT_NOFILE': '6'})
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
        server.wait_line(r'accept\(\) failed', 'err')
        # Failures go on meanwhile: a server that spun or logged each one
        # would fill these seconds with lines.
        time.sleep(1.0)
        assert server.proc.poll() is None, 'the server exited'
        # The connection it has is still served.
        assert request(held, path).endswith(expect)
        failures = [line for line in server.err
                    if 'accept() failed' in line]
        assert 1 <= len(failures) <= 2, ''.join(server.err[-20:])
        for sock in extra:
            sock.close()
        extra.clear()
        # Descriptors are free again: a newcomer is served, by itself.

        def served() -> bool:
            with socket.create_connection(('127.0.0.1', server.port),
                                          timeout=5) as fresh:
                return request(fresh, path).endswith(expect)
        wait_until(served, what='serving again', interval=0.2,
                   ignore=(OSError,))
        assert any('accept() works again' in line for line in server.err)
        held.close()
    finally:
        for sock in extra:
            sock.close()
        server.stop()
    assert not server.tracebacks(), server.stderr


STOP_SCRIPT = textwrap.dedent('''
    import socket, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    driver_name = sys.argv[2]
    if driver_name == 'eventlet':
        import eventlet
        # The test's own request must let the server's green thread run.
        from eventlet.green import socket as client_socket
    else:
        client_socket = socket
    import engineio_sync
    from engineio_sync.http_server import HTTPServer

    def app(environ, start_response):
        start_response('200 OK', [('Content-Length', '2')])
        return [b'ok']

    driver = engineio_sync.Server(async_mode=driver_name).driver
    http = HTTPServer(app, '127.0.0.1', 0, driver=driver)
    returned = []
    done = driver.event()

    def serve():
        http.serve_forever()
        returned.append(time.monotonic())
        done.set()

    driver.spawn(serve)
    # Serving (stop() is for a server that serves): a request is answered.
    with client_socket.create_connection(('127.0.0.1', http.port),
                                         timeout=5) as client:
        client.sendall(b'GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n')
        assert client.recv(100).startswith(b'HTTP/1.1 200')
    stopped = time.monotonic()
    http.stop()
    done.wait(3)
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

"""The native HTTP server on the I/O loop (threading driver), on its own.

What tests/e2e/test_http_server.py, test_http_strict.py and
test_http_limits.py check holds for it too (they run it); these are what
only the loop has: connections and parked responses that hold no thread,
deferred responses, bodies read in the loop, writes the loop finishes.
Served by tests/e2e/loop_http_app.py in a process of its own.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys

import pytest

from support.processes import ListeningProcess

HERE = os.path.dirname(os.path.abspath(__file__))


def serve(pool: int = 16) -> ListeningProcess:
    return ListeningProcess(
        [sys.executable, os.path.join(HERE, 'loop_http_app.py')],
        env={**os.environ, 'EIO_LOOP_POOL': str(pool)})


@pytest.fixture
def server():
    proc = serve()
    yield proc
    proc.stop()
    assert not proc.tracebacks(), proc.stderr


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(('127.0.0.1', port), timeout=timeout)


def get(path: str, close: bool = False) -> bytes:
    return (f'GET {path} HTTP/1.1\r\nHost: a\r\n' +
            ('Connection: close\r\n' if close else '') + '\r\n').encode()


def read_response(sock: socket.socket, buf: bytearray | None = None
                  ) -> tuple[bytes, bytes]:
    """(head, body) of one response with a Content-Length; ``buf`` holds
    what was read beyond it (the next response's bytes)."""
    data = buf if buf is not None else bytearray()
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        assert chunk, f'connection closed in a head: {bytes(data)!r}'
        data += chunk
    head, _, rest = bytes(data).partition(b'\r\n\r\n')
    length = int(head.lower().split(b'content-length: ')[1]
                 .split(b'\r\n')[0])
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(1 << 20)
        assert chunk, 'connection closed in a body'
        body += chunk
    if buf is not None:
        buf[:] = body[length:]
    return head, bytes(body[:length])


def ask(port: int, path: str) -> bytes:
    with connect(port) as sock:
        sock.sendall(get(path, close=True))
        return read_response(sock)[1]


def test_idle_keep_alive_connections_hold_no_thread(server):
    before = int(ask(server.port, '/threads'))
    held = []
    try:
        for i in range(300):
            sock = connect(server.port)
            held.append(sock)
            sock.sendall(get(f'/k{i}'))
            assert read_response(sock)[1] == f'app:/k{i}'.encode()
        during = int(ask(server.port, '/threads'))
        # A thread per connection would be 300 more; the pool is 16.
        assert during <= before + 16, (before, during)
        # ... and each is still served.
        for i, sock in enumerate(held[::50]):
            sock.sendall(get(f'/again{i}'))
            assert read_response(sock)[1] == f'app:/again{i}'.encode()
    finally:
        for sock in held:
            sock.close()


def test_deferred_response_answered_from_another_thread(server):
    with connect(server.port) as sock:
        sock.sendall(get('/defer?after=0.2&tag=one'))
        server.wait_line(r'"ev": "parked", "tag": "one"')
        head, body = read_response(sock)
        assert head.startswith(b'HTTP/1.1 200 OK')
        assert b'Content-Length: 12' in head and body == b'deferred:one'
        server.wait_line(r'"ev": "done", "tag": "one", "ok": true')
        # The connection goes on.
        sock.sendall(get('/after'))
        assert read_response(sock)[1] == b'app:/after'


def test_parked_responses_hold_no_thread(server):
    before = int(ask(server.port, '/threads'))
    held = []
    try:
        for i in range(50):
            sock = connect(server.port)
            held.append(sock)
            sock.sendall(get(f'/defer?after=3&tag=p{i}'))
        for i in range(50):
            server.wait_line(rf'"ev": "parked", "tag": "p{i}"')
        during = int(ask(server.port, '/threads'))
        # Each parked one has a sleeping thread of the app's own (the
        # test app's "later"), none of the server's.
        assert during <= before + 16 + 50, (before, during)
        for i, sock in enumerate(held):
            assert read_response(sock)[1] == f'deferred:p{i}'.encode()
    finally:
        for sock in held:
            sock.close()


def test_client_gone_while_deferred(server):
    sock = connect(server.port)
    sock.sendall(get('/gone?tag=g'))
    server.wait_line(r'"ev": "parked", "tag": "g"')
    sock.close()
    server.wait_line(r'"ev": "gone", "tag": "g"')
    server.wait_line(r'"ev": "done", "tag": "g", "ok": false')
    assert ask(server.port, '/still') == b'app:/still'


def test_pipelined_request_behind_a_deferred_one_waits_its_turn(server):
    with connect(server.port) as sock:
        sock.sendall(get('/defer?after=0.3&tag=first') + get('/second'))
        buf = bytearray()
        assert read_response(sock, buf)[1] == b'deferred:first'
        assert read_response(sock, buf)[1] == b'app:/second'
    server.wait_line(r'"ev": "done", "tag": "first", "ok": true')


def test_slow_reader_of_a_big_body_holds_no_pool_thread():
    server = serve(pool=1)
    try:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(10)
        slow.connect(('127.0.0.1', server.port))
        size = 5_000_000
        slow.sendall(get(f'/big?n={size}'))
        # Not read yet: the 5 MB wait in the server. The one pool thread
        # is free for another client meanwhile.
        assert ask(server.port, '/meanwhile') == b'app:/meanwhile'
        head, body = read_response(slow)
        assert len(body) == size and body == b'x' * size
        slow.sendall(get('/next'))
        assert read_response(slow)[1] == b'app:/next'
        slow.close()
    finally:
        server.stop()
    assert not server.tracebacks(), server.stderr


@pytest.mark.parametrize('size', [10, 60_000, 200_000, 3_000_000])
def test_request_bodies_of_every_size(server, size):
    data = bytes(range(256)) * (size // 256) + b'z' * (size % 256)
    expect = b'len:%d:%s' % (size, hashlib.sha1(data).hexdigest().encode())
    with connect(server.port) as sock:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: a\r\n'
                     b'Content-Length: %d\r\n\r\n' % size)
        # The body comes after the head, in pieces.
        for start in range(0, size, 50_000):
            sock.sendall(data[start:start + 50_000])
        assert read_response(sock)[1] == expect
        sock.sendall(get('/after'))
        assert read_response(sock)[1] == b'app:/after'


def test_chunked_request_body(server):
    pieces = [b'a' * 70_000, b'b' * 10, b'c' * 100_000]
    data = b''.join(pieces)
    with connect(server.port) as sock:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: a\r\n'
                     b'Transfer-Encoding: chunked\r\n\r\n')
        for piece in pieces:
            sock.sendall(b'%x\r\n' % len(piece) + piece + b'\r\n')
        sock.sendall(b'0\r\n\r\n')
        assert read_response(sock)[1] == b'len:%d:%s' % (
            len(data), hashlib.sha1(data).hexdigest().encode())
        sock.sendall(get('/after'))
        assert read_response(sock)[1] == b'app:/after'


def test_a_blocking_handler_does_not_delay_another_connection():
    server = serve(pool=2)
    try:
        with connect(server.port) as slow:
            slow.sendall(get('/slow?s=2'))
            server.wait_line(r'"ev": "slow", "at": "start"')
            assert ask(server.port, '/quick') == b'app:/quick'
            # Answered while the slow handler still sleeps.
            assert not any('"at": "end"' in line for line in server.out)
            assert read_response(slow)[1] == b'slow'
    finally:
        server.stop()
    assert not server.tracebacks(), server.stderr

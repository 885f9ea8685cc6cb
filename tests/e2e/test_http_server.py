"""engineio_sync.http_server: the standalone HTTP/1.1 server, byte by byte."""

from __future__ import annotations

import http.client
import socket
import time

import pytest

from support.httpclient import raw_exchange


# The server with a task per connection (eventlet), and on the I/O loop
# (threads).
KINDS = ['native', 'native-threading']


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def native(start_server, kind):
    return start_server(kind, _app={'wsgi_app': True})


def test_keep_alive_serves_several_requests_on_one_connection(native):
    conn = http.client.HTTPConnection('127.0.0.1', native.port, timeout=5)
    conn.request('GET', '/engine.io/?EIO=4&transport=polling')
    resp = conn.getresponse()
    body = resp.read().decode()
    assert resp.status == 200 and body.startswith('0{')
    sid = body.split('"sid":"')[1].split('"')[0]
    sock = conn.sock
    conn.request('POST', f'/engine.io/?EIO=4&transport=polling&sid={sid}',
                 body=b'4hi')
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b'ok')
    assert conn.sock is sock, 'the same TCP connection was reused'
    conn.request('GET', f'/engine.io/?EIO=4&transport=polling&sid={sid}')
    assert conn.getresponse().read() == b'4hi'
    conn.close()


def test_pipelined_requests_are_answered_in_order(native):
    req = (b'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'
           b'GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    out = raw_exchange(native.port, req)
    assert out.count(b'HTTP/1.1 200 OK') == 2
    assert out.index(b'app:/a') < out.index(b'app:/b')


def test_http10_closes_the_connection(native):
    out = raw_exchange(native.port, b'GET /x HTTP/1.0\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200 OK')
    assert b'Connection: close' in out and out.endswith(b'app:/x')


def test_chunked_request_body(native):
    req = (b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
           b'Connection: close\r\n\r\n'
           b'4\r\nping\r\n5\r\npong!\r\n0\r\n\r\n')
    out = raw_exchange(native.port, req)
    assert out.startswith(b'HTTP/1.1 200 OK')
    assert out.endswith(b'\r\n\r\npingpong!')


def test_expect_100_continue(native):
    sock = socket.create_connection(('127.0.0.1', native.port), timeout=5)
    sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                 b'Expect: 100-continue\r\nConnection: close\r\n\r\n')
    first = sock.recv(4096)
    assert first.startswith(b'HTTP/1.1 100 Continue')
    sock.sendall(b'hello')
    rest = b''
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    sock.close()
    assert (first + rest).endswith(b'hello')


def test_streamed_response_is_chunked(native):
    conn = http.client.HTTPConnection('127.0.0.1', native.port, timeout=5)
    conn.request('GET', '/stream')
    resp = conn.getresponse()
    assert resp.getheader('Transfer-Encoding') == 'chunked'
    assert resp.read() == b'part0;part1;part2;part3;part4;'
    conn.request('GET', '/again')  # the connection is still usable
    assert conn.getresponse().read() == b'app:/again'
    conn.close()


def test_start_response_called_while_iterating(native):
    # A generator that calls start_response on its first step is a normal
    # response, not a taken-over connection.
    conn = http.client.HTTPConnection('127.0.0.1', native.port, timeout=5)
    conn.request('GET', '/lazy')
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b'lazy;start')
    conn.request('GET', '/again')
    assert conn.getresponse().read() == b'app:/again'
    conn.close()


def test_head_has_no_body(native):
    out = raw_exchange(native.port, b'HEAD /x HTTP/1.1\r\nHost: x\r\n'
                                    b'Connection: close\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 200 OK')
    assert out.endswith(b'\r\n\r\n')


@pytest.mark.parametrize('request_bytes, status', [
    (b'NONSENSE\r\n\r\n', b'400'),
    (b'GET / HTTP/2.0\r\n\r\n', b'505'),
    (b'GET / HTTP/1.1\r\nBad Header\r\n\r\n', b'400'),
    (b'POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n', b'400'),
    (b'GET / HTTP/1.1\r\nX-Big: ' + b'a' * 70000 + b'\r\n\r\n', b'431'),
], ids=['garbage', 'http2', 'bad-header', 'bad-length', 'huge-head'])
def test_malformed_requests_get_a_clear_status_and_close(
        native, request_bytes, status):
    out = raw_exchange(native.port, request_bytes)
    assert out.startswith(b'HTTP/1.1 ' + status), out[:80]
    assert b'Connection: close' in out


def test_app_exception_is_500_and_logged(start_server, kind):
    srv = start_server(kind, allow_tracebacks=True,
                       _app={'wsgi_app': True})
    out = raw_exchange(srv.port, b'GET /boom HTTP/1.1\r\nHost: x\r\n\r\n')
    assert out.startswith(b'HTTP/1.1 500')
    conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=5)
    conn.request('GET', '/fine')
    assert conn.getresponse().read() == b'app:/fine', 'server still serves'
    conn.close()


def test_idle_keep_alive_connection_is_closed(start_server, kind):
    srv = start_server(kind, env={'EIO_TEST_KEEPALIVE': '0.5'},
                       _app={'wsgi_app': True})
    sock = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
    started = time.monotonic()
    assert sock.recv(10) == b'', 'the server hung up on the idle client'
    assert time.monotonic() - started < 4
    sock.close()


def test_keep_alive_counts_from_the_last_request(start_server, kind):
    srv = start_server(kind, env={'EIO_TEST_KEEPALIVE': '1'},
                       _app={'wsgi_app': True})
    conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=5)
    conn.request('GET', '/fine')
    assert conn.getresponse().read() == b'app:/fine'
    local = conn.sock.getsockname()
    for _ in range(3):
        # Under the timeout each time, 1.8 s in all: past the deadline
        # of the first request's idle time.
        time.sleep(0.6)
        conn.request('GET', '/fine')
        assert conn.getresponse().read() == b'app:/fine'
        assert conn.sock.getsockname() == local, 'one connection throughout'
    started = time.monotonic()
    assert conn.sock.recv(10) == b'', 'then closed once idle'
    assert 0.5 < time.monotonic() - started < 4
    conn.close()


def test_trickled_request_head_is_cut_off(start_server, kind):
    srv = start_server(kind, env={'EIO_TEST_HEAD_TIMEOUT': '1'},
                       _app={'wsgi_app': True})
    sock = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
    started = time.monotonic()
    out = b''
    for ch in b'GET /slow HTTP/1.1\r\nX-Drip: ' + b'a' * 20:
        try:
            sock.sendall(bytes([ch]))
        except OSError:
            break
        time.sleep(0.15)                 # a slow peer: the point
        if time.monotonic() - started > 4:
            break
    try:
        out = sock.recv(4096)
    except OSError:
        pass
    sock.close()
    assert out.startswith(b'HTTP/1.1 408'), out
    assert time.monotonic() - started < 5


def test_connection_limit_queues_newcomers(start_server, kind):
    srv = start_server(kind, env={'EIO_TEST_MAX_CONNECTIONS': '2'},
                       _app={'wsgi_app': True})
    held = [socket.create_connection(('127.0.0.1', srv.port), timeout=5)
            for _ in range(2)]
    for sock in held:  # both are being served
        sock.sendall(b'GET /held HTTP/1.1\r\nHost: x\r\n\r\n')
        assert sock.recv(4096).endswith(b'app:/held')
    third = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
    third.sendall(b'GET /third HTTP/1.1\r\nHost: x\r\n\r\n')
    third.settimeout(0.5)
    with pytest.raises(socket.timeout):
        third.recv(4096)  # waits in the backlog while two are open
    held[0].close()
    third.settimeout(5)
    assert third.recv(4096).endswith(b'app:/third')
    third.close()
    held[1].close()

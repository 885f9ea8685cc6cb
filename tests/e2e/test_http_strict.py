"""The HTTP server in front of every deployment, given malformed bytes.

Each case is raw bytes sent on one connection to a real server on
127.0.0.1: engineio_sync's own HTTPServer on the eventlet and the threading
driver (tests/e2e/strict_app.py), and gunicorn's gthread worker with the
same app for comparison. Our servers must answer every malformed request
with the expected 4xx/5xx status and close the connection, and then serve
a well-behaved request on another connection. gunicorn must be at least as
strict; where it is laxer, ``GUNICORN_DIFFERS`` records what it does
instead (and the test checks that record, so it stays true).

The shapes come from RFC 9112 (§2.2, §3, §5, §6.1, §6.3, §7.1, §11.2),
the request-smuggling cases of gunicorn's and node's parser tests, and
issue 14.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import sys
import time
from dataclasses import dataclass

import pytest

from support.processes import ListeningProcess

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


@dataclass(frozen=True)
class Case:
    """One malformed (or tricky but valid) request."""

    id: str
    data: bytes
    status: int
    #: shut the sending side after the bytes (a body cut short)
    half_close: bool = False
    #: must appear in the response
    contains: bytes = b''
    #: must not appear in the response
    absent: bytes = b''


def _post(headers: bytes, body: bytes = b'', path: bytes = b'/echo',
          version: bytes = b'HTTP/1.1') -> bytes:
    return (b'POST ' + path + b' ' + version + b'\r\nHost: a\r\n' + headers +
            b'\r\n' + body)


def _chunked(body: bytes, close: bool = False) -> bytes:
    extra = b'Connection: close\r\n' if close else b''
    return _post(b'Transfer-Encoding: chunked\r\n' + extra, body)


def _get(rest: bytes) -> bytes:
    return b'GET /info HTTP/1.1\r\nHost: a\r\n' + rest + b'\r\n'


SMUGGLED = b'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n'

CASES = [
    # Framing (RFC 9112 §6.1, §6.3): what a front proxy may read otherwise.
    Case('cl-and-te', _post(b'Content-Length: 6\r\n'
                            b'Transfer-Encoding: chunked\r\n',
                            b'0\r\n\r\n' + SMUGGLED), 400),
    Case('te-and-cl', _post(b'Transfer-Encoding: chunked\r\n'
                            b'Content-Length: 6\r\n',
                            b'0\r\n\r\n' + SMUGGLED), 400),
    Case('te-xchunked', _post(b'Transfer-Encoding: xchunked\r\n',
                              b'0\r\n\r\n' + SMUGGLED), 400),
    Case('te-chunked-identity', _post(b'Transfer-Encoding: chunked, '
                                      b'identity\r\n', b'0\r\n\r\n'), 400),
    Case('te-gzip-only', _post(b'Transfer-Encoding: gzip\r\n'
                               b'Content-Length: 3\r\n', b'abc'), 400),
    Case('te-gzip-chunked', _post(b'Transfer-Encoding: gzip, chunked\r\n',
                                  b'0\r\n\r\n'), 501),
    Case('te-chunked-twice', _post(b'Transfer-Encoding: chunked, '
                                   b'chunked\r\n', b'0\r\n\r\n'), 400),
    Case('te-two-lines', _post(b'Transfer-Encoding: chunked\r\n'
                               b'Transfer-Encoding: chunked\r\n',
                               b'0\r\n\r\n'), 400),
    Case('te-in-http10', _post(b'Transfer-Encoding: chunked\r\n',
                               b'0\r\n\r\n', version=b'HTTP/1.0'), 400),
    Case('te-space-before-colon', _post(b'Transfer-Encoding : chunked\r\n',
                                        b'0\r\n\r\n'), 400),
    Case('te-obs-fold', _post(b'Transfer-Encoding:\r\n chunked\r\n',
                              b'0\r\n\r\n'), 400),
    Case('te-vertical-tab', _post(b'Transfer-Encoding:\x0bchunked\r\n',
                                  b'0\r\n\r\n'), 400),
    Case('te-underscore-dropped', _post(b'Transfer_Encoding: chunked\r\n'
                                        b'Content-Length: 3\r\n'
                                        b'Connection: close\r\n', b'abc'),
         200, contains=b'len:3:abc'),
    Case('cl-underscore-dropped', _post(b'Content_Length: 5\r\n'
                                        b'Connection: close\r\n', b'hello'),
         200, contains=b'len:0:'),
    Case('cl-superscript-two', _post(b'Content-Length: \xb2\r\n', b'ab'),
         400),
    Case('cl-5000-digits', _post(b'Content-Length: ' + b'9' * 5000 +
                                 b'\r\n', b'x'), 400),
    Case('cl-negative', _post(b'Content-Length: -1\r\n'), 400),
    Case('cl-plus', _post(b'Content-Length: +5\r\n', b'hello'), 400),
    Case('cl-hex', _post(b'Content-Length: 0x5\r\n', b'hello'), 400),
    Case('cl-list', _post(b'Content-Length: 5, 5\r\n', b'hello'), 400),
    Case('cl-space-inside', _post(b'Content-Length: 5 0\r\n', b'hello'),
         400),
    Case('cl-repeated', _post(b'Content-Length: 5\r\nContent-Length: 5\r\n',
                              b'hello'), 400),
    Case('cl-conflicting', _post(b'Content-Length: 5\r\n'
                                 b'Content-Length: 6\r\n', b'hello!'), 400),
    Case('cl-cut-short', _post(b'Content-Length: 10\r\n', b'hello'), 400,
         half_close=True),
    # Chunked bodies (RFC 9112 §7.1).
    Case('chunk-size-0x', _chunked(b'0x5\r\nhello\r\n0\r\n\r\n'), 400),
    Case('chunk-size-plus', _chunked(b'+5\r\nhello\r\n0\r\n\r\n'), 400),
    Case('chunk-size-minus', _chunked(b'-5\r\nhello\r\n0\r\n\r\n'), 400),
    Case('chunk-size-underscore', _chunked(b'0_5\r\nhello\r\n0\r\n\r\n'),
         400),
    Case('chunk-size-spaces', _chunked(b' 5 \r\nhello\r\n0\r\n\r\n'), 400),
    Case('chunk-size-trailing-space', _chunked(b'5 \r\nhello\r\n0\r\n\r\n'),
         400),
    Case('chunk-size-over-64-bits', _chunked(b'1' + b'0' * 16 +
                                             b'\r\nhello\r\n'), 400),
    Case('chunk-size-huge', _chunked(b'f' * 20 + b'\r\nhello\r\n'), 400),
    Case('chunk-size-leading-zeros', _chunked(b'0' * 20 + b'5\r\nhello\r\n'
                                              b'0\r\n\r\n', close=True),
         200, contains=b'len:5:hello'),
    Case('chunk-size-bare-lf', _chunked(b'5\nhello\r\n0\r\n\r\n'), 400),
    Case('chunk-bad-extension', _chunked(b'5;\x01\r\nhello\r\n0\r\n\r\n'),
         400),
    Case('chunk-stray-bytes', _chunked(b'5\r\nhelloXX\r\n0\r\n\r\n'), 400),
    Case('chunk-lf-after-data', _chunked(b'5\r\nhello\n0\r\n\r\n'), 400),
    Case('chunk-no-crlf-after-data', _chunked(b'5\r\nhello0\r\n\r\n'), 400),
    Case('chunk-bad-trailer', _chunked(b'0\r\nBad Trailer\r\n\r\n'), 400),
    Case('chunk-cut-short', _chunked(b'5\r\nhel'), 400, half_close=True),
    Case('chunk-no-last-chunk', _chunked(b'5\r\nhello\r\n'), 400,
         half_close=True),
    Case('chunk-eof-before-first', _chunked(b''), 400, half_close=True),
    Case('chunk-extensions-ok', _chunked(b'5;a=b;c="d e"\r\nhello\r\n'
                                         b'0\r\n\r\n', close=True),
         200, contains=b'len:5:hello'),
    Case('chunk-trailers-ok', _chunked(b'5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
                                       close=True),
         200, contains=b'len:5:hello'),
    # The request head (RFC 9112 §2.2, §3, §5).
    Case('bare-lf-head', b'GET /info HTTP/1.1\nHost: a\n\n', 400),
    Case('bare-lf-header-injection',
         _get(b'Origin: http://a.example\nX-Injected: yes\r\n'), 400,
         absent=b'X-Injected'),
    Case('bare-cr-in-value', _get(b'X-A: a\rb\r\n'), 400),
    Case('nul-in-value', _get(b'X-A: a\x00b\r\n'), 400),
    Case('nul-in-name', _get(b'X-\x00A: b\r\n'), 400),
    Case('space-in-name', _get(b'Bad Name: x\r\n'), 400),
    Case('empty-name', _get(b': x\r\n'), 400),
    Case('no-colon', _get(b'NoColon\r\n'), 400),
    Case('obs-fold', _get(b'X-A: a\r\n b\r\n'), 400),
    Case('too-many-fields', _get(b''.join(b'X-%d: v\r\n' % i
                                          for i in range(150))), 431),
    Case('huge-field', _get(b'X-Big: ' + b'a' * 70000 + b'\r\n'), 431),
    Case('long-request-line', b'GET /' + b'a' * 9000 +
         b' HTTP/1.1\r\nHost: a\r\n\r\n', 414),
    Case('missing-host', b'GET /info HTTP/1.1\r\n\r\n', 400),
    Case('repeated-host', _get(b'Host: b\r\n'), 400),
    Case('bad-host', b'GET /info HTTP/1.1\r\nHost: a/b\r\n\r\n', 400),
    Case('http-2.0', b'GET /info HTTP/2.0\r\nHost: a\r\n\r\n', 505),
    Case('lowercase-version', b'GET /info http/1.1\r\nHost: a\r\n\r\n',
         400),
    Case('double-space', b'GET  /info HTTP/1.1\r\nHost: a\r\n\r\n', 400),
    Case('tab-separator', b'GET\t/info HTTP/1.1\r\nHost: a\r\n\r\n', 400),
    Case('ctl-in-target', b'GET /in\x01fo HTTP/1.1\r\nHost: a\r\n\r\n',
         400),
    Case('bad-method', b'G(T /info HTTP/1.1\r\nHost: a\r\n\r\n', 400),
    Case('garbage', b'NONSENSE\r\n\r\n', 400),
    Case('connect', b'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 501),
    Case('leading-empty-line', b'\r\nGET /info HTTP/1.1\r\nHost: a\r\n'
         b'Connection: close\r\n\r\n', 200, contains=b'/info||a'),
    # Absolute form (RFC 9112 §3.2.2): the target's authority wins.
    Case('absolute-form', b'GET http://example.com/info?x=1 HTTP/1.1\r\n'
         b'Host: other\r\nConnection: close\r\n\r\n', 200,
         contains=b'/info|x=1|example.com'),
    Case('absolute-userinfo', b'GET http://u@example.com/info HTTP/1.1\r\n'
         b'Host: example.com\r\n\r\n', 400),
    Case('absolute-other-scheme', b'GET ftp://example.com/info HTTP/1.1\r\n'
         b'Host: example.com\r\n\r\n', 400),
    # Expect: 100-continue (RFC 9110 §10.1.1): no 100 once refused.
    Case('expect-refused', _post(b'Content-Length: 5\r\n'
                                 b'Expect: 100-continue\r\n',
                                 path=b'/refuse'), 403,
         absent=b'100 Continue'),
]

# Where gunicorn (gthread, 27.0) answers otherwise: its status (None: no
# response at all) and what that means. Only the status is asserted.
GUNICORN_DIFFERS: dict[str, tuple[int | None, str]] = {
    # Refused too, with another status.
    'te-xchunked': (501, 'refused as an unsupported coding'),
    'http-2.0': (400, 'refused as a bad version'),
    # Laxer.
    'te-gzip-chunked': (200, 'accepted; the app reads an empty body'),
    'cl-cut-short': (200, 'a body cut short is taken as complete'),
    'chunk-size-over-64-bits': (None, 'waits for 2**64 bytes of chunk'),
    'chunk-size-huge': (None, 'waits for the chunk data'),
    'chunk-cut-short': (None, 'closes without an answer'),
    'chunk-no-last-chunk': (None, 'closes without an answer'),
    'chunk-eof-before-first': (None, 'closes without an answer'),
    'missing-host': (200, 'HTTP/1.1 without Host is served'),
    'bad-host': (200, 'Host: a/b is served'),
    'connect': (200, 'CONNECT goes to the app'),
    'absolute-form': (200, 'served, but HTTP_HOST stays the Host header '
                           '(RFC 9112 §3.2.2 says the target wins)'),
    'absolute-userinfo': (200, 'userinfo in the target is served'),
    'absolute-other-scheme': (200, 'ftp:// target is served'),
    'expect-refused': (403, 'sends 100 Continue before the refusal and '
                            'keeps the connection'),
}


class Served(ListeningProcess):
    """A server process serving strict_app.py: its own HTTP server on a
    driver (``kind`` eventlet or threading), or gunicorn."""

    def __init__(self, kind: str, env: dict[str, str] | None = None) -> None:
        self.kind = kind
        full_env = {**os.environ, **(env or {})}
        if kind == 'gunicorn':
            full_env['EIO_STRICT_DRIVER'] = 'threading'
            super().__init__(
                [PY, '-m', 'gunicorn', '-k', 'gthread', '--threads', '8',
                 '-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '2',
                 '--chdir', HERE, 'strict_app:app'],
                env=full_env, address_stream='err',
                address=r'Listening at: http://127\.0\.0\.1:(\d+)')
        else:
            super().__init__([PY, os.path.join(HERE, 'strict_app.py'), kind],
                             env=full_env)


@pytest.fixture(scope='module', params=['eventlet', 'threading', 'gunicorn'])
def served(request):
    server = Served(request.param)
    yield server
    server.stop()
    if server.kind != 'gunicorn':
        assert not server.tracebacks(), server.stderr


def exchange(port: int, data: bytes, half_close: bool = False,
             timeout: float = 3.0) -> tuple[bytes, bool, float]:
    """Send ``data``; (what came back, whether the server closed the
    connection within ``timeout``, seconds until the first byte)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    started = time.monotonic()
    first = timeout
    out = b''
    closed = False
    try:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may refuse before it has read everything
        deadline = started + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except OSError:  # reset: closed too
                closed = True
                break
            if not chunk:
                closed = True
                break
            if not out:
                first = time.monotonic() - started
            out += chunk
    finally:
        sock.close()
    return out, closed, first


def status_of(response: bytes) -> int | None:
    """The status of the last final response in ``response``."""
    if not response.startswith(b'HTTP/1.'):
        return None
    statuses = [int(line.split(b' ', 2)[1]) for line in
                response.split(b'\r\n') if line.startswith(b'HTTP/1.')
                and line[9:10] != b'1']
    return statuses[-1] if statuses else None


def well_behaved(port: int) -> bytes:
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    try:
        conn.request('GET', '/info?fine=1')
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_corpus(served, case):
    out, closed, first = exchange(served.port, case.data, case.half_close)
    status = status_of(out)
    if served.kind == 'gunicorn' and case.id in GUNICORN_DIFFERS:
        assert status == GUNICORN_DIFFERS[case.id][0], out[:300]
    else:
        assert status == case.status, out[:300]
        assert closed, 'the connection was left open'
        if case.contains:
            assert case.contains in out, out[:300]
        if case.absent:
            assert case.absent not in out, out[:300]
        # One response only: nothing smuggled behind the request.
        assert out.count(b'HTTP/1.1 2') + out.count(b'HTTP/1.1 4') + \
            out.count(b'HTTP/1.1 5') == 1, out[:300]
        if served.kind != 'gunicorn' and not case.half_close:
            assert first < 1.5, 'answered at once, not after a timeout'
    assert well_behaved(served.port) == b'/info|fine=1|127.0.0.1:%d' % \
        served.port


def test_pipelined_requests_still_work(served):
    out, closed, _ = exchange(
        served.port,
        b'GET /info?n=1 HTTP/1.1\r\nHost: a\r\n\r\n'
        b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n'
        b'\r\n3\r\nabc\r\n0\r\n\r\n'
        b'GET /info?n=3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    assert out.count(b'HTTP/1.1 200') == 3, out
    assert out.index(b'/info|n=1|a') < out.index(b'len:3:abc') < \
        out.index(b'/info|n=3|a')
    assert closed


def test_malformed_deflate_offer_is_declined(served):
    """``client_max_window_bits=²``: 101 without the extension, a working
    WebSocket, no traceback (before: 500 and an orphan session)."""
    sock = socket.create_connection(('127.0.0.1', served.port), timeout=5)
    try:
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b'GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n'
                     b'Host: a\r\nUpgrade: websocket\r\n'
                     b'Connection: Upgrade\r\nSec-WebSocket-Key: ' + key +
                     b'\r\nSec-WebSocket-Version: 13\r\n'
                     b'Sec-WebSocket-Extensions: permessage-deflate; '
                     b'client_max_window_bits=\xb2\r\n\r\n')
        head = b''
        deadline = time.monotonic() + 5
        while b'\r\n\r\n' not in head and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        assert head.startswith(b'HTTP/1.1 101'), head
        assert b'permessage-deflate' not in head.split(b'\r\n\r\n')[0]
        # The open packet follows, uncompressed (RSV1 clear).
        rest = head.split(b'\r\n\r\n', 1)[1]
        while len(rest) < 2 and time.monotonic() < deadline:
            rest += sock.recv(4096)
        assert rest[0] == 0x81 and rest[2:3] == b'0', rest[:20]
    finally:
        sock.close()


FUZZ_BASES = [
    b'GET /info?a=1 HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n',
    b'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
    b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n',
    b'POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: a\r\n'
    b'Content-Length: 3\r\n\r\n4hi',
]
FUZZ_BYTES = b'\r\n\x00\t :;,-_0x5fF\xb2"=\x7f'


@pytest.fixture(scope='module')
def native_eventlet():
    server = Served('eventlet')
    yield server
    server.stop()
    assert not server.tracebacks(), server.stderr


def _fuzz_strategy():
    from hypothesis import strategies as st
    edit = st.tuples(st.sampled_from(['insert', 'delete', 'replace']),
                     st.integers(0, 10_000), st.sampled_from(FUZZ_BYTES))
    return st.tuples(st.sampled_from(FUZZ_BASES),
                     st.lists(edit, min_size=1, max_size=4))


def _mutate(base: bytes, edits) -> bytes:
    data = bytearray(base)
    for op, pos, byte in edits:
        pos %= len(data) + 1
        if op == 'insert':
            data[pos:pos] = bytes([byte])
        elif op == 'delete' and pos < len(data):
            del data[pos]
        elif pos < len(data):
            data[pos] = byte
    return bytes(data)


def test_fuzzed_requests_get_an_answer_never_a_500(native_eventlet):
    """Mutated requests (CR, LF, NUL, separators, digits inserted, removed
    or replaced): an HTTP answer every time, never a 5xx other than 501 and
    505, never silence, and the connection closed after it."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_fuzz_strategy())
    def check(example):
        data = _mutate(*example)
        out, closed, _ = exchange(native_eventlet.port, data,
                                  half_close=True)
        assert out.startswith(b'HTTP/1.1 '), (data, out[:200])
        statuses = [int(line.split(b' ', 2)[1]) for line in
                    out.split(b'\r\n') if line.startswith(b'HTTP/1.1 ')]
        assert all(s < 500 or s in (501, 505) for s in statuses), \
            (data, out[:300])
        assert closed, (data, out[:300])

    check()
    assert well_behaved(native_eventlet.port).startswith(b'/info')


@pytest.mark.parametrize('driver', ['eventlet', 'threading'])
def test_line_break_in_a_response_header_is_never_sent(driver):
    """An app putting CRLF in a header value gets a 500 (and a logged
    error), not an injected header (response splitting)."""
    server = Served(driver)
    try:
        out, closed, _ = exchange(server.port, b'GET /split HTTP/1.1\r\n'
                                  b'Host: a\r\n\r\n')
        assert status_of(out) == 500 and closed, out
        assert b'X-Injected' not in out
        assert well_behaved(server.port).startswith(b'/info')
    finally:
        server.stop()
    assert 'CR or LF in a response header' in server.stderr, server.stderr

"""engineio_sync.core.http_head: request heads parsed in memory.

Every request of tests/e2e/test_http_strict.py's corpus (sent there over
sockets to the real servers) goes through :class:`HeadScanner` and
:func:`parse_head` here: a head the corpus expects refused is refused with
the same status, a head it expects served (or whose body decides) is
parsed into the expected values. Then the rules one by one, the limits at
their edges, and hypothesis round trips.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core import http_head
from engineio_sync.core.http_head import HeadLimits, HeadRefused, RequestHead
from engineio_sync.exceptions import EngineIOError

LIMITS = HeadLimits()


class Refusal(NamedTuple):
    """A refusal as these tests compare it: the status and the reason of
    the :class:`HeadRefused` raised."""

    status: int
    reason: str


def parse_head(data: bytes, limits: HeadLimits) -> RequestHead | Refusal:
    """:func:`http_head.parse_head`, its refusal as a value."""
    try:
        return http_head.parse_head(data, limits)
    except HeadRefused as exc:
        return Refusal(exc.status, exc.reason)


class HeadScanner(http_head.HeadScanner):
    """:class:`http_head.HeadScanner`, its refusals as values."""

    __slots__ = ()

    def scan(self, buf: bytes) -> tuple[int, int] | Refusal | None:
        try:
            return super().scan(buf)
        except HeadRefused as exc:
            return Refusal(exc.status, exc.reason)


def test_refusals_are_raised_as_engineio_errors():
    with pytest.raises(HeadRefused) as info:
        http_head.parse_head(b'NONSENSE\r\n', LIMITS)
    assert isinstance(info.value, EngineIOError)
    assert (info.value.status, info.value.reason) == (400, 'bad request line')
    with pytest.raises(HeadRefused):
        http_head.HeadScanner(100).scan(b'GET / HTTP/1.1\nHost: a\n')


def _strict_corpus():
    path = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'e2e', 'test_http_strict.py')
    spec = importlib.util.spec_from_file_location('http_strict_corpus', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.CASES


CASES = _strict_corpus()


def outcome(data: bytes, limits: HeadLimits = LIMITS
            ) -> RequestHead | Refusal | None:
    """What the server decides on ``data`` arriving in one piece: the
    parsed head, a refusal, or None (the head is not complete)."""
    found = HeadScanner(limits.max_head_size).scan(data)
    if found is None or isinstance(found, Refusal):
        return found
    start, end = found
    return parse_head(data[start:end], limits)


def outcome_in_pieces(data: bytes, size: int,
                      limits: HeadLimits = LIMITS
                      ) -> RequestHead | Refusal | None:
    """The same, with ``data`` arriving ``size`` bytes at a time."""
    scanner = HeadScanner(limits.max_head_size)
    for end in range(size, len(data) + size, size):
        buf = data[:end]
        found = scanner.scan(buf)
        if isinstance(found, Refusal):
            return found
        if found is not None:
            return parse_head(buf[found[0]:found[1]], limits)
    return None


def head(text: str) -> RequestHead:
    """Parse a head written with LF line ends (CRLF on the wire)."""
    result = parse_head(text.replace('\n', '\r\n').encode('latin-1'),
                        LIMITS)
    assert isinstance(result, RequestHead), result
    return result


def refusal(text: str, limits: HeadLimits = LIMITS) -> Refusal:
    result = parse_head(text.replace('\n', '\r\n').encode('latin-1'),
                        limits)
    assert isinstance(result, Refusal), result
    return result


# --- the corpus ---------------------------------------------------------

# Corpus requests whose head is accepted, and what it says. The rest must
# be refused here with the status the corpus expects from the server.
CHUNKED = {'chunked': True, 'content_length': None, 'path': '/echo'}
ACCEPTED: dict[str, dict] = {
    # Underscore names are valid tokens: the head keeps them (the WSGI
    # environ drops them), and they frame nothing.
    'te-underscore-dropped': {'content_length': 3, 'chunked': False,
                              'keep_alive': False},
    'cl-underscore-dropped': {'content_length': None, 'chunked': False},
    # The body is refused (by wsgi.input), not the head.
    'cl-cut-short': {'content_length': 10, 'keep_alive': True},
    **{case.id: CHUNKED for case in CASES if case.id.startswith('chunk-')},
    'leading-empty-line': {'path': '/info', 'host': 'a',
                           'keep_alive': False},
    'absolute-form': {'path': '/info', 'query': 'x=1',
                      'host': 'example.com',
                      'target': 'http://example.com/info?x=1'},
    'expect-refused': {'content_length': 5, 'expect_continue': True,
                       'path': '/refuse'},
}


def test_the_corpus_is_there():
    ids = {case.id for case in CASES}
    assert len(CASES) > 60
    assert set(ACCEPTED) <= ids


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_corpus(case):
    result = outcome(case.data)
    if case.id in ACCEPTED:
        assert isinstance(result, RequestHead), result
        for name, value in ACCEPTED[case.id].items():
            assert getattr(result, name) == value, name
    else:
        assert isinstance(result, Refusal), result
        assert result.status == case.status
    # The same bytes arriving in pieces: the same decision (a bare LF is
    # then seen before the head is complete: the reason may differ).
    for size in (1, 7):
        again = outcome_in_pieces(case.data, size)
        if isinstance(result, Refusal):
            assert isinstance(again, Refusal) and again.status == \
                result.status
        else:
            assert again == result


@pytest.mark.parametrize('data, status', [
    (b'NONSENSE\r\n\r\n', 400),
    (b'GET / HTTP/2.0\r\n\r\n', 505),
    (b'GET / HTTP/1.1\r\nBad Header\r\n\r\n', 400),
    (b'POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nX-Big: ' + b'a' * 70000 + b'\r\n\r\n', 431),
], ids=['garbage', 'http2', 'bad-header', 'bad-length', 'huge-head'])
def test_server_malformed_cases(data, status):
    # tests/e2e/test_http_server.py's malformed requests.
    result = outcome(data)
    assert isinstance(result, Refusal) and result.status == status


# --- what a parsed head holds -------------------------------------------

def test_a_polling_request():
    h = head('POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\n'
             'Host: 127.0.0.1:5000\nContent-Type: text/plain;charset=UTF-8\n'
             'Content-Length: 32\n')
    assert h == RequestHead(
        method='POST', target='/engine.io/?EIO=4&transport=polling&sid=abc',
        version='HTTP/1.1', path='/engine.io/',
        query='EIO=4&transport=polling&sid=abc',
        headers=[('host', '127.0.0.1:5000'),
                 ('content-type', 'text/plain;charset=UTF-8'),
                 ('content-length', '32')],
        host='127.0.0.1:5000', keep_alive=True, content_length=32,
        chunked=False, expect_continue=False)


def test_names_are_lowercased_values_stripped_repeats_kept_in_order():
    h = head('GET / HTTP/1.1\nHost: a\nX-A:  1 \t\nCOOKIE: c=1\nx-a:2\n'
             'Cookie: d=2\nX-Tab: a\tb\nX-Latin: \xb2\xff\nX-Empty:\n')
    assert h.headers == [('host', 'a'), ('x-a', '1'), ('cookie', 'c=1'),
                         ('x-a', '2'), ('cookie', 'd=2'), ('x-tab', 'a\tb'),
                         ('x-latin', '\xb2\xff'), ('x-empty', '')]


def test_target_forms():
    h = head('GET /a%20b?x=1&y#frag HTTP/1.1\nHost: a\n')
    assert (h.target, h.path, h.query) == ('/a%20b?x=1&y#frag', '/a%20b',
                                           'x=1&y')
    h = head('OPTIONS * HTTP/1.1\nHost: a\n')
    assert (h.path, h.query) == ('*', '')
    assert refusal('GET * HTTP/1.1\nHost: a\n').status == 400
    assert refusal('GET info HTTP/1.1\nHost: a\n').status == 400
    assert refusal('GET http:// HTTP/1.1\nHost: a\n').status == 400


def test_absolute_form_authority_replaces_host():
    h = head('GET HTTPS://b.example:8443?q=1 HTTP/1.1\nHost: a\nX: y\n')
    assert (h.host, h.path, h.query) == ('b.example:8443', '/', 'q=1')
    assert h.headers == [('host', 'b.example:8443'), ('x', 'y')]
    # HTTP/1.0 needs no Host: the authority is added.
    h = head('GET http://[::1]:80/p HTTP/1.0\nX: y\n')
    assert h.host == '[::1]:80'
    assert h.headers == [('x', 'y'), ('host', '[::1]:80')]
    assert refusal('GET http://a b/ HTTP/1.1\nHost: a\n').status == 400


@pytest.mark.parametrize('host, ok', [
    ('a', True), ('a.example:80', True), ('[::1]', True), ('[::1]:5000', True),
    ('', True), ('127.0.0.1:', True), ('a/b', False), ('a b', False),
    ('a@b', False), ('[::1', False), ('a:b', False)])
def test_host_values(host, ok):
    text = f'GET / HTTP/1.1\nHost: {host}\n'
    if ok:
        assert head(text).host == host
    else:
        assert refusal(text) == Refusal(400, 'bad Host')


def test_host_rules():
    assert refusal('GET / HTTP/1.1\n') == Refusal(400, 'missing Host')
    assert head('GET / HTTP/1.0\n').host is None
    assert refusal('GET / HTTP/1.1\nHost: a\nhost: a\n') == \
        Refusal(400, 'repeated host')


@pytest.mark.parametrize('version, connection, keep', [
    ('1.1', None, True), ('1.0', None, False),
    ('1.1', 'close', False), ('1.0', 'keep-alive', True),
    ('1.1', 'Keep-Alive', True), ('1.0', 'Upgrade, keep-alive', True),
    ('1.1', 'keep-alive, close', False), ('1.1', 'Upgrade', True),
    ('1.0', 'Upgrade', False), ('1.1', 'x ,\tCLOSE ', False),
])
def test_keep_alive(version, connection, keep):
    text = f'GET / HTTP/{version}\nHost: a\n'
    if connection is not None:
        text += f'Connection: {connection}\n'
    assert head(text).keep_alive is keep


def test_connection_lines_make_one_list():
    h = head('GET / HTTP/1.1\nHost: a\nConnection: Upgrade\n'
             'Connection: close\n')
    assert h.keep_alive is False
    assert h.headers[1:] == [('connection', 'Upgrade'),
                             ('connection', 'close')]


@pytest.mark.parametrize('length, parsed', [
    ('0', 0), ('5', 5), ('007', 7), ('9' * 18, 10 ** 18 - 1)])
def test_content_length(length, parsed):
    h = head(f'POST / HTTP/1.1\nHost: a\nContent-Length: {length}\n')
    assert (h.content_length, h.chunked) == (parsed, False)


@pytest.mark.parametrize('length', [
    '', '9' * 19, '-1', '+1', '0x5', '5,5', '5 5', '\xb2', '١'])
def test_bad_content_length(length):
    text = f'POST / HTTP/1.1\nHost: a\nContent-Length: {length}\n'
    if length.isascii():
        assert refusal(text) == Refusal(400, 'bad Content-Length')
    else:
        # Not latin-1 on the wire: as bytes it is no ASCII digit either.
        data = text.replace('\n', '\r\n').encode('utf-8')
        assert parse_head(data, LIMITS) == Refusal(400, 'bad Content-Length')


@pytest.mark.parametrize('coding, result', [
    ('chunked', True), ('Chunked', True), (' chunked\t', True),
    (', chunked', True), ('chunked,', True),
    ('gzip, chunked', 501), ('deflate,gzip,chunked', 501),
    ('chunked, gzip', 400), ('gzip', 400), ('', 400), (',', 400),
    ('chunked, chunked', 400), ('xchunked', 400)])
def test_transfer_encoding(coding, result):
    text = f'POST / HTTP/1.1\nHost: a\nTransfer-Encoding: {coding}\n'
    if result is True:
        h = head(text)
        assert (h.chunked, h.content_length) == (True, None)
    else:
        assert refusal(text).status == result


def test_framing_conflicts():
    assert refusal('POST / HTTP/1.1\nHost: a\nContent-Length: 0\n'
                   'Transfer-Encoding: chunked\n') == \
        Refusal(400, 'both Content-Length and Transfer-Encoding')
    assert refusal('POST / HTTP/1.0\nTransfer-Encoding: chunked\n') == \
        Refusal(400, 'Transfer-Encoding in HTTP/1.0')
    assert refusal('POST / HTTP/1.1\nHost: a\nContent-Length: 1\n'
                   'content-length: 1\n') == \
        Refusal(400, 'repeated content-length')


def test_content_type_repeated():
    h = head('POST / HTTP/1.1\nHost: a\nContent-Type: t/x\n'
             'Content-Type: t/x\n')
    assert h.headers == [('host', 'a'), ('content-type', 't/x')]
    assert refusal('POST / HTTP/1.1\nHost: a\nContent-Type: t/x\n'
                   'content-type: t/y\n') == \
        Refusal(400, 'conflicting content-type')


@pytest.mark.parametrize('text, expect', [
    ('POST / HTTP/1.1\nHost: a\nContent-Length: 1\nExpect: 100-continue\n',
     True),
    ('POST / HTTP/1.1\nHost: a\nContent-Length: 1\nExpect: 100-Continue\n',
     True),
    ('POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n'
     'Expect: 100-continue\n', True),
    # No body to wait for, HTTP/1.0, another expectation, or two.
    ('POST / HTTP/1.1\nHost: a\nContent-Length: 0\nExpect: 100-continue\n',
     False),
    ('GET / HTTP/1.1\nHost: a\nExpect: 100-continue\n', False),
    ('POST / HTTP/1.0\nContent-Length: 1\nExpect: 100-continue\n', False),
    ('POST / HTTP/1.1\nHost: a\nContent-Length: 1\nExpect: 200-ok\n',
     False),
    ('POST / HTTP/1.1\nHost: a\nContent-Length: 1\nExpect: 100-continue\n'
     'Expect: 100-continue\n', False),
])
def test_expect_continue(text, expect):
    assert head(text).expect_continue is expect


# --- request line and field syntax --------------------------------------

@pytest.mark.parametrize('line, result', [
    ('GET / HTTP/1.1', None), ('PURGE / HTTP/1.1', None),
    ("M!#$%&'*+.^_`|~9 / HTTP/1.1", None),
    ('G@T / HTTP/1.1', Refusal(400, 'bad method')),
    (' GET / HTTP/1.1', Refusal(400, 'bad request line')),
    ('GET / HTTP/1.1 ', Refusal(400, 'bad request line')),
    ('GET /\x7f HTTP/1.1', Refusal(400, 'bad request target')),
    ('GET / HTTP/1.2', Refusal(505, 'unsupported HTTP version')),
    ('GET / HTTP/11', Refusal(400, 'bad HTTP version')),
    ('GET / HTTP/1.1\r', Refusal(400, 'bad HTTP version')),
    ('CONNECT a:1 HTTP/1.1', Refusal(501, 'CONNECT is not supported')),
])
def test_request_lines(line, result):
    parsed = parse_head((line + '\r\nHost: a\r\n').encode('latin-1'),
                        LIMITS)
    if result is None:
        assert isinstance(parsed, RequestHead)
        assert parsed.method == line.split(' ')[0]
    else:
        assert parsed == result


@pytest.mark.parametrize('field, result', [
    ('X-A: b', None), ("x!#$%&'*+.^_`|~: b", None), ('X-A:b', None),
    ('X-A : b', Refusal(400, 'bad header field')),
    (' X-A: b', Refusal(400, 'bad header field')),
    ('X A: b', Refusal(400, 'bad header field')),
    # A name seen before (above) without its colon.
    ('X-A', Refusal(400, 'bad header field')),
    (': b', Refusal(400, 'bad header field')),
    ('X-\xe9: b', Refusal(400, 'bad header field')),
    ('X-A: a\x00b', Refusal(400, 'bad header field value')),
    ('X-A: a\x7fb', Refusal(400, 'bad header field value')),
    ('X-A: a\rb', Refusal(400, 'bad header field value')),
    ('X-A: a\nb', Refusal(400, 'bad header field value')),
    ('X-A: a\x1bb', Refusal(400, 'bad header field value')),
])
def test_field_lines(field, result):
    data = ('GET / HTTP/1.1\r\nHost: a\r\n' + field + '\r\n').encode(
        'latin-1')
    for _ in range(2):  # not seen before, then seen before
        parsed = parse_head(data, LIMITS)
        if result is None:
            assert isinstance(parsed, RequestHead), parsed
        else:
            assert parsed == result


def test_a_recurring_request_line_is_checked_as_the_first_time():
    # The second time a request line comes it is looked up: everything
    # else of the head is still checked, in the same order.
    for _ in range(3):
        assert head('GET /r?q=1 HTTP/1.1\nHost: a\n').host == 'a'
        assert head('GET /r?q=1 HTTP/1.1\nHost: b\n').host == 'b'
        assert refusal('GET /r?q=1 HTTP/1.1\n') == \
            Refusal(400, 'missing Host')
        assert refusal('GET /r?q=1 HTTP/1.1\nHost: a\nBad Name: x\n') == \
            Refusal(400, 'bad header field')
        assert refusal('GET /r?q=1 HTTP/1.1\nHost: a\nX: 1\n',
                       HeadLimits(max_header_fields=1)).status == 431
        assert refusal('GET /r?q=1 HTTP/1.1\nHost: a\n',
                       HeadLimits(max_request_line=10)).status == 414
        assert refusal('CONNECT a:1 HTTP/1.1\nHost: a:1\n').status == 501
        h = head('GET http://t.example/p HTTP/1.1\nHost: a\n')
        assert h.headers == [('host', 't.example')]
        h = head('GET http://t.example/p HTTP/1.0\n')
        assert h.headers == [('host', 't.example')]
        assert head('GET http://t.example/p HTTP/1.0\nX: 1\n').headers == \
            [('x', '1'), ('host', 't.example')]


def test_recurring_lines_and_names_keep_their_meaning():
    # Lines and names already seen are looked up, not checked again: the
    # same line must still count as a repeat, in any mix of cases.
    for _ in range(3):
        assert refusal('GET / HTTP/1.1\nHost: a\nHost: a\n') == \
            Refusal(400, 'repeated Host')
        assert head('GET / HTTP/1.1\nHOST: a\n').host == 'a'
    # Far more distinct lines than are remembered, some too long to be.
    for i in range(3000):
        value = 'v' * (i % 400)
        h = head(f'GET /{i}{value}?{i} HTTP/1.1\nHost: a\n'
                 f'X-{i % 50}: {i}{value}\n')
        assert (h.path, h.query) == (f'/{i}{value}', str(i))
        assert h.headers[1] == (f'x-{i % 50}', f'{i}{value}')


# --- limits --------------------------------------------------------------

def test_request_line_limit():
    limits = HeadLimits(max_request_line=30)
    line = 'GET /' + 'a' * 16 + ' HTTP/1.1'
    assert len(line) == 30
    assert isinstance(parse_head((line + '\r\nHost: a\r\n').encode(),
                                 limits), RequestHead)
    assert parse_head(('GET /a' + line[5:] + '\r\nHost: a\r\n').encode(),
                      limits) == Refusal(414, 'request line too long')


def test_field_count_limit():
    limits = HeadLimits(max_header_fields=3)
    text = 'GET / HTTP/1.1\nHost: a\nA: 1\nB: 2\n'
    assert isinstance(parse_head(text.replace('\n', '\r\n').encode(),
                                 limits), RequestHead)
    assert refusal(text + 'C: 3\n', limits) == \
        Refusal(431, 'too many header fields')


def test_head_size_limit():
    data = b'GET / HTTP/1.1\r\nHost: a\r\n'
    exact = HeadScanner(len(data))
    assert exact.scan(data + b'\r\nnext') == (0, len(data))
    smaller = HeadScanner(len(data) - 1)
    assert smaller.scan(data + b'\r\n') == \
        Refusal(431, 'request head too large')
    # Incomplete but already too large: refused without waiting for more.
    assert HeadScanner(10).scan(b'GET / HTTP/1.1\r\n') == \
        Refusal(431, 'request head too large')
    assert HeadScanner(16).scan(b'GET / HTTP/1.1\r\n') is None


# --- finding the end of a head ------------------------------------------

def test_scan_finds_the_head_and_the_next_request():
    data = b'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n'
    start, end = HeadScanner(100).scan(data)
    assert data[start:end] == b'GET /1 HTTP/1.1\r\nHost: a\r\n'
    assert data[end + 2:] == b'GET /2 HTTP/1.1\r\n'


def test_scan_skips_empty_lines_within_the_budget():
    scanner = HeadScanner(20)
    assert scanner.scan(b'\r\n\r') is None
    assert not scanner.begun(b'\r\n')
    assert scanner.begun(b'\r\n\r')
    data = b'\r\n\r\nGET / HTTP/1.0\r\n\r\n'
    assert scanner.scan(data) == (4, len(data) - 2)
    assert HeadScanner(20).scan(b'\r\n' * 10) is None
    assert HeadScanner(20).scan(b'\r\n' * 11) == \
        Refusal(400, 'too many empty lines')
    # The empty lines do not count against the head's own size.
    assert HeadScanner(18).scan(b'\r\n' * 9 + b'GET / HTTP/1.0\r\n\r\n') \
        == (18, 34)


def test_scan_refuses_a_bare_lf_at_once():
    scanner = HeadScanner(1000)
    assert scanner.scan(b'GET / HTTP/1.1\r') is None
    # A CRLF split between two pieces is no bare LF.
    assert scanner.scan(b'GET / HTTP/1.1\r\nHost: a') is None
    assert scanner.scan(b'GET / HTTP/1.1\r\nHost: a\n') == \
        Refusal(400, 'bare LF in the request head')
    assert HeadScanner(1000).scan(b'\nGET') == \
        Refusal(400, 'bare LF in the request head')


# --- hypothesis ----------------------------------------------------------

TCHARS = ("!#$%&'*+-.^_`|~0123456789"
          'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
FRAMING = {'host', 'content-length', 'content-type', 'transfer-encoding',
           'connection', 'expect'}
tokens = st.text(TCHARS, min_size=1, max_size=12)
names = tokens.filter(lambda n: n.lower() not in FRAMING)
# Visible characters, obs-text and inner SP/HTAB; no surrounding space.
value_chars = st.sampled_from(
    [chr(c) for c in range(0x21, 0x7f)] + [' ', '\t', '\xa0', '\xe9', '\xff'])
values = st.text(value_chars, max_size=20).map(lambda v: v.strip(' \t'))
segments = st.text('abcXYZ019-._~!$&\'()*+,;=:@%', max_size=8)


@settings(max_examples=300, deadline=None)
@given(method=tokens.filter(lambda m: m != 'CONNECT'),
       path=st.lists(segments, min_size=1, max_size=4),
       query=st.none() | st.text('abc=&%+09', max_size=10),
       version=st.sampled_from(['HTTP/1.0', 'HTTP/1.1']),
       fields=st.lists(st.tuples(names, values), max_size=8),
       length=st.none() | st.integers(0, 10 ** 12),
       pad=st.sampled_from(['', ' ', '\t', ' \t ']))
def test_round_trip(method, path, query, version, fields, length, pad):
    target = '/' + '/'.join(path) + ('' if query is None else '?' + query)
    lines = [f'{method} {target} {version}', 'Host: h.example:1']
    expected = [('host', 'h.example:1')]
    for name, value in fields:
        lines.append(f'{name}:{pad}{value}{pad}')
        expected.append((name.lower(), value))
    if length is not None:
        lines.append(f'Content-Length: {length}')
        expected.append(('content-length', str(length)))
    data = ''.join(line + '\r\n' for line in lines).encode('latin-1')
    stream = b'\r\n' + data + b'\r\n'
    result = outcome(stream)
    assert isinstance(result, RequestHead), result
    assert (result.method, result.target, result.version) == \
        (method, target, version)
    assert result.path == target.partition('?')[0]
    assert result.query == (query or '')
    assert result.headers == expected
    assert result.host == 'h.example:1'
    assert result.keep_alive is (version == 'HTTP/1.1')
    assert (result.content_length, result.chunked) == (length, False)
    assert outcome_in_pieces(stream, 5) == result


MUTATION_BASES = [b'GET /a?b=1 HTTP/1.1\r\nHost: a\r\nX-A: b\r\n',
                  b'POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n'
                  b'Transfer-Encoding: chunked\r\nConnection: close\r\n',
                  b'GET http://x/p HTTP/1.0\r\nCookie: a=1\r\n']


@settings(max_examples=400, deadline=None)
@given(base=st.sampled_from(MUTATION_BASES),
       edits=st.lists(st.tuples(st.integers(0, 200), st.binary(max_size=2)),
                      min_size=1, max_size=4))
def test_mutated_heads_get_a_head_or_a_refusal(base, edits):
    # Never an exception, the same answer twice (once from what was
    # remembered of the lines).
    data = bytearray(base)
    for pos, insert in edits:
        pos %= len(data) + 1
        data[pos:pos + 1] = insert
    data += b'\r\n'
    result = outcome(bytes(data))
    assert result is None or isinstance(result, (RequestHead, Refusal))
    if isinstance(result, Refusal):
        assert result.status in (400, 414, 431, 501, 505)
    assert outcome(bytes(data)) == result

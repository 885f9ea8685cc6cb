"""HTTP/1.1 request heads, parsed strictly: bytes in, a request or a refusal.

:func:`parse_head` reads a complete request head (RFC 9112 §2-§7) and
returns a :class:`RequestHead`, or raises :class:`HeadRefused` (a 4xx or
5xx status and its reason); :class:`HeadScanner` finds where a head ends
in bytes that arrive in pieces. Neither touches a socket or a clock: the
server reads the bytes, enforces the time limits, and answers refusals.

It parses as RFC 9112 asks a server to and refuses whatever a front proxy
could read differently (request smuggling) or that could inject a header:

- request line: not ``token SP target SP HTTP/d.d`` -> 400; longer than
  ``max_request_line`` -> 414; a version other than 1.0 and 1.1 -> 505;
  ``CONNECT`` -> 501. Targets are origin-form, absolute-form (``http://host
  /path``: the host is taken from the target, RFC 9112 §3.2.2) or ``*``
  for ``OPTIONS``.
- head: a bare LF or CR, a field name that is not a token, whitespace
  before the colon, obsolete line folding, a control character in a value
  -> 400; more than ``max_header_fields`` fields or a head larger than
  ``max_head_size`` -> 431; more than ``max_head_size`` bytes of empty
  lines before the request line -> 400.
- ``Host``: missing in HTTP/1.1, repeated, or not a host[:port] -> 400.
- ``Content-Type`` repeated with another value -> 400 (the same value
  repeated counts once).
- framing: ``Content-Length`` with ``Transfer-Encoding``, a length that is
  not 1 to 18 ASCII digits, a repeated ``Content-Length``, a
  ``Transfer-Encoding`` whose last coding is not ``chunked`` or that names
  ``chunked`` twice, or any ``Transfer-Encoding`` in HTTP/1.0 -> 400;
  another coding before ``chunked`` (``gzip, chunked``) -> 501.

Every refusal ends the connection: after a malformed head the framing of
what follows cannot be trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..exceptions import EngineIOError

__all__ = ['HeadLimits', 'RequestHead', 'HeadRefused', 'parse_head',
           'HeadScanner', 'TOKEN_CHARS', 'HEAD_TIMED_OUT',
           'HEAD_CUT_SHORT']

#: RFC 9110 §5.6.2 token characters, as a regular expression class body.
TOKEN_CHARS = "-!#$%&'*+.^_`|~0-9A-Za-z"
_TOKEN = re.compile('[' + TOKEN_CHARS + ']+')
# A field value (RFC 9110 §5.5) may hold HTAB and obs-text besides what
# str.isprintable() allows; this is the slow path for those.
_VALUE = re.compile('[^\\x00-\\x08\\x0a-\\x1f\\x7f]*')
_TARGET = re.compile('[^\\x00-\\x20\\x7f]+')
_VERSION = re.compile('HTTP/[0-9]\\.[0-9]')
_METHODS = frozenset(('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS',
                      'PATCH', 'CONNECT', 'TRACE'))
_ABSOLUTE_FORM = re.compile('(?i)https?://([^/?#]*)(.*)')
# uri-host [":" port] (RFC 3986 §3.2.2): an IP literal or a reg-name.
_HOST = re.compile("(?:\\[[0-9A-Za-z:.]+\\]|[-A-Za-z0-9._~!$&'()*+,;=%]*)"
                   '(?::[0-9]*)?')
_EMPTY_LINES = re.compile(b'(?:\r\n)+')
# The fields whose values decide how the request is read and answered.
_FRAMING = frozenset(('host', 'content-length', 'content-type',
                      'transfer-encoding', 'connection', 'expect'))

# Memos of what was already checked, bounded (the answer for a given line,
# name or host never changes). Most requests repeat lines seen before (a
# client's polling URL, Host, Content-Type, its cookie, a health check),
# and a hit skips every check of the line. Only short lines are kept, and
# a memo is emptied when full, so that lines seen once do not crowd out
# the ones that recur. Threads may share them: a lost entry costs only a
# check. Request line -> (method, target, version, path, query, authority
# of an absolute-form target or None):
_REQUEST_LINES: dict[str, tuple[str, str, str, str, str, str | None]] = {}
# Field line -> (lowercase name, value):
_FIELD_LINES: dict[str, tuple[str, str]] = {}
# Bounds: under 1 MiB in all, whatever the traffic.
_REQUEST_LINES_KEPT = 256
_FIELD_LINES_KEPT = 1024
_LINE_LENGTH_KEPT = 256
# Field name as sent -> its lowercase form:
_NAMES: dict[str, str] = {}
# Host values known to be valid:
_HOSTS: set[str] = set()


@dataclass(frozen=True)
class HeadLimits:
    """Bounds on a request head: its size in bytes, its number of field
    lines, and the length of its request line."""

    max_head_size: int = 65536
    max_header_fields: int = 100
    max_request_line: int = 8190


class HeadRefused(EngineIOError):
    """A request refused before it reaches the application: the status to
    answer and why (the response body). The connection is closed after
    it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f'{status} {reason}')
        self.status = status
        self.reason = reason


class RequestHead(NamedTuple):
    """A request head that passed every check.

    ``target`` is the request target as sent; ``path`` (still
    percent-encoded) and ``query`` come from it, without a fragment
    (``path`` is ``'*'`` for ``OPTIONS *``). ``host`` is the authority of
    an absolute-form target, else the ``Host`` field, else None (HTTP/1.0
    only).

    ``headers`` lists the field lines as ``(lowercase name, value)`` in the
    order received, values without surrounding whitespace, with two
    exceptions: a ``Content-Type`` repeated with the same value is listed
    once, and an absolute-form target's authority stands in for the
    ``Host`` field's value (added last if there was none).

    ``keep_alive`` tells whether the connection may serve another request
    after this one. The body is ``content_length`` bytes, or chunked, or
    absent (``content_length`` None or 0 and ``chunked`` False);
    ``expect_continue`` is True when an HTTP/1.1 client with a body waits
    for ``100 Continue`` before sending it.
    """

    method: str
    target: str
    version: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    host: str | None
    keep_alive: bool
    content_length: int | None
    chunked: bool
    expect_continue: bool


# The refusals that carry no detail of the request: (status, reason).
_LINE_TOO_LONG = (414, 'request line too long')
_BAD_LINE = (400, 'bad request line')
_BAD_METHOD = (400, 'bad method')
_BAD_TARGET = (400, 'bad request target')
_BAD_VERSION = (400, 'bad HTTP version')
_UNSUPPORTED_VERSION = (505, 'unsupported HTTP version')
_TOO_MANY_FIELDS = (431, 'too many header fields')
_BAD_FIELD = (400, 'bad header field')
_BAD_VALUE = (400, 'bad header field value')
_MISSING_HOST = (400, 'missing Host')
_BAD_HOST = (400, 'bad Host')
_CONNECT = (501, 'CONNECT is not supported')
_TE_IN_HTTP10 = (400, 'Transfer-Encoding in HTTP/1.0')
_TE_AND_CL = (400, 'both Content-Length and Transfer-Encoding')
_BAD_TE = (400, 'bad Transfer-Encoding')
_UNSUPPORTED_CODING = (501, 'unsupported transfer coding')
_BAD_LENGTH = (400, 'bad Content-Length')
_HEAD_TOO_LARGE = (431, 'request head too large')
_EMPTY_LINES_REFUSED = (400, 'too many empty lines')
_BARE_LF = (400, 'bare LF in the request head')
#: the head did not arrive within the server's time limit
HEAD_TIMED_OUT = (408, 'request head timed out')
#: the client closed its side in the middle of a head
HEAD_CUT_SHORT = (400, 'incomplete request head')

# RequestHead is a NamedTuple; tuple.__new__ skips its Python-level
# __new__ (one per request).
_new = tuple.__new__


def _remember(memo: dict[str, Any], size: int, line: str, value: Any
              ) -> None:
    if len(line) <= _LINE_LENGTH_KEPT:
        if len(memo) >= size:
            memo.clear()
        memo[line] = value


def _field_name(name: str) -> str:
    lower = name.lower()
    if len(_NAMES) < 1024:
        _NAMES[name] = lower
    return lower


def _replace_host(headers: list[tuple[str, str]], host: str) -> None:
    for i, (name, _) in enumerate(headers):
        if name == 'host':
            headers[i] = ('host', host)
            return
    headers.append(('host', host))


def _repeated(field: str) -> HeadRefused:
    return HeadRefused(400, f'repeated {field.partition(":")[0]}')


def parse_head(head: bytes, limits: HeadLimits) -> RequestHead:
    """Parse a request head: the request line and the field lines, each
    ending in CRLF, without the empty line that ends the head (what
    :meth:`HeadScanner.scan` delimits); raises :class:`HeadRefused`."""
    # Every line of the head ends in CRLF (the last one too), so after
    # this split a CR or LF left in a line is a bare one, and
    # str.isprintable() refuses it along with every other control
    # character.
    lines = head.decode('latin-1').split('\r\n')
    line = lines[0]
    if len(line) > limits.max_request_line:
        raise HeadRefused(*_LINE_TOO_LONG)
    known = _REQUEST_LINES.get(line)
    if known is not None:
        method, target, version, path, query, authority = known
    else:
        parts = line.split(' ')
        if len(parts) != 3:
            raise HeadRefused(*_BAD_LINE)
        method, target, version = parts
        if method not in _METHODS and _TOKEN.fullmatch(method) is None:
            raise HeadRefused(*_BAD_METHOD)
        if not target or not target.isprintable() and \
                _TARGET.fullmatch(target) is None:
            raise HeadRefused(*_BAD_TARGET)
        if version != 'HTTP/1.1' and version != 'HTTP/1.0':
            if _VERSION.fullmatch(version) is not None:
                raise HeadRefused(*_UNSUPPORTED_VERSION)
            raise HeadRefused(*_BAD_VERSION)
    if len(lines) - 2 > limits.max_header_fields:
        raise HeadRefused(*_TOO_MANY_FIELDS)

    headers = []
    host = length = content_type = coding = connection = expect = None
    for field in lines[1:-1]:
        pair = _FIELD_LINES.get(field)
        if pair is None:
            name, sep, value = field.partition(':')
            if not sep:
                raise HeadRefused(*_BAD_FIELD)
            lower = _NAMES.get(name)
            if lower is None:
                # Not seen before: a token (no whitespace before the
                # colon, no obsolete line folding) or a 400.
                if _TOKEN.fullmatch(name) is None:
                    raise HeadRefused(*_BAD_FIELD)
                lower = _field_name(name)
            if not value.isprintable() and _VALUE.fullmatch(value) is None:
                raise HeadRefused(*_BAD_VALUE)
            pair = (lower, value.strip(' \t'))
            _remember(_FIELD_LINES, _FIELD_LINES_KEPT, field, pair)
        lower = pair[0]
        if lower in _FRAMING:
            value = pair[1]
            if lower == 'host':
                if host is not None:
                    raise _repeated(field)
                host = value
            elif lower == 'content-length':
                if length is not None:
                    raise _repeated(field)
                length = value
            elif lower == 'content-type':
                if content_type is not None:
                    if content_type != value:
                        raise HeadRefused(
                            400, f'conflicting {field.partition(":")[0]}')
                    continue
                content_type = value
            # Repeated lines of a list field are one comma-separated list
            # (RFC 9110 §5.3).
            elif lower == 'transfer-encoding':
                coding = value if coding is None else coding + ',' + value
            elif lower == 'connection':
                connection = (value if connection is None
                              else connection + ',' + value)
            else:
                expect = value if expect is None else expect + ',' + value
        headers.append(pair)

    if host is None:
        if version == 'HTTP/1.1':
            raise HeadRefused(*_MISSING_HOST)
    elif host not in _HOSTS:
        if _HOST.fullmatch(host) is None:
            raise HeadRefused(*_BAD_HOST)
        if len(_HOSTS) < 256:
            _HOSTS.add(host)
    if known is None:
        # The request line's last checks, in their place: after the
        # fields.
        resource = target
        if '#' in resource:
            resource = resource.partition('#')[0]
        if method == 'CONNECT':
            raise HeadRefused(*_CONNECT)
        authority = None
        if resource[:1] == '/':
            path, _, query = resource.partition('?')
        elif resource == '*' and method == 'OPTIONS':
            path, query = '*', ''
        else:
            absolute = _ABSOLUTE_FORM.fullmatch(resource)
            if absolute is None:
                raise HeadRefused(*_BAD_TARGET)
            authority, rest = absolute.groups()
            if not authority or '@' in authority or \
                    _HOST.fullmatch(authority) is None:
                raise HeadRefused(*_BAD_TARGET)
            if rest[:1] != '/':
                rest = '/' + rest
            path, _, query = rest.partition('?')
        _remember(_REQUEST_LINES, _REQUEST_LINES_KEPT, line,
                  (method, target, version, path, query, authority))
    if authority is not None:
        # Absolute form (RFC 9112 §3.2.2): the target's authority
        # replaces the Host field.
        _replace_host(headers, authority)
        host = authority

    keep = version == 'HTTP/1.1'
    if connection:
        connection = connection.lower()
        if connection == 'keep-alive':
            keep = True
        elif connection == 'close':
            keep = False
        else:
            tokens = {t.strip(' \t') for t in connection.split(',')}
            if 'close' in tokens:
                keep = False
            elif 'keep-alive' in tokens:
                keep = True
    size = None
    chunked = False
    if coding is not None:
        # RFC 9112 §6.1 and §6.3: the framing a proxy in front may read
        # differently from us is refused, not guessed at.
        if version == 'HTTP/1.0':
            raise HeadRefused(*_TE_IN_HTTP10)
        if length is not None:
            raise HeadRefused(*_TE_AND_CL)
        codings = [c for c in (part.strip(' \t').lower()
                               for part in coding.split(',')) if c]
        if not codings or codings[-1] != 'chunked' or \
                'chunked' in codings[:-1]:
            raise HeadRefused(*_BAD_TE)
        if len(codings) > 1:
            raise HeadRefused(*_UNSUPPORTED_CODING)
        chunked = True
    elif length is not None:
        if not length.isascii() or not length.isdigit() or len(length) > 18:
            raise HeadRefused(*_BAD_LENGTH)
        size = int(length)
    expect_continue = False
    if expect is not None and (size or chunked) and version == 'HTTP/1.1':
        expect_continue = expect.lower() == '100-continue'
    return _new(RequestHead, (method, target, version, path, query, headers,
                              host, keep, size, chunked, expect_continue))


class HeadScanner:
    """Finds where a request head ends in a buffer that grows as its bytes
    arrive (one scanner per head).

    Empty lines before the request line are skipped (RFC 9112 §2.2), up to
    ``max_head_size`` bytes of them. A bare LF is refused as soon as it
    arrives, not once the head is complete: a client that ends its lines
    with LF alone never sends the CRLF CRLF that ends a head.
    """

    __slots__ = ('max_head_size', 'skipped', '_checked', '_searched')

    def __init__(self, max_head_size: int) -> None:
        self.max_head_size = max_head_size
        #: how many bytes of empty lines begin the buffer
        self.skipped = 0
        # Bytes checked for a bare LF, and where the search for the end of
        # the head stopped (it may end across the next piece).
        self._checked = 0
        self._searched = 0

    def scan(self, buf: bytes) -> tuple[int, int] | None:
        """Look at ``buf`` (the buffer so far, which only grows).

        ``(start, end)``: the head is ``buf[start:end]`` (its last field
        line's CRLF included) and the next request begins at ``end + 2``.
        None: the head is not complete; scan again once more bytes have
        arrived (:meth:`begun` says whether any of a head has). Raises
        :class:`HeadRefused`.
        """
        limit = self.max_head_size
        if buf[self.skipped:self.skipped + 1] == b'\r':
            match = _EMPTY_LINES.match(buf, self.skipped)
            if match is not None:
                self.skipped = match.end()
                if self.skipped > limit:
                    raise HeadRefused(*_EMPTY_LINES_REFUSED)
        start = self.skipped
        end = buf.find(b'\r\n\r\n', max(start, self._searched - 3))
        if end >= 0:
            if end - start + 2 > limit:
                raise HeadRefused(*_HEAD_TOO_LARGE)
            # A bare LF or CR in it is found as the head is parsed.
            return start, end + 2
        if len(buf) - start > limit:
            raise HeadRefused(*_HEAD_TOO_LARGE)
        # Only the bytes not checked yet (and a CR just before them).
        checked = self._checked
        low = checked - 1 if checked and buf[checked - 1] == 13 else checked
        if buf.count(b'\n', low) != buf.count(b'\r\n', low):
            raise HeadRefused(*_BARE_LF)
        self._checked = self._searched = len(buf)
        return None

    def begun(self, buf: bytes) -> bool:
        """True once ``buf`` holds part of a head, not just empty lines."""
        return len(buf) > self.skipped

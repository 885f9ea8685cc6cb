"""What engineio_sync's two HTTP servers share: bodies, replies, environs.

:class:`~engineio_sync.http_server.HTTPServer` serves a connection with a
task of its driver (green threads), or, on a driver with an I/O loop
(threads), with :mod:`engineio_sync.loop_http`. Either way a request is
the same once its head is parsed: this module builds its environ
(:func:`request_environ`), reads its body (:class:`RequestBody` over a
:class:`Stream`), runs the application and writes its response
(:func:`call_app`, :class:`Reply`), and says what the connection does
next (``KEEP``, ``CLOSE``, ``LINGER``, ``TAKEN``, ``DEFERRED``). The rules
it keeps are in :mod:`engineio_sync.http_server`'s docstring.
"""

from __future__ import annotations

import errno
import itertools
import logging
import re
import sys
import time
from typing import Any, Callable, Iterator
from urllib.parse import unquote

from .core.http_head import TOKEN_CHARS, RequestHead
from .exceptions import EngineIOError

__all__ = ['BadRequestBody', 'AcceptBackoff', 'ACCEPT_TRANSIENT',
           'THEN_KEY', 'KEEP', 'CLOSE', 'LINGER', 'TAKEN', 'DEFERRED',
           'RequestBody', 'NO_BODY', 'Stream', 'Reply', 'close_result',
           'error_bytes', 'base_environ', 'request_environ', 'call_app',
           'quick_head']

logger = logging.getLogger('engineio_sync.http')

_REASONS = {400: 'Bad Request', 408: 'Request Timeout',
            413: 'Payload Too Large', 414: 'URI Too Long',
            431: 'Request Header Fields Too Large',
            500: 'Internal Server Error', 501: 'Not Implemented',
            505: 'HTTP Version Not Supported'}

# A trailer field line: checked like a header field, then dropped.
_TRAILER_LINE = re.compile(
    ('[' + TOKEN_CHARS + ']+:[^\\x00-\\x08\\x0a-\\x1f\\x7f]*').encode())
# chunk-size [chunk-ext] (RFC 9112 §7.1): hex digits only (no sign, no 0x,
# no spaces), at most 16 after leading zeros (a size must fit 64 bits),
# then ``;name[=token|"quoted"]`` extensions, which are checked and
# ignored.
_QUOTED = '"(?:[\\t !#-\\[\\]-~\\x80-\\xff]|\\\\[\\t -~\\x80-\\xff])*"'
_CHUNK_SIZE = re.compile(
    ('0*([0-9A-Fa-f]{1,16})(?:[ \\t]*;[ \\t]*[' + TOKEN_CHARS + ']+'
     '(?:[ \\t]*=[ \\t]*(?:[' + TOKEN_CHARS + ']+|' + _QUOTED + '))?)*'
     ).encode('latin-1'))
_MAX_CHUNK_LINE = 4096

#: accept() errors that concern one connection only: try the next at once.
ACCEPT_TRANSIENT = frozenset(
    getattr(errno, name) for name in
    ('ECONNABORTED', 'ECONNRESET', 'EPROTO', 'EINTR', 'EAGAIN',
     'EWOULDBLOCK', 'EPERM', 'ENETDOWN', 'ENOPROTOOPT', 'EHOSTDOWN',
     'ENONET', 'EHOSTUNREACH', 'EOPNOTSUPP', 'ENETUNREACH')
    if hasattr(errno, name))


class AcceptBackoff:
    """How long to pause after a failed ``accept()``, and its log lines.

    At the descriptor limit (EMFILE) the pending connection stays in the
    backlog and the listener stays readable, so trying again at once would
    spin and flood the log. The pause doubles from 10 ms up to
    ``max_backoff`` while the failures last and resets on the next success;
    one warning is logged per ``log_interval`` and one when accepting works
    again. Open connections go on being served meanwhile.
    """

    max_backoff = 0.5
    log_interval = 10.0

    def __init__(self) -> None:
        self.failures = 0
        self.unlogged = 0
        self.logged_at: float | None = None

    def failed(self, exc: BaseException) -> float:
        """Count a failure; the seconds to pause before the next try."""
        self.failures += 1
        self.unlogged += 1
        now = time.monotonic()
        if self.logged_at is None or \
                now - self.logged_at >= self.log_interval:
            logger.warning(
                'accept() failed %d time(s) (%s); pausing up to %.1f s '
                'between tries while it lasts, open connections are still '
                'served', self.unlogged, exc, self.max_backoff)
            self.logged_at = now
            self.unlogged = 0
        return min(self.max_backoff, 0.005 * 2 ** min(self.failures, 10))

    def succeeded(self) -> None:
        """An accept() worked: log the recovery (if any), reset."""
        if self.failures:
            logger.warning('accept() works again (after %d failures)',
                           self.failures)
            self.failures = 0
            self.unlogged = 0
            self.logged_at = None


# Lowercase field name -> environ key ('' for a dropped name), filled as
# names are seen (bounded).
_KEYS: dict[str, str] = {}


def _environ_key(name: str) -> str:
    if '_' in name:
        # gunicorn's choice too: a name with '_' could collide with the
        # '-' spelling of another once both are CGI keys.
        key = ''
    else:
        key = name.upper().replace('-', '_')
        if key != 'CONTENT_LENGTH' and key != 'CONTENT_TYPE':
            key = 'HTTP_' + key
    if len(_KEYS) < 1024:
        _KEYS[name] = key
    return key


class BadRequestBody(EngineIOError, ValueError):
    """``wsgi.input`` met a malformed request body, or one that ended early.

    The server answers the request with 400 (unless the application
    answered it) and closes the connection, whose framing is lost.
    """


#: the environ key where a taken-over request may leave the rest of its
#: work (see the module's docstring)
THEN_KEY = 'engineio_sync.then'

#: What is next for a connection once a request is served: read the next
#: request, close, close gracefully (see the servers' linger), nothing (a
#: handler took the connection over), wait for a deferred response.
KEEP, CLOSE, LINGER, TAKEN, DEFERRED = range(5)


class RequestBody:
    """``wsgi.input``: the request body, read from the connection."""

    __slots__ = ('_conn', '_left', '_chunked', '_chunk_left', '_done',
                 '_continue', '_max_fields', 'failed')

    def __init__(self, conn: Stream, length: int | None,
                 chunked: bool, expect_continue: bool,
                 max_fields: int) -> None:
        self._conn = conn
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length
        self._continue = expect_continue and not self._done
        self._max_fields = max_fields
        #: True once the body turned out malformed or cut short
        self.failed = False

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body (all of it if negative)."""
        if self.failed:
            raise BadRequestBody('the request body is unreadable')
        if self._done or size == 0:
            return b''
        if size is None or size < 0:
            parts: list[bytes] = []
            while True:
                part = self.read(65536)
                if not part:
                    return b''.join(parts)
                parts.append(part)
        try:
            if self._continue:
                self._continue = False
                self._conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
            if self._chunked:
                return self._read_chunked(size)
            data = self._conn.read_some(min(size, self._left))
            if not data:
                raise BadRequestBody('request body cut short')
            self._left -= len(data)
            if self._left == 0:
                self._done = True
            return data
        except (BadRequestBody, OSError):
            self.failed = True
            raise

    def _read_chunked(self, size: int) -> bytes:
        conn = self._conn
        if self._chunk_left == 0:
            line = conn.read_line(_MAX_CHUNK_LINE)
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise BadRequestBody('bad chunk size line')
            self._chunk_left = int(match.group(1), 16)
            if self._chunk_left == 0:
                self._read_trailers()
                self._done = True
                return b''
        data = conn.read_some(min(size, self._chunk_left))
        if not data:
            raise BadRequestBody('request body cut short')
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and conn.read_exact(2) != b'\r\n':
            raise BadRequestBody('chunk data not followed by CRLF')
        return data

    def _read_trailers(self) -> None:
        # Checked like header fields, then dropped: nothing here uses them.
        count = 0
        while True:
            line = self._conn.read_line(_MAX_CHUNK_LINE)
            if not line:
                return
            count += 1
            if count > self._max_fields:
                raise BadRequestBody('too many trailer fields')
            if _TRAILER_LINE.fullmatch(line) is None:
                raise BadRequestBody('bad trailer field')

    def readline(self, size: int = -1) -> bytes:
        """One line of the body (up to ``size`` bytes)."""
        out = bytearray()
        while size < 0 or len(out) < size:
            ch = self.read(1)
            if not ch:
                break
            out += ch
            if ch == b'\n':
                break
        return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    @property
    def pending(self) -> bool:
        """True while part of the body has not been read."""
        return not self._done

    def response_begins(self) -> bool:
        """The final response is starting: no ``100 Continue`` may follow.

        True if the client may still hold back a body it was never invited
        to send, so the connection cannot be reused.
        """
        pending = self._continue
        self._continue = False
        return pending

    def drain(self, limit: int) -> bool:
        """Discard what the app did not read; False if the connection
        cannot be reused (more than ``limit`` bytes, or a bad body)."""
        if self.failed:
            return False
        total = 0
        try:
            while not self._done:
                data = self.read(65536)
                total += len(data)
                if total > limit:
                    return False
        except (ValueError, OSError):
            return False
        return True


class _EmptyBody:
    """``wsgi.input`` of a request without a body (most requests): nothing
    to read, nothing that can fail, so one instance serves them all."""

    __slots__ = ()

    failed = False
    pending = False

    def read(self, size: int | None = -1) -> bytes:
        """Always ``b''``."""
        return b''

    def readline(self, size: int = -1) -> bytes:
        """Always ``b''``."""
        return b''

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def response_begins(self) -> bool:
        """Never a held-back body."""
        return False

    def drain(self, limit: int) -> bool:
        """Nothing to discard."""
        return True


#: ``wsgi.input`` of every request without a body
NO_BODY = _EmptyBody()


class Stream:
    """Buffered reads from one client socket, and its writes.

    ``buf`` holds what was read and not used yet; ``recv`` and ``sendall``
    are the socket's (or the driver's for it), ``send_last`` writes a
    complete response (``sendall`` unless the server writes those its own
    way) and ``finish`` closes the application's iterable once its
    response is written (:func:`close_result`, unless the server finishes
    writing later and closes it then).
    """

    __slots__ = ('sock', 'buf', 'recv', 'sendall', 'send_last', 'finish',
                 'then')

    def __init__(self, sock: Any, recv: Callable[[int], bytes],
                 sendall: Callable[[bytes], Any]) -> None:
        self.sock = sock
        self.buf = b''
        self.recv = recv
        self.sendall = sendall
        self.send_last = sendall
        self.finish: Callable[[Any], None] = close_result
        #: what a taken-over request left to run (environ[THEN_KEY])
        self.then: list[Callable[[], Any]] = []

    def fill(self) -> bool:
        """Read once more into ``buf``; False at the end of the stream."""
        data = self.recv(65536)
        if not data:
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def read_some(self, size: int) -> bytes:
        if not self.buf and size > 0 and not self.fill():
            return b''
        data = self.buf[:size]
        self.buf = self.buf[size:]
        return data

    def read_exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self.fill():
                raise BadRequestBody('request body cut short')
        data = self.buf[:size]
        self.buf = self.buf[size:]
        return data

    def read_line(self, limit: int) -> bytes:
        """One CRLF-terminated line of a chunked body, without the CRLF."""
        start = 0
        while True:
            end = self.buf.find(b'\n', start)
            if end >= 0:
                if end == 0 or self.buf[end - 1] != 13:
                    raise BadRequestBody('bare LF in a chunked body')
                if end > limit:
                    raise BadRequestBody('chunked body line too long')
                line = self.buf[:end - 1]
                self.buf = self.buf[end + 1:]
                return line
            if len(self.buf) > limit:
                raise BadRequestBody('chunked body line too long')
            start = len(self.buf)
            if not self.fill():
                raise BadRequestBody('request body cut short')


def close_result(result: Any) -> None:
    """Call the WSGI iterable's ``close()``, if it has one (PEP 3333)."""
    close = getattr(result, 'close', None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception('closing the WSGI response failed')


class Reply:
    """The response to one request, as the app starts and writes it."""

    # Class-level defaults: most requests never change most of these.
    started = False   # start_response was called
    sent = False      # the head is built (``head`` holds it until written)
    head = b''
    close = False     # the connection ends after this response
    linger = False    # ... and the client may still send a held-back body
    chunked = False
    bodyless = False
    status = ''
    headers: Any = ()

    def __init__(self, conn: Stream, body: Any, keep: bool,
                 head_only: bool, http11: bool) -> None:
        self.conn = conn
        self.body = body
        self.keep = keep
        self.head_only = head_only
        self.http11 = http11

    def start_response(self, status: str, headers: list,
                       exc_info: Any = None) -> Callable[[bytes], None]:
        """WSGI's ``start_response``."""
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = status
        self.headers = headers
        self.started = True
        return self.write

    def write(self, data: bytes) -> None:
        """WSGI's ``write``: the head if not sent yet, then ``data``."""
        if not self.sent:
            self.build_head(False)
        if not data:
            return
        out = self.head
        self.head = b''
        if self.bodyless:
            if out:
                self.conn.sendall(out)
            return
        if self.chunked:
            out += b'%x\r\n' % len(data) + data + b'\r\n'
        else:
            out += data
        self.conn.sendall(out)

    def send(self, result: Any) -> None:
        """Send the app's response body (an iterable of bytes)."""
        if not isinstance(result, (list, tuple)) or self.sent:
            for chunk in result:
                if chunk:
                    self.write(chunk)
            if not self.sent:
                self.build_head(True, 0)
            if self.head:
                self.conn.sendall(self.head)
                self.head = b''
            if self.chunked:
                self.conn.sendall(b'0\r\n\r\n')
            return
        # A complete body: the head and the body in one write.
        data = result[0] if len(result) == 1 else b''.join(result)
        self.conn.send_last(self.complete(data))

    def complete(self, data: bytes) -> bytes:
        """The whole response (head and body) for a complete body
        ``data``, once ``status`` and ``headers`` are set; raises
        ValueError for a header with CR or LF in it."""
        self.build_head(True, len(data))
        out = self.head
        self.head = b''
        if data and not self.bodyless:
            out += data
        return out

    def build_head(self, final: bool, body_length: int | None = None
                    ) -> None:
        body = self.body
        if body.response_begins():
            # The client may send the body it held back once its own
            # wait is over: read it off before closing (see _linger).
            self.close = self.linger = True
        elif body.failed:
            self.close = True
        # An application sends the same few heads again and again (an
        # Engine.IO server: its OK, its payloads of a few sizes): each is
        # built and checked once.
        key: tuple | None
        try:
            key = (self.status, tuple(self.headers), final, body_length,
                   self.close, self.keep, self.head_only, self.http11)
            built = _HEADS.get(key)
        except TypeError:
            # Something unhashable where a str belongs: the full build
            # says what.
            key = built = None
        if built is not None:
            self.head, self.close, self.chunked, self.bodyless = built
            self.sent = True
            return
        self._build_head(final, body_length)
        if key is not None:
            if len(_HEADS) >= _HEADS_KEPT:
                _HEADS.clear()
            _HEADS[key] = (self.head, self.close, self.chunked,
                           self.bodyless)

    def _build_head(self, final: bool, body_length: int | None) -> None:
        status = self.status
        out = [f'HTTP/1.1 {status}\r\n']
        has_length = False
        for name, value in self.headers:
            lname = name.lower()
            if lname == 'content-length':
                has_length = True
            elif lname == 'connection':
                if 'close' in value.lower():
                    self.close = True
                continue
            out.append(f'{name}: {value}\r\n')
        code = status[:3]
        bodyless = self.head_only or code == '204' or code == '304' or \
            code[:1] == '1'
        if has_length:
            pass
        elif final and body_length is not None and not bodyless:
            out.append('Content-Length: %d\r\n' % body_length)
        elif not bodyless:
            if self.http11:
                self.chunked = True
                out.append('Transfer-Encoding: chunked\r\n')
            else:
                self.close = True
        if self.close or not self.keep:
            out.append('Connection: close\r\n')
        out.append('\r\n')
        text = ''.join(out)
        # Each piece holds exactly one CR and one LF, at its end, unless
        # the app put a line break in a header: refuse to send that
        # (response splitting).
        if text.count('\n') != len(out) or text.count('\r') != len(out):
            raise ValueError('CR or LF in a response header')
        self.head = text.encode('latin-1')
        self.sent = True
        self.bodyless = bodyless


# Response heads built, by what they were built from (Reply.build_head);
# forgotten all at once when this many.
_HEADS: dict[tuple, tuple[bytes, bool, bool, bool]] = {}
_HEADS_KEPT = 512


def quick_head(buf: bytes, limit: int) -> int:
    """Where the head that begins ``buf`` ends (the index of its empty
    line's CRLF), when it is all there, within ``limit`` and without empty
    lines before it (most heads arrive so, in one read): what
    :meth:`HeadScanner.scan <engineio_sync.core.http_head.HeadScanner.scan>`
    would answer, without a scanner. -1 otherwise: scan it."""
    end = buf.find(b'\r\n\r\n')
    if 0 < end <= limit - 2 and buf[0] != 13:
        return end + 2
    return -1


def error_bytes(status: int, message: str) -> bytes:
    """A refusal: ``status`` with ``message`` as its text body, and
    ``Connection: close``."""
    body = message.encode()
    return (f'HTTP/1.1 {status} {_REASONS.get(status, "Error")}\r\n'
            f'Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n'
            'Connection: close\r\n\r\n').encode('latin-1') + body


def base_environ(host: str, port: int, addr: Any, sock: Any,
                 then: list[Callable[[], Any]], multithread: bool) -> dict:
    """The environ keys that are the same for every request of a
    connection (copied per request: a C-level dict copy)."""
    return {
        'SCRIPT_NAME': '',
        'SERVER_NAME': host,
        'SERVER_PORT': str(port),
        'REMOTE_ADDR': addr[0] if isinstance(addr, tuple) else '',
        'REMOTE_PORT': str(addr[1]) if isinstance(addr, tuple) else '',
        'wsgi.version': (1, 0),
        'wsgi.url_scheme': 'http',
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': multithread,
        'wsgi.multiprocess': False,
        'wsgi.run_once': False,
        'wsgi.input_terminated': True,
        # Replaced for a request with a body.
        'wsgi.input': NO_BODY,
        'SERVER_SOFTWARE': 'engineio_sync',
        'engineio_sync.socket': sock,
        THEN_KEY: then,
    }


def request_environ(head: RequestHead, conn: Stream, base: dict,
                    max_trailer_fields: int) -> dict:
    """The WSGI environ of a parsed request head."""
    environ = base.copy()
    for name, value in head.headers:
        key = _KEYS.get(name)
        if key is None:
            key = _environ_key(name)
        if not key:
            continue
        if key in environ:
            # One key per name: repeated lines make one list.
            sep = '; ' if key == 'HTTP_COOKIE' else ','
            environ[key] += sep + value
        else:
            environ[key] = value
    path = head.path
    if '%' in path:
        path = unquote(path, encoding='latin-1')
    environ['REQUEST_METHOD'] = head.method
    environ['PATH_INFO'] = path
    environ['QUERY_STRING'] = head.query
    environ['SERVER_PROTOCOL'] = head.version
    if head.content_length or head.chunked:
        environ['wsgi.input'] = RequestBody(
            conn, head.content_length, head.chunked, head.expect_continue,
            max_trailer_fields)
    return environ


def call_app(app: Callable, environ: dict, reply: Reply, keep: bool,
             max_unread_body: int,
             deferred: Callable[[Any], bool] | None = None) -> int:
    """Run ``app`` for one request and write its response; what the
    connection does next.

    ``deferred(result)`` tells whether the app's result is a deferred
    response (a server that offers them): then nothing is written, what
    the app left of the body is read and dropped (``reply.close`` is set
    if it could not be), and the answer is ``DEFERRED``.
    """
    conn = reply.conn
    body = reply.body
    try:
        result = app(environ, reply.start_response)
    except Exception as exc:
        return _app_failed(reply, exc, 'raised')
    if deferred is not None and not reply.started and deferred(result):
        if not body.drain(max_unread_body):
            reply.close = True
        return DEFERRED
    try:
        content = result
        if not reply.started and not isinstance(result, (list, tuple)):
            # PEP 3333 lets an app call start_response only once its
            # iterable is first iterated (a generator, werkzeug's
            # debugger).
            iterator = iter(result)
            first = next(iterator, None)
            content = (iterator if first is None
                       else itertools.chain((first,), iterator))
        if not reply.started:
            # No response: a WebSocket handler took the connection over.
            close_result(result)
            return TAKEN
        reply.send(content)
    except OSError:
        # Closed while the error is in hand, the app's iterable can
        # tell (sys.exc_info()) that its bytes never reached the client.
        close_result(result)
        result = None
        if body.failed:
            return _app_failed(reply, None, '')
        return CLOSE
    except Exception as exc:
        return _app_failed(reply, exc, 'response failed')
    finally:
        if reply.started:
            conn.finish(result)
    if body.failed or reply.linger:
        return LINGER
    if reply.close or not keep:
        # Bytes the client sent beyond this request would make the
        # close a reset, which can destroy the response in flight.
        return LINGER if conn.buf or body.pending else CLOSE
    if not body.drain(max_unread_body):
        return LINGER
    return KEEP


def _app_failed(reply: Reply, exc: BaseException | None, what: str) -> int:
    """Answer a request whose app (or response) failed."""
    if reply.body.failed:
        # The app stumbled on a bad body: the client's fault, a 400
        # rather than a 500, and no traceback.
        logger.debug('bad request body: %s', exc)
        if not reply.sent:
            _send_error(reply.conn, 400, 'bad request body')
        return LINGER
    logger.error('WSGI application %s', what, exc_info=exc)
    if not reply.sent:
        _send_error(reply.conn, 500, 'Internal Server Error')
    return CLOSE


def _send_error(conn: Stream, status: int, message: str) -> None:
    try:
        conn.sendall(error_bytes(status, message))
    except OSError:
        pass

"""A small, strict HTTP/1.1 WSGI server for the standalone entry point.

General WSGI servers keep per-connection read and write buffers (eventlet's
are 24 KiB) and parse headers with the ``email`` package; both dominate an
Engine.IO server's memory per WebSocket and its cost per long-poll. This
server does only what Engine.IO and an ordinary WSGI app need: keep-alive,
``Content-Length`` and chunked request bodies, ``Expect: 100-continue``,
chunked responses, and handing the raw socket to a WebSocket handler
(``environ['engineio_sync.socket']``). It runs on any driver.

A handler that took the socket over may append the rest of its work to
the list ``environ['engineio_sync.then']`` (a callable taking no
arguments) and return: the server calls it in the connection's task once
the request's own frames are gone, then closes the socket. (A list, shared
by every copy of the environ that middleware may make.) A WebSocket that lives for hours then holds none
of its upgrade request's locals and a shallower stack.

It is often the first thing the internet meets, so it parses request heads
as RFC 9112 asks a server to (:mod:`engineio_sync.core.http_head` decides
what is refused, and with which status) and refuses whatever a front
proxy could read differently (request smuggling) or that could inject a
header: every malformed request gets a 4xx (or 501/505) with
``Connection: close``, and the connection is closed after it. Besides
what that module refuses:

- a head not complete within ``head_timeout`` -> 408.
- field names with an underscore are dropped: CGI turns ``-`` into ``_``,
  so ``Content_Length`` would otherwise arrive as ``CONTENT_LENGTH``.
- body: a chunk-size line that is not hex digits and optional extensions, a
  chunk not followed by CRLF, bad trailers, or a body that ends early make
  ``wsgi.input`` raise :class:`BadRequestBody` (a ValueError); the request
  is answered 400 (unless the app answered) and the connection is closed.
"""

from __future__ import annotations

import errno
import itertools
import logging
import re
import socket as _socket
import sys
import time
from typing import Any, Callable, Iterator
from urllib.parse import unquote

from .core.http_head import (HEAD_CUT_SHORT, HEAD_TIMED_OUT, TOKEN_CHARS,
                             HeadLimits, HeadRefused, HeadScanner,
                             RequestHead, parse_head)
from .drivers.base import Driver
from .exceptions import EngineIOError

__all__ = ['HTTPServer', 'BadRequestBody', 'AcceptBackoff', 'ACCEPT_TRANSIENT']

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

# What _serve_request tells _serve_connection to do next.
_KEEP, _CLOSE, _LINGER, _TAKEN = range(4)


class _Input:
    """``wsgi.input``: the request body, read from the connection."""

    __slots__ = ('_conn', '_left', '_chunked', '_chunk_left', '_done',
                 '_continue', '_max_fields', 'failed')

    def __init__(self, conn: _Connection, length: int | None,
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


class _EmptyInput:
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


_NO_BODY = _EmptyInput()


class _Connection:
    """Buffered reads from one client socket."""

    __slots__ = ('sock', 'buf', 'recv', 'sendall', 'release',
                 'head_timeout', 'idle_since', 'then')

    def __init__(self, sock: Any, sendall: Callable,
                 reader: tuple[Callable, Callable],
                 head_timeout: float) -> None:
        self.sock = sock
        self.buf = b''
        # A keep-alive connection is read for a long time: its reader
        # stays registered with the hub between requests (see
        # Driver.stream_reader); release() before anyone else reads the
        # socket or it is closed.
        self.recv, self.release = reader
        self.sendall = sendall
        self.head_timeout = head_timeout
        #: when the connection began waiting for a request (None: busy)
        self.idle_since: float | None = None
        #: what a taken-over request left to run (environ[THEN_KEY])
        self.then: list[Callable[[], Any]] = []

    def fill(self) -> bool:
        data = self.recv(65536)
        if not data:
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def read_head(self, limit: int) -> bytes | None:
        """The request line and field lines, each ending in CRLF (without
        the empty line), or None if the client left before sending any."""
        if not self.buf and not self.fill():
            return None
        buf = self.buf
        end = buf.find(b'\r\n\r\n')
        # Most heads arrive whole in one read, with no empty lines first:
        # HeadScanner.scan's answer for them, without a scanner.
        if 0 < end <= limit - 2 and buf[0] != 13:
            self.buf = buf[end + 4:]
            return buf[:end + 2]
        return self._read_head_slowly(limit)

    def _read_head_slowly(self, limit: int) -> bytes | None:
        scanner = HeadScanner(limit)
        deadline = None
        while True:
            buf = self.buf
            found = scanner.scan(buf)
            if found is not None:
                start, end = found
                self.buf = buf[end + 2:]
                return buf[start:end]
            if scanner.begun(buf):
                # Once a head has begun it gets a total budget, not a
                # fresh timeout per read, or a trickle holds us forever.
                self.idle_since = None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.head_timeout
                elif now >= deadline:
                    raise HeadRefused(*HEAD_TIMED_OUT)
                self.sock.settimeout(deadline - now)
            try:
                filled = self.fill()
            except _socket.timeout:
                raise HeadRefused(*HEAD_TIMED_OUT) from None
            if not filled:
                if scanner.begun(self.buf):
                    raise HeadRefused(*HEAD_CUT_SHORT)
                return None

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


def _close_result(result: Any) -> None:
    """Call the WSGI iterable's ``close()``, if it has one (PEP 3333)."""
    close = getattr(result, 'close', None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception('closing the WSGI response failed')


class _Reply:
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

    def __init__(self, conn: _Connection, body: Any, keep: bool,
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
            self._build_head(False)
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
                self._build_head(True, 0)
            if self.head:
                self.conn.sendall(self.head)
                self.head = b''
            if self.chunked:
                self.conn.sendall(b'0\r\n\r\n')
            return
        # A complete body: the head and the body in one write.
        data = result[0] if len(result) == 1 else b''.join(result)
        self._build_head(True, len(data))
        out = self.head
        self.head = b''
        if data and not self.bodyless:
            out += data
        self.conn.sendall(out)

    def _build_head(self, final: bool, body_length: int | None = None
                    ) -> None:
        body = self.body
        if body.response_begins():
            # The client may send the body it held back once its own
            # wait is over: read it off before closing (see _linger).
            self.close = self.linger = True
        elif body.failed:
            self.close = True
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


class HTTPServer:
    """Serve a WSGI app on ``host:port`` with tasks of ``driver``.

    ``keepalive_timeout`` bounds how long an idle connection is kept (and
    each read of a request body); ``head_timeout`` how long a request head
    may take once it has begun; ``max_connections`` how many connections
    are served at once (more wait in the listen backlog);
    ``max_unread_body`` how much of a body the app left unread is read and
    dropped to keep the connection (more: the connection is closed);
    ``max_head_size``, ``max_header_fields`` and ``max_request_line`` bound
    a request head (431, 431 and 414 beyond them). See the module's
    docstring for what else is refused.
    """

    def __init__(self, app: Callable, host: str = '127.0.0.1',
                 port: int = 5000, *, driver: Driver, backlog: int = 1024,
                 keepalive_timeout: float = 75.0,
                 head_timeout: float = 30.0,
                 max_connections: int = 20000,
                 max_unread_body: int = 1 << 20,
                 max_head_size: int = 65536,
                 max_header_fields: int = 100,
                 max_request_line: int = 8190) -> None:
        self.app = app
        self.driver = driver
        self.keepalive_timeout = keepalive_timeout
        self.head_timeout = head_timeout
        self.max_unread_body = max_unread_body
        #: the bounds of a request head (``max_head_size`` and the others)
        self.head_limits = HeadLimits(max_head_size, max_header_fields,
                                      max_request_line)
        self.listener = driver.listen(host, port, backlog)
        self.host, self.port = self.listener.getsockname()[:2]
        self._running = False
        self._serving = False
        self.max_connections = max_connections
        self._active = 0
        self._count_lock = driver.state_lock()
        # Set while there is room for another connection.
        self._room = driver.event()
        self._room.set()
        self._connections: set = set()
        self._multithread = driver.name == 'threading'
        #: the pauses between failing accept() calls
        self.accept_backoff = AcceptBackoff()

    def serve_forever(self) -> None:
        """Accept connections until :meth:`stop` is called."""
        self._running = True
        self._serving = True
        try:
            self.driver.spawn(self._sweep_idle)
            self._accept_loop()
        finally:
            self._serving = False
            try:
                self.listener.close()
            except OSError:  # pragma: no cover
                pass

    def _accept_loop(self) -> None:
        listener = self.listener
        start = self.driver.start
        while self._running:
            # At the connection limit, stop accepting (the kernel backlog
            # holds newcomers) until a connection ends.
            if not self._room.wait(1.0):
                continue
            try:
                sock, addr = listener.accept()
            except OSError as exc:
                if not self._running:
                    break
                if exc.errno in ACCEPT_TRANSIENT:
                    continue
                self.driver.sleep(self.accept_backoff.failed(exc))
                continue
            if not self._running:
                sock.close()
                break
            if self.accept_backoff.failures:
                self.accept_backoff.succeeded()
            with self._count_lock:
                self._active += 1
                if self._active >= self.max_connections:
                    self._room.clear()
            try:
                start(self._serve_connection, sock, addr)
            except Exception as exc:  # e.g. no more threads
                self._connection_ended()
                sock.close()
                self.driver.sleep(self.accept_backoff.failed(exc))

    def _sweep_idle(self) -> None:
        # Idle keep-alive connections wait without a socket timeout (a
        # timeout costs a hub timer per wait); this task closes the ones
        # idle for longer than keepalive_timeout instead.
        interval = max(0.05, min(self.keepalive_timeout / 4, 5.0))
        while self._running:
            self.driver.sleep(interval)
            limit = time.monotonic() - self.keepalive_timeout
            for conn in list(self._connections):
                since = conn.idle_since
                if since is not None and since < limit:
                    conn.idle_since = None
                    try:
                        conn.sock.shutdown(_socket.SHUT_RDWR)
                    except OSError:
                        pass

    def stop(self) -> None:
        """Stop accepting; open connections finish on their own."""
        self._running = False
        self._room.set()
        try:
            # Wakes a task blocked in accept(): a thread directly, a green
            # thread through the hub, which sees the socket hang up.
            self.listener.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        if self._serving:
            # The accept loop closes the listener as it returns. Closing
            # it here would take it out of the hub's poll set before the
            # hub reports the shutdown, and a green accept() would then
            # wait forever.
            return
        try:
            self.listener.close()
        except OSError:
            pass

    def _connection_ended(self) -> None:
        with self._count_lock:
            self._active -= 1
            room = self._active < self.max_connections
        if room:
            self._room.set()

    def _serve_connection(self, sock: Any, addr: Any) -> None:
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        driver = self.driver
        conn = _Connection(sock, driver.socket_io(sock)[1],
                           driver.stream_reader(sock), self.head_timeout)
        base = self._base_environ(conn, addr)
        self._connections.add(conn)
        after = _CLOSE
        try:
            while True:
                sock.settimeout(None)
                conn.idle_since = time.monotonic()
                try:
                    after = self._serve_request(conn, base)
                except HeadRefused as exc:
                    status, reason = exc.status, exc.reason
                    logger.debug('refused a request from %s: %d %s',
                                 base['REMOTE_ADDR'], status, reason)
                    self._error(conn, status, reason)
                    self._linger(conn)
                    break
                except OSError:  # includes timeouts
                    break
                if after == _LINGER:
                    self._linger(conn)
                if after != _KEEP:
                    break
            # Whoever took the connection over reads it from now on.
            conn.release()
            if after == _TAKEN and conn.then:
                then = conn.then.pop()
                conn.then = base = None  # type: ignore[assignment]
                try:
                    then()
                except Exception:
                    logger.exception('a taken-over connection failed')
        finally:
            conn.release()
            # A WebSocket handler returns only once its connection is over.
            try:
                sock.close()
            except OSError:
                pass
            self._connections.discard(conn)
            self._connection_ended()

    def _linger(self, conn: _Connection) -> None:
        """Close gracefully after refusing a request.

        Closing a socket with unread bytes makes the kernel reset the
        connection, and a reset can destroy the response before the client
        reads it; so stop sending and read the client's leftovers (within a
        bound in time and bytes) until it closes too.
        """
        sock = conn.sock
        try:
            sock.shutdown(_socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + 2.0
        total = 0
        try:
            while total < (1 << 20):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                sock.settimeout(left)
                data = conn.recv(65536)
                if not data:
                    return
                total += len(data)
        except OSError:
            pass

    def _error(self, conn: _Connection, status: int, message: str) -> None:
        body = message.encode()
        head = (f'HTTP/1.1 {status} {_REASONS.get(status, "Error")}\r\n'
                f'Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n'
                'Connection: close\r\n\r\n').encode('latin-1')
        try:
            conn.sendall(head + body)
        except OSError:
            pass

    def _base_environ(self, conn: _Connection, addr: Any) -> dict:
        """The environ keys that are the same for every request of a
        connection (copied per request: a C-level dict copy)."""
        return {
            'SCRIPT_NAME': '',
            'SERVER_NAME': self.host,
            'SERVER_PORT': str(self.port),
            'REMOTE_ADDR': addr[0] if isinstance(addr, tuple) else '',
            'REMOTE_PORT': str(addr[1]) if isinstance(addr, tuple) else '',
            'wsgi.version': (1, 0),
            'wsgi.url_scheme': 'http',
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': self._multithread,
            'wsgi.multiprocess': False,
            'wsgi.run_once': False,
            'wsgi.input_terminated': True,
            # Replaced for a request with a body.
            'wsgi.input': _NO_BODY,
            'SERVER_SOFTWARE': 'engineio_sync',
            'engineio_sync.socket': conn.sock,
            THEN_KEY: conn.then,
        }

    def _environ(self, head: RequestHead, conn: _Connection, base: dict
                 ) -> dict:
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
            environ['wsgi.input'] = _Input(
                conn, head.content_length, head.chunked,
                head.expect_continue, self.head_limits.max_header_fields)
        return environ

    def _serve_request(self, conn: _Connection, base: dict) -> int:
        """Serve one request; what to do with the connection next."""
        limits = self.head_limits
        data = conn.read_head(limits.max_head_size)
        conn.idle_since = None
        if data is None:
            return _CLOSE
        # Bodies and the app's own reads get a timeout (it only costs when
        # a read has to wait).
        conn.sock.settimeout(self.keepalive_timeout)
        head = parse_head(data, limits)
        environ = self._environ(head, conn, base)
        body = environ['wsgi.input']
        keep = head.keep_alive
        reply = _Reply(conn, body, keep, head.method == 'HEAD',
                       head.version == 'HTTP/1.1')
        try:
            result = self.app(environ, reply.start_response)
        except Exception as exc:
            return self._app_failed(conn, body, reply, exc, 'raised')
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
                _close_result(result)
                return _TAKEN
            reply.send(content)
        except OSError:
            # Closed while the error is in hand, the app's iterable can
            # tell (sys.exc_info()) that its bytes never reached the client.
            _close_result(result)
            result = None
            if body.failed:
                return self._app_failed(conn, body, reply, None, '')
            return _CLOSE
        except Exception as exc:
            return self._app_failed(conn, body, reply, exc,
                                    'response failed')
        finally:
            if reply.started:
                _close_result(result)
        if body.failed or reply.linger:
            return _LINGER
        if reply.close or not keep:
            # Bytes the client sent beyond this request would make the
            # close a reset, which can destroy the response in flight.
            return _LINGER if conn.buf or body.pending else _CLOSE
        if not body.drain(self.max_unread_body):
            return _LINGER
        return _KEEP

    def _app_failed(self, conn: _Connection, body: Any, reply: _Reply,
                    exc: BaseException | None, what: str) -> int:
        """Answer a request whose app (or response) failed."""
        if body.failed:
            # The app stumbled on a bad body: the client's fault, a 400
            # rather than a 500, and no traceback.
            logger.debug('bad request body: %s', exc)
            if not reply.sent:
                self._error(conn, 400, 'bad request body')
            return _LINGER
        logger.error('WSGI application %s', what, exc_info=exc)
        if not reply.sent:
            self._error(conn, 500, 'Internal Server Error')
        return _CLOSE

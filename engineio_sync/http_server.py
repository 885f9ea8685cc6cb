"""A small HTTP/1.1 WSGI server for the standalone entry point.

General WSGI servers keep per-connection read and write buffers (eventlet's
are 24 KiB) and parse headers with the ``email`` package; both dominate an
Engine.IO server's memory per WebSocket and its cost per long-poll. This
server does only what Engine.IO and an ordinary WSGI app need: keep-alive,
``Content-Length`` and chunked request bodies, ``Expect: 100-continue``,
chunked responses, and handing the raw socket to a WebSocket handler
(``environ['engineio_sync.socket']``). It runs on any driver.
"""

from __future__ import annotations

import logging
import socket as _socket
import sys
import time
from typing import Any, Callable
from urllib.parse import unquote

__all__ = ['HTTPServer']

logger = logging.getLogger('engineio_sync.http')

_MAX_HEAD = 65536
_REASONS = {400: 'Bad Request', 408: 'Request Timeout',
            413: 'Payload Too Large', 431: 'Request Header Fields Too Large',
            500: 'Internal Server Error', 505: 'HTTP Version Not Supported'}


# Header name -> environ key, filled as names are seen (bounded).
_KEYS: dict[str, str] = {}


def _environ_key(name: str) -> str:
    key = name.upper().replace('-', '_')
    if key != 'CONTENT_LENGTH' and key != 'CONTENT_TYPE':
        key = 'HTTP_' + key
    if len(_KEYS) < 1024:
        _KEYS[name] = key
    return key


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Input:
    """``wsgi.input``: the request body, read from the connection."""

    __slots__ = ('_conn', '_left', '_chunked', '_chunk_left', '_done',
                 '_continue')

    def __init__(self, conn: _Connection, length: int | None,
                 chunked: bool, expect_continue: bool) -> None:
        self._conn = conn
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length
        self._continue = expect_continue

    def _send_continue(self) -> None:
        if self._continue:
            self._continue = False
            self._conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b''
        self._send_continue()
        if size is None or size < 0:
            parts = []
            while True:
                part = self.read(65536)
                if not part:
                    return b''.join(parts)
                parts.append(part)
        if not self._chunked:
            data = self._conn.read_some(min(size, self._left))
            self._left -= len(data)
            if self._left <= 0 or not data:
                self._done = True
            return data
        if self._chunk_left == 0:
            line = self._conn.read_line(1024)
            try:
                self._chunk_left = int(line.split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, 'bad chunk size') from None
            if self._chunk_left < 0:
                raise _BadRequest(400, 'bad chunk size')
            if self._chunk_left == 0:
                # Trailers, then the blank line that ends the body.
                while self._conn.read_line(8192) not in (b'\r\n', b'\n',
                                                         b''):
                    pass
                self._done = True
                return b''
        data = self._conn.read_some(min(size, self._chunk_left))
        self._chunk_left -= len(data)
        if not data:
            self._done = True
        elif self._chunk_left == 0:
            self._conn.read_line(8)  # the CRLF after the chunk
        return data

    def readline(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            ch = self.read(1)
            if not ch:
                break
            out += ch
            if ch == b'\n':
                break
        return bytes(out)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def drain(self, limit: int) -> bool:
        """Discard what the app did not read; False if over ``limit``."""
        total = 0
        while not self._done:
            data = self.read(65536)
            total += len(data)
            if total > limit:
                return False
        return True


class _Connection:
    """Buffered reads from one client socket."""

    __slots__ = ('sock', 'buf', 'recv', 'sendall', 'head_timeout',
                 'idle_since')

    def __init__(self, sock: Any, io: tuple[Callable, Callable],
                 head_timeout: float) -> None:
        self.sock = sock
        self.buf = b''
        self.recv, self.sendall = io
        self.head_timeout = head_timeout
        #: when the connection began waiting for a request (None: busy)
        self.idle_since: float | None = None

    def fill(self) -> bool:
        data = self.recv(65536)
        if not data:
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def read_head(self) -> bytes | None:
        """The request line and headers, or None if the client left."""
        start = 0
        deadline = None
        while True:
            end = self.buf.find(b'\r\n\r\n', start)
            if end > _MAX_HEAD:
                raise _BadRequest(431, 'request head too large')
            if end >= 0:
                head = self.buf[:end]
                self.buf = self.buf[end + 4:]
                return head
            if len(self.buf) > _MAX_HEAD:
                raise _BadRequest(431, 'request head too large')
            start = max(0, len(self.buf) - 3)
            if self.buf:
                # Once a head has begun it gets a total budget, not a
                # fresh timeout per read, or a trickle holds us forever.
                self.idle_since = None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.head_timeout
                elif now >= deadline:
                    raise _BadRequest(408, 'request head timed out')
                self.sock.settimeout(deadline - now)
            try:
                filled = self.fill()
            except _socket.timeout:
                raise _BadRequest(408, 'request head timed out') from None
            if not filled:
                if self.buf.strip():
                    raise _BadRequest(400, 'incomplete request')
                return None

    def read_some(self, size: int) -> bytes:
        if not self.buf and size > 0 and not self.fill():
            return b''
        data = self.buf[:size]
        self.buf = self.buf[size:]
        return data

    def read_line(self, limit: int) -> bytes:
        while True:
            end = self.buf.find(b'\n')
            if end >= 0:
                line = self.buf[:end + 1]
                self.buf = self.buf[end + 1:]
                return line
            if len(self.buf) > limit:
                raise _BadRequest(400, 'line too long')
            if not self.fill():
                line, self.buf = self.buf, b''
                return line


class HTTPServer:
    """Serve a WSGI app on ``host:port`` with tasks of ``driver``.

    ``keepalive_timeout`` bounds how long an idle connection is kept;
    ``head_timeout`` how long a request head may take once it has begun;
    ``max_connections`` how many connections are served at once (more
    wait in the listen backlog).
    """

    def __init__(self, app: Callable, host: str = '127.0.0.1',
                 port: int = 5000, *, driver: Any, backlog: int = 1024,
                 keepalive_timeout: float = 75.0,
                 head_timeout: float = 30.0,
                 max_connections: int = 20000,
                 max_unread_body: int = 1 << 20) -> None:
        self.app = app
        self.driver = driver
        self.keepalive_timeout = keepalive_timeout
        self.head_timeout = head_timeout
        #: when the connection began waiting for a request (None: busy)
        self.idle_since: float | None = None
        self.max_unread_body = max_unread_body
        self.listener = driver.listen(host, port, backlog)
        self.host, self.port = self.listener.getsockname()[:2]
        self._running = False
        self.max_connections = max_connections
        self._active = 0
        self._count_lock = driver.state_lock()
        # Set while there is room for another connection.
        self._room = driver.event()
        self._room.set()
        self._connections: set = set()
        self._multithread = driver.name == 'threading'

    def serve_forever(self) -> None:
        """Accept connections until :meth:`stop` is called."""
        self._running = True
        self.driver.spawn(self._sweep_idle)
        listener = self.listener
        spawn = self.driver.spawn
        while self._running:
            # At the connection limit, stop accepting (the kernel backlog
            # holds newcomers) until a connection ends.
            if not self._room.wait(1.0):
                continue
            try:
                sock, addr = listener.accept()
            except OSError:
                if not self._running:
                    break
                logger.exception('accept failed')
                self.driver.sleep(0.01)
                continue
            with self._count_lock:
                self._active += 1
                if self._active >= self.max_connections:
                    self._room.clear()
            spawn(self._serve_connection, sock, addr)

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
        try:
            self.listener.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass

    def _serve_connection(self, sock: Any, addr: Any) -> None:
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn = _Connection(sock, self.driver.socket_io(sock),
                           self.head_timeout)
        base = self._base_environ(conn, addr)
        self._connections.add(conn)
        try:
            while True:
                sock.settimeout(None)
                conn.idle_since = time.monotonic()
                try:
                    keep, taken = self._serve_request(conn, base)
                except _BadRequest as exc:
                    self._error(conn, exc.status, str(exc))
                    break
                except OSError:  # includes timeouts
                    break
                if taken or not keep:
                    break
        finally:
            # A WebSocket handler returns only once its connection is over.
            try:
                sock.close()
            except OSError:
                pass
            self._connections.discard(conn)
            with self._count_lock:
                self._active -= 1
                room = self._active < self.max_connections
            if room:
                self._room.set()

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
            'SERVER_SOFTWARE': 'engineio_sync',
            'engineio_sync.socket': conn.sock,
        }

    def _environ(self, head: bytes, conn: _Connection, base: dict
                 ) -> tuple[dict, bool]:
        text = head.decode('latin-1')
        lines = text.split('\r\n')
        parts = lines[0].split(' ')
        if len(parts) != 3:
            raise _BadRequest(400, 'bad request line')
        method, target, version = parts
        if version != 'HTTP/1.1' and version != 'HTTP/1.0':
            raise _BadRequest(505, 'unsupported HTTP version')
        path, _, query = target.partition('?')
        if '%' in path:
            path = unquote(path, encoding='latin-1')
        environ = base.copy()
        environ['REQUEST_METHOD'] = method
        environ['PATH_INFO'] = path
        environ['QUERY_STRING'] = query
        environ['SERVER_PROTOCOL'] = version
        for line in lines[1:]:
            name, sep, value = line.partition(':')
            if not sep or not name or name[-1] in ' \t' or name[0] in ' \t':
                raise _BadRequest(400, 'bad header line')
            key = _KEYS.get(name) or _environ_key(name)
            value = value.strip()
            if key in environ:
                if key == 'CONTENT_LENGTH' or key == 'CONTENT_TYPE':
                    if environ[key] != value:
                        raise _BadRequest(400, f'conflicting {name}')
                    continue
                environ[key] += ',' + value
            else:
                environ[key] = value
        keep = version == 'HTTP/1.1'
        connection = environ.get('HTTP_CONNECTION', '').lower()
        if 'close' in connection:
            keep = False
        elif 'keep-alive' in connection:
            keep = True
        chunked = 'chunked' in environ.get('HTTP_TRANSFER_ENCODING',
                                           '').lower()
        length = None
        if chunked:
            environ.pop('CONTENT_LENGTH', None)
        elif 'CONTENT_LENGTH' in environ:
            value = environ['CONTENT_LENGTH']
            if not value.isdigit():
                raise _BadRequest(400, 'bad Content-Length')
            length = int(value)
        expect = environ.get('HTTP_EXPECT', '').lower() == '100-continue'
        environ['wsgi.input'] = _Input(conn, length, chunked, expect)
        return environ, keep

    def _serve_request(self, conn: _Connection, base: dict
                       ) -> tuple[bool, bool]:
        """Serve one request; (keep the connection, socket taken over)."""
        head = conn.read_head()
        conn.idle_since = None
        if head is None:
            return False, False
        # Bodies and the app's own reads get a timeout (it only costs when
        # a read has to wait).
        conn.sock.settimeout(self.keepalive_timeout)
        if head.startswith(b'\r\n'):
            head = head.lstrip(b'\r\n')
        environ, keep = self._environ(head, conn, base)
        head_only = environ['REQUEST_METHOD'] == 'HEAD'
        state: dict[str, Any] = {}

        def start_response(status: str, headers: list, exc_info: Any = None
                           ) -> Callable[[bytes], None]:
            if exc_info is not None and state.get('sent'):
                raise exc_info[1].with_traceback(exc_info[2])
            state['status'] = status
            state['headers'] = headers
            return write

        def write(data: bytes) -> None:
            send_head(False)
            if data:
                self._send_body(conn, state, data)

        def send_head(final: bool, body_length: int | None = None) -> None:
            if state.get('sent'):
                return
            state['sent'] = True
            status = state['status']
            out = [f'HTTP/1.1 {status}\r\n']
            has_length = False
            for name, value in state['headers']:
                lname = name.lower()
                if lname == 'content-length':
                    has_length = True
                elif lname == 'connection':
                    if 'close' in value.lower():
                        state['close'] = True
                    continue
                out.append(f'{name}: {value}\r\n')
            code = status[:3]
            bodyless = head_only or code in ('204', '304') or \
                code.startswith('1')
            if has_length:
                pass
            elif final and body_length is not None and not bodyless:
                out.append(f'Content-Length: {body_length}\r\n')
            elif not bodyless:
                if environ['SERVER_PROTOCOL'] == 'HTTP/1.1':
                    state['chunked'] = True
                    out.append('Transfer-Encoding: chunked\r\n')
                else:
                    state['close'] = True
            if state.get('close') or not keep:
                out.append('Connection: close\r\n')
            out.append('\r\n')
            state['head'] = ''.join(out).encode('latin-1')
            state['bodyless'] = bodyless

        try:
            result = self.app(environ, start_response)
        except Exception:
            logger.exception('WSGI application raised')
            self._error(conn, 500, 'Internal Server Error')
            return False, False
        try:
            if 'status' not in state:
                # No response: a WebSocket handler took the connection over.
                close = getattr(result, 'close', None)
                if close is not None:
                    close()
                return False, True
            if isinstance(result, (list, tuple)) and not state.get('sent'):
                body = b''.join(result)
                send_head(True, len(body))
                data = state.pop('head')
                if body and not state['bodyless']:
                    data += body
                conn.sendall(data)
            else:
                for chunk in result:
                    if chunk:
                        write(chunk)
                send_head(True, 0)
                if 'head' in state:
                    conn.sendall(state.pop('head'))
                if state.get('chunked'):
                    conn.sendall(b'0\r\n\r\n')
        except OSError:
            return False, False
        except Exception:
            logger.exception('WSGI response failed')
            if not state.get('sent'):
                self._error(conn, 500, 'Internal Server Error')
            return False, False
        finally:
            close = getattr(result, 'close', None)
            if close is not None and 'status' in state:
                try:
                    close()
                except Exception:
                    logger.exception('closing the WSGI response failed')
        if state.get('close') or not keep:
            return False, False
        try:
            drained = environ['wsgi.input'].drain(self.max_unread_body)
        except _BadRequest:
            return False, False
        return drained, False

    def _send_body(self, conn: _Connection, state: dict,
                   data: bytes) -> None:
        out = state.pop('head', b'')
        if state['bodyless']:
            if out:
                conn.sendall(out)
            return
        if state.get('chunked'):
            out += f'{len(data):x}\r\n'.encode() + data + b'\r\n'
        else:
            out += data
        conn.sendall(out)


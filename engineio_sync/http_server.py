"""A small, strict HTTP/1.1 WSGI server for the standalone entry point.

General WSGI servers keep per-connection read and write buffers (eventlet's
are 24 KiB) and parse headers with the ``email`` package; both dominate an
Engine.IO server's memory per WebSocket and its cost per long-poll. This
server does only what Engine.IO and an ordinary WSGI app need: keep-alive,
``Content-Length`` and chunked request bodies, ``Expect: 100-continue``,
chunked responses, and handing the raw socket to a WebSocket handler
(``environ['engineio_sync.socket']``). It runs on any driver: with a
task per connection on the green drivers, and on a driver with an I/O
loop (threads, ``driver.io_hub()``) in that loop, with the application on
the hub's worker pool and no thread per connection
(:mod:`engineio_sync.loop_http`, which also offers deferred responses:
``environ['engineio_sync.defer']``). Request bodies, responses and
environs are the same code for both (:mod:`engineio_sync.http_wire`).

A handler that took the socket over may append the rest of its work to
the list ``environ['engineio_sync.then']`` (a callable taking no
arguments) and return: the server calls it in the connection's task once
the request's own frames are gone, then closes the socket. (A list, shared
by every copy of the environ that middleware may make.) A WebSocket that
lives for hours then holds none of its upgrade request's locals and a
shallower stack.

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

import logging
import socket as _socket
import time
from typing import Any, Callable

from .core.http_head import (HEAD_CUT_SHORT, HEAD_TIMED_OUT, HeadLimits,
                             HeadRefused, HeadScanner, parse_head)
from .drivers.base import Driver
from .http_wire import (ACCEPT_TRANSIENT, CLOSE, KEEP, LINGER, TAKEN,
                        THEN_KEY, AcceptBackoff, BadRequestBody, Reply,
                        Stream, base_environ, call_app, error_bytes,
                        quick_head, request_environ)
from .loop_http import LoopHTTP

__all__ = ['HTTPServer', 'BadRequestBody', 'AcceptBackoff', 'ACCEPT_TRANSIENT',
           'THEN_KEY']

logger = logging.getLogger('engineio_sync.http')


class _Connection(Stream):
    """Buffered reads from one client socket, request heads included."""

    __slots__ = ('release', 'head_timeout', 'idle_since')

    def __init__(self, sock: Any, sendall: Callable,
                 reader: tuple[Callable, Callable],
                 head_timeout: float) -> None:
        # A keep-alive connection is read for a long time: its reader
        # stays registered with the hub between requests (see
        # Driver.stream_reader); release() before anyone else reads the
        # socket or it is closed.
        recv, self.release = reader
        super().__init__(sock, recv, sendall)
        self.head_timeout = head_timeout
        #: when the connection began waiting for a request (None: busy)
        self.idle_since: float | None = None

    def read_head(self, limit: int) -> bytes | None:
        """The request line and field lines, each ending in CRLF (without
        the empty line), or None if the client left before sending any."""
        if not self.buf and not self.fill():
            return None
        buf = self.buf
        end = quick_head(buf, limit)
        if end > 0:
            self.buf = buf[end + 2:]
            return buf[:end]
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



class HTTPServer:
    """Serve a WSGI app on ``host:port`` with tasks of ``driver`` (or its
    hub's loop and pool, when it has one).

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
        hub = driver.io_hub()
        # With a hub (threads), its loop serves the connections and its
        # pool runs the app: no thread per connection.
        self._loop = None if hub is None else LoopHTTP(
            app, self.listener, hub, host=self.host, port=self.port,
            keepalive_timeout=keepalive_timeout, head_timeout=head_timeout,
            max_connections=max_connections,
            max_unread_body=max_unread_body, head_limits=self.head_limits,
            accept_backoff=self.accept_backoff)

    def serve_forever(self) -> None:
        """Accept connections until :meth:`stop` is called."""
        if self._loop is not None:
            self._loop.serve_forever()
            return
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
        if self._loop is not None:
            self._loop.stop()
            return
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
        base = base_environ(self.host, self.port, addr, sock, conn.then,
                            self._multithread)
        self._connections.add(conn)
        after = CLOSE
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
                if after == LINGER:
                    self._linger(conn)
                if after != KEEP:
                    break
            # Whoever took the connection over reads it from now on.
            conn.release()
            if after == TAKEN and conn.then:
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
        try:
            conn.sendall(error_bytes(status, message))
        except OSError:
            pass

    def _serve_request(self, conn: _Connection, base: dict) -> int:
        """Serve one request; what to do with the connection next."""
        limits = self.head_limits
        data = conn.read_head(limits.max_head_size)
        conn.idle_since = None
        if data is None:
            return CLOSE
        # Bodies and the app's own reads get a timeout (it only costs when
        # a read has to wait).
        conn.sock.settimeout(self.keepalive_timeout)
        head = parse_head(data, limits)
        environ = request_environ(head, conn, base,
                                  limits.max_header_fields)
        reply = Reply(conn, environ['wsgi.input'], head.keep_alive,
                      head.method == 'HEAD', head.version == 'HTTP/1.1')
        return call_app(self.app, environ, reply, head.keep_alive,
                        self.max_unread_body)

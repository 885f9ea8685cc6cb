"""The native HTTP server on the process's I/O loop (the threading driver).

:class:`~engineio_sync.http_server.HTTPServer` hands its work to a
:class:`LoopHTTP` when its driver has a hub (``driver.io_hub()``): then no
connection has a thread of its own. The hub's loop
(:class:`~engineio_sync.reactor.Reactor`) accepts connections, reads
request heads (:class:`~engineio_sync.core.http_head.HeadScanner`,
:func:`~engineio_sync.core.http_head.parse_head`), keeps idle keep-alive
connections, runs every time limit as a timer (head, keep-alive, body,
write, linger) and writes what a slow client does not take at once. The
application runs one job per request, keyed by the connection (so its
requests run in order), through :meth:`engineio_sync.hub.Hub.run_app`:
in the loop's thread when nothing else of the connection runs (a new
thread takes the loop over if the application blocks), else on the hub's
pool (:class:`~engineio_sync.workpool.WorkPool`). "The pool thread" below
is whichever thread runs the job.

- A request body of known length up to 64 KiB is read in the loop before
  the application is called, so its ``wsgi.input.read()`` never waits on
  the network. A larger or chunked body, or one the client holds back
  until ``100 Continue``, is read by the pool thread from the socket,
  blocking, with the same timeouts and checks as on any driver; the loop
  does not watch the socket meanwhile.
- A complete response body (a list or tuple: Engine.IO's responses) is
  written without waiting; the loop writes the rest as the client reads
  it, and the pool thread is free at once. A streamed body (any other
  iterable, WSGI ``write()``) is written by the pool thread with blocking
  sends, each bounded by ``keepalive_timeout``.
- A deferred response (``environ['engineio_sync.defer']``, see
  :class:`~engineio_sync.transports.wsgi_io.Deferred`) keeps its connection in the loop, with
  no thread, until the application responds from any thread; the loop
  watches for the client going away meanwhile, keeping the bytes of a
  pipelined next request for after the response.

After a response the connection returns to the loop for its next request
(pipelined bytes already read are served first). Every rule of the
server on other drivers holds: the same refusals and statuses, the same
response heads (:class:`~engineio_sync.http_wire.Reply`), the same
graceful close after a refusal (linger, bounded in bytes and time), the
same connection limit and ``accept()`` back-off.

State is handed between the loop and a pool thread, never shared: while
the application runs, only the pool thread touches the connection; it
hands it back with ``call_soon_threadsafe`` (a lock, so this holds on a
free-threaded interpreter too).
"""

from __future__ import annotations

import logging
import socket as _socket
import threading
from typing import TYPE_CHECKING, Any, Callable

from .core.http_head import (HEAD_CUT_SHORT, HEAD_TIMED_OUT, HeadLimits, HeadRefused,
                             HeadScanner, RequestHead, parse_head)
from .http_wire import (ACCEPT_TRANSIENT, CLOSE, DEFERRED, KEEP, LINGER,
                        TAKEN, AcceptBackoff, Reply, Stream, base_environ,
                        call_app, close_result, error_bytes, quick_head,
                        request_environ)

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from .transports.wsgi_io import Cancellable, Deferred
    from .hub import Hub
    from .reactor import TimerHandle

__all__ = ['LoopHTTP', 'LoopDeferred', 'DEFER_KEY', 'BODY_IN_LOOP']

_DONTWAIT = _socket.MSG_DONTWAIT
logger = logging.getLogger('engineio_sync.http')

#: the environ key of a request's ``defer`` callable (the same as
#: :data:`engineio_sync.wsgi_servers.native.DEFER_KEY`)
DEFER_KEY = 'engineio_sync.defer'
#: request bodies of known length up to this size are read in the loop
BODY_IN_LOOP = 64 * 1024

# Connections taken per readiness of the listener: others get their turn.
_ACCEPT_BATCH = 64
# How long a connection waits before trying the pool again while it is
# full (the application is behind: its requests wait in the socket).
_PAUSE = 0.01
# Linger after a refusal: this long and this many bytes at most.
_LINGER_TIME = 2.0
_LINGER_BYTES = 1 << 20
_RECV = 65536

# Where a connection is.
_IDLE, _HEAD, _BODY, _APP, _WRITING, _WAITING, _LINGERING, _CLOSED = \
    range(8)


class LoopHTTP:
    """Serve ``app`` on ``listener`` with ``hub``'s loop and pool; the
    options are :class:`~engineio_sync.http_server.HTTPServer`'s."""

    def __init__(self, app: Callable, listener: _socket.socket, hub: Hub,
                 *, host: str, port: int, keepalive_timeout: float,
                 head_timeout: float, max_connections: int,
                 max_unread_body: int, head_limits: HeadLimits,
                 accept_backoff: AcceptBackoff) -> None:
        self.app = app
        self.listener = listener
        self.hub = hub
        self.reactor = hub.reactor
        self.pool = hub.pool
        self.host = host
        self.port = port
        self.keepalive_timeout = keepalive_timeout
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self.max_unread_body = max_unread_body
        self.head_limits = head_limits
        self.accept_backoff = accept_backoff
        self._lock = threading.Lock()
        # 'new', 'serving' or 'stopped' (under the lock).
        self._state = 'new'
        self._done = threading.Event()
        # The loop thread's own.
        self._watching = False
        self._backing_off = False
        self._closed = False
        #: connections open (the loop thread's count)
        self.active = 0

    # -- serving and stopping (any thread) ---------------------------------

    def serve_forever(self) -> None:
        """Serve in the hub's loop until :meth:`stop`; this thread only
        waits."""
        with self._lock:
            if self._state != 'new':
                return
            self._state = 'serving'
        self.hub.call_soon(self._open)
        self._done.wait()

    def stop(self) -> None:
        """Stop accepting and close the listener; open connections finish
        on their own."""
        with self._lock:
            state, self._state = self._state, 'stopped'
        if state == 'serving':
            self.hub.call_soon(self._close_listener)
        elif state == 'new':
            self.listener.close()
            self._done.set()

    def _serving(self) -> bool:
        with self._lock:
            return self._state == 'serving'

    # -- accepting (the loop thread) ---------------------------------------

    def _open(self) -> None:
        if self._closed:
            return
        self.listener.setblocking(False)
        self._watch()

    def _watch(self) -> None:
        if not self._watching and not self._backing_off and \
                not self._closed and self.active < self.max_connections \
                and self._serving():
            self.reactor.add_reader(self.listener, self._accept)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self.reactor.remove_reader(self.listener)
            self._watching = False

    def _close_listener(self) -> None:
        self._unwatch()
        self._closed = True
        try:
            self.listener.close()
        finally:
            self._done.set()

    def _accept(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            if self.active >= self.max_connections:
                # The kernel's backlog holds newcomers until one ends.
                self._unwatch()
                return
            try:
                sock, addr = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in ACCEPT_TRANSIENT:
                    continue
                self._back_off(exc)
                return
            if self.accept_backoff.failures:
                self.accept_backoff.succeeded()
            self.active += 1
            try:
                _LoopConnection(self, sock, addr).begin()
            except Exception as exc:
                logger.exception('serving a new connection failed')
                sock.close()
                self.connection_ended()
                self._back_off(exc)
                return

    def _back_off(self, exc: BaseException) -> None:
        # At the descriptor limit the listener stays readable: wait before
        # trying again rather than spin.
        self._unwatch()
        self._backing_off = True
        self.reactor.call_later(self.accept_backoff.failed(exc),
                                self._backed_off)

    def _backed_off(self) -> None:
        self._backing_off = False
        self._watch()

    def connection_ended(self) -> None:
        """A connection is closed (the loop thread): room for another."""
        self.active -= 1
        if not self._watching:
            self._watch()


class LoopDeferred:
    """The handle of a deferred response (:class:`~engineio_sync.
    transports.wsgi_io.Deferred`). Its state is the loop thread's; every method hands over to
    it."""

    __slots__ = ('hub', 'connection', 'response', 'used', 'gone',
                 'gone_callbacks')

    def __init__(self, connection: _LoopConnection, hub: Hub) -> None:
        self.hub = hub
        #: the connection it answers; None once that moved on without it
        self.connection: _LoopConnection | None = connection
        #: (status, headers, body, done) once respond() was called
        self.response: tuple[str, list[tuple[str, str]], bytes,
                             Callable[[bool], Any] | None] | None = None
        self.used = False
        #: True once the client went away while the response was deferred
        self.gone = False
        self.gone_callbacks: list[Callable[[], None]] = []

    def respond(self, status: str, headers: list[tuple[str, str]],
                body: bytes,
                done: Callable[[bool], Any] | None = None) -> None:
        """See :meth:`engineio_sync.transports.wsgi_io.Deferred.respond`."""
        self.hub.in_loop_now(self._respond, status, headers, body, done)

    def on_gone(self, callback: Callable[[], Any]) -> None:
        """See :meth:`engineio_sync.transports.wsgi_io.Deferred.on_gone`."""
        self.hub.in_loop_now(self._add_gone, callback)

    def call_later(self, delay: float,
                   fn: Callable[[], Any]) -> Cancellable:
        """See :meth:`engineio_sync.transports.wsgi_io.Deferred.call_later`."""
        return self.hub.reactor.call_later(delay, fn)

    def __iter__(self) -> Iterator[bytes]:
        # A WSGI result like any other, for whoever looks at it on the
        # way out (middleware); the server writes the response itself.
        return iter(())

    def _respond(self, status: str, headers: list[tuple[str, str]],
                 body: bytes, done: Callable[[bool], Any] | None) -> None:
        if self.used:
            logger.error('a deferred response was answered twice')
            _report(done, False)
            return
        self.used = True
        self.response = (status, headers, body, done)
        connection = self.connection
        if connection is None or self.gone:
            self.response = None
            _report(done, False)
            return
        connection.deferred_ready(self)

    def _add_gone(self, callback: Callable[[], None]) -> None:
        if self.gone:
            _call(callback)
        elif self.connection is not None:
            self.gone_callbacks.append(callback)

    def went(self) -> None:
        """The client went away while waiting (the loop thread)."""
        self.gone = True
        self.connection = None
        callbacks, self.gone_callbacks = self.gone_callbacks, []
        for callback in callbacks:
            _call(callback)
        if self.response is not None:
            done = self.response[3]
            self.response = None
            _report(done, False)

    def dropped(self) -> None:
        """The request did not return this handle, or it was answered:
        respond() from now on reports failure, on_gone never fires."""
        self.connection = None
        self.gone_callbacks = []
        if self.response is not None:
            done = self.response[3]
            self.response = None
            _report(done, False)


def _report(done: Callable[[bool], Any] | None, ok: bool) -> None:
    if done is not None:
        try:
            done(ok)
        except Exception:
            logger.exception('a deferred response\'s done() raised')


def _close_owed(result: Any, written: bool) -> None:
    if written:
        close_result(result)
        return
    # Closed while an error is in hand, the iterable can tell
    # (sys.exc_info(), as PEP 3333 servers close in a ``finally``) that
    # its bytes never reached the client: the polling transport then
    # keeps its packets for the next GET.
    try:
        raise ConnectionError('the response could not be written')
    except ConnectionError:
        close_result(result)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        logger.exception('a deferred response\'s callback raised')


class _LoopConnection:
    """One client connection, between the loop and the pool."""

    __slots__ = ('server', 'sock', 'stream', 'base', 'state', 'timer',
                 'idle_since', 'idle_timer', 'scanner', 'head', 'need',
                 'backlog', 'after', 'done', 'deadline', 'reading', 'muted',
                 'timed', 'writing', 'handle', 'reply', 'lingered', 'owed')

    def __init__(self, server: LoopHTTP, sock: _socket.socket,
                 addr: Any) -> None:
        self.server = server
        self.sock = sock
        self.stream = Stream(sock, self._recv_waiting,
                             self._sendall_waiting)
        self.stream.send_last = self._send_last
        self.stream.finish = self._finish
        self.base = base_environ(server.host, server.port, addr, sock,
                                 self.stream.then, True)
        self.base[DEFER_KEY] = self.defer
        self.state = _IDLE
        self.timer: TimerHandle | None = None
        # The keep-alive limit, kept lazily: one timer per connection that
        # looks at when it went idle last, rather than a timer made and
        # cancelled per request (see _idle_look).
        self.idle_since = 0.0
        self.idle_timer: TimerHandle | None = None
        self.scanner: HeadScanner | None = None
        self.head: RequestHead | None = None
        # Body bytes to wait for before the application runs.
        self.need = 0
        # What a write left for the loop, and what comes after it.
        self.backlog: memoryview | None = None
        self.after = CLOSE
        self.done: Callable[[bool], Any] | None = None
        self.deadline = 0.0
        self.reading = False
        # Registered for reading but not to be read (see _mute).
        self.muted = False
        # The socket waits (with the keep-alive timeout) rather than
        # failing with BlockingIOError: only while the application reads
        # a body or streams a response itself (see _waiting).
        self.timed = False
        self.writing = False
        # The handle of this request's deferred response, and its reply.
        self.handle: LoopDeferred | None = None
        self.reply: Reply | None = None
        self.lingered = 0
        # The application's iterable, to close once the loop has written
        # its response (or failed to).
        self.owed: Any = None

    # -- the loop thread ---------------------------------------------------

    def begin(self) -> None:
        sock = self.sock
        sock.setblocking(False)
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._idle()

    def _read(self) -> None:
        self.muted = False
        if not self.reading:
            self.server.reactor.add_reader(self.sock, self._readable)
            self.reading = True

    def _unread(self) -> None:
        self.muted = False
        if self.reading:
            self.server.reactor.remove_reader(self.sock)
            self.reading = False

    def _mute(self) -> None:
        """Stop reading for the application's turn, lazily: the socket
        stays registered (two system calls a request saved: the turn
        usually ends, and the next read begins, before the socket is
        readable again), and is unregistered if it turns readable
        meanwhile."""
        if self.reading:
            self.muted = True

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.server.reactor.call_later(delay, callback)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _idle(self) -> None:
        """Wait for the next request (serve a pipelined one at once)."""
        self.state = _IDLE
        self.scanner = None
        self._disarm()
        server = self.server
        self.idle_since = server.reactor.now()
        if self.idle_timer is None:
            self.idle_timer = server.reactor.call_later(
                server.keepalive_timeout, self._idle_look)
        if self.stream.buf:
            self._advance()
        if self.state in (_IDLE, _HEAD, _BODY):
            self._read()

    def _idle_look(self) -> None:
        """The keep-alive timer: close a connection idle for
        ``keepalive_timeout``; look again when one idle for less would
        reach it. Another state has limits of its own, and the next
        _idle() arms this again."""
        self.idle_timer = None
        if self.state != _IDLE:
            return
        server = self.server
        left = self.idle_since + server.keepalive_timeout - \
            server.reactor.now()
        if left > 0:
            self.idle_timer = server.reactor.call_later(left, self._idle_look)
        else:
            self._close()

    def _readable(self) -> None:
        if self.muted:
            self._unread()
            return
        try:
            data = self.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        state = self.state
        if state == _WAITING:
            self._waiting_read(data)
            return
        if state == _LINGERING:
            self._linger_read(data)
            return
        if not data:
            if state == _BODY:
                # The body ends early: the application's read says so, as
                # on any driver.
                self._dispatch()
            elif self.scanner is not None and \
                    self.scanner.begun(self.stream.buf):
                self._refuse(HeadRefused(*HEAD_CUT_SHORT))
            else:
                self._close()
            return
        stream = self.stream
        stream.buf = stream.buf + data if stream.buf else data
        self._advance()

    def _advance(self) -> None:
        """Look at what was read: a head, a body."""
        if self.state == _BODY:
            if len(self.stream.buf) >= self.need:
                self._dispatch()
            return
        limits = self.server.head_limits
        buf = self.stream.buf
        if self.scanner is None:
            end = quick_head(buf, limits.max_head_size)
            if end > 0:
                self.stream.buf = buf[end + 2:]
                self._head(buf[:end])
                return
            self.scanner = HeadScanner(limits.max_head_size)
        try:
            found = self.scanner.scan(buf)
        except HeadRefused as exc:
            self._refuse(exc)
            return
        if found is None:
            if self.state == _IDLE and self.scanner.begun(buf):
                # Once a head has begun it gets a total budget, not a
                # fresh timeout per read, or a trickle holds us forever.
                self.state = _HEAD
                self._arm(self.server.head_timeout, self._head_timed_out)
            return
        start, end = found
        self.stream.buf = buf[end + 2:]
        self._head(buf[start:end])

    def _head(self, data: bytes) -> None:
        self.scanner = None
        self._disarm()
        try:
            head = parse_head(data, self.server.head_limits)
        except HeadRefused as exc:
            self._refuse(exc)
            return
        self.head = head
        length = head.content_length
        if length and length <= BODY_IN_LOOP and not head.expect_continue \
                and len(self.stream.buf) < length:
            self.state = _BODY
            self.need = length
            self._arm(self.server.keepalive_timeout, self._body_timed_out)
            self._read()
            return
        self._dispatch()

    def _head_timed_out(self) -> None:
        self.timer = None
        self._refuse(HeadRefused(*HEAD_TIMED_OUT))

    def _body_timed_out(self) -> None:
        self.timer = None
        self._write(error_bytes(400, 'bad request body'), LINGER)

    def _refuse(self, exc: HeadRefused) -> None:
        logger.debug('refused a request from %s: %d %s',
                     self.base['REMOTE_ADDR'], exc.status, exc.reason)
        self._disarm()
        self._write(error_bytes(exc.status, exc.reason), LINGER)

    def _dispatch(self) -> None:
        """Run the application for the request read: here, in the loop's
        thread, unless the connection's earlier work still runs (the hub
        hands the loop to a new thread if the application blocks; see
        :meth:`engineio_sync.hub.Hub.run_app`)."""
        self._disarm()
        head = self.head
        upgrade = False
        if head is not None:
            for name, _ in head.headers:
                if name == 'upgrade':
                    upgrade = True
                    break
        if upgrade:
            # The application may take the connection over (a WebSocket
            # moves its descriptor elsewhere): unregistered for real
            # first, or the loop's poller would keep the old entry.
            self._unread()
        else:
            self._mute()
        self.state = _APP
        if self.server.pool.full:
            self._arm(_PAUSE, self._dispatch)
            return
        self.server.hub.run_app(self, self._serve)

    def _write(self, data: bytes, after: int,
               done: Callable[[bool], Any] | None = None) -> None:
        """Write ``data`` without waiting; the rest as the client reads."""
        self._unread()
        self.after = after
        self.done = done
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._write_failed()
            return
        if sent < len(data):
            self.backlog = memoryview(data)[sent:]
            self._drain_later()
            return
        self._written()

    def _drain_later(self) -> None:
        self.state = _WRITING
        self.deadline = self.server.reactor.now() + \
            self.server.keepalive_timeout
        self._arm(self.server.keepalive_timeout, self._write_overdue)
        if not self.writing:
            self.server.reactor.add_writer(self.sock, self._writable)
            self.writing = True

    def _writable(self) -> None:
        backlog = self.backlog
        if backlog is None:
            return
        try:
            sent = self.sock.send(backlog)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._write_failed()
            return
        if sent < len(backlog):
            self.backlog = backlog[sent:]
            # A client that reads keeps the connection: the limit is on
            # time without progress.
            self.deadline = self.server.reactor.now() + \
                self.server.keepalive_timeout
            return
        self._written()

    def _write_overdue(self) -> None:
        self.timer = None
        left = self.deadline - self.server.reactor.now()
        if left > 0:
            self._arm(left, self._write_overdue)
            return
        self._write_failed()

    def _written(self) -> None:
        self.backlog = None
        self._disarm()
        if self.writing:
            self.server.reactor.remove_writer(self.sock)
            self.writing = False
        done, self.done = self.done, None
        _report(done, True)
        self._settle(True)
        self._next(self.after)

    def _write_failed(self) -> None:
        self.backlog = None
        done, self.done = self.done, None
        _report(done, False)
        self._settle(False)
        self._close()

    def _settle(self, written: bool) -> None:
        """Close the iterable whose response the loop wrote, on the pool
        (it is application code) before the connection's next request."""
        owed, self.owed = self.owed, None
        if owed is None:
            return
        self.server.hub.run_app(self, _close_owed, owed, written)

    def _next(self, after: int) -> None:
        if after == KEEP:
            self._idle()
        elif after == LINGER:
            self._linger()
        else:
            self._close()

    def _linger(self) -> None:
        """Close gracefully after refusing a request: stop sending and
        read the client's leftovers (bounded in time and bytes) until it
        closes too, so that the close is no reset that could destroy the
        response before the client reads it."""
        self.state = _LINGERING
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            self._close()
            return
        self.lingered = 0
        self._arm(_LINGER_TIME, self._close)
        self._read()

    def _linger_read(self, data: bytes) -> None:
        self.lingered += len(data)
        if not data or self.lingered >= _LINGER_BYTES:
            self._close()

    def _close(self) -> None:
        if self.state == _CLOSED:
            return
        self.state = _CLOSED
        self._disarm()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        self._unread()
        if self.writing:
            self.server.reactor.remove_writer(self.sock)
            self.writing = False
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.went()
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass
        self.server.connection_ended()

    # -- the pool thread ----------------------------------------------------

    def _serve(self) -> None:
        """Run the application for the request read; hand the connection
        back to the loop."""
        server = self.server
        head = self.head
        after = CLOSE
        try:
            assert head is not None
            stream = self.stream
            environ = request_environ(head, stream, self.base,
                                      server.head_limits.max_header_fields)
            reply = Reply(stream, environ['wsgi.input'], head.keep_alive,
                          head.method == 'HEAD', head.version == 'HTTP/1.1')
            self.reply = reply
            after = call_app(server.app, environ, reply, head.keep_alive,
                             server.max_unread_body, self._is_handle)
            if after == TAKEN:
                # Taken over (a WebSocket): whatever the handler left to
                # run in the connection's task runs here, then the server
                # closes its socket.
                then = stream.then
                if then:
                    then.pop()()
                after = CLOSE
        except Exception:
            logger.exception('serving a request failed')
            after = CLOSE
        finally:
            if self.timed:
                self.timed = False
                try:
                    self.sock.setblocking(False)
                except OSError:
                    after = CLOSE
            if server.reactor.owner == threading.get_ident() and \
                    not self.stream.buf:
                # Run in the loop's thread (the usual case), and no
                # pipelined request waits to be served inside this one:
                # back to the loop at once, not at the end of its turn.
                self._served(after)
            else:
                try:
                    server.hub.call_soon(self._served, after)
                except RuntimeError:  # pragma: no cover - loop closed
                    pass

    def _waiting(self) -> None:
        if not self.timed:
            self.timed = True
            self.sock.settimeout(self.server.keepalive_timeout)

    def _recv_waiting(self, size: int) -> bytes:
        """The socket's ``recv`` for the application's turn (a body the
        loop did not read whole): waits, at most the keep-alive
        timeout."""
        self._waiting()
        return self.sock.recv(size)

    def _sendall_waiting(self, data: bytes) -> None:
        """The socket's ``sendall`` for the application's turn (a
        streamed response): waits, each send at most the keep-alive
        timeout."""
        self._waiting()
        self.sock.sendall(data)

    def _is_handle(self, result: Any) -> bool:
        return result is not None and result is self.handle

    def _send_last(self, data: bytes) -> None:
        """A complete response, from the pool thread: what the socket
        takes now; the loop writes the rest."""
        sock = self.sock
        try:
            sent = sock.send(data, _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            self.backlog = memoryview(data)[sent:]

    def _finish(self, result: Any) -> None:
        """Close the application's iterable now, or once the loop has
        written what the socket did not take (from the pool thread)."""
        if self.backlog is not None and \
                getattr(result, 'close', None) is not None:
            self.owed = result
        else:
            close_result(result)

    def defer(self) -> Deferred:
        """``environ['engineio_sync.defer']``: this request's handle."""
        if self.handle is not None:
            raise RuntimeError('defer() was already called for this request')
        handle = self.handle = LoopDeferred(self, self.server.hub)
        return handle

    # -- back in the loop thread ---------------------------------------------

    def _served(self, after: int) -> None:
        if self.state == _CLOSED:  # pragma: no cover
            return
        handle = self.handle
        if after == DEFERRED and handle is not None:
            self.state = _WAITING
            if handle.response is not None:
                self.deferred_ready(handle)
            else:
                # Watched for the client going away meanwhile.
                self._read()
            return
        if handle is not None:
            self.handle = None
            handle.dropped()
        self.reply = None
        if self.backlog is not None:
            self.after = after
            self._drain_later()
            return
        self._next(after)

    def _waiting_read(self, data: bytes) -> None:
        if not data:
            # The client closed or reset the connection.
            self._close()
            return
        stream = self.stream
        stream.buf = stream.buf + data if stream.buf else data
        if len(stream.buf) > self.server.head_limits.max_head_size + \
                BODY_IN_LOOP:
            # Enough of the next requests: the rest waits in the socket.
            self._unread()

    def deferred_ready(self, handle: LoopDeferred) -> None:
        """``handle`` has its response (the loop thread): write it once
        the connection waits for it."""
        if self.handle is not handle or self.state != _WAITING:
            # Not returned yet: _served() writes it.
            return
        response = handle.response
        assert response is not None
        handle.response = None
        self.handle = None
        handle.connection = None
        handle.gone_callbacks = []
        status, headers, body, done = response
        reply = self.reply
        self.reply = None
        assert reply is not None and self.head is not None
        reply.status = status
        reply.headers = headers
        reply.started = True
        try:
            data = reply.complete(body)
        except Exception:
            logger.exception('a deferred response could not be written')
            _report(done, False)
            self._write(error_bytes(500, 'Internal Server Error'), CLOSE)
            return
        if reply.linger:
            after = LINGER
        elif reply.close or not self.head.keep_alive:
            after = LINGER if self.stream.buf else CLOSE
        else:
            after = KEEP
        self._write(data, after, done)

    def __repr__(self) -> str:
        return f'<_LoopConnection state={self.state}>'

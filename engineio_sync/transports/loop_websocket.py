"""WebSockets read, drained and closed by the driver's socket loop.

A WebSocket holds no task of its own between messages (no thread, no
greenlet): once the 101 is written, :func:`detach_socket` takes the
connection away from the WSGI server (whose task returns at once), and a
:class:`LoopWebSocket` registers it with the driver's socket loop
(:meth:`~engineio_sync.drivers.base.Driver.socket_loop`: the hub's
:class:`~engineio_sync.reactor.Reactor` with threads, the green hub with
eventlet and gevent). The loop reads it (frames with
:mod:`engineio_sync.core.wsframes`, pings and close frames answered
there), hands each packet to the session engine, waits for room when the
peer reads slowly and runs the closing handshake's grace period on a
timer. A handler that waits holds up only its own session: on a green
hub each callback has a greenlet of its own, and with threads the hub
moves the loop to another thread (:mod:`engineio_sync.hub`).

Writes are what they are for every WebSocket here: any thread writes
without waiting (:class:`~engineio_sync.transports.wsconnection.
WebSocketConnection`), and what the socket does not take waits in the
backlog that the loop drains.
"""

from __future__ import annotations

import logging
import _socket as _c_socket
import os
import socket as _socket
from typing import TYPE_CHECKING, Callable

from ..core.packets import DecodeError
from ..core.session import CloseReason
from ..port import CLOSE_GRACE, SessionPort
from .wsbinding import WebSocketBinding
from .wsconnection import WebSocketConnection

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver, SocketLoop
    from ..drivers.base import TimerHandle

__all__ = ['LoopWebSocket', 'detach_socket']

_DONTWAIT = _socket.MSG_DONTWAIT
# How often a drain looks again while its socket stays full: the engine's
# write deadline (or the cluster's) is checked at each look.
_DRAIN_LOOK = 1.0
# How long reading pauses while the worker pool is full.
_PAUSE = 0.01
# How long the WSGI server may keep its (replaced) end of a detached
# connection before the loop closes ours.
_LEFTOVER_LIMIT = 60.0


def detach_socket(sock: _socket.socket, loop: SocketLoop) -> _c_socket.socket:
    """Take a connection away from the WSGI server that accepted it.

    Returns a new socket object for the connection. The server's socket
    object is left on one end of a socket pair instead (``dup2`` onto its
    descriptor), so whatever the server writes or reads or closes after
    the WSGI call returns (gunicorn's and werkzeug's empty response, a
    keep-alive read) goes there and never to the client. The pair's other
    end is read and dropped by the loop until the server closes its end.
    """
    fd = sock.fileno()
    # The loop's sockets are the interpreter's own (``_socket``), which
    # monkey-patching leaves alone: the loop never waits on them.
    ours = _c_socket.socket(fileno=os.dup(fd))
    theirs, leftover = _c_socket.socketpair()
    try:
        os.dup2(theirs.fileno(), fd)
    finally:
        theirs.close()
    # The server's next read of a request sees the end at once.
    leftover.shutdown(_socket.SHUT_WR)
    leftover.setblocking(False)
    loop.call_soon(_Leftover(loop, leftover).watch)
    return ours


class _Leftover:
    """The far end of a detached connection's stand-in: drops what the
    WSGI server writes there and closes once the server has closed (or
    after ``_LEFTOVER_LIMIT``)."""

    __slots__ = ('loop', 'sock', 'timer')

    def __init__(self, loop: SocketLoop, sock: _c_socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.timer: TimerHandle | None = None

    def watch(self) -> None:
        loop = self.loop
        loop.add_reader(self.sock, self._readable)
        self.timer = loop.call_later(_LEFTOVER_LIMIT, self._close)

    def _readable(self) -> None:
        try:
            if self.sock.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._close()

    def _close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.loop.remove_reader(self.sock)
        self.sock.close()


class LoopWebSocket(WebSocketBinding):
    """A WebSocket sink whose reading, draining and closing run in the
    socket loop (see the module's docstring). :meth:`start` hands it to the
    loop once the engine has attached it."""

    __slots__ = ('loop', 'engine', '_step', '_drain_timer',
                 '_closed', '_close_timer', '_ended', '_released',
                 '_reading', '_skipped')

    def __init__(self, conn: WebSocketConnection, driver: Driver,
                 engine: SessionPort, loop: SocketLoop,
                 logger: logging.Logger) -> None:
        super().__init__(conn, driver, engine.protocol, logger)
        self.loop = loop
        self.engine = engine
        # The drain's step while one runs, and its periodic look.
        self._step: Callable[[], bool] | None = None
        self._drain_timer: TimerHandle | None = None
        # The engine's ``closed`` while a closing waits for the peer.
        self._closed: Callable[[], None] | None = None
        self._close_timer: TimerHandle | None = None
        self._ended = False
        self._released = False
        # A thread (greenlet) is in _readable; the loop found the socket
        # readable meanwhile (see _readable).
        self._reading = False
        self._skipped = False

    # -- reading (the loop's thread) ---------------------------------------

    def start(self) -> None:
        """Read the connection in the loop from now on."""
        self.loop.call_soon(self._watch)

    def _watch(self) -> None:
        if not self._released and not self._ended:
            self.loop.add_reader(self.conn.sock, self._readable)

    def _unwatch(self) -> None:
        if not self._released:
            self.loop.remove_reader(self.conn.sock)

    def _readable(self) -> None:
        loop = self.loop
        if self._reading:
            # A handler waits while this connection's messages are
            # handled (its greenlet is parked, or the loop moved to a new
            # thread) and is still at it. Reading again now could pass
            # its messages: it watches the socket again when it is done.
            self._skipped = True
            loop.remove_reader(self.conn.sock)
            if not self._reading:
                # It finished in between: it may have missed the flag.
                self._skipped = False
                self._watch()
            return
        if self.loop.busy:
            # The application is behind: leave the bytes in the socket
            # (the peer feels it as TCP back-pressure) for a moment.
            loop.remove_reader(self.conn.sock)
            loop.call_later(_PAUSE, self._watch)
            return
        # Read and handled here, not in a method of its own: this runs
        # once per message.
        self._reading = True
        conn = self.conn
        engine = self.engine
        try:
            try:
                data = conn.sock.recv(conn.RECV_SIZE, _DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                data = b''
            decode = self._decode
            for message in conn.take(data):
                # pass_message(), inlined.
                try:
                    packet = decode(message)
                except DecodeError as exc:
                    self.refuse_message(engine, exc)
                    self._end_reading()
                    return
                if not engine.websocket_packet(self, packet):
                    self._end_reading()
                    return
            if conn.close_code is not None:
                self.report_end(engine)
                self._end_reading()
        except Exception:
            self._logger.exception('%s: WebSocket handler failed',
                                   engine.sid)
            conn.locked_close(1011, 'internal error')
            engine.websocket_ended(self, CloseReason.TRANSPORT_ERROR,
                                   'internal error')
            self._end_reading()
        finally:
            self._reading = False
            if self._skipped:
                self._skipped = False
                self.loop.in_loop_now(self._watch)

    def _end_reading(self) -> None:
        """Nothing more is read: finish a closing that waits for this, or
        close the connection if nobody is closing it."""
        if self._ended:
            return
        self._ended = True
        self.loop.in_loop_now(self._unwatch)
        if self._closed is not None:
            self._finish_close()
        elif not self.closing:
            self.conn.locked_close(1000)
            self.conn.shutdown()
            self.loop.in_loop_now(self._release)
        # Else the engine's closing is on its way to the loop.

    # -- draining (any thread hands it to the loop) ------------------------

    def drain_with(self, step: Callable[[], bool]) -> None:
        """Call ``step()`` in the loop whenever the socket has room (and
        every ``_DRAIN_LOOK`` seconds) until it returns True."""
        self.loop.in_loop_now(self._start_drain, step)

    def _start_drain(self, step: Callable[[], bool]) -> None:
        if self._released:
            return
        self._step = step
        loop = self.loop
        loop.add_writer(self.conn.sock, self._drain_once)
        self._drain_timer = loop.call_later(_DRAIN_LOOK, self._look)

    def _look(self) -> None:
        self._drain_timer = None
        self._drain_once()
        if self._step is not None and not self._released:
            self._drain_timer = self.loop.call_later(_DRAIN_LOOK,
                                                            self._look)

    def _drain_once(self) -> None:
        step = self._step
        if step is None:
            return
        try:
            done = step()
        except Exception:
            self._logger.exception('%s: draining a WebSocket failed',
                                   self.engine.sid)
            done = True
        if done:
            self.loop.in_loop_now(self._stop_drain)

    def _stop_drain(self) -> None:
        self._step = None
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        self.loop.remove_writer(self.conn.sock)

    # -- closing (any thread hands it to the loop) -------------------------

    def close_with(self, send_rest: Callable[[], None],
                   closed: Callable[[], None]) -> None:
        """Close in the loop (see
        :meth:`~engineio_sync.port.WebSocketSink.close_with`): the grace
        period for the peer's close is a timer, not a wait."""
        self.loop.in_loop_now(self._begin_close, send_rest, closed)

    def _begin_close(self, send_rest: Callable[[], None],
                     closed: Callable[[], None]) -> None:
        try:
            send_rest()
        except Exception:
            self._logger.exception('%s: closing a WebSocket failed',
                                   self.engine.sid)
        self._closed = closed
        if self._ended or self._released:
            self._finish_close()
        else:
            self._close_timer = self.loop.call_later(
                CLOSE_GRACE, self._finish_close)

    def _finish_close(self) -> None:
        closed, self._closed = self._closed, None
        if closed is None:
            return
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self.conn.shutdown()
        try:
            closed()
        except Exception:
            self._logger.exception('%s: closing a WebSocket failed',
                                   self.engine.sid)
        self.loop.in_loop_now(self._release)

    def _release(self) -> None:
        """Forget the connection and close its descriptor (once; in the
        loop's thread)."""
        if self._released:
            return
        self._released = True
        if self._step is not None:
            self._stop_drain()
        loop = self.loop
        sock = self.conn.sock
        loop.remove_reader(sock)
        loop.remove_writer(sock)
        sock.close()


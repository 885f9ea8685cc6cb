"""The WebSocket sink: what the session engine writes on, over a
:class:`~engineio_sync.transports.wsconnection.WebSocketConnection`.

:class:`WebSocketBinding` waits in tasks of its own (a drain task while
the peer reads slowly, a closing task for the closing handshake), for a
driver without a socket loop. The drivers' WebSockets use its subclass in
:mod:`engineio_sync.transports.loop_websocket`, which does the same
waiting in the driver's socket loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from ..core.packets import (DecodeError, Packet, decode_packet,
                            decode_packet_v3, encode_packet, encode_packet_v3)
from ..core.session import CloseReason
from ..port import SessionPort, close_in_tasks
from .wsconnection import WebSocketConnection

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['WebSocketBinding']

# The longest single wait of a drain task for room on its socket; it waits
# again while the backlog lasts (the write deadline is the session's).
_DRAIN_WAIT = 1.0


class _Flag:
    """A one-shot event that allocates a driver Event only if waited on.

    Thousands of idle WebSockets each hold two of these; most are set
    without anyone ever waiting.
    """

    __slots__ = ('_driver', '_set', '_event')

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._set = False
        self._event: Any = None

    def set(self) -> None:
        self._set = True
        event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float) -> bool:
        if self._set:
            return True
        if self._event is None:
            self._event = self._driver.event()
        # Re-check: set() may have run before the event existed.
        if self._set:
            return True
        woken: bool = self._event.wait(timeout)
        return woken


class WebSocketBinding:
    """One accepted WebSocket: the sink the session engine writes on."""

    __slots__ = ('conn', 'done', 'finished', 'closing', 'draining',
                 '_encode', '_decode', '_driver', '_logger')

    def __init__(self, conn: WebSocketConnection, driver: Driver,
                 protocol: int, logger: logging.Logger | None = None
                 ) -> None:
        self.conn = conn
        self._driver = driver
        self._logger = logger or logging.getLogger('engineio_sync')
        #: set when the reader is over; ``finished`` when the engine's
        #: closing of this WebSocket is
        self.done = _Flag(driver)
        self.finished = _Flag(driver)
        self.closing = False
        #: the engine runs a task draining the backlog
        self.draining = False
        self._encode = encode_packet_v3 if protocol == 3 else encode_packet
        self._decode = decode_packet_v3 if protocol == 3 else decode_packet

    # -- reading (whoever reads the connection calls these) ----------------

    def pass_message(self, engine: SessionPort,
                     message: str | bytes) -> bool:
        """Hand a message read from this WebSocket to ``engine`` as a
        packet; False: stop reading (it did not decode, or the session is
        done with this WebSocket)."""
        try:
            packet = self._decode(message)
        except DecodeError as exc:
            self.refuse_message(engine, exc)
            return False
        return engine.websocket_packet(self, packet)

    def refuse_message(self, engine: SessionPort, exc: DecodeError) -> None:
        """Tell ``engine`` that a message did not decode (``exc``)."""
        self._logger.info('%s: undecodable WebSocket message', engine.sid)
        engine.websocket_invalid(self, f'parse error: {exc}')

    def report_end(self, engine: SessionPort) -> None:
        """Tell ``engine`` why this WebSocket's connection is over."""
        conn = self.conn
        reason, description = _describe_end(conn)
        if conn.error is not None:
            self._logger.info('%s: %s', engine.sid, description)
        engine.websocket_ended(self, reason, description)

    # -- writing (the session engine calls these) ---------------------------

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return self.conn.backlog_size

    def write_backlog(self) -> bool:
        """Hand the socket what it takes of the backlog now (the caller
        holds the write lock); False if the connection failed."""
        try:
            self.conn.write_backlog()
        except OSError:
            return False
        return True

    def drain_with(self, step: Callable[[], bool]) -> None:
        """A task of its own waits for room and calls ``step()`` until
        it returns True: nobody else ever waits for this peer."""
        self._driver.spawn(self._drain, step)

    def _drain(self, step: Callable[[], bool]) -> None:
        wait_writable = self.conn.wait_writable
        # Bounded: each round waits for room; a peer that reads nothing
        # makes the session close at its write deadline, which cuts the
        # connection, and then the next step reports the failure.
        while True:
            wait_writable(_DRAIN_WAIT)
            if step():
                return

    def write_packet(self, packet: Packet) -> bool:
        """Write one packet (the caller holds the write lock); False if the
        connection failed."""
        try:
            self.conn.send_one(self._encode(packet))
        except (OSError, ConnectionError):
            return False
        return True

    def write_packets(self, packets: list[Packet]) -> bool:
        """Write packets (the caller holds the write lock); False if the
        connection failed."""
        encode = self._encode
        try:
            if len(packets) == 1:
                self.conn.send_one(encode(packets[0]))
            else:
                self.conn.send_many([encode(p) for p in packets])
        except (OSError, ConnectionError):
            return False
        return True

    def send_close(self) -> None:
        """Send the close frame (the caller holds the write lock)."""
        self.conn.close(1000)


    def shutdown(self) -> None:
        """Cut the TCP connection."""
        self.conn.shutdown()

    def mark_closing(self) -> bool:
        """The engine starts closing it; False if it already had."""
        if self.closing:
            return False
        self.closing = True
        return True

    def close_with(self, send_rest: Callable[[], None],
                   closed: Callable[[], None]) -> None:
        """Close in a task of its own (see
        :meth:`~engineio_sync.port.WebSocketSink.close_with`)."""
        self._driver.spawn(self._close, send_rest, closed)

    def _close(self, send_rest: Callable[[], None],
               closed: Callable[[], None]) -> None:
        try:
            close_in_tasks(self._driver.spawn, send_rest, self.done.wait,
                           self.conn.shutdown, closed)
        except Exception:
            self._logger.exception('closing a WebSocket failed')
        finally:
            self.finished.set()


def _describe_end(conn: WebSocketConnection) -> tuple[str, str | None]:
    """The close reason and description of a connection that is over."""
    error = conn.error
    if error is not None:
        return CloseReason.TRANSPORT_ERROR, (
            'message larger than max_http_buffer_size'
            if error.code == 1009 else f'protocol error: {error}')
    if conn.close_code not in (1000, 1001, 1005, 1006):
        return CloseReason.TRANSPORT_ERROR, f'close code {conn.close_code}'
    return CloseReason.TRANSPORT_CLOSE, None

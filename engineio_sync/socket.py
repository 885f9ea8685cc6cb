"""The per-client object an application holds."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .core.packets import Packet, PacketType
from .core.session import CloseReason, Session
from .events import EventEmitter

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ['Socket']

SendCallback = Callable[[], Any]


class Socket(EventEmitter):
    """One connected Engine.IO client.

    Events (register with :meth:`on`): ``message(data)``,
    ``close(reason, description)``, ``error(exc)``, ``packet(packet)``
    (every packet received), ``packet_create(packet)`` (every packet
    queued), ``flush(packets)`` (packets about to be written),
    ``drain()`` (the write buffer is empty), ``heartbeat()``,
    ``upgrading(transport)`` and ``upgrade(transport)``.
    """

    __slots__ = ('server', 'id', 'request', 'session', 'data', '_lock',
                 '_poll_event', '_write_lock', '_callbacks', '_ws', '_upgrade_ws',
                 '_close_notified', '_logger', '__weakref__')

    def __init__(self, server: Server, session: Session,
                 environ: dict) -> None:
        super().__init__()
        driver = server.driver
        self.server = server
        self.session = session
        #: The session id.
        self.id: str = session.sid
        #: The WSGI environ of the handshake request.
        self.request: dict = environ
        #: A dict the application may use freely (``get_session`` uses it).
        self.data: dict = {}
        # Guards session state; never held across I/O (so green drivers
        # can make it a no-op). The write lock orders WebSocket writes.
        self._lock = driver.state_lock()
        # Created by the first parked GET (WebSocket sessions never need it).
        self._poll_event: Any = None
        self._write_lock = driver.lock()
        self._callbacks: deque | None = None
        self._ws: Any = None
        self._upgrade_ws: Any = None
        self._close_notified = False
        self._logger: logging.Logger = server.logger

    # -- public state --------------------------------------------------------

    @property
    def transport(self) -> str:
        """The name of the transport carrying the session now."""
        return self.session.transport

    @property
    def ready_state(self) -> str:
        """'opening', 'open', 'closing' or 'closed'."""
        return self.session.ready_state.value

    @property
    def upgraded(self) -> bool:
        """True once the session moved from polling to WebSocket."""
        return self.session.upgraded

    @property
    def upgrading(self) -> bool:
        """True while an upgrade to WebSocket is under way."""
        return self.session.upgrading

    @property
    def protocol(self) -> int:
        """The Engine.IO protocol revision the client speaks (4 or 3)."""
        return self.session.protocol

    def __repr__(self) -> str:
        return (f'<Socket {self.id} {self.session.transport} '
                f'{self.ready_state}>')

    # -- sending -------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview,
             compress: bool | None = None,
             callback: SendCallback | None = None) -> bool:
        """Queue a message; return False if the session is closed.

        ``callback()`` runs once the message has been written to the
        transport. ``compress`` is accepted for API parity; compression
        is decided by the server's options.
        """
        if isinstance(data, str):
            if '\x1e' in data and self.session.protocol == 4 and \
                    self.session.transport == 'polling':
                # v4 polling joins packets with U+001E and has no escape.
                raise ValueError('text containing U+001E (record separator) '
                                 'cannot be sent over v4 long-polling; send '
                                 'it as bytes or escape it')
        elif isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif not isinstance(data, bytes):
            raise TypeError('data must be str, bytes, bytearray or '
                            f'memoryview, not {type(data).__name__}')
        ws = self._ws
        if ws is not None and callback is None and not self._handlers \
                and not self.server._flush_listeners and ws.send_now(data):
            return True
        return self._send_packet(Packet(PacketType.MESSAGE, data), callback)

    write = send

    def _send_packet(self, packet: Packet,
                     callback: SendCallback | None = None) -> bool:
        session = self.session
        with self._lock:
            if not session.send(packet):
                queued = False
            else:
                queued = True
                if callback is not None:
                    if self._callbacks is None:
                        self._callbacks = deque()
                    self._callbacks.append((session.queued_count, callback))
                wake = session.poll_waiting
                ws = self._ws is not None and session.can_write_websocket
        if not queued:
            self._logger.debug('%s: send on a closed session dropped',
                               self.id)
            return False
        if self._handlers:
            self.emit('packet_create', packet)
        if wake:
            self._poll_event.set()
        elif ws:
            self._ws.flush()
        return True

    def _flush(self) -> None:
        """Push queued packets to whichever transport can carry them."""
        session = self.session
        if session.poll_waiting:
            self._poll_event.set()
        elif self._ws is not None and (session.can_write_websocket
                                       or session.closed):
            self._ws.flush()

    def _packets_written(self, packets: list[Packet]) -> None:
        """A transport wrote these packets: run callbacks, emit drain."""
        sent = self.session.sent_count
        callbacks = self._callbacks
        while callbacks and callbacks[0][0] <= sent:
            _, callback = callbacks.popleft()
            try:
                callback()
            except Exception:
                self._logger.exception('%s: send callback raised', self.id)
        if self._handlers:
            self.emit('drain')
        server = self.server
        if server._handlers:
            server.emit('drain', self)

    def _packets_flushing(self, packets: list[Packet]) -> None:
        if self._logger.isEnabledFor(logging.DEBUG):
            self._logger.debug('%s: sending %s over %s', self.id,
                               _describe(packets), self.session.transport)
        if self._handlers:
            self.emit('flush', packets)
        server = self.server
        if server._handlers:
            server.emit('flush', self, packets)

    # -- closing ---------------------------------------------------------------

    def close(self, discard: bool = False) -> None:
        """Close the session from the server side; never blocks.

        Queued messages are delivered first, then the close packet. With
        ``discard=True`` they are dropped and the client is cut off now.
        """
        self._close(CloseReason.SERVER_DISCONNECT, None, graceful=not discard)

    disconnect = close

    def _close(self, reason: str, description: str | None = None, *,
               graceful: bool = False) -> None:
        session = self.session
        with self._lock:
            changed = session.close(reason, description,
                                    now=self.server._clock(),
                                    graceful=graceful)
        if not changed:
            return
        self._after_close()

    def _after_close(self) -> None:
        """The session left OPEN: wake transports, notify, schedule."""
        session = self.session
        if session.poll_waiting:
            self._poll_event.set()
        if self._ws is not None:
            self._ws.on_session_closed()
        if self._upgrade_ws is not None:
            self._upgrade_ws.on_session_closed()
        self._notify_closed()
        self.server._session_changed(self)

    def _notify_closed(self) -> None:
        if self._close_notified:
            return
        self._close_notified = True
        session = self.session
        reason = session.close_reason or CloseReason.TRANSPORT_CLOSE
        self.server._on_socket_closed(self, reason)
        if self._handlers:
            self.emit('close', reason, session.close_description)
        self._callbacks = None

    # -- incoming --------------------------------------------------------------

    def _deliver(self, data: str | bytes) -> None:
        if self._handlers:
            self.emit('message', data)
        self.server._deliver(self.id, data)


def _describe(packets: list[Packet]) -> str:
    """A short, log-safe summary of packets (types and sizes, not data)."""
    return ', '.join(
        f'{p.type.name.lower()}'
        + ('' if p.data is None else f'({len(p.data)}'
           f'{" bytes" if isinstance(p.data, bytes) else " chars"})')
        for p in packets)

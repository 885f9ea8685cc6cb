"""The per-client object an application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .core.packets import Packet, PacketType
from .core.session import CloseReason
from .events import EventEmitter

if TYPE_CHECKING:  # pragma: no cover
    from .engine import SessionEngine

__all__ = ['Socket']

SendCallback = Callable[[], Any]

# Packet(MESSAGE, data) without the Python-level __new__ of a NamedTuple.
_new = tuple.__new__
_MESSAGE = PacketType.MESSAGE


class Socket(EventEmitter):
    """One connected Engine.IO client: the application's view of a session.

    Events (register with :meth:`on`): ``message(data)``,
    ``close(reason, description)``, ``error(exc)``, ``packet(packet)``
    (every packet received), ``packet_create(packet)`` (every packet
    queued), ``flush(packets)`` (packets about to be written),
    ``drain()`` (the write buffer is empty), ``heartbeat()``,
    ``upgrading(transport)`` and ``upgrade(transport)``.
    """

    __slots__ = ('engine', 'id', 'request', '_data', '__weakref__')

    def __init__(self, engine: SessionEngine, environ: dict) -> None:
        super().__init__()
        #: the :class:`~engineio_sync.engine.SessionEngine` running it
        self.engine = engine
        #: The session id.
        self.id: str = engine.sid
        #: The WSGI environ of the handshake request.
        self.request: dict = environ
        # Made on first use: most sessions never need one.
        self._data: dict | None = None

    # -- public state --------------------------------------------------------

    @property
    def data(self) -> dict:
        """A dict the application may use freely (``get_session`` uses
        it)."""
        data = self._data
        if data is None:
            data = self._data = {}
        return data

    @data.setter
    def data(self, value: dict) -> None:
        self._data = value

    @property
    def transport(self) -> str:
        """The name of the transport carrying the session now."""
        return self.engine.session.transport

    @property
    def ready_state(self) -> str:
        """'opening', 'open', 'closing' or 'closed'."""
        return self.engine.session.ready_state.value

    @property
    def upgraded(self) -> bool:
        """True once the session moved from polling to WebSocket."""
        return self.engine.session.upgraded

    @property
    def upgrading(self) -> bool:
        """True while an upgrade to WebSocket is under way."""
        return self.engine.session.upgrading

    @property
    def protocol(self) -> int:
        """The Engine.IO protocol revision the client speaks (4 or 3)."""
        return self.engine.session.protocol

    @property
    def buffered_amount(self) -> int:
        """Bytes of messages sent and not yet handed to the client's
        connection (text counts a byte per character). The server's
        ``max_buffered_bytes`` bounds it; for flow control, send while it
        is low and wait for ``drain`` when it is not."""
        return self.engine.buffered_amount

    def __repr__(self) -> str:
        return f'<Socket {self.id} {self.transport} {self.ready_state}>'

    # -- sending -------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview,
             compress: bool | None = None,
             callback: SendCallback | None = None) -> bool:
        """Queue a message; return False if the session is closed.

        ``callback()`` runs once the message has been handed to a live
        connection. ``compress`` is accepted for API parity; compression
        is decided by the server's options. Text containing U+001E cannot
        travel over v4 long-polling: that raises
        :class:`~engineio_sync.exceptions.LocalProtocolError`. A send
        past ``max_buffered_bytes`` does what ``on_buffer_full`` says
        (close the session, raise
        :class:`~engineio_sync.exceptions.SendBufferFull`, or wait).
        """
        kind = type(data)
        if kind is not str and kind is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif not isinstance(data, (str, bytes)):
                raise TypeError('data must be str, bytes, bytearray or '
                                f'memoryview, not {type(data).__name__}')
        return self.engine.send(_new(Packet, (_MESSAGE, data)), callback)

    write = send

    def send_packet(self, packet: Packet,
                    callback: SendCallback | None = None) -> bool:
        """Queue a raw :class:`Packet`; False if the session is closed."""
        return self.engine.send(packet, callback)

    # -- closing ---------------------------------------------------------------

    def close(self, discard: bool = False) -> None:
        """Close the session from the server side; never blocks.

        Queued messages are delivered first, then the close packet. With
        ``discard=True`` they are dropped and the client is cut off now.
        """
        self.engine.close(CloseReason.SERVER_DISCONNECT, None,
                          graceful=not discard)

    disconnect = close

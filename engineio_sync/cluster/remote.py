"""A session owned by another process, as a transport here sees it.

:class:`RemoteSession` offers the long-polling half of the session
engine's port (see :mod:`engineio_sync.engine`) and carries every call to
the session's owner through Redis: the owner's own engine decides and
runs handlers; this side only moves bytes.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol

from ..core.packets import DecodeError, Packet, PacketType
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from .wire import (ERROR, INVALID, OK, PACKETS, POLL, POST, Reply, WireError,
                   decode_error, decode_packets, encode_packets)

__all__ = ['RemoteSession', 'SessionFacts', 'Carrier']

_NOOP = [Packet(PacketType.NOOP)]


class Carrier(Protocol):
    """What carries requests to owners (the process's cluster node)."""

    #: seconds a GET waits for the owner's answer
    poll_wait: float
    #: seconds a POST waits for the owner to take its packets
    request_timeout: float

    def call(self, sid: str, kind: bytes, body: bytes, wait: float
             ) -> Reply | RemoteProtocolError | None:
        """A request and its reply (None on time-out)."""

    def tell(self, sid: str, kind: bytes, body: bytes = b'') -> bool:
        """A request without reply."""


class SessionFacts:
    """What a transport reads of a session besides the port: its
    protocol (4 or 3) and transport."""

    __slots__ = ('protocol', 'transport')

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol
        self.transport = 'polling'


class RemoteSession:
    """The port of a session whose owner is another process."""

    __slots__ = ('node', 'sid', 'owner', 'session', 'b64')

    def __init__(self, node: Carrier, sid: str, owner: str,
                 protocol: int, b64: bool) -> None:
        self.node = node
        self.sid = sid
        self.owner = owner
        self.session = SessionFacts(protocol)
        #: v3 long-polling: binary as base64 text
        self.b64 = b64

    def __repr__(self) -> str:
        return f'<RemoteSession {self.sid} owned by {self.owner}>'

    def poll(self, connected: Callable[[], bool] | None = None
             ) -> list[Packet] | RemoteProtocolError:
        """A GET here: the owner's engine answers it as if it were its
        own (it parks there, this GET waits here)."""
        reply = self.node.call(self.sid, POLL, b'', self.node.poll_wait)
        if reply is None:
            # The owner took longer than its heartbeat allows; an empty
            # answer makes the client poll again.
            return _NOOP
        result = _outcome(reply)
        return [] if result is None else result

    def sent(self, packets: list[Packet]) -> None:
        """Nothing to do: the owner counted the packets as sent when it
        handed them over."""

    def begin_post(self) -> RemoteProtocolError | None:
        """A POST here: the owner checks it when its packets arrive."""
        return None

    def end_post(self) -> None:
        """Nothing to do: the owner ended the POST it ran."""

    def receive(self, packets: Iterable[Packet]) -> None:
        """Hand a POST's packets to the owner and wait until its engine
        took them (so that the client's next POST, wherever it lands,
        comes after). Raises the owner's refusal as a
        :class:`RemoteProtocolError`; a :class:`DecodeError` of the
        payload after the packets before it went to the owner."""
        taken: list[Packet] = []
        try:
            for packet in packets:
                taken.append(packet)
        except DecodeError:
            if taken:
                self.node.tell(self.sid, POST, encode_packets(taken))
            raise
        reply = self.node.call(self.sid, POST, encode_packets(taken),
                               self.node.request_timeout)
        if reply is None:
            raise RemoteProtocolError(BAD_REQUEST,
                                      'Session owner did not answer',
                                      http_status=503)
        result = _outcome(reply)
        if isinstance(result, RemoteProtocolError):
            raise result

    def invalid_input(self, description: str) -> None:
        """The client sent something unreadable: the owner ends the
        session."""
        self.node.tell(self.sid, INVALID, description.encode())


def _outcome(reply: Reply | RemoteProtocolError
             ) -> list[Packet] | RemoteProtocolError | None:
    """An owner's reply as packets, an error, or None for done."""
    if isinstance(reply, RemoteProtocolError):
        return reply
    try:
        if reply.status == OK:
            return None
        if reply.status == PACKETS:
            return decode_packets(reply.body)
        if reply.status == ERROR:
            return decode_error(reply.body)
    except WireError:
        pass
    return RemoteProtocolError(BAD_REQUEST, 'Malformed reply from the '
                               'session owner')

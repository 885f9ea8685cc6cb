"""A session owned by another process, as a transport here sees it.

:class:`RemoteSession` offers the session engine's port (see
:mod:`engineio_sync.engine`) to the transports of this process and
carries every call to the session's owner through Redis: the owner's own
engine decides and runs handlers; this side only moves bytes. A
WebSocket accepted here stays here: the owner's engine writes on it
through a :class:`~engineio_sync.cluster.proxysink.ProxySink`, whose
messages this process's reply task writes on the socket.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, Iterable, Protocol

from ..core.packets import DecodeError, Packet, PacketType
from ..drivers.base import Driver
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from ..port import Verdict, WebSocketSink
from .proxysink import encode_ending
from .wire import (ABANDONED, ANSWERED, ATTACH, CLOSE, ERROR, INVALID, OK,
                   PACKETS, POLL, POST, UPGRADE, WS_ENDED, WS_INVALID,
                   WS_PACKET, Reply, WireError, raise_error,
                   decode_packets, encode_packets)

__all__ = ['RemoteSession', 'Carrier']

_NOOP = [Packet(PacketType.NOOP)]


class Carrier(Protocol):
    """What carries requests to owners (the process's requester)."""

    #: seconds a GET waits for the owner's answer
    poll_wait: float
    #: seconds a POST waits for the owner to take its packets
    request_timeout: float
    #: seconds a WebSocket's peer may leave written bytes unread
    write_timeout: float
    #: the driver of this process
    driver: Driver

    def call(self, sid: str, kind: bytes, body: bytes, wait: float,
             connected: Callable[[], bool] | None = None) -> Reply | None:
        """A request and its reply (None on time-out); raises
        :class:`RemoteProtocolError` if it cannot be carried."""

    def tell(self, sid: str, kind: bytes, body: bytes = b'',
             token: str = '') -> bool:
        """A request without reply."""

    def open_channel(self, remote: RemoteSession, sink: WebSocketSink) -> str:
        """Name a WebSocket held here, for the owner to write on."""

    def close_channel(self, channel: str) -> None:
        """The WebSocket is over here."""


class RemoteSession:
    """The port (:class:`~engineio_sync.port.SessionPort`) of a session
    whose owner is another process."""

    __slots__ = ('carrier', 'sid', 'owner', 'protocol', 'b64', 'write_lock',
                 'channel', 'poll_token')

    def __init__(self, carrier: Carrier, sid: str, owner: str,
                 protocol: int, b64: bool) -> None:
        self.carrier = carrier
        self.sid = sid
        self.owner = owner
        #: the session's protocol revision (4 or 3)
        self.protocol = protocol
        #: v3 long-polling: binary as base64 text
        self.b64 = b64
        #: orders what is written on a WebSocket held here
        self.write_lock = carrier.driver.lock()
        #: the name the owner knows that WebSocket by
        self.channel = ''
        #: the name the owner knows this GET by
        self.poll_token = ''

    def __repr__(self) -> str:
        return f'<RemoteSession {self.sid} owned by {self.owner}>'

    def poll(self, connected: Callable[[], bool] | None = None
             ) -> list[Packet] | None:
        """A GET here: the owner's engine answers it as if it were its
        own (it parks there, this GET waits here), or raises its refusal.
        Once ``connected()`` is False the GET takes nothing (None) and the
        packets wait for the next one."""
        reply = self.carrier.call(self.sid, POLL, b'',
                                  self.carrier.poll_wait, connected)
        if reply is ABANDONED:
            return None
        if reply is None:
            # The owner took longer than its heartbeat allows; an empty
            # answer makes the client poll again.
            return _NOOP
        packets = _outcome(reply)
        if packets is None:
            return []
        self.poll_token = reply.token
        return packets

    def park_poll(self, resume: Callable[[], Any]
                  ) -> list[Packet] | float | None:
        """None: the GET waits here for the owner's answer (see
        :meth:`poll`)."""
        return None

    def resume_poll(self) -> list[Packet]:
        """Never parked here (see :meth:`park_poll`)."""
        return []

    def abandon_poll(self) -> None:
        """Never parked here (see :meth:`park_poll`)."""

    def poll_answered(self, packets: list[Packet], delivered: bool) -> None:
        """The GET's answer was written (or, ``delivered`` False, not):
        the owner's engine hears of it as of a GET of its own."""
        if packets is not _NOOP and self.poll_token:
            self.carrier.tell(self.sid, ANSWERED,
                              b'1' if delivered else b'0', self.poll_token)

    def begin_post(self) -> None:
        """A POST here: the owner checks it when its packets arrive."""

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
                self.carrier.tell(self.sid, POST, encode_packets(taken))
            raise
        _outcome(self.carrier.call(self.sid, POST, encode_packets(taken),
                                   self.carrier.request_timeout))

    def invalid_input(self, description: str) -> None:
        """The client sent something unreadable: the owner ends the
        session."""
        self.carrier.tell(self.sid, INVALID, description.encode())


    def close(self, reason: str, description: str | None = None, *,
              graceful: bool = False) -> None:
        """Have the owner end the session."""
        self.carrier.tell(self.sid, CLOSE)

    # -- the port: WebSocket --------------------------------------------------

    def request_upgrade(self) -> None:
        """A WebSocket request here, before the 101: the owner's engine
        decides (its refusal is raised here)."""
        _outcome(self.carrier.call(self.sid, UPGRADE, b'',
                                   self.carrier.request_timeout))

    def attach_websocket(self, sink: WebSocketSink) -> Verdict:
        """The WebSocket was accepted: the owner's engine attaches a proxy
        of it and says what it is (``'active'``, ``'probe'`` or
        ``'rejected'``)."""
        self.channel = self.carrier.open_channel(self, sink)
        verdict: str = 'rejected'
        try:
            reply = self.carrier.call(self.sid, ATTACH,
                                      self.channel.encode(),
                                      self.carrier.request_timeout)
        except RemoteProtocolError:
            reply = None
        if reply is not None and reply.status == OK:
            verdict = reply.body.decode('ascii', 'replace')
        if verdict == 'active':
            return 'active'
        if verdict == 'probe':
            return 'probe'
        self.carrier.close_channel(self.channel)
        return 'rejected'

    def websocket_packet(self, sink: WebSocketSink, packet: Packet) -> bool:
        """A packet read here goes to the owner (in order); False once the
        owner is gone: stop reading."""
        return self.carrier.tell(self.sid, WS_PACKET,
                                 encode_packets([packet]),
                                 token=self.channel)

    def websocket_invalid(self, sink: WebSocketSink, description: str
                          ) -> None:
        """The connection carried something unreadable."""
        self.carrier.tell(self.sid, WS_INVALID, description.encode(),
                          token=self.channel)
        self.carrier.close_channel(self.channel)

    def websocket_ended(self, sink: WebSocketSink, reason: str,
                        description: str | None = None) -> None:
        """The connection is over here."""
        self.carrier.tell(self.sid, WS_ENDED,
                          encode_ending(reason, description),
                          token=self.channel)
        self.carrier.close_channel(self.channel)

    def websocket_blocked(self, sink: WebSocketSink) -> None:
        """The peer does not read what the owner writes: drain the
        backlog here, and cut the connection if the peer reads nothing
        for ``write_timeout`` seconds (the owner then hears of its end)."""
        if not sink.draining:
            sink.draining = True
            timeout = self.carrier.write_timeout
            # [backlog at the last step, when the peer must have read by]
            progress = [sink.backlog, time.monotonic() + timeout]
            sink.drain_with(partial(self._drain_step, sink, progress,
                                    timeout))

    def _drain_step(self, sink: WebSocketSink, progress: list[Any],
                    timeout: float) -> bool:
        """One step of the drain (see websocket_blocked); True: over."""
        with self.write_lock:
            ok = sink.write_backlog()
            if ok and not sink.backlog:
                sink.draining = False
                return True
            if sink.backlog < progress[0]:
                progress[1] = time.monotonic() + timeout
            progress[0] = sink.backlog
        if ok and time.monotonic() <= progress[1]:
            return False
        sink.draining = False
        sink.shutdown()
        return True


def _outcome(reply: Reply | None) -> list[Packet] | None:
    """An owner's reply: packets, or None for done; raises its refusal
    (or a 503 for no answer, a 400 for a malformed one)."""
    if reply is None:
        raise RemoteProtocolError(BAD_REQUEST, 'Session owner did not '
                                  'answer', http_status=503)
    try:
        if reply.status == OK:
            return None
        if reply.status == PACKETS:
            return decode_packets(reply.body)
        if reply.status == ERROR:
            raise_error(reply.body)
    except WireError:
        pass
    raise RemoteProtocolError(BAD_REQUEST, 'Malformed reply from the '
                              'session owner')

"""The per-session state machine of an Engine.IO server.

A :class:`Session` holds everything the protocol needs to decide for one
client: its ready state, transport, outgoing buffer, the parked long-poll,
heartbeat deadlines and the upgrade. It does no I/O and reads no clock; the
caller passes ``now`` (seconds, monotonic) and carries out what the return
values say. It is not thread-safe: the caller serialises calls.
"""

from __future__ import annotations

import enum

from .packets import Packet, PacketType

__all__ = ['Session', 'ReadyState', 'Received', 'Upgrade', 'PollConflict',
           'UpgradeRefused', 'CloseReason']


class ReadyState(str, enum.Enum):
    """The session's life cycle, named as the reference server names it."""

    OPENING = 'opening'
    OPEN = 'open'
    CLOSING = 'closing'
    CLOSED = 'closed'


class CloseReason:
    """The reasons a session ends with, as passed to close handlers."""

    CLIENT_DISCONNECT = 'client disconnect'
    SERVER_DISCONNECT = 'server disconnect'
    PING_TIMEOUT = 'ping timeout'
    TRANSPORT_CLOSE = 'transport close'
    TRANSPORT_ERROR = 'transport error'
    SERVER_SHUTDOWN = 'server shutting down'


class Received(enum.IntEnum):
    """What the caller must do after :meth:`Session.receive`."""

    NOTHING = 0
    DELIVER = 1    # hand packet.data to the application
    FLUSH = 2      # the session queued a reply (v3 pong): flush it
    CLOSED = 3     # the client closed the session
    INVALID = 4    # a packet the client may not send; session closed


class Upgrade(enum.IntEnum):
    """Where a session is in the move from polling to WebSocket."""

    NONE = 0
    PROBING = 1     # a WebSocket is attached, waiting for 2probe
    UPGRADING = 2   # 3probe sent, waiting for the client's 5
    UPGRADED = 3


class PollConflict(Exception):
    """A second GET arrived while one was parked; the session is closed."""


class UpgradeRefused(Exception):
    """A WebSocket for this session cannot start an upgrade now."""


_NOOP = Packet(PacketType.NOOP)
_CLOSE = Packet(PacketType.CLOSE)
_PING = Packet(PacketType.PING)
_PONG = Packet(PacketType.PONG)
_PROBE_REPLY = Packet(PacketType.PONG, 'probe')


class Session:
    """State of one Engine.IO session.

    ``transport`` is ``'polling'`` or ``'websocket'``; ``protocol`` is 4 or
    3. ``ping_interval``, ``ping_timeout`` and ``upgrade_timeout`` are in
    seconds.
    """

    __slots__ = (
        'sid', 'protocol', 'transport', 'ready_state', 'buffer',
        'queued_count', 'sent_count', 'poll_waiting', 'post_active',
        'poll_reply', 'upgrade', 'close_reason', 'close_description',
        'ping_interval', 'ping_timeout', 'upgrade_timeout', 'close_timeout',
        'next_ping', 'pong_deadline', 'upgrade_deadline', 'close_deadline',
    )

    def __init__(self, sid: str, *, transport: str, now: float,
                 protocol: int = 4, ping_interval: float = 25.0,
                 ping_timeout: float = 20.0, upgrade_timeout: float = 10.0,
                 close_timeout: float = 30.0) -> None:
        self.sid = sid
        self.protocol = protocol
        self.transport = transport
        self.ready_state = ReadyState.OPENING
        self.buffer: list[Packet] = []
        #: packets ever queued / ever handed to a transport (for callbacks)
        self.queued_count = 0
        self.sent_count = 0
        self.poll_waiting = False
        self.post_active = False
        self.poll_reply: list[Packet] | None = None
        self.upgrade = Upgrade.NONE
        self.close_reason: str | None = None
        self.close_description: str | None = None
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.upgrade_timeout = upgrade_timeout
        self.close_timeout = close_timeout
        # v4: the server pings; v3: the client pings and we only watch for
        # silence, so the first deadline is interval + timeout.
        self.next_ping: float | None = (now + ping_interval
                                        if protocol == 4 else None)
        self.pong_deadline: float | None = (
            None if protocol == 4 else now + ping_interval + ping_timeout)
        self.upgrade_deadline: float | None = None
        self.close_deadline: float | None = None

    # -- life cycle ------------------------------------------------------

    def open(self) -> None:
        """The handshake was answered; the session is usable."""
        if self.ready_state is ReadyState.OPENING:
            self.ready_state = ReadyState.OPEN

    @property
    def is_open(self) -> bool:
        """True while the application may send on this session."""
        return self.ready_state is ReadyState.OPEN

    @property
    def closed(self) -> bool:
        """True once the session is over for the application."""
        return self.ready_state in (ReadyState.CLOSING, ReadyState.CLOSED)

    @property
    def upgrading(self) -> bool:
        """True between a WebSocket's ``2probe`` (or arrival) and ``5``."""
        return self.upgrade in (Upgrade.PROBING, Upgrade.UPGRADING)

    @property
    def upgraded(self) -> bool:
        """True once the session moved from polling to WebSocket."""
        return self.upgrade is Upgrade.UPGRADED

    @property
    def deadline(self) -> float | None:
        """The earliest time :meth:`on_timer` has something to do."""
        if self.ready_state is ReadyState.CLOSED:
            return None
        if self.ready_state is ReadyState.CLOSING:
            return self.close_deadline
        best = self.pong_deadline if self.pong_deadline is not None \
            else self.next_ping
        up = self.upgrade_deadline
        if up is not None and (best is None or up < best):
            return up
        return best

    def close(self, reason: str, description: str | None = None, *,
              now: float = 0.0, graceful: bool = False) -> bool:
        """End the session; return False if it was already over.

        ``graceful`` (a server-side close) queues a close packet after the
        buffered packets and keeps the session CLOSING until a transport
        has carried them (see :meth:`finish_close`) or ``close_timeout``
        passes. Otherwise the session is CLOSED at once; a parked poll
        gets the close packet.
        """
        if self.ready_state in (ReadyState.CLOSING, ReadyState.CLOSED):
            return False
        self.close_reason = reason
        self.close_description = description
        self.upgrade_deadline = None
        if graceful:
            self.ready_state = ReadyState.CLOSING
            self._enqueue(_CLOSE)
            self.close_deadline = now + self.close_timeout
            return True
        self.ready_state = ReadyState.CLOSED
        self.buffer = []
        if self.poll_waiting and self.poll_reply is None:
            self.poll_reply = [_CLOSE]
        return True

    def finish_close(self) -> None:
        """The close packet went out (or never will): the session is done."""
        self.ready_state = ReadyState.CLOSED
        self.close_deadline = None

    # -- outgoing ----------------------------------------------------------

    def _enqueue(self, packet: Packet) -> None:
        self.buffer.append(packet)
        self.queued_count += 1

    def send(self, packet: Packet) -> bool:
        """Queue a packet; return True if it was queued (session open)."""
        if self.ready_state is not ReadyState.OPEN and \
                self.ready_state is not ReadyState.OPENING:
            return False
        self.buffer.append(packet)
        self.queued_count += 1
        return True

    def take_buffer(self) -> list[Packet]:
        """Hand every queued packet to the transport, in order."""
        packets = self.buffer
        if packets:
            self.buffer = []
            self.sent_count += len(packets)
        return packets

    @property
    def can_write_websocket(self) -> bool:
        """True when queued packets go out over the WebSocket now."""
        return self.transport == 'websocket' and self.upgrade in (
            Upgrade.NONE, Upgrade.UPGRADED)

    # -- long-polling ----------------------------------------------------------

    def poll(self) -> list[Packet] | None:
        """A GET arrived: packets to answer with now, or None to park it.

        Raises :class:`PollConflict` if a GET is already parked: that one
        gets the close packet (in :attr:`poll_reply`) and the session is
        closed with reason 'transport error'.
        """
        if self.poll_waiting:
            self.close(CloseReason.TRANSPORT_ERROR, 'overlapping GET requests')
            raise PollConflict()
        if self.ready_state is ReadyState.CLOSED:
            return [_CLOSE]
        if self.upgrade is Upgrade.UPGRADING:
            # The client paused polling to finish the upgrade.
            return [_NOOP]
        if self.buffer:
            if self.ready_state is ReadyState.CLOSING:
                self.finish_close()
            return self.take_buffer()
        self.poll_waiting = True
        self.poll_reply = None
        return None

    @property
    def poll_ready(self) -> bool:
        """True when a parked GET has something to answer with."""
        return self.poll_waiting and (self.poll_reply is not None
                                      or bool(self.buffer))

    def end_poll(self) -> list[Packet]:
        """The parked GET woke up (or timed out): what it answers with."""
        self.poll_waiting = False
        if self.poll_reply is not None:
            reply, self.poll_reply = self.poll_reply, None
            return reply
        if self.buffer:
            if self.ready_state is ReadyState.CLOSING:
                self.finish_close()
            return self.take_buffer()
        return [_NOOP]

    def begin_post(self) -> None:
        """A POST arrived; raises :class:`PollConflict` if one is running."""
        if self.post_active:
            self.close(CloseReason.TRANSPORT_ERROR, 'overlapping POST requests')
            raise PollConflict()
        self.post_active = True

    def end_post(self) -> None:
        """The POST's body was handled."""
        self.post_active = False

    # -- incoming ----------------------------------------------------------

    def receive(self, packet: Packet, now: float) -> Received:
        """Handle one packet from the client."""
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            if self.ready_state is not ReadyState.OPEN:
                return Received.NOTHING
            if self.protocol == 3:
                self.pong_deadline = now + self.ping_interval + \
                    self.ping_timeout
            return Received.DELIVER
        if ptype is PacketType.PONG and self.protocol == 4:
            self.pong_deadline = None
            self.next_ping = now + self.ping_interval
            return Received.NOTHING
        if ptype is PacketType.PING and self.protocol == 3:
            self.pong_deadline = now + self.ping_interval + self.ping_timeout
            if self.ready_state is ReadyState.OPEN:
                self._enqueue(_PONG if packet.data is None
                              else Packet(PacketType.PONG, packet.data))
                return Received.FLUSH
            return Received.NOTHING
        if ptype is PacketType.CLOSE:
            if self.ready_state is ReadyState.CLOSING:
                # Closing from both ends: nobody will collect our close.
                self.finish_close()
            self.close(CloseReason.CLIENT_DISCONNECT)
            # The client is gone: release its parked GET with a noop.
            if self.poll_waiting:
                self.poll_reply = [_NOOP]
            return Received.CLOSED
        if ptype is PacketType.NOOP:
            return Received.NOTHING
        self.close(CloseReason.TRANSPORT_ERROR,
                   f'unexpected packet type {int(ptype)}')
        return Received.INVALID

    # -- heartbeats and timers -------------------------------------------------

    def on_timer(self, now: float) -> str | None:
        """Act on expired deadlines.

        Returns ``'ping'`` (a ping was queued: flush it), ``'timeout'`` (the
        session closed with reason 'ping timeout'), ``'upgrade_timeout'``
        (the upgrade was cancelled: close the probing WebSocket),
        ``'close_timeout'`` (a graceful close gave up waiting) or None.
        """
        state = self.ready_state
        if state is ReadyState.CLOSED:
            return None
        if state is ReadyState.CLOSING:
            if self.close_deadline is not None and now >= self.close_deadline:
                self.finish_close()
                return 'close_timeout'
            return None
        if self.pong_deadline is not None and now >= self.pong_deadline:
            self.close(CloseReason.PING_TIMEOUT)
            return 'timeout'
        if self.upgrade_deadline is not None and now >= self.upgrade_deadline:
            self.cancel_upgrade()
            return 'upgrade_timeout'
        if self.next_ping is not None and now >= self.next_ping:
            self.next_ping = None
            self.pong_deadline = now + self.ping_timeout
            self._enqueue(_PING)
            return 'ping'
        return None

    # -- upgrade ----------------------------------------------------------------

    def begin_upgrade(self, now: float) -> None:
        """A WebSocket arrived for this polling session."""
        if self.ready_state is not ReadyState.OPEN or self.upgrade is not \
                Upgrade.NONE or self.transport != 'polling':
            raise UpgradeRefused()
        self.upgrade = Upgrade.PROBING
        self.upgrade_deadline = now + self.upgrade_timeout

    def on_probe(self) -> Packet:
        """The client sent ``2probe``: the reply to write on the WebSocket.

        A parked GET is released with one noop so the client can pause
        polling.
        """
        self.upgrade = Upgrade.UPGRADING
        if self.poll_waiting and self.poll_reply is None:
            self.poll_reply = [_NOOP]
        return _PROBE_REPLY

    def complete_upgrade(self) -> None:
        """The client sent ``5``: from now on the WebSocket carries it all."""
        self.upgrade = Upgrade.UPGRADED
        self.upgrade_deadline = None
        self.transport = 'websocket'
        if self.poll_waiting and self.poll_reply is None:
            self.poll_reply = [_NOOP]

    def cancel_upgrade(self) -> None:
        """The upgrade failed or timed out: keep polling."""
        if self.upgrade in (Upgrade.PROBING, Upgrade.UPGRADING):
            self.upgrade = Upgrade.NONE
        self.upgrade_deadline = None

"""The per-session state machine of an Engine.IO server.

Every protocol decision about one session is made here, and only here:
the open packet, heartbeats and the ping timeout, long-poll answers and
overlapping requests, the upgrade from polling to WebSocket (probe,
``5``, a second WebSocket), close reasons, graceful close, and the
counters that send callbacks rely on.

One entry point: :meth:`Session.handle` takes an event from
:mod:`engineio_sync.core.session_events` and the current time, and
returns the actions to carry out, in order. It does no I/O and reads no
clock; it is not thread-safe (the caller serialises calls).

Where to look:

- ping timeout, heartbeats: :meth:`Session._on_timer`, :meth:`_on_packet`
- upgrade: :meth:`_on_upgrade_requested`, :meth:`_on_websocket_attached`,
  :meth:`_on_probe`
- a second WebSocket for an upgraded session: :meth:`_on_websocket_attached`
  answers :class:`RejectWebSocket`
- close: :meth:`_close` and its callers
"""

from __future__ import annotations

import enum
import json as _stdlib_json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..exceptions import BAD_REQUEST, LocalProtocolError, SendBufferFull
from .packets import Packet, PacketType, data_size
from .session_events import (
    Action, Actions, AnswerPoll, Close, Closed, CloseWebSocket, Deliver,
    DropProbe, Dropped, Event, Flush, Forget, InvalidInput, Open,
    PacketReceived, ParkPoll, PingQueued, PollAbandoned, PollResumed,
    PollStarted, PollUndelivered, PostEnded, PostStarted, ProbeEnded,
    ProbeReceived, RefuseRequest, RejectWebSocket, Schedule, Send, SendNow,
    TimerFired, TransportClosed, TransportEnded, Upgraded, UpgradeCancelled,
    UpgradeRequested, Upgrading, WakePoll, WebSocketAttached,
    WebSocketBlocked, WebSocketDrained, Write, WriteProbe, WriteWebSocket)

if TYPE_CHECKING:
    from .config import ServerConfig

__all__ = ['Session', 'SessionSettings', 'ReadyState', 'Upgrade',
           'CloseReason']


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


class Upgrade(enum.IntEnum):
    """Where a session is in the move from polling to WebSocket."""

    NONE = 0
    PROBING = 1     # a WebSocket is attached, waiting for 2probe
    UPGRADING = 2   # 3probe sent, waiting for the client's 5
    UPGRADED = 3


def _compact_dumps(value: Any) -> str:
    return _stdlib_json.dumps(value, separators=(',', ':'))


@dataclass(frozen=True)
class SessionSettings:
    """The server options a session needs, in seconds and bytes."""

    ping_interval: float = 25.0
    #: the pong deadline after a ping (ping_timeout plus any grace)
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    close_timeout: float = 30.0
    write_timeout: float = 20.0
    #: most bytes of messages queued per session (None: no limit), and
    #: what a send past it does: 'close' the session, or 'fail' the send
    #: (SendBufferFull); 'wait' fails it too, and the engine waits for
    #: room and sends again
    max_buffered_bytes: int | None = None
    on_buffer_full: str = 'close'
    allow_upgrades: bool = True
    #: transports a polling session may move to, for the open packet
    upgrades: tuple[str, ...] = ('websocket',)
    #: what the open packet advertises
    ping_interval_ms: int = 25000
    ping_timeout_ms: int = 20000
    max_payload: int = 1_000_000
    json_dumps: Callable[[Any], str] = _compact_dumps
    initial_packet: str | bytes | None = None

    @classmethod
    def from_config(cls, config: ServerConfig) -> SessionSettings:
        """Settings from a :class:`~engineio_sync.core.config.ServerConfig`."""
        json = config.json
        upgrades = (('websocket',) if config.allow_upgrades
                    and 'websocket' in config.transports else ())
        return cls(
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout + config.ping_interval_grace,
            upgrade_timeout=config.upgrade_timeout,
            close_timeout=config.close_timeout,
            write_timeout=config.write_timeout,
            max_buffered_bytes=config.max_buffered_bytes,
            on_buffer_full=config.on_buffer_full,
            allow_upgrades=config.allow_upgrades,
            upgrades=upgrades,
            ping_interval_ms=config.ping_interval_ms,
            ping_timeout_ms=config.ping_timeout_ms,
            max_payload=config.max_http_buffer_size,
            json_dumps=(_compact_dumps if json is _stdlib_json
                        else json.dumps),
            initial_packet=config.initial_packet)

    def has_room(self, waiting: int, size: int = 0) -> bool:
        """Whether ``size`` more bytes fit beside ``waiting`` bytes that
        the client has not taken yet (``max_buffered_bytes``; None: no
        limit). The one meaning of a full send buffer: a send that does
        not fit is refused (or closes the session, per
        ``on_buffer_full``), and a ``drain`` is due once there is room."""
        limit = self.max_buffered_bytes
        return limit is None or waiting + size <= limit

    @property
    def poll_timeout(self) -> float:
        """The longest a GET is parked.

        A parked GET is normally answered by the next ping (v4) or by the
        pong for the client's ping (v3), both within the ping interval;
        this limit only guards against a lost wake-up.
        """
        return self.ping_interval + self.ping_timeout + 5


# Hot paths build actions with tuple.__new__: the same frozen values,
# without the Python-level __new__ of a NamedTuple.
_new = tuple.__new__

_NOOP = Packet(PacketType.NOOP)
_CLOSE = Packet(PacketType.CLOSE)
_PING = Packet(PacketType.PING)
_PONG = Packet(PacketType.PONG)
_PROBE_REPLY = Packet(PacketType.PONG, 'probe')

# Actions without data are shared: the hot paths allocate nothing for them.
_NOTHING: Actions = ()
_WAKE = (WakePoll(),)
_WRITE_WS = (WriteWebSocket(),)
_DROPPED = (Dropped(),)
_DROP_PROBE = (DropProbe(),)
_REJECT = (RejectWebSocket(),)
_REFUSE = (RefuseRequest(BAD_REQUEST),)
_FORGET = Forget()
_CLOSE_WS = CloseWebSocket()
_UPGRADING = Upgrading()
_UPGRADED = Upgraded()
_PING_QUEUED = PingQueued()


class Session:
    """State of one Engine.IO session.

    ``transport`` is ``'polling'`` or ``'websocket'``; ``protocol`` is 4 or
    3. Read its attributes freely; change it only through :meth:`handle`.
    """

    __slots__ = (
        'sid', 'protocol', 'transport', 'settings', 'ready_state',
        'delivers_directly', 'buffer',
        'queued_count', 'sent_count', 'poll_waiting', 'post_active',
        'poll_reply', 'upgrade', 'websocket_attached', 'close_reason',
        'close_description', 'next_ping', 'pong_deadline',
        'upgrade_deadline', 'close_deadline', 'timer_at', 'ws_blocked',
        'write_deadline', 'poll_limit', 'buffered_bytes',
    )

    def __init__(self, sid: str, *, transport: str, now: float,
                 protocol: int = 4,
                 settings: SessionSettings | None = None,
                 poll_limit: int | None = None) -> None:
        if settings is None:
            settings = SessionSettings()
        #: the most packets one long-polling response carries (None: all
        #: that are queued); for clients that refuse bigger payloads
        self.poll_limit = poll_limit
        self.sid = sid
        self.protocol = protocol
        self.transport = transport
        self.settings = settings
        self.ready_state = ReadyState.OPENING
        #: True when a MESSAGE packet from the client needs nothing but
        #: delivery to the application (PacketReceived would answer only
        #: Deliver and change no state): open, and v4 (in v3 a message
        #: also moves the silence deadline).
        self.delivers_directly = False
        self.buffer: list[Packet] = []
        #: bytes of message data in the buffer (text: one per character)
        self.buffered_bytes = 0
        #: packets ever queued / ever handed to a transport (for callbacks)
        self.queued_count = 0
        self.sent_count = 0
        self.poll_waiting = False
        self.post_active = False
        self.poll_reply: list[Packet] | None = None
        self.upgrade = Upgrade.NONE
        #: a WebSocket carries the session (direct, or after the upgrade)
        self.websocket_attached = False
        #: its peer is not taking what was written: queue, do not write
        self.ws_blocked = False
        #: when a blocked WebSocket's session gives up on it
        self.write_deadline: float | None = None
        self.close_reason: str | None = None
        self.close_description: str | None = None
        # v4: the server pings; v3: the client pings and we only watch for
        # silence, so the first deadline is interval + timeout.
        interval = settings.ping_interval
        self.next_ping: float | None = (now + interval if protocol == 4
                                        else None)
        self.pong_deadline: float | None = (
            None if protocol == 4 else now + interval + settings.ping_timeout)
        self.upgrade_deadline: float | None = None
        self.close_deadline: float | None = None
        #: the earliest TimerFired already asked for (None: none pending)
        self.timer_at: float | None = None

    # -- the entry point ---------------------------------------------------------

    def handle(self, event: Event, now: float) -> Actions:
        """Apply one event; return the actions to carry out, in order."""
        return self._HANDLERS[type(event)](self, event, now)

    # -- read-only views -----------------------------------------------------------

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
        """True between a WebSocket's arrival and the client's ``5``."""
        return self.upgrade in (Upgrade.PROBING, Upgrade.UPGRADING)

    @property
    def upgraded(self) -> bool:
        """True once the session moved from polling to WebSocket."""
        return self.upgrade is Upgrade.UPGRADED

    # delivers_directly (an attribute, kept by _enter) and writes_directly
    # let the engine skip handle() on the hottest paths; they are decided
    # here, from the same state handle() reads, so the fast lane and the
    # full path cannot disagree.

    @property
    def writes_directly(self) -> bool:
        """True when a packet the application sends may go straight onto
        the WebSocket, bypassing the queue (and so both counters): the
        session is open, a WebSocket carries it, its peer takes what is
        written and nothing is queued."""
        return self.websocket_attached and not self.buffer and \
            self.ready_state is ReadyState.OPEN and not self.ws_blocked

    @property
    def deadline(self) -> float | None:
        """The earliest time a TimerFired has something to do."""
        if self.ready_state is ReadyState.CLOSED:
            return None
        if self.ready_state is ReadyState.CLOSING:
            upgrade = self.upgrade_deadline
            if upgrade is not None and (self.close_deadline is None
                                        or upgrade < self.close_deadline):
                return upgrade
            return self.close_deadline
        best = self.pong_deadline if self.pong_deadline is not None \
            else self.next_ping
        for other in (self.upgrade_deadline, self.write_deadline):
            if other is not None and (best is None or other < best):
                best = other
        return best

    # -- helpers ------------------------------------------------------------------

    def _schedule(self) -> Actions:
        """Ask for a timer if the deadline is earlier than any pending."""
        deadline = self.deadline
        if deadline is None:
            return _NOTHING
        pending = self.timer_at
        if pending is not None and pending <= deadline:
            # A timer that fires no later is pending; it asks again then.
            return _NOTHING
        self.timer_at = deadline
        return (Schedule(deadline),)

    def _enter(self, state: ReadyState) -> None:
        self.ready_state = state
        self.delivers_directly = (state is ReadyState.OPEN
                                  and self.protocol == 4)

    def _carrier(self) -> Actions:
        """The action that gets queued packets moving, if any can.

        Once a WebSocket carries the session, a GET still parked from
        before the upgrade already has its noop: the WebSocket goes first.
        """
        if self.websocket_attached:
            return _NOTHING if self.ws_blocked else _WRITE_WS
        if self.poll_waiting:
            return _WAKE
        return _NOTHING

    def _enqueue(self, packet: Packet) -> None:
        self.buffer.append(packet)
        self.queued_count += 1

    def _take_buffer(self) -> list[Packet]:
        packets = self.buffer
        if packets:
            self.buffer = []
            self.buffered_bytes = 0
            self.sent_count += len(packets)
        return packets

    def _take_for_poll(self) -> tuple[list[Packet], Actions]:
        """The (non-empty) buffer for a GET; a graceful close ends once it
        goes out."""
        packets = self.buffer
        limit = self.poll_limit
        if limit is not None and len(packets) > limit:
            # The rest waits for the client's next GET.
            self.buffer = packets[limit:]
            packets = packets[:limit]
            self.buffered_bytes = data_size(self.buffer)
        else:
            self.buffer = []
            self.buffered_bytes = 0
        self.sent_count += len(packets)
        if self.ready_state is ReadyState.CLOSING and \
                packets[-1].type is PacketType.CLOSE:
            return packets, self._finish()
        return packets, _NOTHING

    def _finish(self) -> Actions:
        """The session needs no transport any more."""
        self._enter(ReadyState.CLOSED)
        self.close_deadline = None
        if self.upgrading:
            # A closing that kept an upgrade going ended another way.
            self.upgrade = Upgrade.NONE
            self.upgrade_deadline = None
            return (DropProbe(), _FORGET)
        return (_FORGET,)

    def _close(self, reason: str, description: str | None, now: float,
               graceful: bool = False) -> Actions:
        """Leave OPEN; the actions that wind the transports down."""
        if self.ready_state is ReadyState.CLOSING or \
                self.ready_state is ReadyState.CLOSED:
            return _NOTHING
        self.close_reason = reason
        self.close_description = description
        # A client that has its probe answered has paused polling and is
        # about to send the upgrade packet: a graceful close keeps the
        # probe so that the last packets can go out on it, within the
        # upgrade's deadline. Any other upgrade ends here.
        keep_probe = graceful and self.upgrade is Upgrade.UPGRADING
        if not keep_probe:
            self.upgrade_deadline = None
        actions: list[Action] = []
        if graceful:
            self._enter(ReadyState.CLOSING)
            self._enqueue(_CLOSE)
            self.close_deadline = now + self.settings.close_timeout
            if self.poll_waiting:
                actions.append(WakePoll())
        else:
            self._enter(ReadyState.CLOSED)
            self.buffer = []
            self.buffered_bytes = 0
            if self.poll_waiting:
                if self.poll_reply is None:
                    self.poll_reply = [_CLOSE]
                actions.append(WakePoll())
        if self.websocket_attached:
            actions.append(_CLOSE_WS)
        if self.upgrading and not keep_probe:
            self.upgrade = Upgrade.NONE
            actions.append(DropProbe())
        actions.append(Closed(reason, description))
        if not graceful:  # CLOSED, not CLOSING
            actions.append(_FORGET)
        else:
            actions.extend(self._schedule())
        return tuple(actions)

    # -- life cycle ----------------------------------------------------------------

    def _on_open(self, event: Open, now: float) -> Actions:
        if self.ready_state is not ReadyState.OPENING:
            return _NOTHING
        if not event.announce:
            self._enter(ReadyState.OPEN)
            return self._schedule()
        settings = self.settings
        handshake = {
            'sid': self.sid,
            'upgrades': (list(settings.upgrades)
                         if self.transport == 'polling' else []),
            'pingInterval': settings.ping_interval_ms,
            'pingTimeout': settings.ping_timeout_ms,
            'maxPayload': settings.max_payload,
        }
        self._enqueue(Packet(PacketType.OPEN,
                             settings.json_dumps(handshake)))
        self._enter(ReadyState.OPEN)
        if settings.initial_packet is not None:
            self._enqueue(Packet(PacketType.MESSAGE, settings.initial_packet))
        return self._schedule()

    def _on_close(self, event: Close, now: float) -> Actions:
        return self._close(event.reason, event.description, now,
                           event.graceful)

    def _on_send(self, event: Send | SendNow, now: float) -> Actions:
        state = self.ready_state
        if state is not ReadyState.OPEN and state is not ReadyState.OPENING:
            return _DROPPED
        packet = event.packet
        if self.transport == 'polling' and self.protocol == 4 and \
                type(packet.data) is str and '\x1e' in packet.data:
            # v4 polling joins packets with U+001E and has no escape.
            raise LocalProtocolError(
                'text containing U+001E (record separator) cannot be sent '
                'over v4 long-polling; send it as bytes or escape it')
        data = packet.data
        size = 0 if data is None else len(data)
        settings = self.settings
        if settings.max_buffered_bytes is not None and self.buffer and \
                not settings.has_room(self.buffered_bytes, size):
            # Bounded memory per session: the client does not collect
            # what it is sent (a stuck WebSocket, a poll that never comes).
            if settings.on_buffer_full != 'close':
                raise SendBufferFull(
                    f'{self.buffered_bytes} bytes are queued for session '
                    f'{self.sid}; the limit is '
                    f'{settings.max_buffered_bytes}')
            return self._close(CloseReason.TRANSPORT_ERROR,
                               'send buffer full', now) + _DROPPED
        self.buffered_bytes += size
        self.buffer.append(packet)
        self.queued_count += 1
        if self.websocket_attached:
            return _NOTHING if self.ws_blocked else _WRITE_WS
        if self.poll_waiting:
            return _WAKE
        return _NOTHING

    def _on_send_now(self, event: SendNow, now: float) -> Actions:
        actions = self._on_send(event, now)
        if actions is _WRITE_WS:
            return (_new(Write, (self._take_buffer(),)),)
        return actions

    # -- long-polling ---------------------------------------------------------------

    def _on_poll_started(self, event: PollStarted, now: float) -> Actions:
        if self.transport != 'polling':
            return _REFUSE
        if self.poll_waiting:
            # Two GETs in flight: the parked one gets the close packet, the
            # new one a 400, and the session is over.
            actions = self._close(CloseReason.TRANSPORT_ERROR,
                                  'overlapping GET requests', now)
            return actions + _REFUSE
        if self.ready_state is ReadyState.CLOSED:
            return (AnswerPoll([_CLOSE]),)
        if self.upgrade is Upgrade.UPGRADING and \
                self.ready_state is not ReadyState.CLOSING:
            # The client paused polling to finish the upgrade. (A closing
            # session gives its last packets to whichever comes first.)
            return (AnswerPoll([_NOOP]),)
        if self.buffer:
            packets, finished = self._take_for_poll()
            return finished + (_new(AnswerPoll, (packets,)),)
        self.poll_waiting = True
        self.poll_reply = None
        return (ParkPoll(self.settings.poll_timeout),)

    def _on_poll_resumed(self, event: PollResumed, now: float) -> Actions:
        self.poll_waiting = False
        if self.poll_reply is not None:
            reply, self.poll_reply = self.poll_reply, None
            return (AnswerPoll(reply),)
        if self.buffer:
            packets, finished = self._take_for_poll()
            return finished + (_new(AnswerPoll, (packets,)),)
        return (AnswerPoll([_NOOP]),)

    def _on_poll_abandoned(self, event: PollAbandoned, now: float) -> Actions:
        # Nothing was taken for it: the queue is intact for the next GET.
        # A close packet reserved for it only mattered to that connection.
        self.poll_waiting = False
        self.poll_reply = None
        return _NOTHING

    def _on_poll_undelivered(self, event: PollUndelivered,
                             now: float) -> Actions:
        packets = event.packets
        state = self.ready_state
        if (state is not ReadyState.OPEN and state is not ReadyState.OPENING) \
                or (len(packets) == 1 and packets[0] is _NOOP):
            # A closing session's last answer, or one with nothing in it.
            return _NOTHING
        if self.websocket_attached:
            # The WebSocket may have written newer packets already: putting
            # these back would reorder them.
            return self._close(CloseReason.TRANSPORT_ERROR,
                               'poll write failed', now)
        self.buffer[:0] = packets
        self.buffered_bytes += data_size(packets)
        self.sent_count -= len(packets)
        return _WAKE if self.poll_waiting else _NOTHING

    def _on_post_started(self, event: PostStarted, now: float) -> Actions:
        if self.transport != 'polling':
            return _REFUSE
        if self.post_active:
            actions = self._close(CloseReason.TRANSPORT_ERROR,
                                  'overlapping POST requests', now)
            return actions + _REFUSE
        self.post_active = True
        return _NOTHING

    def _on_post_ended(self, event: PostEnded, now: float) -> Actions:
        self.post_active = False
        return _NOTHING

    # -- packets from the client ----------------------------------------------------

    def _on_packet(self, event: PacketReceived, now: float) -> Actions:
        packet = event.packet
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            if self.ready_state is not ReadyState.OPEN:
                return _NOTHING
            if self.protocol == 3:
                self.pong_deadline = now + self.settings.ping_interval + \
                    self.settings.ping_timeout
            return (_new(Deliver, (packet.data,)),)
        if ptype is PacketType.PONG and self.protocol == 4:
            self.pong_deadline = None
            self.next_ping = now + self.settings.ping_interval
            return self._schedule()
        if ptype is PacketType.PING and self.protocol == 3:
            settings = self.settings
            self.pong_deadline = now + settings.ping_interval + \
                settings.ping_timeout
            if self.ready_state is ReadyState.OPEN:
                self._enqueue(_PONG if packet.data is None
                              else Packet(PacketType.PONG, packet.data))
                return self._carrier()
            return _NOTHING
        if ptype is PacketType.CLOSE:
            finished: Actions = _NOTHING
            if self.ready_state is ReadyState.CLOSING:
                # Closing from both ends: nobody will collect our close.
                finished = self._finish()
            actions = self._close(CloseReason.CLIENT_DISCONNECT, None, now)
            if self.poll_waiting:
                # The client is gone: release its parked GET with a noop.
                self.poll_reply = [_NOOP]
                if not actions:
                    actions = _WAKE
            if finished and self.websocket_attached:
                actions = actions + (_CLOSE_WS,)
            return actions + finished
        if ptype is PacketType.NOOP:
            return _NOTHING
        return self._close(CloseReason.TRANSPORT_ERROR,
                           f'unexpected packet type {int(ptype)}', now)

    def _on_invalid_input(self, event: InvalidInput, now: float) -> Actions:
        return self._close(CloseReason.TRANSPORT_ERROR, event.description,
                           now)

    # -- heartbeats and timers --------------------------------------------------------

    def _on_timer(self, event: TimerFired, now: float) -> Actions:
        if self.timer_at is not None and self.timer_at <= now:
            self.timer_at = None
        state = self.ready_state
        if state is ReadyState.CLOSED:
            return _NOTHING
        if state is ReadyState.CLOSING:
            if self.close_deadline is not None and now >= self.close_deadline:
                # The close packet was never collected: give up on it.
                closing = (_CLOSE_WS,) if self.websocket_attached \
                    else _NOTHING
                return closing + self._finish()
            if self.upgrade_deadline is not None and \
                    now >= self.upgrade_deadline:
                # The upgrade never came: a GET may still collect them.
                self.upgrade = Upgrade.NONE
                self.upgrade_deadline = None
                return (DropProbe(),) + self._schedule()
            return self._schedule()
        if self.pong_deadline is not None and now >= self.pong_deadline:
            return self._close(CloseReason.PING_TIMEOUT, None, now)
        if self.write_deadline is not None and now >= self.write_deadline:
            # The peer took none of the backlog for write_timeout.
            return self._close(CloseReason.TRANSPORT_ERROR,
                               'write timed out', now)
        if self.upgrade_deadline is not None and now >= self.upgrade_deadline:
            self.upgrade = Upgrade.NONE
            self.upgrade_deadline = None
            return (DropProbe(), UpgradeCancelled('upgrade timed out')) + \
                self._schedule()
        if self.next_ping is not None and now >= self.next_ping:
            self.next_ping = None
            self.pong_deadline = now + self.settings.ping_timeout
            self._enqueue(_PING)
            return (_PING_QUEUED,) + self._carrier() + self._schedule()
        return self._schedule()

    # -- WebSocket and the upgrade -------------------------------------------------

    def _on_upgrade_requested(self, event: UpgradeRequested,
                              now: float) -> Actions:
        if self.transport == 'polling' and not self.settings.allow_upgrades:
            return (RefuseRequest(BAD_REQUEST, 'Upgrades are not allowed'),)
        return _NOTHING

    def _on_websocket_attached(self, event: WebSocketAttached,
                               now: float) -> Actions:
        if self.transport == 'websocket' and not self.websocket_attached \
                and self.upgrade is Upgrade.NONE \
                and self.ready_state is not ReadyState.CLOSED:
            # A session that started on WebSocket: it carries everything.
            self.websocket_attached = True
            return _WRITE_WS if self.buffer else _NOTHING
        if self.ready_state is not ReadyState.OPEN or \
                self.upgrade is not Upgrade.NONE or \
                self.transport != 'polling':
            # Already upgraded, upgrading, or closed. Accept and close it
            # cleanly: an HTTP error here makes node clients throw.
            return _REJECT
        self.upgrade = Upgrade.PROBING
        self.upgrade_deadline = now + self.settings.upgrade_timeout
        return self._schedule()

    def _on_probe(self, event: ProbeReceived, now: float) -> Actions:
        if not self.upgrading:
            return _DROP_PROBE
        packet = event.packet
        ptype = packet.type
        if ptype is PacketType.PING and packet.data == 'probe':
            self.upgrade = Upgrade.UPGRADING
            actions: Actions = (WriteProbe(_PROBE_REPLY),)
            if self.poll_waiting and self.poll_reply is None:
                # Release the parked GET with one noop so the client can
                # pause polling.
                self.poll_reply = [_NOOP]
                actions += _WAKE
            return actions + (_UPGRADING,)
        if ptype is PacketType.UPGRADE and self.upgrade is Upgrade.UPGRADING:
            self.upgrade = Upgrade.UPGRADED
            self.upgrade_deadline = None
            self.transport = 'websocket'
            self.websocket_attached = True
            # A closing session only takes the WebSocket for its last
            # packets; the application heard of the close already.
            actions = (_UPGRADED,) if self.ready_state is ReadyState.OPEN \
                else _NOTHING
            if self.poll_waiting and self.poll_reply is None:
                self.poll_reply = [_NOOP]
                actions += _WAKE
            if self.buffer:
                actions += _WRITE_WS
            return actions + self._schedule()
        if ptype is PacketType.NOOP:
            return _NOTHING
        self.upgrade = Upgrade.NONE
        self.upgrade_deadline = None
        return (DropProbe(), UpgradeCancelled(
            f'unexpected packet type {int(ptype)} during the upgrade'))

    def _on_probe_ended(self, event: ProbeEnded, now: float) -> Actions:
        if not self.upgrading:
            return _NOTHING
        self.upgrade = Upgrade.NONE
        self.upgrade_deadline = None
        return (UpgradeCancelled('the WebSocket closed during the upgrade'),)

    def _on_transport_ended(self, event: TransportEnded,
                            now: float) -> Actions:
        if self.ready_state is not ReadyState.OPEN:
            return _NOTHING
        return self._close(event.reason, event.description, now)

    def _on_transport_closed(self, event: TransportClosed,
                             now: float) -> Actions:
        self.websocket_attached = False
        self.ws_blocked = False
        self.write_deadline = None
        if self.ready_state is ReadyState.CLOSING:
            return self._finish()
        return _NOTHING

    def _on_flush(self, event: Flush, now: float) -> Actions:
        if not self.websocket_attached or not self.buffer:
            return _NOTHING
        packets = self._take_buffer()
        if self.ready_state is ReadyState.CLOSING and \
                packets[-1].type is PacketType.CLOSE:
            return (Write(packets), _CLOSE_WS)
        return (Write(packets),)

    # -- a WebSocket whose peer does not keep up -------------------------------------

    def _on_websocket_blocked(self, event: WebSocketBlocked,
                              now: float) -> Actions:
        if not self.websocket_attached or self.ws_blocked:
            return _NOTHING
        # Queue instead of writing until the backlog is gone; give up on
        # the peer if it takes none of it for write_timeout.
        self.ws_blocked = True
        if self.ready_state is ReadyState.OPEN:
            self.write_deadline = now + self.settings.write_timeout
        return self._schedule()

    def _on_websocket_drained(self, event: WebSocketDrained,
                              now: float) -> Actions:
        if not self.ws_blocked:
            return _NOTHING
        self.ws_blocked = False
        self.write_deadline = None
        return self._carrier() if self.buffer else _NOTHING

    # One handler per event type; handle() dispatches on the type.
    _HANDLERS: dict[type, Callable[..., Actions]] = {
        Open: _on_open,
        Send: _on_send,
        SendNow: _on_send_now,
        Close: _on_close,
        PollStarted: _on_poll_started,
        PollResumed: _on_poll_resumed,
        PollAbandoned: _on_poll_abandoned,
        PollUndelivered: _on_poll_undelivered,
        PostStarted: _on_post_started,
        PostEnded: _on_post_ended,
        PacketReceived: _on_packet,
        InvalidInput: _on_invalid_input,
        TimerFired: _on_timer,
        UpgradeRequested: _on_upgrade_requested,
        WebSocketAttached: _on_websocket_attached,
        ProbeReceived: _on_probe,
        ProbeEnded: _on_probe_ended,
        TransportEnded: _on_transport_ended,
        TransportClosed: _on_transport_closed,
        Flush: _on_flush,
        WebSocketBlocked: _on_websocket_blocked,
        WebSocketDrained: _on_websocket_drained,
    }

"""The vocabulary of the session state machine: events in, actions out.

:meth:`engineio_sync.core.session.Session.handle` takes one *event* (what
happened: a request arrived, a packet came in, a timer fired, the
application sent or closed) and returns a tuple of *actions* (what the
caller must now do, in order). Both are small immutable values: tuples
with a type, compared by type and fields, cheap to build on hot paths.

Events name what a transport or the application observed and carry only
plain values (packets, strings, flags), so a transport in another process
could send them too. Actions name what must happen next; the session
engine (:mod:`engineio_sync.engine`) is the one place that carries them out.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar, Union

from .packets import Packet

__all__ = [
    # events
    'Open', 'Send', 'SendNow', 'Close', 'PollStarted', 'PollResumed',
    'PollAbandoned', 'PollUndelivered', 'PostStarted',
    'PostEnded', 'PacketReceived', 'InvalidInput', 'UpgradeRequested',
    'WebSocketAttached', 'ProbeReceived', 'ProbeEnded', 'TransportEnded',
    'TransportClosed', 'Flush', 'WebSocketBlocked', 'WebSocketDrained',
    'TimerFired', 'Event',
    # actions
    'Deliver', 'AnswerPoll', 'ParkPoll', 'WakePoll', 'RefuseRequest',
    'WriteWebSocket', 'Write', 'CloseWebSocket', 'WriteProbe', 'DropProbe',
    'RejectWebSocket', 'Upgrading', 'Upgraded', 'UpgradeCancelled',
    'PingQueued', 'Closed', 'Forget', 'Schedule', 'Dropped', 'Action',
    'Actions',
]

_Value = TypeVar('_Value', bound=tuple[Any, ...])


def _typed(cls: type[_Value]) -> type[_Value]:
    """Make tuple-based values equal only to values of the same type.

    Plain NamedTuples compare as tuples, so ``WakePoll() == Forget()``;
    a state machine's tests must not be fooled by that.
    """
    def __eq__(self: tuple[Any, ...], other: object) -> bool:
        return type(other) is cls and tuple.__eq__(self, other)

    def __ne__(self: tuple[Any, ...], other: object) -> bool:
        return not __eq__(self, other)

    def __hash__(self: tuple[Any, ...]) -> int:
        return hash((cls.__name__, tuple(self)))

    # setattr: type checkers refuse assigning to a class's methods.
    setattr(cls, '__eq__', __eq__)
    setattr(cls, '__ne__', __ne__)
    setattr(cls, '__hash__', __hash__)
    return cls


# -- events: what happened ------------------------------------------------------

@_typed
class Open(NamedTuple):
    """The handshake is being answered: queue the open packet. With
    ``announce`` False the client already has it (a cluster session that
    moved here from the process that answered its handshake): the
    session opens without queueing anything."""

    announce: bool = True


@_typed
class Send(NamedTuple):
    """The application queues ``packet`` for the client."""

    packet: Packet


@_typed
class SendNow(NamedTuple):
    """Like :class:`Send`, from a caller that holds the WebSocket's write
    lock: if the WebSocket carries the session, the queued packets come
    back at once in a :class:`Write` (the hot path of an open WebSocket).
    """

    packet: Packet


@_typed
class Close(NamedTuple):
    """The application or server ends the session.

    ``graceful``: deliver what is queued, then the close packet.
    """

    reason: str
    description: str | None = None
    graceful: bool = False


@_typed
class PollStarted(NamedTuple):
    """A long-polling GET arrived."""


@_typed
class PollResumed(NamedTuple):
    """A parked GET woke up (or its wait ran out)."""


@_typed
class PostStarted(NamedTuple):
    """A long-polling POST arrived (before its body is read)."""


@_typed
class PostEnded(NamedTuple):
    """The POST's body was handled."""


@_typed
class PacketReceived(NamedTuple):
    """A packet arrived on the session's current transport."""

    packet: Packet


@_typed
class InvalidInput(NamedTuple):
    """The client sent something unreadable on the current transport."""

    description: str


@_typed
class UpgradeRequested(NamedTuple):
    """A WebSocket request for this session, before it is accepted."""


@_typed
class WebSocketAttached(NamedTuple):
    """A WebSocket for this session was accepted (101 sent)."""


@_typed
class ProbeReceived(NamedTuple):
    """A packet arrived on the WebSocket that is being probed."""

    packet: Packet


@_typed
class ProbeEnded(NamedTuple):
    """The WebSocket being probed went away before the upgrade finished."""


@_typed
class TransportEnded(NamedTuple):
    """The session's WebSocket ended (peer closed, error, reset)."""

    reason: str
    description: str | None = None


@_typed
class TransportClosed(NamedTuple):
    """The WebSocket's closing handshake is over (or gave up)."""


@_typed
class Flush(NamedTuple):
    """The WebSocket can write now: hand over the queued packets."""


@_typed
class PollAbandoned(NamedTuple):
    """A parked GET's connection closed before it was answered: the poll
    ends and takes nothing, so what is queued waits for the next one."""


@_typed
class PollUndelivered(NamedTuple):
    """Writing a GET's answer failed: ``packets`` (what
    :class:`AnswerPoll` carried) never reached the client. They go back to
    the front of the queue, in order, for the next GET."""

    packets: list[Packet]


@_typed
class WebSocketBlocked(NamedTuple):
    """The WebSocket's peer is not taking what was written: bytes wait in
    the transport. Queue instead of writing, within ``write_timeout``."""


@_typed
class WebSocketDrained(NamedTuple):
    """Everything written on the WebSocket has reached the socket again."""


@_typed
class TimerFired(NamedTuple):
    """A deadline requested with :class:`Schedule` is due."""


Event = Union[Open, Send, SendNow, Close, PollStarted, PollResumed,
              PollAbandoned, PollUndelivered, PostStarted,
              PostEnded, PacketReceived, InvalidInput, UpgradeRequested,
              WebSocketAttached, ProbeReceived, ProbeEnded, TransportEnded,
              TransportClosed, Flush, WebSocketBlocked, WebSocketDrained,
              TimerFired]


# -- actions: what to do -----------------------------------------------------------

@_typed
class Deliver(NamedTuple):
    """Hand a message to the application."""

    data: str | bytes


@_typed
class AnswerPoll(NamedTuple):
    """Answer the GET that asked (PollStarted / PollResumed) with these."""

    packets: list[Packet]


@_typed
class ParkPoll(NamedTuple):
    """Hold the GET until :class:`WakePoll`, at most ``timeout`` seconds."""

    timeout: float


@_typed
class WakePoll(NamedTuple):
    """The parked GET has an answer: wake it (it sends PollResumed)."""


@_typed
class RefuseRequest(NamedTuple):
    """Answer the request that asked with a protocol error."""

    code: int
    message: str | None = None


@_typed
class WriteWebSocket(NamedTuple):
    """Packets wait for the session's WebSocket: flush it (send Flush)."""


@_typed
class Write(NamedTuple):
    """Write these packets on the session's WebSocket, in order."""

    packets: list[Packet]


@_typed
class CloseWebSocket(NamedTuple):
    """Flush what is left, close the session's WebSocket, then send
    TransportClosed."""


@_typed
class WriteProbe(NamedTuple):
    """Write ``packet`` on the WebSocket being probed."""

    packet: Packet


@_typed
class DropProbe(NamedTuple):
    """Close the WebSocket being probed; the session stays on polling."""


@_typed
class RejectWebSocket(NamedTuple):
    """This WebSocket has no place in the session (it is already upgraded,
    upgrading or closed): close it cleanly; the session is unaffected."""


@_typed
class Upgrading(NamedTuple):
    """The probe was answered; the client is pausing its polling."""


@_typed
class Upgraded(NamedTuple):
    """The probed WebSocket now carries the session."""


@_typed
class UpgradeCancelled(NamedTuple):
    """The upgrade failed or ran out of time; polling goes on."""

    description: str


@_typed
class PingQueued(NamedTuple):
    """A heartbeat ping was queued for the client."""


@_typed
class Closed(NamedTuple):
    """The session just stopped being open: tell the application."""

    reason: str
    description: str | None = None


@_typed
class Forget(NamedTuple):
    """The session is over and needs no transport: drop it."""


@_typed
class Schedule(NamedTuple):
    """Send TimerFired at ``at`` (clock seconds) or soon after."""

    at: float


@_typed
class Dropped(NamedTuple):
    """The packet to send was not queued: the session is not open."""


Action = Union[Deliver, AnswerPoll, ParkPoll, WakePoll, RefuseRequest,
               WriteWebSocket, Write, CloseWebSocket, WriteProbe, DropProbe,
               RejectWebSocket, Upgrading, Upgraded, UpgradeCancelled,
               PingQueued, Closed, Forget, Schedule, Dropped]

#: What :meth:`~engineio_sync.core.session.Session.handle` returns: the
#: actions to carry out, in order.
Actions = tuple[Action, ...]

"""The session engine: the one component that runs a session.

There is one :class:`SessionEngine` per session. It owns the session's
state machine (:class:`~engineio_sync.core.session.Session`), its locks,
the wake-up event of a parked long-poll and the WebSockets attached to
it. It turns what transports and the application report into events,
feeds them to the state machine, and carries out the actions that come
back, in order; it calls the application's handlers in that order too.
It decides nothing about the protocol itself.

Transports reach it only through its port,
:class:`~engineio_sync.port.SessionPort` (see :mod:`engineio_sync.port`
for the calls); the cluster's stand-in for a session owned by another
process offers the same port. A WebSocket *sink* is what a transport
hands over for the engine to write on
(:class:`~engineio_sync.port.WebSocketSink`). The application's side is
:meth:`SessionEngine.send` and :meth:`SessionEngine.close`; the server's
timer task calls :meth:`SessionEngine.on_timer`.

Metrics: an engine given :class:`Traffic` counters
(:meth:`SessionEngine.count_with`; see :mod:`engineio_sync.metrics`)
counts the packets it moves there and reports its life cycle to it;
without them (metrics off) the hot paths pay one None check.

Locks: ``lock`` guards the state machine and is never held across I/O
(green drivers make it a no-op). ``write_lock`` orders everything written
on the session's WebSocket; when both are taken, ``write_lock`` comes first.
"""

from __future__ import annotations

import logging
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from .core.packets import Packet, PacketType
from .core.session import CloseReason, ReadyState, Session, SessionSettings
from .core.session_events import (
    AnswerPoll, Close, Closed, CloseWebSocket, Deliver, DropProbe, Dropped,
    Flush, Forget, InvalidInput, Open, PacketReceived, ParkPoll,
    PingQueued, PollAbandoned, PollResumed, PollStarted, PollUndelivered,
    PostEnded, PostStarted, ProbeEnded, ProbeReceived, RefuseRequest,
    RejectWebSocket, Schedule, Send, SendNow, TimerFired, TransportClosed,
    TransportEnded, Upgraded, UpgradeCancelled, UpgradeRequested,
    Upgrading, WakePoll, WebSocketAttached, WebSocketBlocked,
    WebSocketDrained, Write, WriteProbe, WriteWebSocket)
from .exceptions import RemoteProtocolError, SendBufferFull
from .port import Verdict, WebSocketSink

if TYPE_CHECKING:  # pragma: no cover
    from .drivers import Driver
    from .events import EventEmitter

__all__ = ['SessionEngine', 'EngineContext', 'Traffic', 'RECEIVE_SLICE',
           'describe_packets']

#: Packets of one POST handled between two yields to other tasks.
RECEIVE_SLICE = 256

# Hot paths build events with tuple.__new__: the same frozen values,
# without the Python-level __new__ of a NamedTuple.
_new = tuple.__new__
_FLUSH = Flush()
_POLL_STARTED = PollStarted()
_POLL_RESUMED = PollResumed()
_POLL_ABANDONED = PollAbandoned()
_POST_STARTED = PostStarted()
_POST_ENDED = PostEnded()
_TIMER = TimerFired()
_ATTACHED = WebSocketAttached()
_UPGRADE_REQUESTED = UpgradeRequested()
_PROBE_ENDED = ProbeEnded()
_TRANSPORT_CLOSED = TransportClosed()
_OPEN = Open()
_WS_BLOCKED = WebSocketBlocked()
_WS_DRAINED = WebSocketDrained()
_PING = Packet(PacketType.PING)
_HEARTBEAT_TYPES = (PacketType.PING, PacketType.PONG)
_CLOSED = ReadyState.CLOSED
_MESSAGE = PacketType.MESSAGE
_DEBUG = logging.DEBUG
# Actions that answer the request which caused them: _apply hands them back.
_FOR_CALLER = frozenset((AnswerPoll, ParkPoll, RefuseRequest, RejectWebSocket,
                         Write, Dropped))


class Traffic(Protocol):
    """A session's counters for the metrics. Per packet they only add
    integers; the life-cycle calls come once per session event."""

    def packet_in(self, packet: Packet) -> None:
        """A packet from the client."""

    def packet_out(self, packet: Packet) -> None:
        """A packet written without being queued."""

    def flushed(self, packets: list[Packet]) -> None:
        """Queued packets handed to a transport, in one go."""

    def undelivered(self, packets: list[Packet]) -> None:
        """Flushed packets went back to the queue (a long-poll answer
        that could not be written): they are counted when they go out."""

    def ping_queued(self) -> None:
        """The server queued a ping (v4): a round trip starts."""

    def upgraded(self) -> None:
        """The session moved from polling to WebSocket."""

    def upgrade_failed(self, description: str) -> None:
        """An upgrade was cancelled; the session keeps polling."""

    def closed(self, reason: str) -> None:
        """The session closed (the application is being told)."""

    def forgotten(self) -> None:
        """The session needs no transport any more."""


class EngineContext:
    """What the engines of one server share: the driver, the clock, the
    timer service, the logger, and the server's side of the handlers.

    ``deliver(sid, data)`` runs the server's message handlers,
    ``closed(engine, reason)`` tells the server a session closed,
    ``forget(engine)`` drops a finished session from its table,
    ``events`` is the server's emitter (for ``flush`` and ``drain``) and
    ``new_socket(engine, environ)`` makes the application's object of a
    session (:class:`~engineio_sync.app_socket.Socket`).

    ``run_app(sid, fn, *args)`` says where application code runs: every
    handler, emitted event and send callback of a session goes through it,
    in order. None (green drivers, and the default): right here, in the
    task that reported the event. With the threading driver the process's
    hub decides (:meth:`engineio_sync.hub.Hub.run_app`): in the I/O
    loop's thread when the session has nothing else running (a handler
    that blocks there makes a new thread take the loop over), else on its
    worker pool.
    """

    __slots__ = ('driver', 'clock', 'logger', 'settings', 'schedule',
                 'deliver', 'closed', 'forget', 'events', 'new_socket',
                 'run_app')

    def __init__(self, *, driver: Driver, clock: Callable[[], float],
                 logger: logging.Logger, settings: SessionSettings,
                 schedule: Callable[[float, SessionEngine], None],
                 deliver: Callable[[str, Any], None],
                 closed: Callable[[SessionEngine, str], None],
                 forget: Callable[[SessionEngine], None],
                 events: EventEmitter,
                 new_socket: Callable[[SessionEngine, dict[str, Any]], Any],
                 run_app: Callable[..., None] | None = None) -> None:
        self.driver = driver
        self.run_app = run_app
        self.clock = clock
        self.logger = logger
        self.settings = settings
        self.schedule = schedule
        self.deliver = deliver
        self.closed = closed
        self.forget = forget
        self.events = events
        self.new_socket = new_socket


class SessionEngine:
    """Runs one session: applies its state machine's actions in order."""

    __slots__ = ('ctx', 'session', 'sid', 'protocol', 'socket', 'lock',
                 'write_lock', 'poll_event', 'poll_waiter', 'ws', 'probe',
                 'callbacks', 'announced', 'unconfirmed', 'b64', 'room',
                 'traffic', 'intake', '__weakref__')

    def __init__(self, ctx: EngineContext, session: Session, *,
                 b64: bool = False, announced: bool = True,
                 intake: Callable[[list[Packet]], bool] | None = None
                 ) -> None:
        driver = ctx.driver
        self.ctx = ctx
        self.sid = session.sid
        #: the session's protocol revision (4 or 3)
        self.protocol = session.protocol
        self.session = session
        #: the application's object (:meth:`create` makes it)
        self.socket: Any = None
        self.lock = driver.state_lock()
        self.write_lock = driver.lock()
        # Created by the first parked GET (WebSocket sessions never need it).
        self.poll_event: Any = None
        #: what wakes a GET parked without a task (see :meth:`park_poll`)
        self.poll_waiter: Callable[[], Any] | None = None
        #: the WebSocket carrying the session, and one being probed
        self.ws: WebSocketSink | None = None
        self.probe: WebSocketSink | None = None
        self.callbacks: deque[tuple[int, Callable[[], Any]]] | None = None
        #: packets whose bytes wait in the WebSocket's backlog: their send
        #: callbacks run once the socket has taken them
        self.unconfirmed: list[Packet] | None = None
        #: v3 long-polling: binary as base64 text, as the handshake asked
        self.b64 = b64
        #: set when the queue is below max_buffered_bytes again (created
        #: by the first send that waits for room)
        self.room: Any = None
        #: False while the application has not accepted the session (its
        #: connect handlers refused it, or have not run yet): it hears
        #: nothing of its close (see :meth:`announce`)
        self.announced = announced
        #: the session's :class:`Traffic` counters while metrics are on
        #: (see :meth:`count_with`)
        self.traffic: Traffic | None = None
        #: while set, :meth:`receive` offers the client's packets to it
        #: first (see :meth:`set_intake`)
        self.intake = intake

    @classmethod
    def create(cls, ctx: EngineContext, sid: str, *, transport: str,
               protocol: int, environ: dict[str, Any], b64: bool = False,
               announced: bool = True,
               intake: Callable[[list[Packet]], bool] | None = None,
               poll_limit: int | None = None) -> SessionEngine:
        """A new session, its engine and the application's object for it
        (``poll_limit``: see :attr:`Session.poll_limit`; the others: see
        the attributes of the same names)."""
        # Built one after the other rather than one inside the other's
        # __init__: with the threading driver each connection's thread
        # keeps every stack page it ever touched, and the nested
        # constructors cost one more page per connection.
        session = Session(sid, transport=transport, protocol=protocol,
                          now=ctx.clock(), settings=ctx.settings,
                          poll_limit=poll_limit)
        engine = cls(ctx, session, b64=b64, announced=announced,
                     intake=intake)
        engine.socket = ctx.new_socket(engine, environ)
        return engine

    def __repr__(self) -> str:
        session = self.session
        return (f'<SessionEngine {self.sid} {session.transport} '
                f'{session.ready_state.value}>')

    # -- running the state machine -------------------------------------------------

    def _run(self, event: Any) -> tuple[Any, ...]:
        with self.lock:
            return self.session.handle(event, self.ctx.clock())

    def _apply(self, actions: tuple[Any, ...]) -> Any:
        """Carry out actions in order; return the one meant for the
        request that asked (an answer, a refusal), if any."""
        reply = None
        for action in actions:
            kind = type(action)
            if kind in _FOR_CALLER:
                reply = action
            elif kind is Deliver:
                self._deliver(action.data)
            elif kind is WakePoll:
                self._wake_poll()
            elif kind is WriteWebSocket:
                self.flush()
            elif kind is Schedule:
                self.ctx.schedule(action.at, self)
            elif kind is Closed:
                self._on_closed(action.reason, action.description)
            elif kind is Forget:
                self.ctx.forget(self)
                if self.traffic is not None:
                    self.traffic.forgotten()
            elif kind is CloseWebSocket:
                if self.ws is not None:
                    self._close_websocket(self.ws)
            elif kind is DropProbe:
                probe, self.probe = self.probe, None
                if probe is not None:
                    self._close_websocket(probe)
            elif kind is WriteProbe:
                self._write_probe(action.packet)
            elif kind is Upgrading:
                self._emit('upgrading', 'websocket')
            elif kind is Upgraded:
                self.ctx.logger.info('%s: upgraded to websocket', self.sid)
                if self.traffic is not None:
                    self.traffic.upgraded()
                self._emit('upgrade', 'websocket')
            elif kind is UpgradeCancelled:
                self.ctx.logger.info('%s: %s; staying on polling', self.sid,
                                     action.description)
                if self.traffic is not None:
                    self.traffic.upgrade_failed(action.description)
            elif kind is PingQueued:
                if self.traffic is not None:
                    self.traffic.ping_queued()
                if self.socket.handlers:
                    self._emit('heartbeat')
                    self._emit('packet_create', _PING)
        return reply

    def _emit(self, event: str, *args: Any) -> None:
        socket = self.socket
        if socket.handlers:
            run_app = self.ctx.run_app
            if run_app is None:
                socket.emit(event, *args)
            else:
                run_app(self.sid, socket.emit, event, *args)

    def _deliver(self, data: str | bytes) -> None:
        self._emit('message', data)
        ctx = self.ctx
        if ctx.run_app is None:
            ctx.deliver(self.sid, data)
        else:
            ctx.run_app(self.sid, ctx.deliver, self.sid, data)

    # -- the application's side ----------------------------------------------------

    def open(self, announce: bool = True) -> None:
        """Queue the open packet: the handshake is being answered.
        ``announce`` False: the client has it already (the session moved
        here from another process of a cluster); open without it."""
        self._apply(self._run(_OPEN if announce else Open(False)))

    def announce(self) -> None:
        """The application takes the session (its connect handlers run):
        from now on it hears of its close."""
        self.announced = True

    def refuse(self, description: str = 'refused', *,
               graceful: bool = False) -> None:
        """The connect handlers refused the session: end it unannounced
        (``graceful``: the client gets its queued packets and the close
        packet, for a session whose handshake was answered already)."""
        self.announced = False
        self.close(CloseReason.SERVER_DISCONNECT, description,
                   graceful=graceful)

    def count_with(self, traffic: Traffic) -> None:
        """Count this session's packets and life cycle in ``traffic`` from
        now on (metrics: see :mod:`engineio_sync.metrics`)."""
        self.traffic = traffic

    def set_intake(self, intake: Callable[[list[Packet]], bool] | None
                   ) -> None:
        """Offer the client's packets to ``intake`` first from now on (it
        returns True if it took them); None: deliver them again. A
        cluster session whose connect handlers have not run yet holds
        them so (see :mod:`engineio_sync.cluster.handover`)."""
        self.intake = intake

    def send(self, packet: Packet, callback: Callable[[], Any] | None = None
             ) -> bool:
        """Queue a packet; False if the session is not open.

        ``callback()`` runs once a transport has written the packet.
        """
        ws = self.ws
        if ws is not None and callback is None and not self.socket.handlers:
            handlers = self.ctx.events.handlers
            if 'flush' not in handlers and 'drain' not in handlers:
                session = self.session
                # The core's fast lane: straight onto the WebSocket, under
                # the write lock so that writes keep the order of sends.
                # acquire()/release() rather than ``with``: half the cost,
                # on every message.
                write_lock = self.write_lock
                lock = self.lock
                write_lock.acquire()
                try:
                    lock.acquire()
                    try:
                        direct = session.writes_directly
                    finally:
                        lock.release()
                    if direct and ws.write_packet(packet):
                        if self.traffic is not None:
                            self.traffic.packet_out(packet)
                        return True
                finally:
                    write_lock.release()
                if direct:
                    # Outside the write lock: closing runs handlers that
                    # may send.
                    self._write_failed()
                    return True
                try:
                    return self._send_now(ws, packet)
                except SendBufferFull as error:
                    return self._send_when_room(error, packet, callback)
        try:
            return self._queue(packet, callback)
        except SendBufferFull as error:
            return self._send_when_room(error, packet, callback)

    def _queue(self, packet: Packet, callback: Callable[[], Any] | None
               ) -> bool:
        session = self.session
        with self.lock:
            actions = session.handle(_new(Send, (packet,)), self.ctx.clock())
            dropped = bool(actions) and type(actions[-1]) is Dropped
            if not dropped and callback is not None:
                if self.callbacks is None:
                    self.callbacks = deque()
                self.callbacks.append((session.queued_count, callback))
        if dropped:
            return self._dropped(actions)
        if self.socket.handlers:
            self._emit('packet_create', packet)
        if actions:
            self._apply(actions)
        return True

    def _send_when_room(self, error: SendBufferFull, packet: Packet,
                        callback: Callable[[], Any] | None) -> bool:
        """The queue is full. With ``on_buffer_full='wait'``, wait until
        it is below the limit again (at most ``write_timeout``) and queue
        then; otherwise, or on timeout, raise ``error``."""
        ctx = self.ctx
        if ctx.settings.on_buffer_full != 'wait':
            raise error
        room = self.room
        if room is None:
            room = self.room = ctx.driver.event()
        deadline = ctx.clock() + ctx.settings.write_timeout
        # Bounded: each round waits for room, the deadline ends it.
        while True:
            remaining = deadline - ctx.clock()
            if remaining <= 0:
                raise error
            room.wait(remaining)
            # Cleared before trying: a drain after this try sets it again.
            room.clear()
            try:
                return self._queue(packet, callback)
            except SendBufferFull as again:
                error = again

    def _send_now(self, ws: WebSocketSink, packet: Packet) -> bool:
        """Queue a packet and write what the WebSocket can carry at once,
        holding the write lock throughout, so that writes keep the order
        of sends."""
        with self.write_lock:
            with self.lock:
                actions = self.session.handle(_new(SendNow, (packet,)),
                                              self.ctx.clock())
            packets = (actions[0].packets
                       if actions and type(actions[0]) is Write else None)
            if packets is not None and self.traffic is not None:
                self.traffic.flushed(packets)
            failed = packets is not None and not (
                self.ws is ws and ws.write_packets(packets))
            if packets is not None and not failed:
                packets = self._unless_waiting(ws, packets)
        # Outside the write lock: closing runs handlers that may send.
        if failed:
            self._write_failed()
            return True
        if packets is not None:
            # Queued packets went out too: their callbacks are due.
            if packets:
                self.sent(packets)
            return True
        if actions and type(actions[-1]) is Dropped:
            return self._dropped(actions)
        if actions:
            self._apply(actions)
        return True

    @property
    def buffered_amount(self) -> int:
        """Bytes sent by the application and not yet handed to the
        client's connection: queued messages, and what the WebSocket's
        socket has not taken yet."""
        ws = self.ws
        return self.session.buffered_bytes + (ws.backlog if ws is not None
                                              else 0)

    def _dropped(self, actions: tuple[Any, ...]) -> bool:
        """A send the session did not take; the actions before the Dropped
        close the session when its buffer was full."""
        if len(actions) > 1:
            self.ctx.logger.info('%s: send buffer full (limit %s bytes); '
                                 'closing', self.sid,
                                 self.ctx.settings.max_buffered_bytes)
            self._apply(actions[:-1])
        else:
            self.ctx.logger.debug('%s: send on a closed session dropped',
                                  self.sid)
        return False

    def close(self, reason: str, description: str | None = None, *,
              graceful: bool = False) -> None:
        """End the session; never blocks. ``graceful``: queued packets and
        the close packet go out first."""
        self._apply(self._run(Close(reason, description, graceful)))

    def on_timer(self, now: float) -> None:
        """A deadline this engine asked for (with Schedule) is due."""
        with self.lock:
            actions = self.session.handle(_TIMER, now)
        if actions:
            self._apply(actions)

    # -- writing ----------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the session has queued on its WebSocket, in order."""
        ws = self.ws
        if ws is None:
            return
        with self.write_lock:
            actions = self._run(_FLUSH)
            if not actions:
                return
            packets = actions[0].packets
            self._flushing(packets)
            ok = self.ws is ws and ws.write_packets(packets)
            if ok:
                packets = self._unless_waiting(ws, packets)
        if not ok:
            self._write_failed()
            return
        if packets:
            self.sent(packets)
        if len(actions) > 1:
            self._apply(actions[1:])

    def _unless_waiting(self, ws: WebSocketSink, packets: list[Packet]
                        ) -> list[Packet]:
        """The packets just written if the socket took them all; else keep
        them for when the backlog drains and return none (write lock held)."""
        if not ws.backlog:
            return packets
        if self.unconfirmed is None:
            self.unconfirmed = []
        self.unconfirmed.extend(packets)
        return []

    def websocket_blocked(self, sink: WebSocketSink) -> None:
        """Bytes written on ``sink`` wait for its peer to read them (the
        transport calls this with the write lock held). The session queues
        from now on, and a task of its own drains the backlog: nobody else
        ever waits for this peer."""
        if sink is self.ws:
            with self.lock:
                actions = self.session.handle(_WS_BLOCKED, self.ctx.clock())
            if actions:
                self._apply(actions)
        if not sink.draining:
            sink.draining = True
            sink.drain_with(partial(self._drain_step, sink))

    def _drain_step(self, sink: WebSocketSink) -> bool:
        """Hand ``sink``'s socket what it takes of the backlog now (the
        sink calls this whenever its socket has room); True once the
        drain is over: the backlog is gone or the connection failed.

        A peer that reads nothing makes the core close the session at its
        write deadline, which cuts the connection and so ends the drain.
        """
        done: list[Packet] | None = None
        actions: tuple[Any, ...] = ()
        with self.write_lock:
            ok = sink.write_backlog()
            if ok and sink.backlog:
                return False
            sink.draining = False
            if ok and sink is self.ws:
                with self.lock:
                    actions = self.session.handle(_WS_DRAINED,
                                                  self.ctx.clock())
                done, self.unconfirmed = self.unconfirmed, None
        if not ok:
            if sink is self.ws:
                self._write_failed()
            elif sink is self.probe:
                self.websocket_ended(sink, CloseReason.TRANSPORT_ERROR,
                                     'write failed')
            return True
        if done:
            self.sent(done)
        if actions:
            self._apply(actions)
        return True

    def _write_probe(self, packet: Packet) -> None:
        probe = self.probe
        if probe is None:
            return
        with self.write_lock:
            ok = probe.write_packet(packet)
        if self.traffic is not None:
            self.traffic.packet_out(packet)
        if not ok:
            self.websocket_ended(probe, CloseReason.TRANSPORT_ERROR, 'write failed')

    def _write_failed(self) -> None:
        self.ctx.logger.info('%s: WebSocket write failed', self.sid)
        self._apply(self._run(TransportEnded(CloseReason.TRANSPORT_ERROR,
                                             'write failed')))

    def _flushing(self, packets: list[Packet]) -> None:
        if self.traffic is not None:
            self.traffic.flushed(packets)
        ctx = self.ctx
        logger = ctx.logger
        if logger.isEnabledFor(_DEBUG):
            logger.debug('%s: sending %s over %s', self.sid,
                         describe_packets(packets), self.session.transport)
        socket = self.socket
        if socket.handlers:
            self._emit('flush', packets)
        if 'flush' in ctx.events.handlers:
            if ctx.run_app is None:
                ctx.events.emit('flush', socket, packets)
            else:
                ctx.run_app(self.sid, ctx.events.emit, 'flush', socket,
                            packets)

    def sent(self, packets: list[Packet]) -> None:
        """Packets reached the client: a sender waiting for room goes on;
        send callbacks run and ``drain`` is emitted (where the context runs
        application code)."""
        room = self.room
        if room is not None and self.ctx.settings.has_room(
                self.buffered_amount):
            room.set()
        if not self.callbacks and not self.socket.handlers and \
                'drain' not in self.ctx.events.handlers:
            return
        run_app = self.ctx.run_app
        if run_app is None:
            self._sent(packets)
        else:
            run_app(self.sid, self._sent, packets)

    def _sent(self, packets: list[Packet]) -> None:
        callbacks = self.callbacks
        if callbacks:
            count = self.session.sent_count
            while callbacks and callbacks[0][0] <= count:
                _, callback = callbacks.popleft()
                try:
                    callback()
                except Exception:
                    self.ctx.logger.exception('%s: send callback raised',
                                              self.sid)
        socket = self.socket
        events = self.ctx.events
        if not socket.handlers and 'drain' not in events.handlers:
            return
        if not self.ctx.settings.has_room(self.buffered_amount):
            # Still full: not a drain yet.
            return
        if socket.handlers:
            socket.emit('drain')
        if 'drain' in events.handlers:
            events.emit('drain', socket)

    # -- closing ------------------------------------------------------------------------

    def _on_closed(self, reason: str, description: str | None) -> None:
        room = self.room
        if room is not None:
            # Senders waiting for room find the session closed.
            room.set()
        if not self.announced:
            return
        run_app = self.ctx.run_app
        if run_app is None:
            self._tell_closed(reason, description)
        else:
            run_app(self.sid, self._tell_closed, reason, description)

    def _tell_closed(self, reason: str, description: str | None) -> None:
        if self.traffic is not None:
            self.traffic.closed(reason)
        self.ctx.closed(self, reason)
        socket = self.socket
        if socket.handlers:
            socket.emit('close', reason, description)
        self.callbacks = None

    def _close_websocket(self, sink: WebSocketSink) -> None:
        if sink.mark_closing():
            sink.close_with(partial(self._send_rest_and_close, sink),
                            partial(self._websocket_closed, sink))

    def _send_rest_and_close(self, sink: WebSocketSink) -> None:
        """Write what is left for ``sink`` and its close frame (the sink
        calls this first when it closes; it never waits for the peer)."""
        written: list[Packet] = []
        try:
            with self.write_lock:
                if sink is self.ws:
                    actions = self._run(_FLUSH)
                    if actions:
                        packets = actions[0].packets
                        self._flushing(packets)
                        if sink.write_packets(packets) and not sink.backlog:
                            written.extend(packets)
                sink.send_close()
        except Exception:  # never let a closing socket raise
            self.ctx.logger.debug('closing WebSocket failed', exc_info=True)
        if written:
            self.sent(written)

    def _websocket_closed(self, sink: WebSocketSink) -> None:
        """``sink``'s connection is cut (the sink calls this last)."""
        if sink is self.ws:
            self._apply(self._run(_TRANSPORT_CLOSED))

    # -- the port: long-polling ---------------------------------------------------------

    def poll(self, connected: Callable[[], bool] | None = None
             ) -> list[Packet] | None:
        """A GET arrived: what to answer with, waiting while it is parked;
        raises :class:`RemoteProtocolError` to refuse it.

        ``connected()`` tells whether the GET's connection is still open;
        a parked GET whose client went away takes nothing (None is
        returned) and the packets wait for the next GET. Call :meth:`sent`
        once the answer has been written.
        """
        with self.lock:
            # The event exists before poll_waiting can be seen as True.
            if self.poll_event is None:
                self.poll_event = self.ctx.driver.event()
            actions = self.session.handle(_POLL_STARTED, self.ctx.clock())
            if type(actions[-1]) is ParkPoll:
                self.poll_event.clear()
        reply = self._apply(actions)
        if type(reply) is ParkPoll:
            self.poll_event.wait(reply.timeout)
            if connected is not None and not connected():
                self.abandon_poll()
                return None
            reply = self._apply(self._run(_POLL_RESUMED))
        return self._poll_answer(reply)

    def _poll_answer(self, reply: Any) -> list[Packet]:
        """A GET's answer (AnswerPoll), or its refusal raised."""
        if type(reply) is RefuseRequest:
            raise RemoteProtocolError(reply.code, reply.message)
        packets: list[Packet] = reply.packets
        self._flushing(packets)
        return packets

    def _wake_poll(self) -> None:
        with self.lock:
            waiter, self.poll_waiter = self.poll_waiter, None
        if waiter is not None:
            waiter()
        elif self.poll_event is not None:
            self.poll_event.set()

    def park_poll(self, resume: Callable[[], Any]
                  ) -> list[Packet] | float | None:
        """A GET arrived and nothing may wait for it: what to answer with
        now, or (a number) it is parked for at most that many seconds and
        ``resume()`` runs, in the thread that wakes it, once it may be
        answered: then :meth:`resume_poll` gives the answer; after the
        timeout, or if the client goes away, call :meth:`resume_poll` or
        :meth:`abandon_poll` (once, whichever comes first). Raises
        :class:`RemoteProtocolError` to refuse it. Call :meth:`sent` (via
        :meth:`poll_answered`) once the answer has been written."""
        with self.lock:
            actions = self.session.handle(_POLL_STARTED, self.ctx.clock())
            if type(actions[-1]) is ParkPoll:
                self.poll_waiter = resume
        reply = self._apply(actions)
        if type(reply) is ParkPoll:
            timeout: float = reply.timeout
            return timeout
        return self._poll_answer(reply)

    def resume_poll(self) -> list[Packet]:
        """The answer of a GET parked by :meth:`park_poll`."""
        with self.lock:
            self.poll_waiter = None
        return self._poll_answer(self._apply(self._run(_POLL_RESUMED)))

    def abandon_poll(self) -> None:
        """A GET parked by :meth:`park_poll` lost its client: it takes
        nothing, and the packets wait for the next one."""
        with self.lock:
            self.poll_waiter = None
        self.ctx.logger.info('%s: a parked GET lost its connection; its '
                             'packets wait for the next one', self.sid)
        self._apply(self._run(_POLL_ABANDONED))

    def poll_answered(self, packets: list[Packet], delivered: bool) -> None:
        """The WSGI server is done with a GET's answer (from :meth:`poll`):
        written, or (``delivered`` False) not, and then its packets go back
        to the front of the queue."""
        if delivered:
            self.sent(packets)
            return
        self.ctx.logger.info('%s: writing a GET\'s answer failed; its '
                             'packets wait for the next one', self.sid)
        if self.traffic is not None:
            self.traffic.undelivered(packets)
        actions = self._run(_new(PollUndelivered, (packets,)))
        if actions:
            self._apply(actions)

    def begin_post(self) -> None:
        """A POST arrived (its body not read yet); raises
        :class:`RemoteProtocolError` to refuse it."""
        actions = self._run(_POST_STARTED)
        if actions:
            reply = self._apply(actions)
            if type(reply) is RefuseRequest:
                raise RemoteProtocolError(reply.code, reply.message)

    def end_post(self) -> None:
        """The POST is over."""
        self._run(_POST_ENDED)

    def receive(self, packets: Iterable[Packet]) -> None:
        """Packets from the client, in order (a POST's payload; it may be
        decoded lazily: a DecodeError it raises reaches the caller).

        A payload may hold hundreds of thousands of tiny packets; every
        RECEIVE_SLICE of them the task yields, so that one such POST cannot
        hold up every other client while its handlers run.
        """
        intake = self.intake
        if intake is not None:
            packets = list(packets)
            if intake(packets):
                return
        self.receive_now(packets)

    def receive_now(self, packets: Iterable[Packet]) -> None:
        """As :meth:`receive`, past the :attr:`intake`."""
        receive_packet = self.receive_packet
        traffic = self.traffic
        for count, packet in enumerate(packets, 1):
            if traffic is not None:
                traffic.packet_in(packet)
            if not receive_packet(packet):
                break
            if count % RECEIVE_SLICE == 0:
                self.ctx.driver.sleep(0)

    def receive_packet(self, packet: Packet) -> bool:
        """One packet from the client on the session's transport; False
        once the session is over."""
        session = self.session
        socket = self.socket
        ctx = self.ctx
        if packet.type is _MESSAGE and session.delivers_directly and \
                not socket.handlers and \
                not ctx.logger.isEnabledFor(logging.DEBUG):
            # The core's fast lane: a message that only needs delivering.
            if ctx.run_app is None:
                ctx.deliver(self.sid, packet.data)
            else:
                ctx.run_app(self.sid, ctx.deliver, self.sid, packet.data)
            return True
        with self.lock:
            actions = session.handle(_new(PacketReceived, (packet,)),
                                     ctx.clock())
        if socket.handlers or ctx.logger.isEnabledFor(logging.DEBUG):
            self._received(packet)
        if actions:
            self._apply(actions)
        return session.ready_state is not _CLOSED

    def _received(self, packet: Packet) -> None:
        self.ctx.logger.debug('%s: received %s', self.sid,
                              describe_packets([packet]))
        if self.socket.handlers:
            self._emit('packet', packet)
            if packet.type in _HEARTBEAT_TYPES:
                self._emit('heartbeat')

    def invalid_input(self, description: str) -> None:
        """The client sent something unreadable: the session ends."""
        self.ctx.logger.info('%s: %s; closing', self.sid, description)
        self._apply(self._run(InvalidInput(description)))

    # -- the port: WebSocket ----------------------------------------------------------

    def request_upgrade(self) -> None:
        """A WebSocket request for this session, before the 101; raises
        :class:`RemoteProtocolError` to refuse it."""
        reply = self._apply(self._run(_UPGRADE_REQUESTED))
        if type(reply) is RefuseRequest:
            raise RemoteProtocolError(reply.code, reply.message)

    def attach_websocket(self, sink: WebSocketSink) -> Verdict:
        """A WebSocket was accepted for this session.

        Returns ``'active'`` (it carries the session), ``'probe'`` (it is
        on probation for an upgrade) or ``'rejected'`` (it has no place
        here; the transport closes it).
        """
        verdict: Verdict
        with self.lock:
            actions = self.session.handle(_ATTACHED, self.ctx.clock())
            if actions and type(actions[0]) is RejectWebSocket:
                verdict = 'rejected'
            elif self.session.websocket_attached:
                self.ws = sink
                verdict = 'active'
            else:
                self.probe = sink
                verdict = 'probe'
        if verdict == 'rejected':
            self.ctx.logger.debug('%s: extra WebSocket closed', self.sid)
            return verdict
        self._apply(actions)
        return verdict

    def websocket_packet(self, sink: WebSocketSink, packet: Packet) -> bool:
        """A packet arrived on ``sink``; False: stop reading from it."""
        if self.traffic is not None:
            self.traffic.packet_in(packet)
        if sink is self.ws:
            return self.receive_packet(packet)
        if sink is not self.probe:
            return False
        with self.lock:
            actions = self.session.handle(ProbeReceived(packet),
                                          self.ctx.clock())
            if self.session.websocket_attached and self.probe is sink:
                # The upgrade completed: the probe carries the session.
                self.ws, self.probe = sink, None
        self._apply(actions)
        return sink is self.ws or sink is self.probe

    def websocket_invalid(self, sink: WebSocketSink, description: str) -> None:
        """``sink`` carried something unreadable."""
        if sink is self.ws:
            self.invalid_input(description)
        else:
            self.websocket_ended(sink, CloseReason.TRANSPORT_ERROR, description)

    def websocket_ended(self, sink: WebSocketSink, reason: str,
                        description: str | None = None) -> None:
        """``sink``'s connection is over (the peer closed it, or it broke)."""
        if sink is self.ws:
            self._apply(self._run(TransportEnded(reason, description)))
        elif sink is self.probe:
            self.probe = None
            self._apply(self._run(_PROBE_ENDED))


def describe_packets(packets: list[Packet]) -> str:
    """A short, log-safe summary of packets (types and sizes, not data)."""
    return ', '.join(
        f'{p.type.name.lower()}'
        + ('' if p.data is None else f'({len(p.data)}'
           f'{" bytes" if isinstance(p.data, bytes) else " chars"})')
        for p in packets)

"""Session engines for the unit tests, built in one place.

:func:`make_engine` is the only code here that knows how a
:class:`~engineio_sync.engine.SessionEngine` is constructed (its context,
its session, its socket): when the constructor changes, this function
changes and the tests do not. It returns a :class:`Harness` holding the
engine with a fake driver, a fake clock and a fake timer service, and
what the engine told the server.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from functools import partial
from typing import Any, Callable

from engineio_sync.app_socket import Socket
from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.core.session import SessionSettings
from engineio_sync.engine import EngineContext, SessionEngine
from engineio_sync.events import EventEmitter
from engineio_sync.exceptions import RemoteProtocolError
from engineio_sync.transports.wsbinding import WebSocketBinding
from engineio_sync.transports.wsconnection import WebSocketConnection

from fakes import FakeClock, FakeDriver, FakeSocket
from support.frames import client_frame, split_server_frames

__all__ = ['Harness', 'make_engine', 'outcome', 'message', 'types',
           'client_text', 'server_texts', 'SID']

SID = 'unit-sid'


class FakeTimers:
    """The server's timer service, fired by :meth:`Harness.advance`."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, SessionEngine]] = []
        self._order = itertools.count()

    def schedule(self, when: float, engine: SessionEngine) -> None:
        heapq.heappush(self.heap, (when, next(self._order), engine))


class Harness:
    """An engine, its fakes, and what it reported to the server."""

    def __init__(self, engine: SessionEngine, clock: FakeClock,
                 driver: FakeDriver, timers: FakeTimers,
                 events: EventEmitter) -> None:
        self.engine = engine
        self.clock = clock
        self.driver = driver
        self.timers = timers
        #: the server's emitter (``flush`` and ``drain`` handlers)
        self.events = events
        #: messages handed to the application, in order
        self.delivered: list[str | bytes] = []
        #: reasons the server was told the session closed with
        self.closed: list[str] = []
        #: True once the server was told to forget the session
        self.forgotten = False

    @property
    def session(self) -> Any:
        return self.engine.session

    @property
    def socket(self) -> Socket:
        return self.engine.socket

    def advance(self, seconds: float) -> None:
        """Move the clock, firing each due timer at its time, in order."""
        target = self.clock.now + seconds
        for _ in range(1000):
            heap = self.timers.heap
            if not heap or heap[0][0] > target:
                break
            when, _, engine = heapq.heappop(heap)
            self.clock.now = max(self.clock.now, when)
            engine.on_timer(self.clock.now)
        else:
            raise AssertionError('timers keep firing')
        self.clock.now = target

    def take_open(self) -> Packet:
        """The handshake's answer: the open packet (a polling session)."""
        packets = outcome(self.engine.poll)
        assert types(packets) == [PacketType.OPEN], packets
        self.engine.poll_answered(packets, True)
        return packets[0]

    def websocket(self, *incoming: bytes, room: int | None = None
                  ) -> tuple[WebSocketBinding, FakeSocket]:
        """A WebSocket sink as the transport builds it, over a fake
        socket that takes ``room`` bytes (None: all); not attached yet."""
        sock = FakeSocket(*incoming, room=room)
        conn = WebSocketConnection(sock, self.engine.write_lock,
                                   driver=self.driver)
        sink = WebSocketBinding(conn, self.driver,
                                self.engine.session.protocol)
        conn.on_blocked = partial(self.engine.websocket_blocked, sink)
        return sink, sock


def make_engine(*, transport: str = 'polling', protocol: int = 4,
                poll_limit: int | None = None, open: bool = True,
                **settings: Any) -> Harness:
    """An engine for session :data:`SID` with ``SessionSettings(**settings)``,
    opened (its open packet queued) unless ``open`` is False."""
    clock = FakeClock()
    driver = FakeDriver(clock)
    timers = FakeTimers()
    events = EventEmitter()
    box: list[Harness] = []

    def closed(engine: SessionEngine, reason: str) -> None:
        box[0].closed.append(reason)

    def forget(engine: SessionEngine) -> None:
        box[0].forgotten = True

    ctx = EngineContext(
        driver=driver, clock=clock,
        logger=logging.getLogger('engineio_sync.unit'),
        settings=SessionSettings(**settings), schedule=timers.schedule,
        deliver=lambda sid, data: box[0].delivered.append(data),
        closed=closed, forget=forget, events=events, new_socket=Socket)
    engine = SessionEngine.create(ctx, SID, transport=transport,
                                  protocol=protocol, environ={},
                                  poll_limit=poll_limit)
    harness = Harness(engine, clock, driver, timers, events)
    box.append(harness)
    if open:
        engine.open()
    return harness


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    """What ``call(*args)`` answers: its value, or the RemoteProtocolError
    it refuses with (raised at the port; a returned one counts the same),
    so that a test compares answers and refusals alike."""
    try:
        return call(*args)
    except RemoteProtocolError as error:
        return error


def message(data: str | bytes) -> Packet:
    return Packet(PacketType.MESSAGE, data)


def types(packets: list[Packet] | None) -> list[PacketType]:
    return [packet.type for packet in packets or ()]


def client_text(text: str) -> bytes:
    """A text frame from the client."""
    return client_frame(text.encode())


def server_texts(sock: FakeSocket) -> list[str | bytes]:
    """The messages of the frames the server wrote on ``sock``, after the
    101 head if any (text as str, binary as bytes; control frames as
    ``('close', payload)``...)."""
    out: list[Any] = []
    data = bytes(sock.sent)
    if data.startswith(b'HTTP/1.1 '):
        data = data.split(b'\r\n\r\n', 1)[1]
    for opcode, payload in split_server_frames(data):
        if opcode == 1:
            out.append(payload.decode())
        elif opcode == 2:
            out.append(payload)
        else:
            out.append(({8: 'close', 9: 'ping', 10: 'pong'}[opcode],
                        payload))
    return out

"""Tests for engineio_sync.core.session: the Sans-IO per-session state machine.

Events in, actions out, as wsproto tests itself: every test feeds
:meth:`Session.handle` with events and a fake clock, and checks the
actions it returns and the state it reports. Nothing sleeps, nothing
touches a socket.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.core.session import (CloseReason, ReadyState, Session,
                                        SessionSettings, Upgrade)
from engineio_sync.core.session_events import (
    AnswerPoll, Close, Closed, CloseWebSocket, Deliver, DropProbe, Dropped,
    Flush, Forget, InvalidInput, Open, PacketReceived, ParkPoll, PingQueued,
    PollAbandoned, PollResumed, PollStarted, PollUndelivered, PostEnded,
    PostStarted,
    ProbeEnded, ProbeReceived, RefuseRequest, RejectWebSocket, Schedule, Send, SendNow,
    TimerFired, TransportClosed, TransportEnded, Upgraded, UpgradeCancelled,
    UpgradeRequested, Upgrading, WakePoll, WebSocketAttached,
    WebSocketBlocked, WebSocketDrained, Write, WriteProbe, WriteWebSocket)
from engineio_sync.exceptions import BAD_REQUEST, LocalProtocolError

PING = Packet(PacketType.PING)
PONG = Packet(PacketType.PONG)
CLOSE = Packet(PacketType.CLOSE)
NOOP = Packet(PacketType.NOOP)
UPGRADE = Packet(PacketType.UPGRADE)
PROBE = Packet(PacketType.PING, 'probe')
PROBE_REPLY = Packet(PacketType.PONG, 'probe')


def msg(text: str) -> Packet:
    return Packet(PacketType.MESSAGE, text)


def make(*, now: float = 100.0, protocol: int = 4, interval: float = 0.3,
         timeout: float = 0.2, upgrade_timeout: float = 10.0,
         close_timeout: float = 30.0, transport: str = 'polling',
         opened: bool = True, poll_limit: int | None = None,
         **options) -> Session:
    """A session; opened ones have had their open packet collected."""
    config = SessionSettings(ping_interval=interval, ping_timeout=timeout,
                             upgrade_timeout=upgrade_timeout,
                             close_timeout=close_timeout, **options)
    session = Session('sid123', transport=transport, now=now,
                      protocol=protocol, settings=config,
                      poll_limit=poll_limit)
    if opened:
        session.handle(Open(), now)
        if transport == 'polling':
            [answer] = session.handle(PollStarted(), now)
        else:
            session.handle(WebSocketAttached(), now)
            answer, = session.handle(Flush(), now)
        assert answer.packets[0].type is PacketType.OPEN
    return session


def poll(s: Session, now: float = 100.0) -> list[Packet] | None:
    """A GET: its answer, or None when it parks."""
    actions = s.handle(PollStarted(), now)
    last = actions[-1]
    if type(last) is ParkPoll:
        assert s.poll_waiting
        return None
    assert type(last) is AnswerPoll, actions
    return last.packets


def resume(s: Session, now: float = 100.0) -> list[Packet]:
    """The parked GET wakes: what it answers with."""
    [answer] = [a for a in s.handle(PollResumed(), now)
                if type(a) is AnswerPoll]
    return answer.packets


def receive(s: Session, packet: Packet, now: float) -> tuple:
    return s.handle(PacketReceived(packet), now)


def timer(s: Session, now: float) -> tuple:
    """TimerFired, without the Schedule bookkeeping."""
    return tuple(a for a in s.handle(TimerFired(), now)
                 if type(a) is not Schedule)


def send(s: Session, packet: Packet, now: float = 100.0) -> tuple:
    return s.handle(Send(packet), now)


def kinds(actions: tuple) -> list[type]:
    return [type(a) for a in actions if type(a) is not Schedule]


# -- the vocabulary -------------------------------------------------------------

def test_events_and_actions_compare_by_type_and_fields():
    assert WakePoll() == WakePoll()
    assert WakePoll() != Forget()             # both are empty tuples
    assert Deliver('a') == Deliver('a') != Deliver('b')
    assert len({WakePoll(), Forget(), WakePoll()}) == 2
    with pytest.raises(AttributeError):
        Deliver('a').data = 'b'               # frozen


# -- life cycle ---------------------------------------------------------------

def test_new_session_is_opening_until_open():
    s = make(opened=False)
    assert s.ready_state is ReadyState.OPENING
    assert not s.is_open and not s.closed
    actions = s.handle(Open(), 100.0)
    assert actions == (Schedule(100.3),)
    assert s.ready_state is ReadyState.OPEN
    assert s.is_open and not s.closed
    assert s.handle(Open(), 100.0) == ()      # only once


def test_open_packet_is_the_handshake():
    s = make(opened=False, interval=25, timeout=20, max_payload=1234,
             ping_interval_ms=25000, ping_timeout_ms=20000)
    s.handle(Open(), 0.0)
    [packet] = s.buffer
    assert packet.type is PacketType.OPEN
    assert json.loads(packet.data) == {
        'sid': 'sid123', 'upgrades': ['websocket'], 'pingInterval': 25000,
        'pingTimeout': 20000, 'maxPayload': 1234}
    assert ',' in packet.data and ', ' not in packet.data   # compact JSON


def test_open_packet_of_websocket_session_offers_no_upgrade():
    s = make(opened=False, transport='websocket')
    s.handle(Open(), 0.0)
    assert json.loads(s.buffer[0].data)['upgrades'] == []


def test_an_unannounced_open_queues_nothing():
    # A cluster session that moved here: the client has its open packet
    # (and the initial packet) from the process that answered it.
    s = make(opened=False, now=50.0, initial_packet='welcome')
    assert s.handle(Open(announce=False), 100.0) == (Schedule(50.3),)
    assert s.is_open and s.buffer == [] and s.queued_count == 0
    assert poll(s, 100.0) is None             # a GET parks
    assert s.handle(Open(), 100.0) == ()      # only once


def test_initial_packet_follows_the_open_packet():
    s = make(opened=False, initial_packet='welcome')
    s.handle(Open(), 0.0)
    assert [p.type for p in s.buffer] == [PacketType.OPEN,
                                          PacketType.MESSAGE]
    assert s.buffer[1].data == 'welcome'


def test_message_is_delivered_only_when_open():
    s = make()
    assert receive(s, msg('hi'), 100.1) == (Deliver('hi'),)
    s.handle(Close(CloseReason.SERVER_DISCONNECT), 100.1)
    assert receive(s, msg('late'), 100.2) == ()


def test_close_twice_keeps_first_reason():
    s = make()
    actions = s.handle(Close(CloseReason.PING_TIMEOUT), 100.0)
    assert actions == (Closed('ping timeout'), Forget())
    assert s.handle(Close(CloseReason.CLIENT_DISCONNECT), 100.0) == ()
    assert s.close_reason == 'ping timeout'
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None


def test_send_after_close_is_refused():
    s = make()
    assert send(s, msg('a')) == ()           # queued, nobody to carry it
    s.handle(Close(CloseReason.SERVER_DISCONNECT), 100.0)
    assert send(s, msg('b')) == (Dropped(),)
    assert s.buffer == []


def test_queued_and_sent_counts():
    s = make()                               # the open packet: 1 and 1
    send(s, msg('a'))
    send(s, msg('b'))
    assert (s.queued_count, s.sent_count) == (3, 1)
    assert poll(s) == [msg('a'), msg('b')]
    assert (s.queued_count, s.sent_count) == (3, 3)


def test_text_with_record_separator_cannot_go_over_v4_polling():
    s = make()
    with pytest.raises(LocalProtocolError):
        send(s, msg('a\x1eb'))
    assert s.buffer == []
    assert send(s, Packet(PacketType.MESSAGE, b'a\x1eb')) == ()
    assert send(make(protocol=3), msg('a\x1eb')) == ()
    assert send(make(transport='websocket'), msg('a\x1eb')) == \
        (WriteWebSocket(),)


# -- v4 heartbeat -------------------------------------------------------------

def test_v4_first_ping_is_due_at_ping_interval():
    s = make(now=100.0, interval=0.3, timeout=0.2)
    assert s.deadline == pytest.approx(100.3)
    assert timer(s, 100.29) == ()
    assert s.buffer == []
    assert timer(s, 100.3) == (PingQueued(),)
    assert s.buffer == [PING]
    # Now waiting for the pong.
    assert s.deadline == pytest.approx(100.5)
    assert s.is_open


def test_v4_ping_goes_to_the_carrier():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    assert poll(s, 0.1) is None
    assert timer(s, 0.3) == (PingQueued(), WakePoll())
    ws = make(now=0.0, interval=0.3, timeout=0.2, transport='websocket')
    assert timer(ws, 0.3) == (PingQueued(), WriteWebSocket())
    assert ws.handle(Flush(), 0.3) == (Write([PING]),)


def test_v4_no_pong_within_ping_timeout_closes_with_ping_timeout():
    s = make(now=100.0, interval=0.3, timeout=0.2)
    assert timer(s, 100.3) == (PingQueued(),)
    assert timer(s, 100.49) == ()
    assert s.is_open
    assert timer(s, 100.5) == (Closed('ping timeout'), Forget())
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.PING_TIMEOUT == 'ping timeout'
    assert s.deadline is None
    assert timer(s, 200.0) == ()


def test_v4_pong_resets_the_heartbeat_across_many_intervals():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    now = 0.0
    for _ in range(20):
        now = s.deadline
        assert timer(s, now) == (PingQueued(),)
        assert poll(s, now) == [PING]
        now += 0.15                      # pong arrives inside ping_timeout
        assert kinds(receive(s, PONG, now)) == []
        # The old pong deadline passes harmlessly.
        assert timer(s, now + 0.1) == ()
        assert s.deadline == pytest.approx(now + 0.3)
        assert s.is_open
    assert s.ready_state is ReadyState.OPEN


def test_v4_timer_does_nothing_after_close():
    s = make(now=0.0)
    s.handle(Close(CloseReason.SERVER_DISCONNECT), 0.0)
    assert s.handle(TimerFired(), 10.0) == ()
    assert s.buffer == []


def test_v4_ping_timeout_answers_parked_poll_with_close():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    assert poll(s, 0.0) is None
    assert timer(s, 0.3) == (PingQueued(), WakePoll())
    assert resume(s, 0.3) == [PING]
    assert poll(s, 0.3) is None          # parks again, no pong is coming
    assert timer(s, 0.5) == (WakePoll(), Closed('ping timeout'), Forget())
    assert resume(s, 0.5) == [CLOSE]
    assert not s.poll_waiting


def test_v4_client_ping_is_invalid():
    s = make()
    actions = receive(s, PING, 100.1)
    assert actions == (Closed('transport error', 'unexpected packet type 2'),
                       Forget())
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR


# -- timers -----------------------------------------------------------------------

def test_schedule_asks_only_for_earlier_deadlines():
    s = make(now=0.0, interval=0.3, timeout=0.2, opened=False)
    assert s.handle(Open(), 0.0) == (Schedule(0.3),)
    assert s.timer_at == 0.3
    # The ping is due; the pong deadline needs a new timer.
    assert s.handle(TimerFired(), 0.3) == (PingQueued(), Schedule(0.5))
    # A pong moves the deadline later: the pending 0.5 timer will do.
    assert receive(s, PONG, 0.4) == ()
    assert s.handle(TimerFired(), 0.5) == (Schedule(0.7),)
    # An upgrade brings the deadline forward: a new, earlier timer.
    s2 = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    assert s2.handle(WebSocketAttached(), 0.0) == (Schedule(10.0),)


def test_a_stale_timer_is_harmless():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    assert s.handle(TimerFired(), 0.1) == ()      # nothing due yet
    assert s.is_open and s.buffer == []


# -- v3 heartbeat -------------------------------------------------------------

def test_v3_server_never_pings():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert timer(s, 0.3) == ()
    assert s.buffer == []
    assert s.is_open


def test_v3_client_ping_queues_pong():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert receive(s, PING, 0.1) == ()           # no transport to carry it
    assert s.buffer == [PONG]
    assert poll(s, 0.1) == [PONG]
    assert poll(s, 0.1) is None
    assert receive(s, PROBE, 0.2) == (WakePoll(),)
    assert resume(s, 0.2) == [PROBE_REPLY]


def test_v3_silence_times_out_and_client_pings_keep_it_alive():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert s.deadline == pytest.approx(0.5)
    now = 0.0
    for _ in range(10):
        now += 0.4                       # inside interval + timeout
        assert timer(s, now) == ()
        receive(s, PING, now)
        assert s.buffer[-1] == PONG
    assert s.is_open
    assert timer(s, now + 0.49) == ()
    assert kinds(timer(s, now + 0.5)) == [Closed, Forget]
    assert s.close_reason == 'ping timeout'


def test_v3_messages_keep_it_alive_too():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert receive(s, msg('x'), 0.4) == (Deliver('x'),)
    assert s.deadline == pytest.approx(0.9)


def test_v3_client_pong_is_invalid():
    s = make(protocol=3)
    assert kinds(receive(s, PONG, 100.1)) == [Closed, Forget]
    assert s.ready_state is ReadyState.CLOSED


# -- other packets from the client --------------------------------------------

@pytest.mark.parametrize('packet', [
    Packet(PacketType.OPEN),
    Packet(PacketType.OPEN, '{"sid":"x"}'),
    Packet(PacketType.UPGRADE),
])
def test_invalid_packet_types_close_the_session(packet):
    s = make()
    assert poll(s) is None
    assert kinds(receive(s, packet, 100.1)) == [WakePoll, Closed, Forget]
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR
    assert resume(s) == [CLOSE]


def test_invalid_input_closes_with_its_description():
    s = make()
    assert s.handle(InvalidInput('parse error: x'), 100.1) == (
        Closed('transport error', 'parse error: x'), Forget())


def test_noop_from_client_is_ignored():
    s = make()
    assert receive(s, NOOP, 100.1) == ()
    assert s.is_open


def test_client_close_releases_parked_poll_with_noop():
    s = make()
    send(s, msg('dropped'))
    assert poll(s) == [msg('dropped')]
    assert poll(s) is None
    assert kinds(receive(s, CLOSE, 100.1)) == [WakePoll, Closed, Forget]
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.CLIENT_DISCONNECT == \
        'client disconnect'
    assert resume(s) == [NOOP]


def test_client_close_without_parked_poll():
    s = make()
    assert receive(s, CLOSE, 100.1) == (Closed('client disconnect'),
                                        Forget())
    assert s.close_reason == 'client disconnect'
    assert poll(s) == [CLOSE]


# -- long-polling -------------------------------------------------------------

def test_poll_answers_at_once_with_queued_packets_in_order():
    s = make()
    for i in range(5):
        assert send(s, msg(f'm{i}')) == ()
    assert poll(s) == [msg(f'm{i}') for i in range(5)]
    assert not s.poll_waiting
    assert s.buffer == []


def test_poll_parks_until_a_packet_is_queued():
    s = make(interval=25, timeout=20)
    assert s.handle(PollStarted(), 100.0) == (ParkPoll(50.0),)
    assert s.poll_waiting
    assert send(s, msg('hello')) == (WakePoll(),)
    assert resume(s) == [msg('hello')]
    assert not s.poll_waiting


def test_parked_poll_woken_without_packets_gets_noop():
    s = make()
    assert poll(s) is None
    assert resume(s) == [NOOP]
    assert s.is_open


def test_second_poll_conflicts_and_parked_poll_gets_close():
    s = make()
    assert poll(s) is None
    actions = s.handle(PollStarted(), 100.0)
    assert actions == (WakePoll(),
                       Closed('transport error', 'overlapping GET requests'),
                       Forget(), RefuseRequest(BAD_REQUEST))
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR == 'transport error'
    assert resume(s) == [CLOSE]


def test_poll_on_closed_session_gets_close():
    s = make()
    s.handle(Close(CloseReason.PING_TIMEOUT), 100.0)
    assert poll(s) == [CLOSE]


def test_polling_requests_on_a_websocket_session_are_refused():
    s = make(transport='websocket')
    assert s.handle(PollStarted(), 100.0) == (RefuseRequest(BAD_REQUEST),)
    assert s.handle(PostStarted(), 100.0) == (RefuseRequest(BAD_REQUEST),)
    assert s.is_open


def test_overlapping_posts_conflict():
    s = make()
    assert s.handle(PostStarted(), 100.0) == ()
    assert s.handle(PostEnded(), 100.0) == ()
    assert s.handle(PostStarted(), 100.0) == ()
    actions = s.handle(PostStarted(), 100.0)
    assert actions[-1] == RefuseRequest(BAD_REQUEST)
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == 'transport error'
    assert s.close_description == 'overlapping POST requests'


def test_overlapping_post_releases_parked_poll_with_close():
    s = make()
    assert poll(s) is None
    s.handle(PostStarted(), 100.0)
    assert kinds(s.handle(PostStarted(), 100.0)) == [
        WakePoll, Closed, Forget, RefuseRequest]
    assert resume(s) == [CLOSE]


# -- graceful server close ----------------------------------------------------

def test_graceful_close_sends_buffer_then_close_then_is_closed():
    s = make(now=0.0)
    send(s, msg('a'))
    send(s, msg('b'))
    actions = s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True),
                       1.0)
    # The pending ping timer (0.3) comes first and will ask again.
    assert actions == (Closed('server disconnect'),)
    assert s.deadline == 31.0
    assert s.ready_state is ReadyState.CLOSING
    assert s.closed and not s.is_open
    assert s.close_reason == 'server disconnect'
    assert send(s, msg('c')) == (Dropped(),)
    assert s.handle(PollStarted(), 1.0) == (
        Forget(), AnswerPoll([msg('a'), msg('b'), CLOSE]))
    assert s.ready_state is ReadyState.CLOSED
    assert poll(s) == [CLOSE]


def test_graceful_close_answers_parked_poll():
    s = make(now=0.0)
    assert poll(s, 0.0) is None
    assert kinds(s.handle(Close(CloseReason.SERVER_DISCONNECT,
                                graceful=True), 1.0)) == [WakePoll, Closed]
    assert s.ready_state is ReadyState.CLOSING
    assert s.handle(PollResumed(), 1.0) == (Forget(), AnswerPoll([CLOSE]))
    assert s.ready_state is ReadyState.CLOSED


def test_graceful_close_stops_heartbeat_and_times_out():
    s = make(now=0.0, interval=0.3, timeout=0.2, close_timeout=5.0)
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert s.deadline == pytest.approx(6.0)
    assert timer(s, 5.9) == ()
    assert s.buffer == [CLOSE]           # no ping was added
    assert timer(s, 6.0) == (Forget(),)
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None


def test_graceful_close_on_websocket_flushes_then_closes_it():
    s = make(now=0.0, transport='websocket')
    send(s, msg('a'))
    assert kinds(s.handle(Close(CloseReason.SERVER_DISCONNECT,
                                graceful=True), 1.0)) == [
        CloseWebSocket, Closed]
    assert s.handle(Flush(), 1.0) == (Write([msg('a'), CLOSE]),
                                      CloseWebSocket())
    assert s.ready_state is ReadyState.CLOSING
    assert s.handle(TransportClosed(), 1.5) == (Forget(),)
    assert s.ready_state is ReadyState.CLOSED


def test_non_graceful_close_drops_buffer():
    s = make()
    send(s, msg('a'))
    s.handle(Close(CloseReason.SERVER_SHUTDOWN), 100.0)
    assert poll(s) == [CLOSE]


def test_client_close_during_graceful_close_ends_the_session():
    # The client's close packet arrives while the server's own close is
    # still waiting for a poll: the client is gone, so the session is over
    # now (not CLOSING until close_timeout).
    s = make(now=0.0, close_timeout=30.0)
    assert poll(s, 0.0) is None
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert kinds(receive(s, CLOSE, 1.1)) == [WakePoll, Forget]
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None
    assert s.close_reason == 'server disconnect'
    assert resume(s) in ([CLOSE], [NOOP])


# -- WebSocket sessions -----------------------------------------------------------

def test_websocket_session_writes_on_its_websocket():
    s = make(opened=False, transport='websocket')
    s.handle(Open(), 0.0)
    assert s.handle(WebSocketAttached(), 0.0) == (WriteWebSocket(),)
    [write] = s.handle(Flush(), 0.0)
    assert write.packets[0].type is PacketType.OPEN
    assert s.handle(Flush(), 0.0) == ()
    assert send(s, msg('x')) == (WriteWebSocket(),)
    assert s.handle(Flush(), 0.0) == (Write([msg('x')]),)


def test_websocket_ending_closes_the_session():
    s = make(transport='websocket')
    actions = s.handle(TransportEnded('transport close'), 100.0)
    assert actions == (CloseWebSocket(), Closed('transport close'), Forget())
    assert s.handle(TransportEnded('transport close'), 100.0) == ()


# -- upgrade ------------------------------------------------------------------

def test_upgrade_happy_path_with_parked_poll():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    assert poll(s, 0.0) is None
    assert s.handle(UpgradeRequested(), 0.0) == ()
    assert s.handle(WebSocketAttached(), 0.0) == (Schedule(10.0),)
    assert s.upgrading and not s.upgraded
    assert s.deadline == pytest.approx(10.0)
    # The probe is answered and the parked GET is released with one noop.
    assert s.handle(ProbeReceived(PROBE), 0.1) == (
        WriteProbe(PROBE_REPLY), WakePoll(), Upgrading())
    assert resume(s) == [NOOP]
    assert s.upgrading
    # A GET arriving during the upgrade is answered with a noop, not parked.
    assert poll(s) == [NOOP]
    assert not s.poll_waiting
    assert kinds(s.handle(ProbeReceived(UPGRADE), 0.2)) == [Upgraded]
    assert s.upgraded and not s.upgrading
    assert s.transport == 'websocket'
    assert s.upgrade_deadline is None
    assert s.deadline == pytest.approx(25.0)
    # From now on polling requests are refused.
    assert s.handle(PollStarted(), 0.3) == (RefuseRequest(BAD_REQUEST),)


def test_poll_parks_normally_while_probing():
    # Until the client's 2probe arrives it keeps polling as usual.
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    assert poll(s, 0.0) is None
    assert send(s, msg('still polling')) == (WakePoll(),)
    assert resume(s) == [msg('still polling')]


def test_upgrade_releases_a_poll_parked_after_the_probe():
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    s.handle(ProbeReceived(PROBE), 0.0)
    # A GET that raced the probe's noop is answered with a noop at once.
    assert poll(s, 0.0) == [NOOP]


def test_buffered_packets_go_over_the_websocket_after_the_upgrade():
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    send(s, msg('during'))
    s.handle(ProbeReceived(PROBE), 0.0)
    assert poll(s, 0.0) == [NOOP]
    assert kinds(s.handle(ProbeReceived(UPGRADE), 0.0)) == [
        Upgraded, WriteWebSocket]
    assert s.handle(Flush(), 0.0) == (Write([msg('during')]),)


def test_upgrade_timeout_cancels_and_keeps_polling():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    s.handle(WebSocketAttached(), 0.0)
    assert timer(s, 9.99) == ()
    assert timer(s, 10.0) == (DropProbe(),
                              UpgradeCancelled('upgrade timed out'))
    assert not s.upgrading and not s.upgraded
    assert s.transport == 'polling'
    assert s.is_open
    assert s.deadline == pytest.approx(25.0)
    assert poll(s, 10.0) is None         # parks normally again
    resume(s)
    # The old WebSocket's packets are no longer for the upgrade.
    assert s.handle(ProbeReceived(PROBE), 10.5) == (DropProbe(),)
    s.handle(WebSocketAttached(), 11.0)  # may try again
    assert s.upgrading


def test_probe_ending_cancels_the_upgrade():
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    s.handle(ProbeReceived(PROBE), 0.0)
    assert kinds(s.handle(ProbeEnded(), 0.1)) == [UpgradeCancelled]
    assert not s.upgrading
    assert s.transport == 'polling'
    assert s.upgrade_deadline is None
    s.handle(WebSocketAttached(), 1.0)
    assert s.upgrading
    assert s.deadline == pytest.approx(0.3)      # the ping, then 11.0


def test_unexpected_packet_on_the_probe_cancels_the_upgrade():
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    assert kinds(s.handle(ProbeReceived(msg('x')), 0.1)) == [
        DropProbe, UpgradeCancelled]
    assert s.upgrade is Upgrade.NONE
    # A noop on the probe is fine.
    s.handle(WebSocketAttached(), 0.2)
    assert s.handle(ProbeReceived(NOOP), 0.3) == ()
    assert s.upgrading


def test_second_websocket_is_rejected():
    # The one place that decides what happens to a second WebSocket.
    s = make()
    s.handle(WebSocketAttached(), 100.0)
    assert s.handle(WebSocketAttached(), 100.0) == (RejectWebSocket(),)
    ws = make(transport='websocket')
    assert ws.handle(WebSocketAttached(), 100.0) == (RejectWebSocket(),)
    opening = make(opened=False)
    assert opening.handle(WebSocketAttached(), 100.0) == (RejectWebSocket(),)
    closed = make()
    closed.handle(Close(CloseReason.SERVER_DISCONNECT), 100.0)
    assert closed.handle(WebSocketAttached(), 100.0) == (RejectWebSocket(),)
    upgraded = make()
    upgraded.handle(WebSocketAttached(), 100.0)
    upgraded.handle(ProbeReceived(PROBE), 100.0)
    upgraded.handle(ProbeReceived(UPGRADE), 100.0)
    assert upgraded.upgraded
    assert upgraded.handle(WebSocketAttached(), 100.0) == (RejectWebSocket(),)
    assert upgraded.is_open


def test_upgrades_can_be_refused_before_the_101():
    s = make(allow_upgrades=False)
    assert s.handle(UpgradeRequested(), 100.0) == (
        RefuseRequest(BAD_REQUEST, 'Upgrades are not allowed'),)
    assert make(transport='websocket', allow_upgrades=False).handle(
        UpgradeRequested(), 100.0) == ()


def test_close_during_upgrade_drops_the_probe():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    s.handle(WebSocketAttached(), 0.0)
    assert kinds(s.handle(Close(CloseReason.TRANSPORT_CLOSE), 1.0)) == [
        DropProbe, Closed, Forget]
    assert s.upgrade_deadline is None
    assert s.handle(TimerFired(), 10.0) == ()


def _answered_probe(upgrade_timeout: float = 10.0) -> Session:
    """A polling session whose client had its probe answered (it has
    paused polling and is about to send the upgrade packet)."""
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=upgrade_timeout)
    s.handle(WebSocketAttached(), 0.0)
    s.handle(ProbeReceived(PROBE), 0.0)
    assert s.upgrade is Upgrade.UPGRADING
    return s


def test_graceful_close_after_the_probe_keeps_it_for_the_last_packets():
    s = _answered_probe()
    send(s, msg('last words'), 0.5)
    actions = s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True),
                       1.0)
    assert kinds(actions) == [Closed]
    assert s.ready_state is ReadyState.CLOSING and s.upgrading
    # The client's upgrade packet comes on the probe: the WebSocket takes
    # the last packets and the close, and the application hears nothing
    # of an upgrade (it heard of the close).
    assert kinds(s.handle(ProbeReceived(UPGRADE), 1.1)) == [WriteWebSocket]
    assert s.transport == 'websocket'
    assert s.handle(Flush(), 1.1) == (
        Write([msg('last words'), CLOSE]), CloseWebSocket())
    assert s.handle(TransportClosed(), 1.2) == (Forget(),)
    assert s.closed


def test_graceful_close_after_the_probe_gives_up_on_it_at_its_deadline():
    s = _answered_probe(upgrade_timeout=10)
    send(s, msg('last words'), 0.5)
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert s.deadline == pytest.approx(10.0)     # before the close's 31.0
    assert timer(s, 10.0) == (DropProbe(),)
    assert not s.upgrading and s.deadline == pytest.approx(31.0)
    # A GET may still collect them; that ends the session.
    actions = s.handle(PollStarted(), 11.0)
    assert actions == (Forget(), AnswerPoll([msg('last words'), CLOSE]))


def test_graceful_close_after_the_probe_answers_a_get_first():
    # Whichever comes first gets the last packets: here a GET (a client
    # whose probe failed on its side), and the probe is dropped.
    s = _answered_probe()
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert s.handle(PollStarted(), 1.1) == (
        DropProbe(), Forget(), AnswerPoll([CLOSE]))
    assert s.closed and not s.upgrading


def test_graceful_close_after_the_probe_survives_the_probe_ending():
    s = _answered_probe()
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert kinds(s.handle(ProbeEnded(), 1.1)) == [UpgradeCancelled]
    assert s.deadline == pytest.approx(31.0)
    assert s.handle(PollStarted(), 1.2) == (Forget(), AnswerPoll([CLOSE]))


def test_close_deadline_drops_a_probe_kept_for_the_close():
    s = _answered_probe(upgrade_timeout=100)
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 1.0)
    assert timer(s, 31.0) == (DropProbe(), Forget())
    assert s.closed


def test_graceful_close_while_probing_drops_the_probe():
    # No probe answered yet: the client still polls, and a GET gets it all.
    s = make(now=0.0)
    s.handle(WebSocketAttached(), 0.0)
    assert kinds(s.handle(Close(CloseReason.SERVER_DISCONNECT,
                                graceful=True), 0.1)) == [DropProbe, Closed]
    assert not s.upgrading


# -- property: random operation sequences -------------------------------------

OPS = st.lists(st.sampled_from(
    ['advance_small', 'advance_big', 'timer', 'pong', 'poll', 'end_poll',
     'send', 'client_close', 'server_close', 'post', 'end_post']),
    max_size=40)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_random_sequences_keep_invariants(ops):
    now = 0.0
    s = make(now=now, interval=0.3, timeout=0.2)
    pings = 0
    for op in ops:
        if op == 'advance_small':
            now += 0.1
        elif op == 'advance_big':
            now += 1.0
        elif op == 'timer':
            was_open = s.is_open
            before = list(s.buffer)
            actions = s.handle(TimerFired(), now)
            if PingQueued() in actions:
                assert was_open
                assert s.buffer == before + [PING]
                pings += 1
            if any(type(a) is Closed for a in actions):
                assert s.ready_state is ReadyState.CLOSED
                assert s.close_reason == 'ping timeout'
        elif op == 'pong':
            s.handle(PacketReceived(PONG), now)
        elif op == 'poll':
            actions = s.handle(PollStarted(), now)
            if actions[-1] == RefuseRequest(BAD_REQUEST):
                assert s.closed
                # The parked poll is answered: its close packet, or the
                # noop it already had from a client close.
                reply = resume(s, now)
                assert reply in ([CLOSE], [NOOP]) or reply[-1] == CLOSE
            else:
                assert type(actions[-1]) in (AnswerPoll, ParkPoll)
                if type(actions[-1]) is AnswerPoll:
                    assert len(actions[-1].packets) >= 1
        elif op == 'end_poll':
            if s.poll_waiting:
                assert len(resume(s, now)) >= 1
        elif op == 'send':
            queued = send(s, msg('x'), now) != (Dropped(),)
            assert queued is (s.ready_state is ReadyState.OPEN)
        elif op == 'client_close':
            s.handle(PacketReceived(CLOSE), now)
            assert s.closed
        elif op == 'server_close':
            s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), now)
            assert s.closed
        elif op == 'post':
            s.handle(PostStarted(), now)
        elif op == 'end_post':
            s.handle(PostEnded(), now)
        # Invariants after every step.
        if s.delivers_directly:
            assert s.handle(PacketReceived(msg('p')), now) == (Deliver('p'),)
        if s.ready_state is ReadyState.CLOSED:
            assert s.deadline is None
            assert s.handle(TimerFired(), now + 1000) == ()
        elif s.ready_state is ReadyState.OPEN:
            assert s.deadline is not None
        # A timer no later than the deadline is always pending, so no
        # deadline can be missed.
        if s.deadline is not None:
            assert s.timer_at is not None and s.timer_at <= s.deadline
    assert s.buffer.count(PING) <= pings


# -- the fast-lane verdicts agree with handle() -----------------------------------

def test_delivers_directly_only_where_handle_would_only_deliver():
    s = make(opened=False)
    assert not s.delivers_directly                # opening
    s.handle(Open(), 100.0)
    assert s.delivers_directly
    assert receive(s, msg('x'), 100.1) == (Deliver('x'),)
    v3 = make(protocol=3)
    assert not v3.delivers_directly               # messages move a deadline
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 100.2)
    assert not s.delivers_directly
    assert receive(s, msg('late'), 100.3) == ()


def test_writes_directly_only_where_send_now_would_write_just_that():
    s = make(transport='websocket')
    assert s.writes_directly
    assert s.handle(SendNow(msg('a')), 100.0) == (Write([msg('a')]),)
    # Something queued first: the fast lane must not overtake it.
    timer(s, 100.3)
    assert s.buffer == [PING]
    assert not s.writes_directly
    assert s.handle(SendNow(msg('b')), 100.3) == (Write([PING, msg('b')]),)
    assert s.writes_directly
    polling = make()
    assert not polling.writes_directly
    upgrading = make()
    upgrading.handle(WebSocketAttached(), 100.0)
    upgrading.handle(ProbeReceived(PROBE), 100.0)
    assert not upgrading.writes_directly
    upgrading.handle(ProbeReceived(UPGRADE), 100.0)
    assert upgrading.writes_directly
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 101.0)
    assert not s.writes_directly
    assert s.handle(SendNow(msg('c')), 101.0) == (Dropped(),)


# -- a WebSocket whose peer does not read -------------------------------------------

def test_blocked_websocket_queues_until_drained():
    s = make(transport='websocket', interval=0.3, write_timeout=5.0)
    # The ping timer (100.3) is earlier than the write deadline (105.0):
    # no new Schedule is needed.
    assert s.handle(WebSocketBlocked(), 100.0) == ()
    assert s.ws_blocked and not s.writes_directly
    assert s.deadline == 100.3
    # Sends and pings queue; nothing asks for a write.
    assert s.handle(Send(msg('a')), 100.1) == ()
    assert s.handle(SendNow(msg('b')), 100.2) == ()
    actions = s.handle(TimerFired(), 100.3)
    assert PingQueued() in actions and WriteWebSocket() not in actions
    assert s.buffer == [msg('a'), msg('b'), PING]
    # Blocked twice is still one episode with one deadline.
    assert s.handle(WebSocketBlocked(), 100.4) == ()
    assert s.write_deadline == 105.0
    assert s.handle(WebSocketDrained(), 100.5) == (WriteWebSocket(),)
    assert not s.ws_blocked and s.write_deadline is None
    assert s.handle(Flush(), 100.5) == (Write([msg('a'), msg('b'), PING]),)
    assert s.writes_directly
    # Drained with nothing queued: nothing to do.
    s.handle(WebSocketBlocked(), 100.6)
    assert s.handle(WebSocketDrained(), 100.7) == ()
    assert s.handle(WebSocketDrained(), 100.8) == ()


def test_write_deadline_closes_the_session():
    s = make(transport='websocket', interval=25.0, timeout=20.0,
             write_timeout=2.0)
    assert s.handle(WebSocketBlocked(), 100.0) == (Schedule(102.0),)
    assert s.handle(TimerFired(), 101.9) == ()    # early: still pending
    actions = s.handle(TimerFired(), 102.0)
    assert CloseWebSocket() in actions
    assert Closed(CloseReason.TRANSPORT_ERROR, 'write timed out') in actions
    assert s.ready_state is ReadyState.CLOSED


def test_drained_in_time_keeps_the_session():
    s = make(transport='websocket', interval=25.0, timeout=20.0,
             write_timeout=2.0)
    s.handle(WebSocketBlocked(), 100.0)
    s.handle(WebSocketDrained(), 101.0)
    assert s.handle(TimerFired(), 102.0) == (Schedule(125.0),)
    assert s.is_open


def test_blocked_is_ignored_without_a_websocket_and_reset_when_it_closes():
    polling = make()
    assert polling.handle(WebSocketBlocked(), 100.0) == ()
    assert not polling.ws_blocked
    s = make(transport='websocket', write_timeout=2.0)
    s.handle(WebSocketBlocked(), 100.0)
    s.handle(TransportEnded(CloseReason.TRANSPORT_CLOSE), 100.1)
    s.handle(TransportClosed(), 100.2)
    assert not s.ws_blocked and s.write_deadline is None


WS_OPS = st.lists(st.sampled_from(
    ['advance_small', 'advance_big', 'timer', 'pong', 'send', 'send_now',
     'blocked', 'drained', 'flush', 'server_close']), max_size=40)


@settings(max_examples=200, deadline=None)
@given(WS_OPS)
def test_random_websocket_sequences_never_write_while_blocked(ops):
    now = 0.0
    s = make(now=now, transport='websocket', interval=0.3, timeout=0.2,
             write_timeout=0.5)
    for op in ops:
        blocked = s.ws_blocked
        if op == 'advance_small':
            now += 0.1
        elif op == 'advance_big':
            now += 1.0
        elif op == 'timer':
            actions = s.handle(TimerFired(), now)
            if blocked:
                assert WriteWebSocket() not in actions
            if any(type(a) is Closed for a in actions) and \
                    s.close_reason == CloseReason.TRANSPORT_ERROR:
                assert blocked and now >= 0.5
        elif op == 'pong':
            s.handle(PacketReceived(PONG), now)
        elif op in ('send', 'send_now'):
            event = Send(msg('x')) if op == 'send' else SendNow(msg('x'))
            actions = s.handle(event, now)
            if blocked:
                assert all(type(a) not in (WriteWebSocket, Write)
                           for a in actions)
        elif op == 'blocked':
            s.handle(WebSocketBlocked(), now)
        elif op == 'drained':
            actions = s.handle(WebSocketDrained(), now)
            if actions:
                assert actions == (WriteWebSocket(),) and s.buffer
        elif op == 'flush':
            if not s.ws_blocked:
                s.handle(Flush(), now)
        elif op == 'server_close':
            s.handle(Close(CloseReason.SERVER_DISCONNECT), now)
        if s.ws_blocked:
            assert not s.writes_directly
            if s.ready_state is ReadyState.OPEN:
                assert s.write_deadline is not None
                assert s.deadline is not None and \
                    s.deadline <= s.write_deadline
        if s.deadline is not None:
            assert s.timer_at is not None and s.timer_at <= s.deadline


# -- a parked GET whose connection died ---------------------------------------------

def test_abandoned_poll_takes_nothing():
    s = make()
    assert poll(s) is None                          # parked
    assert s.handle(Send(msg('a')), 100.1) == (WakePoll(),)
    assert s.handle(PollAbandoned(), 100.2) == ()
    assert not s.poll_waiting
    assert s.buffer == [msg('a')] and s.sent_count == s.queued_count - 1
    assert poll(s, 100.3) == [msg('a')]             # the next GET gets it
    # Abandoned after a close reserved the close packet for it: the
    # session is over all the same.
    t = make()
    poll(t)
    t.handle(Close(CloseReason.SERVER_DISCONNECT), 100.1)
    assert t.handle(PollAbandoned(), 100.2) == ()
    assert t.ready_state is ReadyState.CLOSED and t.poll_reply is None


def test_an_undelivered_answer_goes_back_to_the_front():
    s = make(max_buffered_bytes=100)
    send(s, msg('a'))
    send(s, msg('b'))
    taken = poll(s, 100.1)
    assert taken == [msg('a'), msg('b')] and s.buffered_bytes == 0
    send(s, msg('c'))                               # sent meanwhile
    assert s.handle(PollUndelivered(taken), 100.2) == ()
    assert s.buffer == [msg('a'), msg('b'), msg('c')]
    assert s.buffered_bytes == 3
    assert s.sent_count == s.queued_count - 3       # none confirmed
    assert poll(s, 100.3) == [msg('a'), msg('b'), msg('c')]
    # A GET parked by now is woken for them.
    send(s, msg('d'))
    taken = poll(s, 100.4)
    assert poll(s, 100.5) is None
    assert s.handle(PollUndelivered(taken), 100.6) == (WakePoll(),)
    assert resume(s, 100.7) == [msg('d')]


def test_an_undelivered_noop_or_last_answer_changes_nothing():
    s = make()
    assert poll(s) is None
    nothing = resume(s)
    assert nothing == [NOOP]
    assert s.handle(PollUndelivered(nothing), 100.1) == ()
    assert s.buffer == []
    # A closed session's last answer: nobody will poll again.
    s.handle(Close(CloseReason.SERVER_DISCONNECT), 100.2)
    taken = poll(s, 100.3)
    assert taken[-1] == CLOSE and s.ready_state is ReadyState.CLOSED
    assert s.handle(PollUndelivered(taken), 100.4) == ()
    assert s.buffer == []


def test_an_undelivered_answer_after_the_websocket_attached_closes():
    # The WebSocket may have carried newer packets: requeued ones would
    # arrive out of order, so the session ends instead.
    s = make(now=0.0)
    send(s, msg('a'))
    taken = poll(s, 0.1)
    s.handle(UpgradeRequested(), 0.2)
    s.handle(WebSocketAttached(), 0.2)
    s.handle(ProbeReceived(PROBE), 0.2)
    s.handle(ProbeReceived(UPGRADE), 0.2)
    assert s.websocket_attached
    actions = s.handle(PollUndelivered(taken), 0.3)
    assert any(type(a) is Closed and a.reason == CloseReason.TRANSPORT_ERROR
               for a in actions), actions
    assert s.ready_state is ReadyState.CLOSED


# -- clients that refuse big payloads ----------------------------------------------

def test_poll_limit_spreads_a_burst_over_several_gets():
    s = make(poll_limit=16)
    for i in range(40):
        s.handle(Send(msg(f'm{i}')), 100.0)
    got = []
    for _ in range(3):
        answer = poll(s)
        assert len(answer) <= 16
        got += answer
    assert got == [msg(f'm{i}') for i in range(40)]
    assert s.sent_count == s.queued_count
    # A graceful close still ends once its close packet went out.
    for i in range(20):
        s.handle(Send(msg('x')), 100.1)
    s.handle(Close(CloseReason.SERVER_DISCONNECT, graceful=True), 100.1)
    assert poll(s, 100.2)[-1] != CLOSE
    assert s.ready_state is ReadyState.CLOSING
    assert poll(s, 100.3)[-1] == CLOSE
    assert s.ready_state is ReadyState.CLOSED


def test_poll_limit_for_python_clients_only():
    from engineio_sync.core.handshake import poll_limit_for
    assert poll_limit_for('python-requests/2.32.3') == 16
    assert poll_limit_for('Python/3.11 aiohttp/3.10.5') == 16
    assert poll_limit_for('Mozilla/5.0 (X11; Linux x86_64) Chrome/130') is None
    assert poll_limit_for('node') is None and poll_limit_for(None) is None


# -- a bounded queue per session -----------------------------------------------------

def test_buffered_bytes_follow_the_queue():
    s = make(poll_limit=2)
    for text in ('aaa', 'bb', 'c', 'dddd'):
        s.handle(Send(msg(text)), 100.0)
    assert s.buffered_bytes == 10
    assert poll(s) == [msg('aaa'), msg('bb')]
    assert s.buffered_bytes == 5
    assert poll(s) == [msg('c'), msg('dddd')]
    assert s.buffered_bytes == 0


def test_full_buffer_closes_the_session_by_default():
    s = make(max_buffered_bytes=10)
    assert s.handle(Send(msg('a' * 6)), 100.0) == ()
    actions = s.handle(Send(msg('b' * 6)), 100.1)
    assert actions[-1] == Dropped()
    assert Closed(CloseReason.TRANSPORT_ERROR, 'send buffer full') in actions
    assert s.ready_state is ReadyState.CLOSED and s.buffered_bytes == 0


def test_full_buffer_fails_the_send_with_the_fail_policy():
    from engineio_sync.exceptions import SendBufferFull
    s = make(max_buffered_bytes=10, on_buffer_full='fail')
    s.handle(Send(msg('a' * 6)), 100.0)
    with pytest.raises(SendBufferFull):
        s.handle(Send(msg('b' * 6)), 100.1)
    assert s.is_open and s.buffer == [msg('a' * 6)]
    assert poll(s) == [msg('a' * 6)]
    # Drained: it fits again. One message bigger than the limit is let
    # through when nothing is queued, or it could never be sent.
    assert s.handle(Send(msg('b' * 6)), 100.2) == ()
    t = make(max_buffered_bytes=10, on_buffer_full='fail')
    assert t.handle(Send(msg('x' * 50)), 100.0) == ()

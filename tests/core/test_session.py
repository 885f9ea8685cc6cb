"""Tests for engineio_sync.core.session: the Sans-IO per-session state machine.

Everything runs on a fake clock: ``now`` is passed explicitly, nothing sleeps.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.core.session import (CloseReason, PollConflict, ReadyState,
                                        Received, Session, UpgradeRefused)

PING = Packet(PacketType.PING)
PONG = Packet(PacketType.PONG)
CLOSE = Packet(PacketType.CLOSE)
NOOP = Packet(PacketType.NOOP)


def msg(text: str) -> Packet:
    return Packet(PacketType.MESSAGE, text)


def make(*, now: float = 100.0, protocol: int = 4, interval: float = 0.3,
         timeout: float = 0.2, upgrade_timeout: float = 10.0,
         close_timeout: float = 30.0, transport: str = 'polling',
         opened: bool = True) -> Session:
    session = Session('sid123', transport=transport, now=now,
                      protocol=protocol, ping_interval=interval,
                      ping_timeout=timeout, upgrade_timeout=upgrade_timeout,
                      close_timeout=close_timeout)
    if opened:
        session.open()
    return session


# -- life cycle ---------------------------------------------------------------

def test_new_session_is_opening_until_open():
    s = make(opened=False)
    assert s.ready_state is ReadyState.OPENING
    assert not s.is_open and not s.closed
    s.open()
    assert s.ready_state is ReadyState.OPEN
    assert s.is_open and not s.closed
    assert s.buffer == []


def test_message_is_delivered_only_when_open():
    s = make()
    assert s.receive(msg('hi'), 100.1) is Received.DELIVER
    s.close(CloseReason.SERVER_DISCONNECT)
    assert s.receive(msg('late'), 100.2) is Received.NOTHING


def test_close_twice_keeps_first_reason():
    s = make()
    assert s.close(CloseReason.PING_TIMEOUT) is True
    assert s.close(CloseReason.CLIENT_DISCONNECT) is False
    assert s.close_reason == 'ping timeout'
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None


def test_send_after_close_is_refused():
    s = make()
    assert s.send(msg('a')) is True
    s.close(CloseReason.SERVER_DISCONNECT)
    assert s.send(msg('b')) is False
    assert s.buffer == []


def test_queued_and_sent_counts():
    s = make()
    s.send(msg('a'))
    s.send(msg('b'))
    assert (s.queued_count, s.sent_count) == (2, 0)
    assert s.poll() == [msg('a'), msg('b')]
    assert (s.queued_count, s.sent_count) == (2, 2)


# -- v4 heartbeat -------------------------------------------------------------

def test_v4_first_ping_is_due_at_ping_interval():
    s = make(now=100.0, interval=0.3, timeout=0.2)
    assert s.deadline == pytest.approx(100.3)
    assert s.on_timer(100.29) is None
    assert s.buffer == []
    assert s.on_timer(100.3) == 'ping'
    assert s.buffer == [PING]
    # Now waiting for the pong.
    assert s.deadline == pytest.approx(100.5)
    assert s.is_open


def test_v4_no_pong_within_ping_timeout_closes_with_ping_timeout():
    s = make(now=100.0, interval=0.3, timeout=0.2)
    assert s.on_timer(100.3) == 'ping'
    assert s.on_timer(100.49) is None
    assert s.is_open
    assert s.on_timer(100.5) == 'timeout'
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.PING_TIMEOUT == 'ping timeout'
    assert s.deadline is None
    assert s.on_timer(200.0) is None


def test_v4_pong_resets_the_heartbeat_across_many_intervals():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    now = 0.0
    for _ in range(20):
        now = s.deadline
        assert s.on_timer(now) == 'ping'
        assert s.take_buffer() == [PING]
        now += 0.15                      # pong arrives inside ping_timeout
        assert s.receive(PONG, now) is Received.NOTHING
        # The old pong deadline passes harmlessly.
        assert s.on_timer(now + 0.1) is None
        assert s.deadline == pytest.approx(now + 0.3)
        assert s.is_open
    assert s.ready_state is ReadyState.OPEN


def test_v4_timer_does_nothing_after_close():
    s = make(now=0.0)
    s.close(CloseReason.SERVER_DISCONNECT)
    assert s.on_timer(10.0) is None
    assert s.buffer == []


def test_v4_ping_timeout_answers_parked_poll_with_close():
    s = make(now=0.0, interval=0.3, timeout=0.2)
    assert s.poll() is None
    assert s.on_timer(0.3) == 'ping'
    assert s.poll_ready
    assert s.end_poll() == [PING]
    assert s.poll() is None              # parks again, no pong is coming
    assert not s.poll_ready
    assert s.on_timer(0.5) == 'timeout'
    assert s.poll_ready
    assert s.end_poll() == [CLOSE]
    assert not s.poll_waiting


def test_v4_client_ping_is_invalid():
    s = make()
    assert s.receive(PING, 100.1) is Received.INVALID
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR


# -- v3 heartbeat -------------------------------------------------------------

def test_v3_server_never_pings():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert s.on_timer(0.3) is None
    assert s.buffer == []
    assert s.is_open


def test_v3_client_ping_queues_pong():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert s.receive(PING, 0.1) is Received.FLUSH
    assert s.buffer == [PONG]
    assert s.receive(Packet(PacketType.PING, 'probe'), 0.2) is Received.FLUSH
    assert s.buffer == [PONG, Packet(PacketType.PONG, 'probe')]


def test_v3_silence_times_out_and_client_pings_keep_it_alive():
    s = make(now=0.0, protocol=3, interval=0.3, timeout=0.2)
    assert s.deadline == pytest.approx(0.5)
    now = 0.0
    for _ in range(10):
        now += 0.4                       # inside interval + timeout
        assert s.on_timer(now) is None
        assert s.receive(PING, now) is Received.FLUSH
    assert s.is_open
    assert s.on_timer(now + 0.49) is None
    assert s.on_timer(now + 0.5) == 'timeout'
    assert s.close_reason == 'ping timeout'


def test_v3_client_pong_is_invalid():
    s = make(protocol=3)
    assert s.receive(PONG, 100.1) is Received.INVALID
    assert s.ready_state is ReadyState.CLOSED


# -- other packets from the client --------------------------------------------

@pytest.mark.parametrize('packet', [
    Packet(PacketType.OPEN),
    Packet(PacketType.OPEN, '{"sid":"x"}'),
    Packet(PacketType.UPGRADE),
])
def test_invalid_packet_types_close_the_session(packet):
    s = make()
    assert s.poll() is None
    assert s.receive(packet, 100.1) is Received.INVALID
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR
    assert s.end_poll() == [CLOSE]


def test_noop_from_client_is_ignored():
    s = make()
    assert s.receive(NOOP, 100.1) is Received.NOTHING
    assert s.is_open


def test_client_close_releases_parked_poll_with_noop():
    s = make()
    s.send(msg('dropped'))
    assert s.take_buffer() == [msg('dropped')]
    assert s.poll() is None
    assert s.receive(CLOSE, 100.1) is Received.CLOSED
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.CLIENT_DISCONNECT == \
        'client disconnect'
    assert s.poll_ready
    assert s.end_poll() == [NOOP]


def test_client_close_without_parked_poll():
    s = make()
    assert s.receive(CLOSE, 100.1) is Received.CLOSED
    assert s.close_reason == 'client disconnect'
    assert s.poll() == [CLOSE]


# -- long-polling -------------------------------------------------------------

def test_poll_answers_at_once_with_queued_packets_in_order():
    s = make()
    for i in range(5):
        assert s.send(msg(f'm{i}'))
    assert s.poll() == [msg(f'm{i}') for i in range(5)]
    assert not s.poll_waiting
    assert s.buffer == []


def test_poll_parks_until_a_packet_is_queued():
    s = make()
    assert s.poll() is None
    assert s.poll_waiting
    assert not s.poll_ready
    s.send(msg('hello'))
    assert s.poll_ready
    assert s.end_poll() == [msg('hello')]
    assert not s.poll_waiting
    assert not s.poll_ready


def test_parked_poll_woken_without_packets_gets_noop():
    s = make()
    assert s.poll() is None
    assert s.end_poll() == [NOOP]
    assert s.is_open


def test_second_poll_conflicts_and_parked_poll_gets_close():
    s = make()
    assert s.poll() is None
    with pytest.raises(PollConflict):
        s.poll()
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_ERROR == 'transport error'
    assert s.poll_ready
    assert s.end_poll() == [CLOSE]


def test_poll_on_closed_session_gets_close():
    s = make()
    s.close(CloseReason.PING_TIMEOUT)
    assert s.poll() == [CLOSE]


def test_overlapping_posts_conflict():
    s = make()
    s.begin_post()
    s.end_post()
    s.begin_post()
    with pytest.raises(PollConflict):
        s.begin_post()
    assert s.ready_state is ReadyState.CLOSED
    assert s.close_reason == 'transport error'


def test_overlapping_post_releases_parked_poll_with_close():
    s = make()
    assert s.poll() is None
    s.begin_post()
    with pytest.raises(PollConflict):
        s.begin_post()
    assert s.end_poll() == [CLOSE]


# -- graceful server close ----------------------------------------------------

def test_graceful_close_sends_buffer_then_close_then_is_closed():
    s = make(now=0.0)
    s.send(msg('a'))
    s.send(msg('b'))
    assert s.close(CloseReason.SERVER_DISCONNECT, now=1.0, graceful=True)
    assert s.ready_state is ReadyState.CLOSING
    assert s.closed and not s.is_open
    assert s.close_reason == 'server disconnect'
    assert s.send(msg('c')) is False
    assert s.poll() == [msg('a'), msg('b'), CLOSE]
    assert s.ready_state is ReadyState.CLOSED
    assert s.poll() == [CLOSE]


def test_graceful_close_answers_parked_poll():
    s = make(now=0.0)
    assert s.poll() is None
    s.close(CloseReason.SERVER_DISCONNECT, now=1.0, graceful=True)
    assert s.ready_state is ReadyState.CLOSING
    assert s.poll_ready
    assert s.end_poll() == [CLOSE]
    assert s.ready_state is ReadyState.CLOSED


def test_graceful_close_stops_heartbeat_and_times_out():
    s = make(now=0.0, interval=0.3, timeout=0.2, close_timeout=5.0)
    s.close(CloseReason.SERVER_DISCONNECT, now=1.0, graceful=True)
    assert s.deadline == pytest.approx(6.0)
    assert s.on_timer(5.9) is None
    assert s.buffer == [CLOSE]           # no ping was added
    assert s.on_timer(6.0) == 'close_timeout'
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None


def test_non_graceful_close_drops_buffer():
    s = make()
    s.send(msg('a'))
    s.close(CloseReason.SERVER_SHUTDOWN)
    assert s.poll() == [CLOSE]


def test_client_close_during_graceful_close_ends_the_session():
    # The client's close packet arrives while the server's own close is
    # still waiting for a poll: the client is gone, so the session is over
    # now (not CLOSING until close_timeout).
    s = make(now=0.0, close_timeout=30.0)
    assert s.poll() is None
    s.close(CloseReason.SERVER_DISCONNECT, now=1.0, graceful=True)
    assert s.receive(CLOSE, 1.1) is Received.CLOSED
    assert s.ready_state is ReadyState.CLOSED
    assert s.deadline is None
    assert s.close_reason == 'server disconnect'
    assert s.end_poll() in ([CLOSE], [NOOP])


# -- upgrade ------------------------------------------------------------------

def test_upgrade_happy_path_with_parked_poll():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    assert s.poll() is None
    s.begin_upgrade(0.0)
    assert s.upgrading and not s.upgraded
    assert not s.can_write_websocket
    assert s.deadline == pytest.approx(10.0)
    reply = s.on_probe()
    assert reply == Packet(PacketType.PONG, 'probe')
    # The parked GET is released with exactly one noop.
    assert s.poll_ready
    assert s.end_poll() == [NOOP]
    assert s.upgrading
    # A GET arriving during the upgrade is answered with a noop, not parked.
    assert s.poll() == [NOOP]
    assert not s.poll_waiting
    s.complete_upgrade()
    assert s.upgraded and not s.upgrading
    assert s.transport == 'websocket'
    assert s.can_write_websocket
    assert s.upgrade_deadline is None
    assert s.deadline == pytest.approx(25.0)


def test_poll_parks_normally_while_probing():
    # Until the client's 2probe arrives it keeps polling as usual.
    s = make(now=0.0)
    s.begin_upgrade(0.0)
    assert s.poll() is None
    s.send(msg('still polling'))
    assert s.end_poll() == [msg('still polling')]


def test_complete_upgrade_releases_a_parked_poll():
    s = make(now=0.0)
    s.begin_upgrade(0.0)
    assert s.on_probe() == Packet(PacketType.PONG, 'probe')
    # A poll parked after the probe (e.g. racing) is released by the 5.
    s.poll_waiting = True
    s.poll_reply = None
    s.complete_upgrade()
    assert s.end_poll() == [NOOP]


def test_buffered_packets_wait_during_upgrade():
    s = make(now=0.0)
    s.begin_upgrade(0.0)
    s.send(msg('during'))
    s.on_probe()
    assert s.poll() == [NOOP]
    s.complete_upgrade()
    assert s.take_buffer() == [msg('during')]


def test_upgrade_timeout_cancels_and_keeps_polling():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    s.begin_upgrade(0.0)
    assert s.on_timer(9.99) is None
    assert s.on_timer(10.0) == 'upgrade_timeout'
    assert not s.upgrading and not s.upgraded
    assert s.transport == 'polling'
    assert s.is_open
    assert s.deadline == pytest.approx(25.0)
    assert s.poll() is None              # parks normally again
    s.end_poll()
    s.begin_upgrade(11.0)                # may try again
    assert s.upgrading


def test_cancel_upgrade():
    s = make(now=0.0)
    s.begin_upgrade(0.0)
    s.on_probe()
    s.cancel_upgrade()
    assert not s.upgrading
    assert s.transport == 'polling'
    assert s.upgrade_deadline is None
    s.begin_upgrade(1.0)
    assert s.upgrading


def test_upgrade_refused_when_not_possible():
    s = make()
    s.begin_upgrade(100.0)
    with pytest.raises(UpgradeRefused):
        s.begin_upgrade(100.0)           # already upgrading
    ws = make(transport='websocket')
    with pytest.raises(UpgradeRefused):
        ws.begin_upgrade(100.0)
    opening = make(opened=False)
    with pytest.raises(UpgradeRefused):
        opening.begin_upgrade(100.0)
    closed = make()
    closed.close(CloseReason.SERVER_DISCONNECT)
    with pytest.raises(UpgradeRefused):
        closed.begin_upgrade(100.0)
    upgraded = make()
    upgraded.begin_upgrade(100.0)
    upgraded.on_probe()
    upgraded.complete_upgrade()
    with pytest.raises(UpgradeRefused):
        upgraded.begin_upgrade(100.0)


def test_close_during_upgrade_clears_upgrade_deadline():
    s = make(now=0.0, interval=25, timeout=20, upgrade_timeout=10)
    s.begin_upgrade(0.0)
    s.close(CloseReason.TRANSPORT_CLOSE)
    assert s.upgrade_deadline is None
    assert s.on_timer(10.0) is None


# -- property: random operation sequences -------------------------------------

OPS = st.lists(st.sampled_from(
    ['advance_small', 'advance_big', 'timer', 'pong', 'poll', 'end_poll',
     'send', 'client_close', 'server_close']), max_size=40)


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
            action = s.on_timer(now)
            assert action in (None, 'ping', 'timeout', 'close_timeout')
            if action == 'ping':
                assert was_open
                assert s.buffer == before + [PING]
                pings += 1
            if action == 'timeout':
                assert s.ready_state is ReadyState.CLOSED
                assert s.close_reason == 'ping timeout'
        elif op == 'pong':
            s.receive(PONG, now)
        elif op == 'poll':
            try:
                result = s.poll()
            except PollConflict:
                assert s.closed
                # The parked poll is answered: its close packet, or the
                # noop it already had from a client close.
                reply = s.end_poll()
                assert reply in ([CLOSE], [NOOP]) or reply[-1] == CLOSE
            else:
                assert result is None or len(result) >= 1
        elif op == 'end_poll':
            if s.poll_waiting:
                assert len(s.end_poll()) >= 1
        elif op == 'send':
            assert s.send(msg('x')) is (s.ready_state is ReadyState.OPEN)
        elif op == 'client_close':
            s.receive(CLOSE, now)
            assert s.closed
        elif op == 'server_close':
            s.close(CloseReason.SERVER_DISCONNECT, now=now, graceful=True)
            assert s.closed
        # Invariants after every step.
        if s.ready_state is ReadyState.CLOSED:
            assert s.deadline is None
            assert s.on_timer(now + 1000) is None
        elif s.ready_state is ReadyState.OPEN:
            assert s.deadline is not None
    assert s.buffer.count(PING) <= pings

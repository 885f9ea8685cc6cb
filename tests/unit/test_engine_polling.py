"""The session engine's long-polling port, in process: GETs answered,
parked and woken, abandoned or not delivered; POSTs begun, received and
ended. Fake driver and clock: nothing here waits or opens a socket."""

from __future__ import annotations

import pytest

from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.engine import RECEIVE_SLICE
from engineio_sync.exceptions import RemoteProtocolError

from enginekit import make_engine, message, outcome, types


def test_the_handshake_answer_is_the_open_packet():
    h = make_engine(ping_interval_ms=300, ping_timeout_ms=200)
    opened = h.take_open()
    assert '"sid":"unit-sid"' in opened.data
    assert '"pingInterval":300' in opened.data
    assert h.driver.waits == 0


def test_a_get_with_packets_queued_is_answered_at_once():
    h = make_engine()
    h.take_open()
    assert h.engine.send(message('a')) and h.engine.send(message('b'))
    assert outcome(h.engine.poll) == [message('a'), message('b')]
    assert h.driver.waits == 0
    assert not h.session.poll_waiting


def test_a_parked_get_is_woken_by_a_send():
    h = make_engine()
    h.take_open()
    seen = []

    def while_parked():
        seen.append(h.session.poll_waiting)
        h.engine.send(message('hello'))
    h.driver.meanwhile(while_parked)
    assert outcome(h.engine.poll) == [message('hello')]
    assert seen == [True]
    assert h.driver.timeouts == 0, 'the send did not wake the GET'
    assert not h.session.poll_waiting


def test_a_parked_get_is_answered_by_the_ping():
    h = make_engine(ping_interval=25.0, ping_timeout=20.0)
    h.take_open()
    h.driver.meanwhile(lambda: h.advance(25.0))
    assert types(outcome(h.engine.poll)) == [PacketType.PING]
    assert h.driver.timeouts == 0


def test_a_parked_get_that_times_out_gets_a_noop():
    h = make_engine()
    h.take_open()
    # Nothing happens meanwhile: the wait gives up at the poll timeout.
    started = h.clock.now
    assert types(outcome(h.engine.poll)) == [PacketType.NOOP]
    assert h.driver.timeouts == 1
    assert h.clock.now - started == h.session.settings.poll_timeout


def test_an_abandoned_get_takes_nothing_and_loses_nothing():
    h = make_engine()
    h.take_open()
    confirmed = []
    h.driver.meanwhile(lambda: h.engine.send(
        message('kept'), callback=lambda: confirmed.append(True)))
    assert h.engine.poll(lambda: False) is None
    assert not h.session.poll_waiting
    assert confirmed == []
    packets = outcome(h.engine.poll)
    assert packets == [message('kept')]
    h.engine.poll_answered(packets, True)
    assert confirmed == [True]


def test_an_answer_that_was_not_written_goes_back_to_the_front():
    h = make_engine()
    h.take_open()
    confirmed = []
    h.engine.send(message('1'), callback=lambda: confirmed.append('1'))
    first = outcome(h.engine.poll)
    h.engine.send(message('2'))
    h.engine.poll_answered(first, False)
    assert confirmed == []
    again = outcome(h.engine.poll)
    assert again == [message('1'), message('2')]
    h.engine.poll_answered(again, True)
    assert confirmed == ['1']


def test_a_second_get_while_one_is_parked_ends_the_session():
    h = make_engine()
    h.take_open()
    second = []
    h.driver.meanwhile(lambda: second.append(outcome(h.engine.poll)))
    assert types(outcome(h.engine.poll)) == [PacketType.CLOSE]
    assert h.driver.timeouts == 0
    assert isinstance(second[0], RemoteProtocolError)
    assert second[0].code == 3      # bad request
    assert h.closed == ['transport error']
    assert h.forgotten


def test_a_get_on_a_websocket_session_is_refused():
    h = make_engine(transport='websocket')
    refusal = outcome(h.engine.poll)
    assert isinstance(refusal, RemoteProtocolError), refusal


def test_the_poll_limit_splits_what_is_queued():
    h = make_engine(poll_limit=2)
    h.take_open()
    for text in 'abcde':
        h.engine.send(message(text))
    got = []
    for _ in range(3):
        packets = outcome(h.engine.poll)
        h.engine.poll_answered(packets, True)
        got.append([p.data for p in packets])
    assert got == [['a', 'b'], ['c', 'd'], ['e']]


# -- POST ---------------------------------------------------------------------

def test_a_post_delivers_its_messages_in_order():
    h = make_engine()
    h.take_open()
    assert outcome(h.engine.begin_post) is None
    assert h.session.post_active
    h.engine.receive([message('one'), message(b'\x01'), message('three')])
    h.engine.end_post()
    assert not h.session.post_active
    assert h.delivered == ['one', b'\x01', 'three']


def test_overlapping_posts_end_the_session():
    h = make_engine()
    h.take_open()
    assert outcome(h.engine.begin_post) is None
    refusal = outcome(h.engine.begin_post)
    assert isinstance(refusal, RemoteProtocolError), refusal
    assert h.closed == ['transport error']


def test_a_close_packet_releases_the_parked_get_with_a_noop():
    h = make_engine()
    h.take_open()

    def client_closes():
        assert outcome(h.engine.begin_post) is None
        h.engine.receive([Packet(PacketType.CLOSE)])
        h.engine.end_post()
    h.driver.meanwhile(client_closes)
    assert types(outcome(h.engine.poll)) == [PacketType.NOOP]
    assert h.driver.timeouts == 0
    assert h.closed == ['client disconnect']
    assert h.forgotten


def test_packets_after_a_close_are_not_delivered():
    h = make_engine()
    h.take_open()
    h.engine.receive([message('before'), Packet(PacketType.CLOSE),
                      message('after')])
    assert h.delivered == ['before']


def test_unreadable_input_ends_the_session():
    h = make_engine()
    h.take_open()
    h.engine.invalid_input('parse error: nonsense')
    assert h.closed == ['transport error']
    assert h.session.close_description == 'parse error: nonsense'


def test_a_huge_post_yields_to_other_tasks_as_it_goes():
    h = make_engine()
    h.take_open()
    h.engine.receive(message(str(i)) for i in range(RECEIVE_SLICE * 3 + 1))
    assert len(h.delivered) == RECEIVE_SLICE * 3 + 1
    assert h.driver.yields == 3


@pytest.mark.parametrize('handled', [True, False])
def test_the_intake_sees_the_packets_first(handled):
    h = make_engine()
    h.take_open()
    held = []

    def intake(packets):
        held.extend(packets)
        return handled
    h.engine.set_intake(intake)
    h.engine.receive(iter([message('x')]))
    assert held == [message('x')]
    assert h.delivered == ([] if handled else ['x'])


# -- GETs parked without a task (park_poll) ----------------------------------


def test_park_poll_answers_at_once_when_packets_wait():
    h = make_engine()
    h.take_open()
    h.engine.send(message('a'))
    woken = []
    assert h.engine.park_poll(lambda: woken.append(1)) == [message('a')]
    assert not woken and not h.session.poll_waiting


def test_park_poll_parks_and_a_send_calls_resume_once():
    h = make_engine(ping_interval=25.0, ping_timeout=20.0)
    h.take_open()
    woken = []
    timeout = h.engine.park_poll(lambda: woken.append(1))
    assert timeout == h.session.settings.poll_timeout
    assert h.session.poll_waiting and h.driver.waits == 0
    h.engine.send(message('x'))
    h.engine.send(message('y'))
    assert woken == [1], 'resume() runs once, at the first send'
    assert h.engine.resume_poll() == [message('x'), message('y')]
    assert not h.session.poll_waiting


def test_a_parked_get_resumed_at_its_timeout_gets_a_noop():
    h = make_engine()
    h.take_open()
    assert isinstance(h.engine.park_poll(lambda: None), float)
    assert types(h.engine.resume_poll()) == [PacketType.NOOP]


def test_an_abandoned_parked_get_leaves_the_packets_for_the_next():
    h = make_engine()
    h.take_open()
    woken = []
    h.engine.park_poll(lambda: woken.append(1))
    h.engine.abandon_poll()
    h.engine.send(message('kept'))
    assert woken == [], 'an abandoned GET is not woken'
    assert h.engine.park_poll(lambda: None) == [message('kept')]


def test_a_second_parked_get_is_refused_and_the_first_woken_with_close():
    h = make_engine()
    h.take_open()
    woken = []
    h.engine.park_poll(lambda: woken.append(1))
    with pytest.raises(RemoteProtocolError):
        h.engine.park_poll(lambda: None)
    assert woken == [1]
    assert types(h.engine.resume_poll()) == [PacketType.CLOSE]

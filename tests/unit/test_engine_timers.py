"""The session engine's timers on a fake clock: the ping, the ping
timeout, the upgrade timeout, and close_timeout; and closing a polling
session, gracefully or not."""

from __future__ import annotations

from engineio_sync.core.packets import Packet, PacketType

from enginekit import make_engine, message, outcome, types

PONG = Packet(PacketType.PONG)


def test_the_server_pings_every_ping_interval():
    h = make_engine(ping_interval=25.0, ping_timeout=20.0)
    h.take_open()
    heartbeats = []
    h.socket.on('heartbeat', lambda: heartbeats.append(h.clock.now))
    started = h.clock.now
    h.advance(24.9)
    assert h.session.buffer == []
    h.advance(0.1)
    assert types(h.session.buffer) == [PacketType.PING]
    assert heartbeats == [started + 25.0]
    # The pong moves the next ping a whole interval after it.
    h.advance(5.0)
    h.engine.receive([PONG])
    h.engine.poll_answered(outcome(h.engine.poll), True)
    h.advance(24.9)
    assert h.session.buffer == []
    h.advance(0.1)
    assert types(h.session.buffer) == [PacketType.PING]
    assert h.closed == []


def test_no_pong_within_the_ping_timeout_closes_the_session():
    h = make_engine(ping_interval=25.0, ping_timeout=20.0)
    h.take_open()
    h.advance(25.0)
    h.advance(19.9)
    assert h.closed == []
    h.advance(0.1)
    assert h.closed == ['ping timeout']
    assert h.forgotten


def test_a_parked_get_learns_of_the_ping_timeout():
    h = make_engine(ping_interval=1.0, ping_timeout=1.0)
    h.take_open()
    h.advance(1.0)
    h.engine.poll_answered(outcome(h.engine.poll), True)   # the ping
    h.driver.meanwhile(lambda: h.advance(1.0))
    assert types(outcome(h.engine.poll)) == [PacketType.CLOSE]
    assert h.closed == ['ping timeout'] and h.driver.timeouts == 0


def test_protocol_3_watches_for_the_clients_pings():
    h = make_engine(protocol=3, ping_interval=25.0, ping_timeout=20.0)
    h.take_open()
    h.advance(40.0)
    h.engine.receive([Packet(PacketType.PING, 'probe')])
    assert h.session.buffer == [Packet(PacketType.PONG, 'probe')]
    # Silence for interval + timeout after the last ping ends it.
    h.advance(44.9)
    assert h.closed == []
    h.advance(0.1)
    assert h.closed == ['ping timeout']


def test_an_upgrade_that_never_completes_times_out():
    h = make_engine(upgrade_timeout=10.0)
    h.take_open()
    sink, sock = h.websocket()
    assert h.engine.attach_websocket(sink) == 'probe'
    h.advance(9.9)
    assert h.session.upgrading
    h.advance(0.1)
    assert not h.session.upgrading
    assert h.session.transport == 'polling' and h.closed == []
    # The probe is closed; the session goes on polling.
    sink.done.set()
    h.driver.run_tasks()
    assert sock.shut
    h.engine.send(message('still here'))
    assert outcome(h.engine.poll) == [message('still here')]


def test_a_graceful_close_hands_the_queue_and_the_close_packet_to_a_get():
    h = make_engine()
    h.take_open()
    h.engine.send(message('bye'))
    h.engine.close('server disconnect', graceful=True)
    assert h.closed == ['server disconnect'] and not h.forgotten
    assert not h.engine.send(message('refused after the close'))
    packets = outcome(h.engine.poll)
    assert packets == [message('bye'), Packet(PacketType.CLOSE)]
    assert h.forgotten


def test_a_graceful_close_gives_up_after_close_timeout():
    h = make_engine(close_timeout=30.0)
    h.take_open()
    h.engine.close('server disconnect', graceful=True)
    h.advance(29.9)
    assert not h.forgotten
    h.advance(0.1)
    assert h.forgotten


def test_an_abrupt_close_answers_the_parked_get_with_the_close_packet():
    h = make_engine()
    h.take_open()
    h.driver.meanwhile(lambda: h.engine.close('server disconnect'))
    assert types(outcome(h.engine.poll)) == [PacketType.CLOSE]
    assert h.closed == ['server disconnect'] and h.forgotten
    assert h.driver.timeouts == 0


def test_a_refused_session_ends_without_telling_the_application():
    h = make_engine()
    closes = []
    h.socket.on('close', lambda reason, description: closes.append(reason))
    h.engine.refuse()
    assert h.closed == [] and closes == []
    assert h.forgotten
    assert types(outcome(h.engine.poll)) == [PacketType.CLOSE]

"""The session engine's WebSocket port, in process: the upgrade (probe,
attach, upgraded, a rejected extra WebSocket), writes and backpressure
(a socket that takes nothing: websocket_blocked, the drain task), and
closing. The sinks are the transport's own, over fake sockets."""

from __future__ import annotations

import pytest

from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.exceptions import RemoteProtocolError, SendBufferFull

from enginekit import make_engine, message, outcome, server_texts, types

PROBE = Packet(PacketType.PING, 'probe')
UPGRADE = Packet(PacketType.UPGRADE)


def upgraded(h):
    """Upgrade ``h``'s polling session; its sink and socket."""
    h.take_open()
    assert outcome(h.engine.request_upgrade) is None
    sink, sock = h.websocket()
    assert h.engine.attach_websocket(sink) == 'probe'
    assert h.engine.websocket_packet(sink, PROBE)
    assert h.engine.websocket_packet(sink, UPGRADE)
    return sink, sock


# -- the upgrade --------------------------------------------------------------

def test_probe_then_upgrade_moves_the_session_to_the_websocket():
    h = make_engine()
    h.take_open()
    events = []
    h.socket.on('upgrading', lambda t: events.append(('upgrading', t)))
    h.socket.on('upgrade', lambda t: events.append(('upgrade', t)))
    assert outcome(h.engine.request_upgrade) is None
    sink, sock = h.websocket()
    assert h.engine.attach_websocket(sink) == 'probe'
    assert h.session.upgrading and h.session.transport == 'polling'
    # The probe is answered on the probe; a parked GET gets one noop.
    noop = []

    def probe_meanwhile():
        assert h.engine.websocket_packet(sink, PROBE)
        noop.append(True)
    h.driver.meanwhile(probe_meanwhile)
    assert types(outcome(h.engine.poll)) == [PacketType.NOOP]
    assert noop == [True] and h.driver.timeouts == 0
    assert server_texts(sock) == ['3probe']
    # Sent during the upgrade: queued until it completes.
    h.engine.send(message('queued'))
    assert server_texts(sock) == ['3probe']
    assert h.engine.websocket_packet(sink, UPGRADE)
    assert h.session.transport == 'websocket' and h.session.upgraded
    assert server_texts(sock) == ['3probe', '4queued']
    assert events == [('upgrading', 'websocket'), ('upgrade', 'websocket')]
    # Messages on the WebSocket reach the application.
    assert h.engine.websocket_packet(sink, message('up'))
    assert h.delivered == ['up']


def test_an_extra_websocket_after_the_upgrade_is_rejected():
    h = make_engine()
    upgraded(h)
    extra, _ = h.websocket()
    assert h.engine.attach_websocket(extra) == 'rejected'
    assert h.session.transport == 'websocket' and h.closed == []


def test_a_second_probe_during_the_upgrade_is_rejected():
    h = make_engine()
    h.take_open()
    first, _ = h.websocket()
    second, _ = h.websocket()
    assert h.engine.attach_websocket(first) == 'probe'
    assert h.engine.attach_websocket(second) == 'rejected'


def test_upgrades_can_be_refused_by_the_settings():
    h = make_engine(allow_upgrades=False)
    h.take_open()
    refusal = outcome(h.engine.request_upgrade)
    assert isinstance(refusal, RemoteProtocolError)
    assert refusal.message == 'Upgrades are not allowed'


def test_a_probe_that_closes_leaves_the_session_polling():
    h = make_engine()
    h.take_open()
    sink, _ = h.websocket()
    assert h.engine.attach_websocket(sink) == 'probe'
    h.engine.websocket_ended(sink, 'transport close')
    assert not h.session.upgrading and h.session.transport == 'polling'
    assert h.closed == []
    # The next one may try again.
    again, _ = h.websocket()
    assert h.engine.attach_websocket(again) == 'probe'


def test_an_unexpected_packet_on_the_probe_cancels_the_upgrade():
    h = make_engine()
    h.take_open()
    sink, _ = h.websocket()
    h.engine.attach_websocket(sink)
    assert not h.engine.websocket_packet(sink, message('too early'))
    assert not h.session.upgrading and h.delivered == []
    assert h.closed == []


def test_a_websocket_session_carries_everything_from_the_start():
    h = make_engine(transport='websocket')
    sink, sock = h.websocket()
    assert h.engine.attach_websocket(sink) == 'active'
    assert types_of(sock) == ['0']
    assert h.engine.send(message('direct'))
    assert server_texts(sock)[1:] == ['4direct']


def types_of(sock):
    return [text[0] for text in server_texts(sock)]


# -- writes and backpressure --------------------------------------------------

def test_sends_keep_their_order_on_the_websocket():
    h = make_engine()
    sink, sock = upgraded(h)
    confirmed = []
    for i in range(5):
        h.engine.send(message(f'm{i}'),
                      callback=lambda i=i: confirmed.append(i))
    assert server_texts(sock)[1:] == [f'4m{i}' for i in range(5)]
    assert confirmed == list(range(5))


def test_a_socket_that_takes_nothing_blocks_the_session_until_drained():
    h = make_engine()
    sink, sock = upgraded(h)
    drains, flushed = [], []
    h.socket.on('drain', lambda: drains.append(True))
    h.socket.on('flush', lambda packets: flushed.append(types(packets)))
    sock.room = 0
    confirmed = []
    h.engine.send(message('first'), callback=lambda: confirmed.append(1))
    # Nothing fit: the bytes wait in the sink's backlog, the session
    # queues from now on, and a task of its own drains the backlog.
    assert sink.backlog > 0
    assert h.session.ws_blocked
    assert [task.fn.__name__ for task in h.driver.tasks] == ['_drain']
    h.engine.send(message('second'), callback=lambda: confirmed.append(2))
    assert [p.data for p in h.session.buffer] == ['second']
    assert h.engine.buffered_amount > len('second')
    assert confirmed == []
    # The peer reads again: the drain task writes the backlog, then the
    # queue, in order, and the callbacks run.
    sock.room = None
    h.driver.run_tasks()
    assert server_texts(sock)[1:] == ['4first', '4second']
    assert not h.session.ws_blocked and sink.backlog == 0
    assert confirmed == [1, 2]
    assert drains
    assert flushed[-1] == [PacketType.MESSAGE]


def test_a_slow_reader_gets_everything_in_order():
    h = make_engine()
    sink, sock = upgraded(h)
    sock.room = 0
    sock.refill = 7                      # bytes it reads per wait
    for i in range(10):
        h.engine.send(message(f'slowly {i}'))
    assert h.session.ws_blocked
    h.driver.run_tasks()
    assert server_texts(sock)[1:] == [f'4slowly {i}' for i in range(10)]
    assert not h.session.ws_blocked and sink.backlog == 0


def test_a_peer_that_never_reads_is_cut_at_the_write_deadline():
    h = make_engine(write_timeout=20.0)
    sink, sock = upgraded(h)
    sock.room = 0
    h.engine.send(message('stuck'))
    assert h.session.ws_blocked
    h.advance(19.0)
    assert h.closed == []
    h.advance(1.0)
    assert h.closed == ['transport error']
    assert h.session.close_description == 'write timed out'
    # Closing cuts the connection, which ends the drain task too.
    h.driver.run_tasks()
    assert sock.shut


def test_the_fail_policy_refuses_a_send_past_the_limit():
    h = make_engine(max_buffered_bytes=10, on_buffer_full='fail')
    h.take_open()
    assert h.engine.send(message('x' * 8))
    with pytest.raises(SendBufferFull):
        h.engine.send(message('y' * 8))
    assert h.closed == []
    assert [p.data for p in h.session.buffer] == ['x' * 8]


def test_the_close_policy_ends_the_session_past_the_limit():
    h = make_engine(max_buffered_bytes=10)
    h.take_open()
    assert h.engine.send(message('x' * 8))
    assert not h.engine.send(message('y' * 8))
    assert h.closed == ['transport error']


def test_the_wait_policy_sends_once_a_get_made_room():
    h = make_engine(max_buffered_bytes=10, on_buffer_full='wait')
    h.take_open()
    assert h.engine.send(message('x' * 8))
    taken = []

    def client_polls():
        packets = outcome(h.engine.poll)
        h.engine.poll_answered(packets, True)
        taken.extend(packets)
    h.driver.meanwhile(client_polls)
    assert h.engine.send(message('y' * 8))
    assert taken == [message('x' * 8)]
    assert [p.data for p in h.session.buffer] == ['y' * 8]


# -- closing ------------------------------------------------------------------

def test_a_graceful_close_writes_what_is_queued_then_the_close_packet():
    h = make_engine()
    sink, sock = upgraded(h)
    sock.room = 0
    h.engine.send(message('last words'))
    sock.room = None
    h.engine.close('server disconnect', graceful=True)
    assert h.closed == ['server disconnect']
    # The closer: the rest, the close packet, the close frame; then, the
    # client's close seen (the reader is over), the connection is cut.
    sink.done.set()
    h.driver.run_tasks()
    assert server_texts(sock)[1:] == ['4last words', '1',
                                      ('close', b'\x03\xe8')]
    assert sock.shut
    assert h.forgotten


def test_an_abrupt_close_drops_what_is_queued():
    h = make_engine()
    sink, sock = upgraded(h)
    sock.room = 0
    h.engine.send(message('written'))       # in the sink's backlog
    h.engine.send(message('queued'))        # in the session's queue
    h.engine.close('server disconnect')
    assert h.closed == ['server disconnect'] and h.forgotten
    assert h.session.buffer == []
    sock.room = None
    sink.done.set()
    h.driver.run_tasks()
    assert server_texts(sock)[1:] == ['4written', ('close', b'\x03\xe8')]
    assert sock.shut


def test_the_peer_closing_the_websocket_ends_the_session():
    h = make_engine()
    sink, _ = upgraded(h)
    h.engine.websocket_ended(sink, 'transport close')
    assert h.closed == ['transport close']
    assert not h.engine.send(message('too late'))

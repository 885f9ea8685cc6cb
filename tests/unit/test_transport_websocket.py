"""The WebSocket transport in process: WebSocketConnection's framing and
backlog over a fake socket, and WebSocketTransport.serve running a whole
conversation (handshake, upgrade, messages, close) against a session
engine on fakes."""

from __future__ import annotations

import base64
import logging
import struct

from engineio_sync.core.config import ServerConfig
from engineio_sync.core.packets import PacketType
from engineio_sync.core.wsframes import accept_token
from engineio_sync.transports.websocket import WebSocketTransport
from engineio_sync.transports.wsconnection import WebSocketConnection
from engineio_sync.wsgi_servers import Hijack

from enginekit import client_text, make_engine, message, server_texts
from fakes import FakeClock, FakeDriver, FakeLock, FakeSocket
from support.frames import client_frame

KEY = base64.b64encode(b'0123456789abcdef').decode()


def connection(*incoming, room=None, **options):
    sock = FakeSocket(*incoming, room=room)
    driver = FakeDriver(FakeClock())
    conn = WebSocketConnection(sock, FakeLock(), driver=driver, **options)
    return conn, sock


def close_frame(code=1000):
    return client_frame(struct.pack('!H', code), opcode=8)


# -- WebSocketConnection ------------------------------------------------------

def test_messages_are_read_whole_text_and_binary_and_fragmented():
    conn, _ = connection(
        client_text('4one') + client_frame(b'\x01\x02', opcode=2),
        client_frame(b'4fr', fin=False) + client_frame(b'ag', opcode=0))
    assert [conn.receive(), conn.receive(), conn.receive()] == \
        ['4one', b'\x01\x02', '4frag']
    assert conn.receive() is None
    assert conn.close_code == 1006          # the connection just ended


def test_a_ping_is_answered_and_a_close_is_returned():
    conn, sock = connection(client_frame(b'hi', opcode=9), close_frame(1001))
    assert conn.receive() is None
    assert conn.close_code == 1001
    assert server_texts(sock) == [('pong', b'hi'), ('close', b'\x03\xe9')]


def test_an_unmasked_client_frame_is_a_protocol_error():
    conn, sock = connection(client_frame(b'4x', masked=False))
    assert conn.receive() is None
    assert conn.close_code == 1002 and conn.error is not None
    assert server_texts(sock)[0][0] == 'close'
    assert server_texts(sock)[0][1][:2] == struct.pack('!H', 1002)


def test_a_message_over_the_limit_is_refused_with_1009():
    conn, sock = connection(client_text('4' + 'x' * 200),
                            max_message_size=100)
    assert conn.receive() is None
    assert conn.close_code == 1009
    assert server_texts(sock)[0][1][:2] == struct.pack('!H', 1009)


def test_what_the_socket_does_not_take_waits_in_the_backlog():
    conn, sock = connection(room=5)
    blocked = []
    conn.on_blocked = lambda: blocked.append(conn.backlog_size)
    conn.send_one('4hello world')
    conn.send_many(['4a', b'\x00'])
    assert len(sock.sent) == 5
    assert blocked == [len('4hello world') + 2 - 5]
    assert conn.backlog_size > 0
    sock.room = None
    conn.write_backlog()
    assert conn.backlog_size == 0
    assert server_texts(sock) == ['4hello world', '4a', b'\x00']


def test_close_is_sent_once():
    conn, sock = connection()
    conn.close(1000)
    conn.close(1001)
    assert server_texts(sock) == [('close', b'\x03\xe8')]


def test_a_close_that_cannot_take_the_write_lock_gives_up():
    conn, sock = connection()
    conn.write_lock.acquire()
    conn.locked_close(1000, timeout=3.0)
    assert sock.sent == b''


# -- WebSocketTransport.serve -------------------------------------------------

def serve(h, *incoming, new_session=False, room=None, **options):
    """Run ``incoming`` (client frames, or callables) through the
    transport for ``h``'s engine; the fake socket afterwards."""
    sock = FakeSocket(*incoming, room=room)
    config = ServerConfig.from_options(**options)
    websocket = WebSocketTransport(config, h.driver,
                                   logging.getLogger('engineio_sync.unit'))
    hijack = Hijack(sock, 'fake', lambda start_response, s: [])
    environ = {'REQUEST_METHOD': 'GET', 'HTTP_UPGRADE': 'websocket',
               'HTTP_CONNECTION': 'Upgrade',
               'HTTP_SEC_WEBSOCKET_VERSION': '13',
               'HTTP_SEC_WEBSOCKET_KEY': KEY}
    websocket.serve(h.engine, hijack, environ, [('X-Extra', 'yes')],
                    new_session=new_session)
    h.driver.run_tasks()
    return sock


def head_of(sock):
    return bytes(sock.sent).split(b'\r\n\r\n', 1)[0].decode()


def test_an_upgrade_from_handshake_to_close():
    h = make_engine()
    h.take_open()

    def push():
        h.engine.send(message('pushed'))
    sock = serve(h, client_text('2probe'), client_text('5'), push,
                 client_text('4hello'), close_frame())
    head = head_of(sock)
    assert head.startswith('HTTP/1.1 101 Switching Protocols')
    assert f'Sec-WebSocket-Accept: {accept_token(KEY)}' in head
    assert 'X-Extra: yes' in head
    assert server_texts(sock) == ['3probe', '4pushed', ('close', b'\x03\xe8')]
    assert h.delivered == ['hello']
    assert h.session.upgraded
    assert h.closed == ['transport close']
    assert sock.shut


def test_a_session_that_starts_on_a_websocket_gets_its_open_packet():
    h = make_engine(transport='websocket')
    sock = serve(h, client_text('4hi'), new_session=True)
    texts = server_texts(sock)
    assert texts[0][0] == '0' and '"upgrades":[]' in texts[0]
    assert h.delivered == ['hi']
    # The client vanished without a close frame.
    assert h.closed == ['transport close']


def test_an_undecodable_message_ends_the_session():
    h = make_engine(transport='websocket')
    serve(h, client_text('zzz'), new_session=True)
    assert h.closed == ['transport error']
    assert h.session.close_description.startswith('parse error')


def test_an_oversized_message_ends_the_session_with_1009():
    h = make_engine(transport='websocket')
    sock = serve(h, client_text('4' + 'x' * 100), new_session=True,
                 max_http_buffer_size=50)
    assert server_texts(sock)[-1] == ('close', struct.pack('!H', 1009) +
                                      b'message too big')
    assert h.closed == ['transport error']
    assert h.session.close_description == \
        'message larger than max_http_buffer_size'


def test_an_extra_websocket_is_closed_at_once():
    h = make_engine()
    h.take_open()
    h.engine.request_upgrade()
    first, _ = h.websocket()
    h.engine.attach_websocket(first)
    sock = serve(h, client_text('2probe'))
    assert server_texts(sock) == [('close', b'\x03\xe8')]
    assert sock.shut
    assert h.session.upgrading and h.closed == []


def test_a_failed_handshake_write_ends_a_new_session():
    h = make_engine(transport='websocket')
    sock = FakeSocket()
    sock.shut = True
    websocket = WebSocketTransport(ServerConfig.from_options(), h.driver,
                                   logging.getLogger('engineio_sync.unit'))
    websocket.serve(h.engine, Hijack(sock, 'fake', lambda sr, s: []),
                    {'HTTP_SEC_WEBSOCKET_KEY': KEY}, [], new_session=True)
    assert h.closed == ['transport error']
    assert h.session.close_description == 'handshake failed'


def test_the_probe_is_answered_while_a_get_is_parked():
    h = make_engine()
    h.take_open()
    results = []
    # The GET parks; while it does, the WebSocket's probe arrives (and
    # the client then goes away: the session stays on polling).
    h.driver.meanwhile(lambda: results.append(serve(
        h, client_text('2probe'))))
    packets = h.engine.poll()
    assert [p.type for p in packets] == [PacketType.NOOP]
    assert server_texts(results[0])[0] == '3probe'
    assert h.session.transport == 'polling' and h.closed == []

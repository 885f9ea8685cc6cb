"""WebSocket transport and the upgrade from polling, over real sockets."""

from __future__ import annotations

import json
import os
import struct
import time

import pytest

from support import DRIVERS, wsclient
from support.waiting import wait_until
from support.wsclient import (RawWebSocket, connect, receive,
                              receive_until_closed)

pytestmark = pytest.mark.parametrize('driver', DRIVERS)


def open_direct(port: int):
    ws = connect(port, 'EIO=4&transport=websocket')
    first = receive(ws)
    assert first[0] == '0'
    return ws, json.loads(first[1:])


def start_upgrade(port: int, sid: str):
    ws = connect(port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert receive(ws) == '3probe'
    return ws


def test_direct_session_echoes_text_and_binary(driver, start_server):
    srv = start_server(driver)
    ws, info = open_direct(srv.port)
    assert set(info) == {'sid', 'upgrades', 'pingInterval', 'pingTimeout',
                         'maxPayload'}
    assert info['upgrades'] == []
    ws.send('4hello')
    assert receive(ws) == '4hello'
    ws.send(b'\x00\x01\xfe\xff')
    assert receive(ws) == b'\x00\x01\xfe\xff'
    ev = srv.wait_event(ev='connect')
    assert ev['transport'] == 'websocket'
    ws.send('4cmd:{"send_binary": [7, 8, 9]}')
    assert receive(ws) == b'\x07\x08\x09'
    ws.close()
    assert srv.wait_event(ev='disconnect')['reason'] == 'transport close'


def test_upgrade_with_pending_get(driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, info = client.handshake()
    assert info['upgrades'] == ['websocket']
    parked = srv.park_get(sid)
    ws = connect(srv.port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert receive(ws) == '3probe'
    assert parked.result(5) == (200, b'6'), 'exactly one noop ends the poll'
    # A message queued during the upgrade waits for the WebSocket.
    assert client.post(sid, '4queued') == (200, b'ok')
    ws.send('5')
    assert receive(ws) == '4queued'
    ws.send('4after')
    assert receive(ws) == '4after', 'nothing extra (no noop) on the socket'
    upgrading = srv.wait_event(ev='upgrading', sid=sid)
    assert (upgrading['current'], upgrading['upgraded']) == ('polling', False)
    upgrade = srv.wait_event(ev='upgrade', sid=sid)
    assert (upgrade['current'], upgrade['upgraded']) == ('websocket', True)
    ws.close()


def test_upgrade_without_pending_get_drains_buffer_in_order(
        driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    assert client.post(sid, '4a\x1e4b\x1e4c') == (200, b'ok')
    ws = start_upgrade(srv.port, sid)
    ws.send('5')
    assert [receive(ws) for _ in range(3)] == ['4a', '4b', '4c']
    ws.send('4d')
    assert receive(ws) == '4d'
    ws.close()


def test_server_close_between_probe_and_upgrade_loses_nothing(
        driver, start_server, raw_client):
    # The client had its probe answered, so it has stopped polling and is
    # about to send its upgrade packet: the server's close and the packets
    # queued before it must still reach it, on the WebSocket.
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    ws = start_upgrade(srv.port, sid)
    assert client.post(sid, '4last words\x1e4cmd:{"disconnect": true}') \
        == (200, b'ok')
    assert srv.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'
    ws.send('5')
    assert receive_until_closed(ws) == ['4last words', '1']


def test_websockets_that_come_and_go_leave_no_descriptors_behind(
        driver, start_server, raw_client):
    # A WebSocket leaves its WSGI server for the socket loop (a duplicate
    # of its descriptor, a socket pair in its place): all of it is closed
    # once the session is over, whichever side ended it.
    srv = start_server(driver)
    watcher, _ = open_direct(srv.port)

    def fds() -> int:
        watcher.send('4cmd:{"fds": true}')
        return srv.wait_event(ev='fds')['count']

    before = fds()
    client = raw_client(srv.port)
    for _ in range(10):
        ws, info = open_direct(srv.port)          # the client closes
        ws.send('4x')
        assert receive(ws) == '4x'
        ws.close()
        ws, info = open_direct(srv.port)          # the server closes
        ws.send('4cmd:{"disconnect": true}')
        assert receive_until_closed(ws) == ['1']
        ws.close()
        sid, _ = client.handshake()               # upgraded, then closed
        ws = start_upgrade(srv.port, sid)
        ws.send('5')
        ws.close()
    for _ in range(30):
        srv.wait_event(ev='disconnect')
    wait_until(lambda: fds() <= before, 10,
               what=f'the descriptors back to {before}')


def test_get_while_upgrading_is_noop_and_after_upgrade_is_400(
        driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    ws = start_upgrade(srv.port, sid)
    assert client.get(sid) == (200, b'6')
    ws.send('5')
    ws.send('4x')
    assert receive(ws) == '4x'
    status, body = client.get(sid)
    assert status == 400 and json.loads(body)['code'] == 3
    status, body = client.post(sid, '4y')
    assert status == 400
    ws.send('4still')
    assert receive(ws) == '4still'
    ws.close()


def test_second_websocket_after_upgrade_is_accepted_then_closed(
        driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    ws = start_upgrade(srv.port, sid)
    ws.send('5')
    ws.send('4one')
    assert receive(ws) == '4one'
    extra = RawWebSocket(srv.port, f'EIO=4&transport=websocket&sid={sid}')
    assert extra.status == 101
    frame = extra.read_frame()
    assert frame is not None and frame[0] == 8, 'a close frame'
    # The server ends it at once, as the reference does: its FIN is there
    # before a round trip on the first WebSocket comes back (it used to
    # hold the connection for half a second).
    ws.send('4two')
    assert receive(ws) == '4two'
    extra.sock.setblocking(False)
    try:
        assert extra.sock.recv(1) == b'', 'the connection is closed'
    finally:
        extra.sock.setblocking(True)
    extra.close()
    ws.send('4three')
    assert receive(ws) == '4three'
    ws.close()


def test_upgrade_timeout_keeps_polling(driver, start_server, raw_client):
    srv = start_server(driver, upgrade_timeout=0.5)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    ws = start_upgrade(srv.port, sid)
    # No '5': the server gives up on the upgrade and closes the socket.
    assert receive_until_closed(ws, timeout=5) == []
    assert client.post(sid, '4poll') == (200, b'ok')
    assert client.get(sid) == (200, b'4poll')
    assert not [e for e in srv.drain_events() if e['ev'] == 'upgrade']


def test_invalid_packet_closes_cleanly(driver, start_server):
    srv = start_server(driver)
    raw = RawWebSocket(srv.port, 'EIO=4&transport=websocket')
    assert raw.status == 101
    opcode, payload = raw.read_frame()
    assert payload.startswith(b'0{')
    raw.send_text('abc')
    rest = raw.read_to_eof()
    assert b'HTTP/' not in rest, 'no HTTP response on an upgraded socket'
    assert rest[0] & 0x0F == 8, 'a close frame'
    assert srv.wait_event(ev='disconnect')['reason'] == 'transport error'
    raw.close()


def test_no_http_response_after_websocket_ends(driver, start_server):
    srv = start_server(driver)
    raw = RawWebSocket(srv.port, 'EIO=4&transport=websocket')
    assert raw.status == 101
    assert raw.read_frame()[1].startswith(b'0{')
    raw.send_close(1000)
    rest = raw.read_to_eof()
    assert b'HTTP/' not in rest
    assert rest[:1] == b'\x88', 'the close frame answers ours'
    raw.close()


def test_ping_timeout_over_websocket(driver, start_server):
    srv = start_server(driver, ping_interval=0.3, ping_timeout=0.3)
    ws, info = open_direct(srv.port)
    assert info['pingInterval'] == 300
    assert receive(ws, 2) == '2'
    # No pong: the server closes the session by itself.
    receive_until_closed(ws, timeout=5)
    assert srv.wait_event(ev='disconnect')['reason'] == 'ping timeout'


def test_heartbeat_keeps_websocket_alive(driver, start_server):
    srv = start_server(driver, ping_interval=0.2, ping_timeout=0.3)
    ws, _ = open_direct(srv.port)
    pings = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        data = ws.receive(timeout=0.5)
        if data == '2':
            pings += 1
            ws.send('3')
    assert pings >= 4
    ws.send('4alive')
    assert receive(ws) == '4alive'
    ws.close()


def test_one_megabyte_message(driver, start_server):
    srv = start_server(driver)
    ws, _ = open_direct(srv.port)
    blob = bytes(range(256)) * 3900  # 998,400 bytes
    ws.send(blob)
    assert receive(ws, 10) == blob
    text = '4' + 'x' * 999_000
    ws.send(text)
    assert receive(ws, 10) == text
    ws.close()


def test_message_over_max_size_closes_with_1009(driver, start_server):
    srv = start_server(driver, max_http_buffer_size=1000)
    raw = RawWebSocket(srv.port, 'EIO=4&transport=websocket')
    raw.read_frame()
    raw.send_text('4' + 'y' * 2000)
    frame = raw.read_frame()
    assert frame is not None and frame[0] == 8
    assert struct.unpack('!H', frame[1][:2])[0] == 1009
    ev = srv.wait_event(ev='disconnect')
    assert ev['reason'] == 'transport error'
    raw.close()


def test_per_message_deflate_negotiated_only_when_enabled(driver,
                                                          start_server):
    offer = 'permessage-deflate; client_max_window_bits'
    srv = start_server(driver)
    raw = RawWebSocket(srv.port, 'EIO=4&transport=websocket',
                       extensions=offer)
    assert raw.status == 101
    assert 'sec-websocket-extensions' not in raw.headers
    raw.close()
    srv2 = start_server(driver, per_message_deflate=True,
                        compression_threshold=200)
    raw = RawWebSocket(srv2.port, 'EIO=4&transport=websocket',
                       extensions=offer)
    assert raw.status == 101
    assert raw.headers['sec-websocket-extensions'].startswith(
        'permessage-deflate')
    raw.close()
    # A real client (simple-websocket, which offers the extension) round-
    # trips a compressible message through it; the upgrade path is used so
    # no server frame rides in the same read as the 101 response, which
    # that client drops.
    import simple_websocket
    from support.httpclient import RawClient
    sid, _ = RawClient(srv2.port).handshake()
    ws = simple_websocket.Client.connect(
        f'ws://127.0.0.1:{srv2.port}/engine.io/?EIO=4&transport=websocket'
        f'&sid={sid}')
    ws.send('2probe')
    assert ws.receive(timeout=5) == '3probe'
    ws.send('5')
    text = '4' + 'compress me ' * 5000
    ws.send(text)
    assert ws.receive(timeout=5) == text
    ws.close()


def test_websocket_origin_checked(driver, start_server):
    srv = start_server(driver)
    evil = RawWebSocket(srv.port, 'EIO=4&transport=websocket',
                        headers={'Origin': 'http://evil.example'})
    assert evil.status == 403
    evil.close()
    same = RawWebSocket(srv.port, 'EIO=4&transport=websocket',
                        headers={'Origin': f'http://127.0.0.1:{srv.port}'})
    assert same.status == 101
    same.close()
    srv2 = start_server(driver, cors={'origin': ['http://good.example']})
    good = RawWebSocket(srv2.port, 'EIO=4&transport=websocket',
                        headers={'Origin': 'http://good.example'})
    assert good.status == 101
    good.close()
    bad = RawWebSocket(srv2.port, 'EIO=4&transport=websocket',
                       headers={'Origin': 'http://evil.example'})
    assert bad.status == 403
    bad.close()


def test_server_disconnect_over_websocket(driver, start_server):
    srv = start_server(driver)
    ws, _ = open_direct(srv.port)
    ws.send('4cmd:{"send_n": 3, "prefix": "last"}')
    ws.send('4cmd:{"disconnect": true}')
    rest = receive_until_closed(ws)
    assert rest == ['4last0', '4last1', '4last2', '1']
    assert srv.wait_event(ev='disconnect')['reason'] == 'server disconnect'


def test_client_close_packet_reason(driver, start_server):
    srv = start_server(driver)
    ws, _ = open_direct(srv.port)
    ws.send('1')
    receive_until_closed(ws)
    assert srv.wait_event(ev='disconnect')['reason'] == 'client disconnect'


def test_websocket_handshake_without_upgrade_header_is_400(driver,
                                                           start_server,
                                                           raw_client):
    srv = start_server(driver)
    status, _, body = raw_client(srv.port).request(
        'GET', 'EIO=4&transport=websocket')
    assert status == 400 and json.loads(body)['code'] == 3


def test_unknown_sid_websocket_is_400(driver, start_server):
    srv = start_server(driver)
    raw = RawWebSocket(srv.port, 'EIO=4&transport=websocket&sid=nope')
    assert raw.status == 400
    assert json.loads(raw.buffer or b'{}').get('code', 1) == 1
    raw.close()


def test_no_loss_no_reorder_server_to_client_during_upgrade(
        driver, start_server, raw_client):
    """The server streams without pause while the client upgrades."""
    srv = start_server(driver)
    client = raw_client(srv.port)
    n = 400
    for _ in range(3):
        sid, _ = client.handshake()
        assert client.post(
            sid, '4cmd:' + json.dumps({'stream': n, 'interval': 0.001}))
        got: list[str] = []
        # Poll a few times, then upgrade in the middle of the stream.
        for _ in range(3):
            status, body = client.get(sid)
            assert status == 200
            got.extend(p[1:] for p in body.decode().split('\x1e')
                       if p.startswith('4'))
        ws = connect(srv.port, f'EIO=4&transport=websocket&sid={sid}')
        ws.send('2probe')
        assert receive(ws) == '3probe'
        status, body = client.get(sid)
        assert status == 200
        got.extend(p[1:] for p in body.decode().split('\x1e')
                   if p.startswith('4'))
        ws.send('5')
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            data = ws.receive(timeout=1)
            if isinstance(data, str) and data.startswith('4'):
                got.append(data[1:])
            elif data == '2':
                ws.send('3')
        assert got == [f's{i}' for i in range(n)]
        ws.close()


def test_extra_headers_and_cookie_on_the_101(driver, start_server,
                                             raw_client):
    srv = start_server(driver, headers={'X-Every': 'yes'},
                       initial_headers={'X-First': 'yes'}, cookie=True)
    direct = RawWebSocket(srv.port, 'EIO=4&transport=websocket')
    assert direct.status == 101
    assert direct.headers['x-every'] == 'yes'
    assert direct.headers['x-first'] == 'yes'
    sid = json.loads(direct.read_frame()[1][1:])['sid']
    assert direct.headers['set-cookie'].startswith(f'io={sid}')
    direct.close()
    polled, _ = raw_client(srv.port).handshake()
    upgrade = RawWebSocket(srv.port,
                           f'EIO=4&transport=websocket&sid={polled}')
    assert upgrade.status == 101
    assert upgrade.headers['x-every'] == 'yes'
    assert 'x-first' not in upgrade.headers, 'not a new session'
    assert 'set-cookie' not in upgrade.headers
    upgrade.close()


def _cpu_seconds(pid: int) -> float:
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def test_messages_that_arrive_while_the_reader_is_busy(start_server, driver):
    # The handler of the first message sleeps 1 s; the next ones arrive
    # meanwhile. They must all be read afterwards, in order, and the
    # server must not spin on the readable socket while its reading task
    # is busy (a reader that stays registered with the hub must step
    # aside): far less than a second of CPU for that second.
    server = start_server(driver)
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    assert wsclient.receive(ws).startswith('0{')
    before = _cpu_seconds(server.proc.pid)
    command = 'cmd:' + json.dumps({'sleep': 1.0})
    ws.send_text('4' + command)
    # The handler has begun (it prints the message before sleeping).
    server.wait_event(ev='message', data=command)
    for i in range(5):
        ws.send_text(f'4busy{i}')
    got = [wsclient.receive(ws, timeout=10) for _ in range(5)]
    spent = _cpu_seconds(server.proc.pid) - before
    assert got == [f'4busy{i}' for i in range(5)]
    assert spent < 0.5, f'{spent:.2f} s of CPU while the reader slept 1 s'

"""The Socket object and the sid facade, seen from a real client."""

from __future__ import annotations

import json

import pytest

from support import DRIVERS
from support.wsclient import connect, receive

pytestmark = pytest.mark.parametrize('driver', DRIVERS)


def handshake_ws(port):
    ws = connect(port, 'EIO=4&transport=websocket')
    sid = json.loads(receive(ws)[1:])['sid']
    return ws, sid


def test_socket_events_over_websocket(driver, start_server):
    srv = start_server(driver, ping_interval=0.3, ping_timeout=1,
                       _app={'socket_events': True})
    ws, sid = handshake_ws(srv.port)
    ws.send('4hello')
    assert receive(ws) == '4hello'
    assert srv.wait_event(ev='sock_packet', sid=sid)['type'] == 4
    assert srv.wait_event(ev='sock_message', sid=sid)
    assert srv.wait_event(ev='sock_packet_create', sid=sid)['type'] == 4
    flushed = [srv.wait_event(ev='sock_flush', sid=sid)['types']
               for _ in range(2)]
    assert flushed == [[0], [4]], 'the open packet, then the echo'
    assert srv.wait_event(ev='sock_drain', sid=sid)
    assert srv.wait_event(ev='srv_flush', sid=sid)['n'] >= 1
    assert srv.wait_event(ev='srv_drain', sid=sid)
    assert receive(ws, 3) == '2'  # the server's ping...
    srv.wait_event(ev='sock_heartbeat', sid=sid)
    ws.send('3')                 # ...and our pong
    assert srv.wait_event(ev='sock_packet', sid=sid, type=3)
    ws.close()


def test_send_callback_runs_once_written(driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    assert client.post(sid, '4cmd:{"send_cb": "with-callback"}')[0] == 200
    assert client.get(sid) == (200, b'4with-callback')
    assert srv.wait_event(ev='callback', sid=sid)['data'] == 'with-callback'
    ws, wsid = handshake_ws(srv.port)
    ws.send('4cmd:{"send_cb": "over-ws"}')
    assert receive(ws) == '4over-ws'
    assert srv.wait_event(ev='callback', sid=wsid)['data'] == 'over-ws'
    ws.close()


def test_user_session_and_clients(driver, start_server, raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    other, _ = client.handshake()
    client.post(sid, '4cmd:{"remember": "blue"}')
    client.post(sid, '4cmd:{"recall": true}')
    recall = srv.wait_event(ev='recall', sid=sid)
    assert recall['value'] == 'blue'
    assert recall['count'] == 2 and recall['known']
    assert recall['state'] == 'open'
    client.post(other, '4cmd:{"recall": true}')
    assert srv.wait_event(ev='recall', sid=other)['value'] is None


def test_shutdown_closes_sessions_and_refuses_new_ones(driver, start_server,
                                                       raw_client):
    srv = start_server(driver)
    client = raw_client(srv.port)
    sid, _ = client.handshake()
    other, _ = client.handshake()
    assert client.post(sid, '4cmd:{"shutdown": true}') == (200, b'ok')
    assert client.get(other) == (200, b'1')
    ev = srv.wait_event(ev='disconnect', sid=other)
    assert ev['reason'] == 'server shutting down'
    status, headers, body = client.request(
        'GET', 'EIO=4&transport=polling')
    assert status == 503 and headers.get('retry-after') == '5'
    assert json.loads(body)['message'] == 'Server shutting down'

"""The official JS client (engine.io-client 6.x) over long-polling only."""

from __future__ import annotations

import pytest

from support import DRIVERS
from nodeclient import node_available, run_node_client

pytestmark = pytest.mark.skipif(not node_available(),
                                reason='node client not installed')

POLLING = {'transports': ['polling']}
# close() emits 'close' at once and sends the close packet in a POST
# afterwards: give that POST time to leave before node exits.
CLOSE = [{'close': True}, {'wait': 'close'}, {'sleep_ms': 300}]


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


def test_open_and_echo_text_and_binary(driver, server_pool):
    server = server_pool(driver)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'send': 'hello'},
        {'expect': 'message', 'data': 'hello'},
        {'send': 'héllo € \U0001f600'},
        {'expect': 'message', 'data': 'héllo € \U0001f600'},
        {'send_binary': [1, 2, 3, 4]},
        {'expect': 'message', 'binary': [1, 2, 3, 4]},
        {'send_binary': list(range(256)) * 4},
        {'expect': 'message', 'binary_len': 1024},
        *CLOSE,
    ], options=POLLING, timeout=10)
    assert r.ok, r
    opened = r.first('open')
    assert opened['transport'] == 'polling'
    sid = opened['sid']
    assert len(sid) >= 20
    assert r.messages()[:3] == ['hello', 'héllo € \U0001f600',
                                bytes([1, 2, 3, 4])]
    assert r.messages()[3] == bytes(range(256)) * 4
    assert not r.first('upgrade')
    assert server.wait_event(ev='connect', sid=sid)['transport'] == 'polling'
    assert server.wait_event(ev='message', sid=sid)['data'] == 'hello'
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'client disconnect'


def test_many_messages_in_order(driver, server_pool):
    server = server_pool(driver)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'send_n': 200, 'prefix': 'c'},
        {'expect_n': 200, 'prefix': 'c'},
        {'send': 'cmd:{"send_n": 200, "prefix": "s"}'},
        {'expect_n': 200, 'prefix': 's'},
    ], options=POLLING, timeout=15)
    assert r.ok, r
    assert r.messages() == [f'c{i}' for i in range(200)] + \
        [f's{i}' for i in range(200)]
    sid = r.first('open')['sid']
    received = [server.wait_event(ev='message', sid=sid)['data']
                for _ in range(200)]
    assert received == [f'c{i}' for i in range(200)]


def test_ping_pong_keeps_client_connected(driver, server_pool):
    server = server_pool(driver, ping_interval=0.3, ping_timeout=0.2)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'sleep_ms': 1500},
        {'wait': 'ping', 'new': True},
        {'send': 'still here'},
        {'expect': 'message', 'data': 'still here'},
        *CLOSE,
    ], options=POLLING, timeout=10)
    assert r.ok, r
    # About five pings in 1.5 s; at least three prove a running heartbeat.
    assert len(r.all_of('ping')) >= 3, r
    # The session lived until the client closed it.
    sid = r.first('open')['sid']
    event = server.wait_event(ev='disconnect', sid=sid)
    assert event['reason'] == 'client disconnect'


def test_client_close(driver, server_pool):
    server = server_pool(driver)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'send': 'bye'},
        {'expect': 'message', 'data': 'bye'},
        *CLOSE,
    ], options=POLLING, timeout=10)
    assert r.ok, r
    assert r.first('close')['reason'] == 'forced close'
    sid = r.first('open')['sid']
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'client disconnect'


def test_server_disconnect(driver, server_pool):
    server = server_pool(driver)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'send': 'cmd:{"send_n": 2, "prefix": "last"}'},
        {'send': 'cmd:{"disconnect": true}'},
        {'expect': 'message', 'data': 'last0'},
        {'expect': 'message', 'data': 'last1'},
        {'wait': 'close'},
    ], options=POLLING, timeout=10)
    assert r.ok, r
    sid = r.first('open')['sid']
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'
    close = r.first('close')
    assert close is not None
    # Closed by the server, not by a transport failure or a ping timeout.
    assert close['reason'] not in ('ping timeout', 'transport error'), close

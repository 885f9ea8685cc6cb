"""Protocol v3: the reference JS client engine.io-client 3.5.6 from npm
against a server with ``allow_eio3=True``.

JSONP needs a browser DOM (the client builds <script> and <form>
elements), so it is tested at the byte level in tests/e2e/test_v3.py,
which also runs the JSONP responses through node's JavaScript engine.
"""

from __future__ import annotations

import pytest

from support import DRIVERS
from nodeclient import node_available, run_node_client

pytestmark = pytest.mark.skipif(not node_available('v3'),
                                reason='engine.io-client v3 not installed')

V3 = {'allow_eio3': True, 'ping_interval': 0.4, 'ping_timeout': 1}
CLOSE = [{'close': True}, {'wait': 'close'}, {'sleep_ms': 200}]
ECHO = [
    {'wait': 'open'},
    {'send': 'hello'},
    {'expect': 'message', 'data': 'hello'},
    {'send': 'héllo € \U0001f600'},
    {'expect': 'message', 'data': 'héllo € \U0001f600'},
    {'send_binary': [0, 1, 2, 255]},
    {'expect': 'message', 'binary': [0, 1, 2, 255]},
    {'send': 'cmd:{"send_binary": [4, 5, 6]}'},
    {'expect': 'message', 'binary': [4, 5, 6]},
    {'send_n': 50, 'prefix': 'c'},
    {'expect_n': 50, 'prefix': 'c'},
    # v3 clients ping and the server answers with a pong.
    {'wait': 'pong', 'new': True},
]


@pytest.mark.parametrize('options', [
    {'transports': ['polling']},                        # XHR2 binary
    {'transports': ['polling'], 'forceBase64': True},   # b64=1
    {'transports': ['websocket']},                      # type byte frames
    {},                                                 # polling, upgrade
], ids=['xhr2', 'b64', 'websocket', 'upgrade'])
def test_v3_client_echo_binary_and_heartbeat(options, server_pool):
    server = server_pool('eventlet', **V3)
    r = run_node_client(server.url, [*ECHO, *CLOSE], options=options,
                        client='v3', timeout=10)
    assert r.ok, r
    sid = r.first('open')['sid']
    assert r.messages()[:4] == ['hello', 'héllo € \U0001f600',
                                bytes([0, 1, 2, 255]), bytes([4, 5, 6])]
    if options:
        assert r.first('open')['transport'] == options['transports'][0]
        assert not r.first('upgrade')
    else:
        assert r.first('upgrade')['transport'] == 'websocket'
    event = server.wait_event(ev='connect', sid=sid)
    assert 'EIO=3' in event['query']
    if options.get('forceBase64'):
        assert 'b64=1' in event['query']
    assert server.wait_event(ev='message', sid=sid)['data'] == 'hello'
    # A 3.x client closes a WebSocket without a close packet; over polling
    # it POSTs one.
    reason = server.wait_event(ev='disconnect', sid=sid)['reason']
    assert reason == ('client disconnect' if options.get('transports') ==
                      ['polling'] else 'transport close')


@pytest.mark.parametrize('driver', DRIVERS)
def test_v3_upgrade_and_server_close_on_every_driver(driver, server_pool):
    server = server_pool(driver, **V3)
    r = run_node_client(server.url, [
        {'wait': 'open'},
        {'wait': 'upgrade'},
        {'send_binary': list(range(256)) * 4},
        {'expect': 'message', 'binary_len': 1024},
        {'send': 'cmd:{"disconnect": true}'},
        {'wait': 'close'},
    ], client='v3', timeout=10)
    assert r.ok, r
    assert r.messages() == [bytes(range(256)) * 4]
    sid = r.first('open')['sid']
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'


def test_v3_client_refused_without_allow_eio3(server_pool):
    server = server_pool('eventlet')
    r = run_node_client(server.url, [{'wait': 'open'}], client='v3',
                        options={'transports': ['polling']}, timeout=3)
    assert not r.ok
    assert not r.first('open')
    assert r.first('error') or r.first('close'), r


def test_v4_and_v3_clients_share_a_server(server_pool):
    server = server_pool('eventlet', **V3)
    for client in ('v6', 'v3'):
        r = run_node_client(server.url, [
            {'wait': 'open'}, {'wait': 'upgrade'},
            {'send': client}, {'expect': 'message', 'data': client},
            *CLOSE], client=client, timeout=10)
        assert r.ok, r

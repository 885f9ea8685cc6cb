"""python-engineio's own ``engineio.Client`` against engineio_sync.

It sits under every python-socketio ``Client`` and refuses a polling
payload of more than 16 packets, so the server sends its sessions at most
16 packets per response (browsers still get everything at once). 200
numbered messages each way, polling only and upgrading, on every driver.
"""

from __future__ import annotations

import json
import threading

import engineio
import pytest

from support import DRIVERS

N = 200


@pytest.mark.parametrize('transports', [['polling'], None],
                         ids=['polling-only', 'upgrading'])
@pytest.mark.parametrize('driver', DRIVERS)
def test_python_engineio_client_gets_every_message(start_server, driver,
                                                   transports):
    server = start_server(driver)
    client = engineio.Client()
    received: list = []
    done = threading.Event()

    @client.on('message')
    def message(data):
        received.append(data)
        if len(received) == 2 * N:
            done.set()

    client.connect(server.url, transports=transports)
    assert client.sid, 'the client did not connect'
    try:
        # A burst from the server: 200 packets queued at once.
        client.send('cmd:' + json.dumps({'send_n': N, 'prefix': 'n'}))
        # And 200 from the client, each echoed.
        for i in range(N):
            client.send(f'c{i}')
        assert done.wait(30), f'{len(received)} of {2 * N} arrived'
        burst = [m for m in received if m.startswith('n')]
        echoes = [m for m in received if m.startswith('c')]
        assert burst == [f'n{i}' for i in range(N)]
        assert echoes == [f'c{i}' for i in range(N)]
        expected = 'polling' if transports == ['polling'] else None
        if expected:
            assert client.transport() == expected
    finally:
        client.disconnect()

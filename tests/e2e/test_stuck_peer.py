"""A WebSocket peer that stops reading holds up nobody but itself.

One client asks the application for 20 MB of messages and never reads
them. Writes never wait for a peer: what its socket does not take waits in
the transport's backlog, the session queues from then on, and a task of
its own drains the backlog. Beside it, healthy clients must go on getting
their pings on time and their echoes, a new client must be served, and the
stuck session must end at its write deadline with a reason. On every
driver, and so on every WSGI server the tests use.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest

from support import DRIVERS, wsclient
from support.httpclient import RawClient

PING_INTERVAL = 0.5
WINDOW = 3.0


def stuck_client(port: int) -> tuple[socket.socket, str]:
    """A WebSocket session whose client reads its open packet, asks for a
    20 MB stream, and then never reads again (a tiny receive buffer, so
    the server's side fills up soon)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(('127.0.0.1', port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        'GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n'
        f'Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n'
        f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
        'Sec-WebSocket-Version: 13\r\n\r\n').encode())
    data = b''
    for _ in range(100):
        if b'"sid"' in data and b'}' in data.split(b'"sid"', 1)[1]:
            break
        data += sock.recv(4096)
    sid = json.loads(data[data.index(b'{'):data.index(b'}') + 1])['sid']
    command = '4cmd:' + json.dumps({'send_n': 20_000, 'prefix': 'x' * 1000})
    payload = command.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, 'big')
                 + mask + masked)
    return sock, sid


@pytest.mark.parametrize('driver', DRIVERS)
def test_a_peer_that_stops_reading_holds_up_nobody(start_server, driver):
    # No buffer limit here: this test is about the write deadline (the
    # limit would close the session sooner, see test_polling.py).
    server = start_server(driver, ping_interval=PING_INTERVAL,
                          ping_timeout=20, write_timeout=2,
                          max_buffered_bytes=None)
    healthy = [wsclient.connect(server.port, 'EIO=4&transport=websocket')
               for _ in range(3)]
    for ws in healthy:
        assert wsclient.receive(ws).startswith('0{')
    stuck, stuck_sid = stuck_client(server.port)
    try:
        server.wait_event(ev='message', sid=stuck_sid, timeout=10)
        # The application's 20,000 sends to the stuck client are done or
        # queued; now the healthy clients are watched for WINDOW seconds.
        pings = [[] for _ in healthy]
        echoes = [0] * len(healthy)
        start = time.monotonic()
        rounds = 0
        while time.monotonic() - start < WINDOW and rounds < 10_000:
            rounds += 1
            for n, ws in enumerate(healthy):
                ws.send_text(f'4m{rounds}')
                for _ in range(20):
                    got = wsclient.receive(ws, timeout=5)
                    if got == '2':
                        pings[n].append(time.monotonic())
                        ws.send_text('3')
                    elif got == f'4m{rounds}':
                        echoes[n] += 1
                        break
                else:
                    pytest.fail(f'no echo for client {n}')
            time.sleep(0.02)             # paces the healthy clients
        # A newcomer is served meanwhile.
        sid, _ = RawClient(server.port).handshake()
        assert sid
        for n, times in enumerate(pings):
            # Pings every 0.5 s: at least 3 in 3 s, none more than 1.5 s
            # apart (a frozen timer task would show gaps of many seconds).
            assert len(times) >= 3, (n, times)
            gaps = [b - a for a, b in zip([start] + times, times)]
            assert max(gaps) < 3 * PING_INTERVAL, (n, gaps)
            assert echoes[n] == rounds
        # The stuck session ends at its write deadline, with a reason.
        event = server.wait_event(ev='disconnect', sid=stuck_sid, timeout=15)
        assert event['reason'] == 'transport error'
    finally:
        stuck.close()
        for ws in healthy:
            ws.sock.close()


LIMIT = 1_000_000


@pytest.mark.parametrize('driver', DRIVERS)
def test_a_peer_that_stops_reading_holds_at_most_the_limit(start_server,
                                                           driver):
    # The same stuck client with a 1 MB limit and the 'fail' policy: the
    # application is refused once 1 MB waits for the peer, and what the
    # session holds (queue and WebSocket backlog) stays within the limit
    # plus the one message the socket took part of.
    server = start_server(driver, write_timeout=30, max_buffered_bytes=LIMIT,
                          on_buffer_full='fail')
    stuck, stuck_sid = stuck_client(server.port)
    try:
        full = server.wait_event(ev='buffer_full', sid=stuck_sid, timeout=10)
        # The kernel's buffers took some, the session holds the rest.
        assert LIMIT // 1001 <= full['at'] < 20_000
        assert LIMIT - 1001 < full['buffered'] <= LIMIT + 1001
        # Refused, not closed: the session is still there.
        assert not [e for e in server.drain_events()
                    if e.get('ev') == 'disconnect'
                    and e.get('sid') == stuck_sid]
    finally:
        stuck.close()

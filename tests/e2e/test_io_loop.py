"""The threading driver's I/O loop and worker pool (engineio_sync.hub):
WebSockets wait in one loop thread, handlers run where they cannot hold up
other sessions, and a full pool queues work without losing any.

Real server processes (tests/e2e/server_app.py, threading driver) and
byte-level WebSocket clients. Checked by order and counts, not timing: a
blocked handler's session is still blocked when the others are done.
"""

from __future__ import annotations

import json
import resource
import selectors
import time

import pytest

from support import wsclient
from support.eio import open_websocket, receive_skipping_pings

pytestmark = pytest.mark.timeout(120)


def sleep_cmd(seconds: float) -> str:
    return '4cmd:' + json.dumps({'sleep': seconds})


@pytest.mark.parametrize('driver', ['threading', 'native-threading'])
def test_a_blocked_handler_holds_up_only_its_own_session(start_server,
                                                          driver):
    server = start_server(driver, ping_interval=0.25, ping_timeout=5)
    blocked, blocked_sid = open_websocket(server.port)
    other, other_sid = open_websocket(server.port)
    blocked.send(sleep_cmd(3))
    server.wait_event(ev='message', sid=blocked_sid, timeout=5)
    # The blocked session's next message waits for its handler; the other
    # session echoes and is pinged meanwhile.
    blocked.send('4after')
    pings = 0
    for i in range(20):
        other.send(f'4m{i}')
        while True:
            data = wsclient.receive(other, timeout=5)
            if data == '2':
                pings += 1
                other.send('3')
                continue
            assert data == f'4m{i}'
            break
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # bounded: one second of pings
        data = other.receive(timeout=max(0.01, deadline - time.monotonic()))
        if data == '2':
            pings += 1
            other.send('3')
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'slept'], 'the handler was not blocked'
    assert pings >= 2, 'the other session was not pinged meanwhile'
    # Then the blocked session gets its turn, in order.
    server.wait_event(ev='slept', sid=blocked_sid, timeout=10)
    assert receive_skipping_pings(blocked, timeout=5) == '4after'
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'disconnect'], 'a session timed out'


def test_a_full_pool_queues_and_loses_nothing(start_server):
    server = start_server('threading', app_threads=2, ping_interval=5,
                          ping_timeout=10)
    sockets = [open_websocket(server.port)[0] for _ in range(6)]
    # Six sessions block at once on a pool of two threads (plus the loop's
    # own), each with 30 messages behind its blocked one.
    for ws in sockets:
        ws.send(sleep_cmd(0.5))
    for n, ws in enumerate(sockets):
        for i in range(30):
            ws.send(f'4s{n}-{i}')
    for n, ws in enumerate(sockets):
        for i in range(30):
            assert receive_skipping_pings(ws, timeout=15) == f'4s{n}-{i}'
    slept = [e for e in server.drain_events() if e.get('ev') == 'slept']
    assert len(slept) == 6


def test_2000_websockets_with_a_one_second_ping(start_server):
    want = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * want + 200
    if hard < need:  # pragma: no cover - depends on the machine
        pytest.skip(f'needs {need} file descriptors, the limit is {hard}')
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    try:
        # Opening them all takes seconds; the timeout leaves room for it.
        server = start_server('threading', ping_interval=1, ping_timeout=10)
        threads = _held_for_four_pings(server, want)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert threads < 60, f'{threads} threads for {want} WebSockets'


def _held_for_four_pings(server, want: int) -> int:
    """Open ``want`` WebSocket sessions, answer every ping for four ping
    intervals, check that none was closed and each got its pings, then
    that each still echoes; returns the server's thread count."""
    sockets = []
    for _ in range(want):
        ws, _sid = open_websocket(server.port)
        ws.sock.setblocking(False)
        sockets.append(ws)
    selector = selectors.DefaultSelector()
    for n, ws in enumerate(sockets):
        selector.register(ws.sock, selectors.EVENT_READ, n)
    pings = [0] * want
    closed = set()
    deadline = time.monotonic() + 4.5
    while time.monotonic() < deadline:  # bounded by the deadline
        for key, _ in selector.select(0.1):
            ws = sockets[key.data]
            try:
                frames = ws.read_available()
            except OSError:
                frames = None
            if frames is None:
                closed.add(key.data)
                selector.unregister(ws.sock)
                continue
            for opcode, payload in frames:
                if opcode == 8:
                    closed.add(key.data)
                elif payload == b'2':
                    pings[key.data] += 1
                    ws.send('3')
    selector.close()
    assert not closed, f'{len(closed)} sessions closed'
    assert min(pings) >= 3, f'fewest pings: {min(pings)}'
    sockets[0].sock.setblocking(True)
    sockets[0].send('4cmd:' + json.dumps({'threads': True}))
    threads = server.wait_event(ev='threads', timeout=10)['count']
    for n, ws in enumerate(sockets):
        ws.sock.setblocking(True)
        ws.send(f'4e{n}')
    for n, ws in enumerate(sockets):
        assert receive_skipping_pings(ws, timeout=10) == f'4e{n}'
        ws.sock.close()
    return threads

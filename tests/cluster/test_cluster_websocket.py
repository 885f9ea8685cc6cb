"""WebSockets of sessions owned by another process: the upgrade of a
polling session on a non-owner, messages both ways, heartbeats, and
closes from either side. The connection stays where it was accepted;
the owner's engine writes on it through Redis."""

from __future__ import annotations

import signal
import time

import pytest

from engineio_sync.cluster import Emitter

from clusterkit import Node, in_thread
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support import wsclient
from support.eio import receive_skipping_pings
from support.waiting import wait_until


@pytest.fixture
def nodes(redis_url):
    made = {name: Node(name, redis_url, ping_interval=1, ping_timeout=2)
            for name in 'ABCD'}
    try:
        yield made
    finally:
        for node in made.values():
            node.stop()


def upgrade(nodes, raw_client, port: int | None = None):
    """A polling session opened on A and upgraded on D (or ``port``),
    while a GET parks on C: returns (sid, ws)."""
    a, c = raw_client(nodes['A'].port), raw_client(nodes['C'].port)
    sid, _ = a.handshake()
    parked = in_thread(lambda: c.get(sid))
    wait_until(lambda: nodes['A'].parked(sid), what='the GET parked at A')
    ws = wsclient.connect(port or nodes['D'].port,
                          f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    # The owner answers the parked GET on C with a noop.
    status, body = parked()
    assert (status, body) == (200, b'6')
    ws.send('5')
    return sid, ws


def test_upgrade_on_a_non_owner_then_messages_both_ways(nodes, raw_client,
                                                        redis_url):
    sid, ws = upgrade(nodes, raw_client)
    for i in range(30):
        ws.send(f'4echo:{i}')
    got = [receive_skipping_pings(ws) for _ in range(30)]
    assert got == [f'4{i}' for i in range(30)]
    assert nodes['A'].seen('message', sid) == [(f'echo:{i}',)
                                               for i in range(30)]
    for name in 'BCD':
        assert nodes[name].seen('message') == []
    emitter = Emitter(redis_url)
    try:
        assert nodes['A'].server.send(sid, 'owner')
        assert nodes['B'].server.send(sid, 'from B')
        assert emitter.send(sid, b'\x01job')
        assert [receive_skipping_pings(ws) for _ in range(3)] == [
            '4owner', '4from B', b'\x01job']
    finally:
        emitter.close()
    assert nodes['A'].server.transport(sid) == 'websocket'
    # Polling requests for an upgraded session are refused, wherever.
    status, _ = raw_client(nodes['B'].port).get(sid)
    assert status == 400
    # The heartbeat runs through the owner: several pings answered keep
    # the session open past ping_interval + ping_timeout.
    answered = []
    deadline = time.monotonic() + 3.3
    while time.monotonic() < deadline:
        if ws.receive(timeout=0.5) == '2':
            ws.send('3')
            answered.append(time.monotonic())
    assert len(answered) >= 2
    assert nodes['A'].seen('disconnect', sid) == []
    # The client closes: disconnect runs once, on the owner.
    ws.close()
    wait_until(lambda: nodes['A'].seen('disconnect', sid), what='disconnect')
    assert nodes['A'].seen('disconnect', sid) == [('transport close',)]


def test_server_side_close_reaches_a_websocket_on_a_non_owner(nodes,
                                                              raw_client):
    sid, ws = upgrade(nodes, raw_client)
    assert nodes['A'].server.send(sid, 'last words')
    nodes['B'].server.disconnect(sid)
    rest = wsclient.receive_until_closed(ws)
    assert [m for m in rest if m != '2'] == ['4last words', '1']
    wait_until(lambda: nodes['A'].seen('disconnect', sid), what='disconnect')
    assert nodes['A'].seen('disconnect', sid) == [('server disconnect',)]


def test_a_second_websocket_on_another_process_is_turned_away(nodes,
                                                              raw_client):
    sid, ws = upgrade(nodes, raw_client)
    second = wsclient.RawWebSocket(nodes['B'].port,
                                   f'EIO=4&transport=websocket&sid={sid}')
    if second.status == 101:
        assert wsclient.receive_until_closed(second) == []
    ws.send('4echo:still')
    assert receive_skipping_pings(ws) == '4still'
    ws.close()


def test_a_client_that_stops_answering_pings_times_out_once(nodes,
                                                           raw_client):
    sid, ws = upgrade(nodes, raw_client)
    # Ignore pings: the owner closes at ping_interval + ping_timeout.
    wait_until(lambda: nodes['A'].seen('disconnect', sid), timeout=8,
               what='ping timeout')
    assert nodes['A'].seen('disconnect', sid) == [('ping timeout',)]
    ws.sock.close()


def test_a_killed_holder_ends_the_session_by_heartbeat(
        nodes, raw_client, start_server, redis_url):
    holder = start_server('threading', cluster=redis_url)
    sid, ws = upgrade(nodes, raw_client, port=holder.port)
    ws.send('4echo:through the holder')
    assert receive_skipping_pings(ws) == '4through the holder'
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(5)
    ws.sock.close()
    # The owner hears nothing more: its heartbeat ends the session.
    wait_until(lambda: nodes['A'].seen('disconnect', sid), timeout=8,
               what='disconnect')
    assert nodes['A'].seen('disconnect', sid) == [('ping timeout',)]

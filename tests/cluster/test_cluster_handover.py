"""The handover: a polling session whose WebSocket reaches another process
than its owner moves there, if no handler ran for it yet.

Four in-process servers on one real Redis, requests routed on purpose:
handshake on A, POSTs on B during the window, the WebSocket on C. The
session then lives on C: connect runs there once (with the handshake's
headers), the packets POSTed meanwhile follow in order, and its
WebSocket messages no longer touch Redis.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis

from engineio_sync.cluster import ClusterOptions

from clusterkit import Node, in_thread, messages
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support import wsclient
from support.eio import receive_skipping_pings
from support.waiting import wait_until


HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# Long enough for a test's requests to land inside it on a busy machine.
WINDOW = 3.0
# The Redis commands that carry a request or a reply between processes.
CARRYING = ('evalsha', 'eval', 'rpush')


@contextlib.contextmanager
def cluster(redis_url, handover, names='ABC', **options):
    """Nodes named ``names`` with the ``handover`` window, stopped after."""
    options = {'ping_interval': 2, 'ping_timeout': 8, **options}
    made = {}
    try:
        for name in names:
            made[name] = Node(name, redis_url, handover=handover, **options)
        yield made
    finally:
        for node in made.values():
            node.stop()


@pytest.fixture
def nodes(redis_url):
    with cluster(redis_url, WINDOW) as made:
        yield made


@pytest.fixture
def store(redis_url):
    with redis.Redis.from_url(redis_url) as client:
        yield client


def handshake(client, **headers):
    """A polling handshake with extra headers: (sid, its answer)."""
    status, _, body = client.request(
        'GET', 'EIO=4&transport=polling',
        headers={name.replace('_', '-'): value
                 for name, value in headers.items()})
    assert status == 200, body
    first = body.decode().split('\x1e')[0]
    assert first[0] == '0', body
    return json.loads(first[1:])['sid'], body


def carried(store):
    """How many commands that carry requests between processes Redis has
    run so far."""
    stats = store.info('commandstats')
    return sum(stats.get(f'cmdstat_{name}', {}).get('calls', 0)
               for name in CARRYING)


def upgrade(ws):
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    ws.send('5')


def echo_round_trips(ws, count):
    for i in range(count):
        ws.send(f'4echo:{i}')
        assert receive_skipping_pings(ws) == f'4{i}'


def owner(store, sid):
    value = store.hget(f'engineio:sid:{sid}', 'o')
    return value.decode() if value is not None else None


def test_the_session_moves_to_its_websockets_process(nodes, raw_client,
                                                     store):
    a, b, c = (nodes[name] for name in 'ABC')
    sid, _ = handshake(raw_client(a.port), X_Tenant='acme', Cookie='k=v')
    # Deferred: no handler anywhere yet; POSTs on B are held, in order.
    assert raw_client(b.port).post(sid, '4echo:1\x1e4echo:2') == (200, b'ok')
    assert raw_client(a.port).post(sid, '4echo:3') == (200, b'ok')
    for node in nodes.values():
        assert node.seen('connect') == node.seen('message') == []
    parked = in_thread(lambda: raw_client(a.port).get(sid))
    wait_until(lambda: a.parked(sid), what='the GET parked on A')
    ws = wsclient.connect(c.port, f'EIO=4&transport=websocket&sid={sid}')
    # The old owner ended its parked GET; the client polls again there.
    assert parked() == (200, b'6')
    assert owner(store, sid) == c.server.cluster.process_id
    assert sid in c.server.clients and sid not in a.server.clients
    assert c.server.cluster.owned_count() == 1
    assert a.server.cluster.owned_count() == 0
    with pytest.raises(KeyError):
        a.server.transport(sid)
    # Connect ran once, on C, with the handshake's headers; the held
    # packets after it, in order.
    c.seen_at_least('message', sid, 3)
    assert [e[:2] for e in c.events[:4]] == [
        ('connect', sid), ('message', sid), ('message', sid),
        ('message', sid)]
    assert c.seen('message', sid) == [('echo:1',), ('echo:2',), ('echo:3',)]
    environ = c.environs[sid]
    assert environ['HTTP_X_TENANT'] == 'acme'
    assert environ['HTTP_COOKIE'] == 'k=v'
    assert environ['QUERY_STRING'] == 'EIO=4&transport=polling'
    assert environ['REQUEST_METHOD'] == 'GET'
    assert environ['engineio_sync.moved_from'] == \
        a.server.cluster.process_id
    assert environ['wsgi.input'].read() == b''
    # Objects are the new process's, from its WebSocket request.
    assert environ['clusterkit.node'] is c
    assert a.environs == {}
    assert c.server.get_session(sid) == {}
    for name in 'AB':
        assert nodes[name].seen('connect') == []
        assert nodes[name].seen('message') == []
    # A GET anywhere now reaches the new owner (through Redis from A).
    status, body = raw_client(a.port).get(sid)
    assert status == 200 and messages(body) == ['1', '2', '3'], body
    upgrade(ws)
    wait_until(lambda: c.server.transport(sid) == 'websocket',
               what='upgrade')
    # The echo over the WebSocket touches Redis no more.
    echo_round_trips(ws, 3)
    before = carried(store)
    echo_round_trips(ws, 50)
    assert carried(store) - before == 0
    ws.close()
    wait_until(lambda: c.seen('disconnect', sid), what='disconnect')
    time.sleep(0.3)                     # nothing more may come
    assert c.seen('disconnect', sid) == [('transport close',)]
    for name in 'AB':
        assert nodes[name].seen('disconnect') == []
    wait_until(lambda: owner(store, sid) is None, what='entry removed')


def test_an_upgrade_after_the_window_stays_proxied(redis_url, raw_client,
                                                   store):
    with cluster(redis_url, 0.3) as made:
        a, c = made['A'], made['C']
        sid, _ = handshake(raw_client(a.port))
        assert a.seen('connect', sid) == []
        wait_until(lambda: a.seen('connect', sid), what='connect on A')
        ws = wsclient.connect(c.port,
                              f'EIO=4&transport=websocket&sid={sid}')
        upgrade(ws)
        wait_until(lambda: a.server.transport(sid) == 'websocket',
                   what='upgrade')
        assert owner(store, sid) == a.server.cluster.process_id
        echo_round_trips(ws, 3)
        before = carried(store)
        echo_round_trips(ws, 20)
        # Through the owner: every message crosses Redis both ways.
        assert carried(store) - before >= 40
        assert a.seen('message', sid)[-1] == ('echo:19',)
        assert c.seen('connect') == c.seen('message') == []
        ws.close()
        wait_until(lambda: a.seen('disconnect', sid), what='disconnect')


def test_handover_zero_connects_at_the_handshake(redis_url, raw_client,
                                                 store):
    with cluster(redis_url, 0, names='AC') as made:
        a, c = made['A'], made['C']
        assert a.server.cluster.handover is None
        sid, _ = handshake(raw_client(a.port))
        assert a.seen('connect', sid) == [()]
        assert raw_client(c.port).post(sid, '4x') == (200, b'ok')
        assert a.seen_at_least('message', sid, 1) == [('x',)]
        ws = wsclient.connect(c.port,
                              f'EIO=4&transport=websocket&sid={sid}')
        upgrade(ws)
        echo_round_trips(ws, 2)
        assert owner(store, sid) == a.server.cluster.process_id
        assert c.seen('connect') == []
        ws.close()


def test_the_websocket_on_the_owner_settles_at_once(nodes, raw_client,
                                                    store):
    a = nodes['A']
    sid, _ = handshake(raw_client(a.port))
    assert raw_client(nodes['B'].port).post(sid, '4echo:held') == \
        (200, b'ok')
    ws = wsclient.connect(a.port, f'EIO=4&transport=websocket&sid={sid}')
    upgrade(ws)
    # The echo is the handler's: connect and the held message ran.
    assert receive_skipping_pings(ws) == '4held'
    assert a.seen('connect', sid) == [()]
    assert a.seen('message', sid) == [('echo:held',)]
    assert owner(store, sid) == a.server.cluster.process_id
    ws.close()


def test_a_refusing_connect_on_the_new_owner_closes_the_session(
        nodes, raw_client, store):
    a, b, c = (nodes[name] for name in 'ABC')
    c.admit = lambda sid, environ: False
    sid, _ = handshake(raw_client(a.port))
    parked = in_thread(lambda: raw_client(a.port).get(sid))
    wait_until(lambda: a.parked(sid), what='the GET parked on A')
    ws = wsclient.RawWebSocket(c.port,
                               f'EIO=4&transport=websocket&sid={sid}')
    assert parked() == (200, b'6')
    # The handshake was answered: the client gets a close packet (and
    # its WebSocket is turned away), not a 403.
    status, body = raw_client(b.port).get(sid)
    assert (status, body) == (200, b'1')
    if ws.status == 101:
        assert wsclient.receive_until_closed(ws) == []
    assert c.seen('connect', sid) == [()]
    for node in nodes.values():
        assert node.seen('disconnect') == []
    wait_until(lambda: owner(store, sid) is None, what='entry removed')


def test_a_refusing_connect_after_the_window_closes_the_session(
        redis_url, raw_client):
    with cluster(redis_url, 0.3, names='A') as made:
        a = made['A']
        a.admit = lambda sid, environ: False
        sid, _ = handshake(raw_client(a.port))
        status, body = raw_client(a.port).get(sid)
        assert (status, body) == (200, b'1')
        assert a.seen('connect', sid) == [()]
        assert a.seen('disconnect') == []


def test_a_post_on_its_way_to_the_old_owner_reaches_the_new_one(
        nodes, raw_client, store):
    """A POST forwarded by B sits in A's inbox behind the WebSocket's
    request; when A takes it the session is C's: A pushes it on to C,
    which answers B, and the packets come after the held ones."""
    a, b, c = (nodes[name] for name in 'ABC')
    handover = a.server.cluster.handover
    asked, release, forwarded = (threading.Event() for _ in range(3))
    give = handover.give

    def give_later(engine, request):
        # Hold the move until B's POST is queued behind it.
        asked.set()
        release.wait(10)
        give(engine, request)

    handover.give = give_later
    store_of_b = b.server.cluster.store
    forward = store_of_b.forward

    def forward_and_tell(*args, **kwargs):
        try:
            return forward(*args, **kwargs)
        finally:
            forwarded.set()

    sid, _ = handshake(raw_client(a.port))
    assert raw_client(b.port).post(sid, '4echo:held') == (200, b'ok')
    ws = in_thread(lambda: wsclient.connect(
        c.port, f'EIO=4&transport=websocket&sid={sid}'))
    assert asked.wait(10), 'C never asked A for the session'
    # From here on, what B forwards is the late POST.
    store_of_b.forward = forward_and_tell
    late = in_thread(lambda: raw_client(b.port).post(sid, '4echo:late'))
    assert forwarded.wait(10), 'B never forwarded the POST'
    release.set()
    assert late() == (200, b'ok')
    ws = ws()
    assert owner(store, sid) == c.server.cluster.process_id
    wait_until(lambda: len(c.seen('message', sid)) == 2, what='messages')
    assert c.seen('message', sid) == [('echo:held',), ('echo:late',)]
    assert a.seen('message') == []
    upgrade(ws)
    assert [receive_skipping_pings(ws) for _ in range(2)] == \
        ['4held', '4late']
    ws.close()


def test_a_post_begun_on_the_old_owner_reaches_the_new_one(
        nodes, raw_client, store):
    """A POST whose body is still arriving at A when the session moves:
    its packets go on to C after the held ones, and it is answered ok."""
    a, c = nodes['A'], nodes['C']
    sid, _ = handshake(raw_client(a.port))
    assert raw_client(nodes['B'].port).post(sid, '4echo:held') == \
        (200, b'ok')
    # Over 64 KiB: the server on the I/O loop reads smaller bodies whole
    # before the application (and so the session) sees the POST.
    body = b'4echo:late\x1e4' + b'p' * 70_000
    sock = socket.create_connection(('127.0.0.1', a.port), timeout=10)
    try:
        sock.sendall(f'POST /engine.io/?EIO=4&transport=polling&sid={sid} '
                     f'HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}'
                     '\r\n\r\n'.encode() + body[:3])
        wait_until(lambda: a.posting(sid), what='the POST begun on A')
        ws = wsclient.connect(c.port,
                              f'EIO=4&transport=websocket&sid={sid}')
        assert owner(store, sid) == c.server.cluster.process_id
        sock.sendall(body[3:])
        answer = sock.recv(4096)
    finally:
        sock.close()
    assert answer.startswith(b'HTTP/1.1 200') and answer.endswith(b'ok'), \
        answer
    assert c.seen('message', sid) == [('echo:held',), ('echo:late',),
                                      ('p' * 70_000,)]
    upgrade(ws)
    assert [receive_skipping_pings(ws) for _ in range(2)] == \
        ['4held', '4late']
    ws.close()


def test_a_moved_session_keeps_its_heartbeat(redis_url, raw_client):
    """ping_interval 1 s, ping_timeout 6 s, window 3 s (clamped to half
    the ping timeout from 5 s): A queued a ping before the WebSocket came
    (no GET took it); the session moves all the same, C pings it from the
    move on and it stays open."""
    with cluster(redis_url, 5, names='AC', ping_interval=1,
                 ping_timeout=6) as made:
        a, c = made['A'], made['C']
        assert a.server.cluster.handover.window == 3.0
        sid, _ = handshake(raw_client(a.port))
        # A queues its first ping after a second; no GET takes it.
        wait_until(lambda: a.engine(sid).session.buffer, what='a ping queued')
        ws = wsclient.connect(c.port,
                              f'EIO=4&transport=websocket&sid={sid}')
        upgrade(ws)
        assert c.seen('connect', sid) == [()]
        answered = 0
        deadline = time.monotonic() + 4.5
        while time.monotonic() < deadline:
            if ws.receive(timeout=0.5) == '2':
                ws.send('3')
                answered += 1
        assert answered >= 3
        assert c.seen('disconnect') == []
        ws.close()
        wait_until(lambda: c.seen('disconnect', sid), what='disconnect')


def test_the_option_is_checked():
    for bad in (-1, 11, True, '1'):
        with pytest.raises(Exception, match='handover'):
            ClusterOptions(url='redis://127.0.0.1:1/0', handover=bad)
    assert ClusterOptions(url='redis://127.0.0.1:1/0').handover == 0.5


def test_metrics_count_a_moved_session_once_on_its_final_owner(
        nodes, raw_client):
    from prometheus_client import CollectorRegistry

    from engineio_sync.metrics import instrument
    registry = CollectorRegistry()
    for node in nodes.values():
        instrument(node.server, registry=registry)

    def value(name, **labels):
        return registry.get_sample_value(name, {'protocol': '4', **labels})

    a, c = nodes['A'], nodes['C']
    sid, _ = handshake(raw_client(a.port))
    # Not counted while connect waits.
    assert value('engineio_handshakes_total', transport='polling') == 0
    ws = wsclient.connect(c.port, f'EIO=4&transport=websocket&sid={sid}')
    upgrade(ws)
    echo_round_trips(ws, 2)
    assert value('engineio_handshakes_total', transport='polling') == 1
    assert value('engineio_upgrades_total') == 1
    assert value('engineio_sessions_open', transport='websocket') == 1
    assert value('engineio_sessions_open', transport='polling') == 0
    ws.close()
    wait_until(lambda: c.seen('disconnect', sid), what='disconnect')
    assert value('engineio_closes_total', transport='websocket',
                 reason='transport close') == 1
    assert value('engineio_sessions_open', transport='websocket') == 0
    assert sum(value('engineio_closes_total', transport=t, reason=r) or 0
               for t in ('polling', 'websocket')
               for r in ('transport close', 'transport error',
                         'ping timeout', 'server disconnect',
                         'client disconnect')) == 1


def test_a_protocol_v3_base64_session_moves_too(redis_url, raw_client):
    with cluster(redis_url, WINDOW, names='ABC', allow_eio3=True) as made:
        a, b, c = (raw_client(made[name].port) for name in 'ABC')
        status, _, body = a.request('GET', 'EIO=3&transport=polling&b64=1')
        assert status == 200, body
        sid = json.loads(body.decode().split(':', 1)[1][1:])['sid']
        query = f'EIO=3&transport=polling&b64=1&sid={sid}'
        assert b.request('POST', query, body='7:4echo:x')[::2] == \
            (200, b'ok')
        ws = wsclient.connect(made['C'].port,
                              f'EIO=3&transport=websocket&sid={sid}')
        assert made['C'].seen_at_least('message', sid, 1) == [('echo:x',)]
        # The new owner answers in the session's protocol and encoding.
        assert made['C'].server.send(sid, b'\x01\x02')
        status, _, body = a.request('GET', query)
        assert (status, body) == (200, b'2:4x6:b4AQI='), body
        upgrade(ws)
        ws.send('4echo:after')
        assert receive_skipping_pings(ws) == '4after'
        ws.close()


def test_a_real_client_polling_one_process_upgrades_on_another(
        nodes, store):
    """node's engine.io-client polls A and opens its WebSocket on C: its
    GET parked on A ends with a noop, it polls on through A (carried to
    C), upgrades on C and gets every echo once, in order, from C."""
    sys.path.insert(0, os.path.join(REPO, 'tests', 'interop'))
    from nodeclient import node_available
    if not node_available():
        pytest.skip('npm ci not run')
    a, c = nodes['A'], nodes['C']
    out = subprocess.run(
        ['node', os.path.join(HERE, 'node', 'moved.js'), str(a.port),
         str(c.port), '20'],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    sid = result['sid']
    assert result == {'sid': sid, 'upgraded': True,
                      'got': [str(i) for i in range(20)], 'error': None}
    assert c.seen('connect', sid) == [()]
    assert c.seen('message', sid) == [(f'echo:{i}',) for i in range(20)]
    wait_until(lambda: c.seen('disconnect', sid), what='disconnect')
    time.sleep(0.2)                     # nothing more may come
    [(reason,)] = c.seen('disconnect', sid)
    assert reason in ('client disconnect', 'transport close')
    for name in 'AB':
        assert nodes[name].events == []

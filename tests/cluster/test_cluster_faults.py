"""Faults with real processes: an owner killed with SIGKILL, an owner
that stops taking its inbox, sends from a plain Python process, and what
the keys look like meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from engineio_sync.cluster import ClusterOptions, Emitter

from clusterkit import Node, messages, vanishing_get
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support import wsclient
from support.httpclient import BackgroundGet
from support.tcpstate import queues
from support.waiting import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture
def store(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def node_b(redis_url):
    node = Node('B', redis_url)
    yield node
    node.stop()


def test_a_killed_owner_ends_its_sessions_elsewhere_within_seconds(
        redis_url, start_server, node_b, raw_client, store):
    owner = start_server('threading', cluster=redis_url)
    a, b = raw_client(owner.port), raw_client(node_b.port)
    sid, _ = a.handshake()
    other, _ = a.handshake()
    assert b.post(sid, '4hi') == (200, b'ok')
    owner.wait_event(ev='message', sid=sid, data='hi')
    status, body = b.get(sid)
    assert status == 200 and messages(body) == ['hi'], body
    parked = BackgroundGet(node_b.port, f'EIO=4&transport=polling&sid={sid}',
                           timeout=30)
    parked.wait_taken()
    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait(5)
    killed_at = time.monotonic()
    status, body = parked.result(15)
    assert status == 400 and b'"code":1' in body, body
    # Within the liveness TTL (3 s) and the waiter's check (1 s).
    assert time.monotonic() - killed_at < 6
    status, body = b.post(other, '4anyone?')
    assert status == 400 and b'"code":1' in body, body
    # The other process carries on.
    fresh, _ = b.handshake()
    assert b.post(fresh, '4still here') == (200, b'ok')
    assert node_b.seen_at_least('message', fresh, 1) == [('still here',)]
    # The dead owner's keys are left behind, but every one of them expires.
    keys = store.keys('*')
    assert keys and all(store.ttl(key) > 0 for key in keys), \
        [(key, store.ttl(key)) for key in keys]
    assert node_b.seen('disconnect') == []


def test_the_owner_keeps_its_liveness_key_alive(node_b, raw_client, store):
    sid, _ = raw_client(node_b.port).handshake()
    key = f'engineio:live:{node_b.server.cluster.process_id}'
    assert 0 < store.pttl(key) <= 3000
    # Renewed every second: once its time to live has gone down, it goes
    # up again.
    seen: list[int] = []

    def gone_down() -> bool:
        seen.append(store.pttl(key))
        return seen[-1] < 2800

    wait_until(gone_down, timeout=4, what='time passing')
    wait_until(lambda: store.pttl(key) > seen[-1], timeout=4,
               what='liveness renewal')
    assert 0 < store.ttl(f'engineio:sid:{sid}') <= 60


def test_a_plain_process_sends_and_disconnects(redis_url, node_b,
                                               raw_client):
    b = raw_client(node_b.port)
    sid, _ = b.handshake()
    script = ('import sys\n'
              'from engineio_sync.cluster import Emitter\n'
              'emitter = Emitter(sys.argv[1])\n'
              'print(emitter.send(sys.argv[2], "from a job"),'
              ' emitter.send(sys.argv[2], b"\\x00\\x01"),'
              ' emitter.send("no-such-sid", "x"))\n'
              'emitter.close()\n')
    out = subprocess.run([sys.executable, '-c', script, redis_url, sid],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, 'PYTHONPATH': ROOT})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['True', 'True', 'False']
    status, body = b.get(sid)
    assert status == 200, body
    assert body.decode().split('\x1e') == ['4from a job', 'bAAE=']
    emitter = Emitter(redis_url)
    try:
        assert emitter.disconnect(sid) is True
    finally:
        emitter.close()
    wait_until(lambda: node_b.seen('disconnect', sid), what='disconnect')
    assert node_b.seen('disconnect', sid) == [('server disconnect',)]


def test_a_full_inbox_closes_the_session_with_a_reason(
        redis_url, start_server, raw_client, store):
    owner = start_server('threading', cluster=redis_url)
    a = raw_client(owner.port)
    sid, _ = a.handshake()
    owner.wait_event(ev='connect', sid=sid)
    emitter = Emitter(ClusterOptions(url=redis_url, inbox_limit=3))
    owner.proc.send_signal(signal.SIGSTOP)
    try:
        sent = [emitter.send(sid, f'm{i}') for i in range(8)]
        inbox = [k for k in store.keys('engineio:inbox:*')]
        assert len(inbox) == 1
        # The bound holds: three requests and the overflow notices (the
        # stopped owner's pending pop may already hold the first one).
        length = store.llen(inbox[0])
    finally:
        owner.proc.send_signal(signal.SIGCONT)
        emitter.close()
    accepted = sent.count(True)
    assert accepted in (3, 4) and sent == [True] * accepted + [False] * (
        8 - accepted)
    assert length == 3 + (8 - accepted)
    event = owner.wait_event(ev='disconnect', sid=sid, timeout=10)
    assert event['reason'] == 'transport error'
    status, body = a.get(sid)
    assert status in (200, 400), body


def test_redis_restarted_empty_mid_run_service_resumes(redis_proc,
                                                       raw_client):
    a_node, b_node = Node('A', redis_proc.url), Node('B', redis_proc.url)
    try:
        a, b = raw_client(a_node.port), raw_client(b_node.port)
        sid, _ = a.handshake()
        assert b.post(sid, '4before') == (200, b'ok')
        redis_proc.stop()
        # Down: handshakes refused, other processes cannot reach it.
        assert a.request('GET', 'EIO=4&transport=polling')[0] == 503
        assert b.post(sid, '4during')[0] == 400
        redis_proc.start()  # empty: no directory, no liveness keys
        # The owner enters its session again once it sees Redis back.
        wait_until(lambda: b.post(sid, '4echo:after') == (200, b'ok'),
                   timeout=10, what='the session reachable from B again')
        # The echo is the handler's: every message before it ran.
        status, body = b.get(sid)
        assert status == 200 and messages(body) == ['after'], body
        assert a_node.seen('message', sid)[0] == ('before',)
        assert a_node.seen('message', sid)[-1] == ('echo:after',)
        assert ('during',) not in a_node.seen('message', sid)
        assert a_node.seen('disconnect') == []
    finally:
        a_node.stop()
        b_node.stop()


def test_a_client_that_stops_polling_is_disconnected_once_on_its_owner(
        redis_url, raw_client):
    nodes = [Node(name, redis_url, ping_interval=0.5, ping_timeout=1)
             for name in 'ABC']
    try:
        a = raw_client(nodes[0].port)
        sid, _ = a.handshake()
        # A GET parks on B, then the client goes away for good.
        vanishing_get(nodes[1].port, sid, nodes[0])
        wait_until(lambda: nodes[0].seen('disconnect', sid), timeout=6,
                   what='disconnect')
        time.sleep(0.5)  # nothing more may come
        assert nodes[0].seen('disconnect', sid) == [('ping timeout',)]
        assert nodes[1].seen('disconnect') == nodes[2].seen('disconnect') \
            == []
    finally:
        for node in nodes:
            node.stop()


@pytest.mark.parametrize('driver', ['native', 'eventlet', 'gevent'])
def test_green_drivers_in_monkey_patched_processes(driver, redis_url,
                                                   start_server, node_b,
                                                   raw_client):
    """eventlet (behind our HTTP server and behind eventlet.wsgi) and
    gevent processes, monkey-patched, in one cluster with a threading
    one: requests cross both ways, and a WebSocket upgrade on the green
    process carries a session the threading process owns."""
    green = start_server(driver, cluster=redis_url,
                         env={'EIO_TEST_MONKEY_PATCH': '1'})
    g, b = raw_client(green.port), raw_client(node_b.port)
    sid, _ = g.handshake()
    assert b.post(sid, '4from b') == (200, b'ok')
    green.wait_event(ev='message', sid=sid, data='from b')
    status, body = b.get(sid)
    assert status == 200 and messages(body) == ['from b'], body
    sid, _ = b.handshake()
    assert g.post(sid, '4echo:from green') == (200, b'ok')
    status, body = g.get(sid)
    assert status == 200 and messages(body) == ['from green'], body
    ws = wsclient.connect(green.port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    ws.send('5')
    ws.send('4echo:over the upgrade')
    assert wsclient.receive(ws) == '4over the upgrade'
    ws.close()
    wait_until(lambda: node_b.seen('disconnect', sid), what='disconnect')
    assert node_b.seen('disconnect', sid) == [('transport close',)]


def test_green_drivers_refuse_the_option_without_monkey_patching(redis_url):
    code = ('import sys, engineio_sync\n'
            'try:\n'
            '    engineio_sync.Server(async_mode=sys.argv[1],'
            ' cluster=sys.argv[2])\n'
            'except engineio_sync.ConfigError as exc:\n'
            '    print(exc)\n')
    for mode, patch in (('eventlet', 'eventlet.monkey_patch()'),
                        ('gevent', 'gevent.monkey.patch_all()')):
        out = subprocess.run([sys.executable, '-W', 'ignore', '-c', code,
                              mode, redis_url], capture_output=True,
                             text=True, timeout=60,
                             env={**os.environ, 'PYTHONPATH': ROOT})
        assert out.returncode == 0, out.stderr
        assert f'needs a monkey-patched process: call {patch}' in out.stdout


def test_a_get_elsewhere_whose_client_left_takes_nothing(redis_url,
                                                         raw_client):
    made = [Node(name, redis_url) for name in 'ABC']
    try:
        a, c = raw_client(made[0].port), raw_client(made[2].port)
        sid, _ = a.handshake()
        at_b, client_end = vanishing_get(made[1].port, sid, made[0])
        # B notices within a second and tells the owner; the message sent
        # then stays queued for the client's next GET instead of going to
        # the GET nobody reads. B closes its end once it has told.
        wait_until(lambda: queues(at_b, client_end) is None,
                   what='B giving the GET up')
        owner = made[0].server.cluster
        inbox = owner.store.inbox_key(owner.process_id)
        wait_until(lambda: owner.client.llen(inbox) == 0,
                   what='the owner taking what B told')
        assert made[0].server.send(sid, 'kept')
        status, body = c.get(sid, timeout=5)
        assert status == 200 and messages(body) == ['kept'], body
    finally:
        for node in made:
            node.stop()

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

from clusterkit import Node, in_thread, messages, wait_for

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
    parked = in_thread(lambda: b.get(sid, timeout=30))
    time.sleep(0.2)
    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait(5)
    killed_at = time.monotonic()
    status, body = parked(15)
    assert status == 400 and b'"code":1' in body, body
    # Within the liveness TTL (3 s) and the waiter's check (1 s).
    assert time.monotonic() - killed_at < 6
    status, body = b.post(other, '4anyone?')
    assert status == 400 and b'"code":1' in body, body
    # The other process carries on.
    fresh, _ = b.handshake()
    assert b.post(fresh, '4still here') == (200, b'ok')
    assert node_b.seen('message', fresh) == [('still here',)]
    # The dead owner's keys are left behind, but every one of them expires.
    keys = store.keys('*')
    assert keys and all(store.ttl(key) > 0 for key in keys), \
        [(key, store.ttl(key)) for key in keys]
    assert node_b.seen('disconnect') == []


def test_the_owner_keeps_its_liveness_key_alive(node_b, raw_client, store):
    sid, _ = raw_client(node_b.port).handshake()
    key = f'engineio:live:{node_b.server.cluster.process_id}'
    first = store.pttl(key)
    assert 0 < first <= 3000
    # Renewed every second: its time to live goes up again.
    wait_for(lambda: store.pttl(key) > first, timeout=4,
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
    wait_for(lambda: node_b.seen('disconnect', sid), what='disconnect')
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

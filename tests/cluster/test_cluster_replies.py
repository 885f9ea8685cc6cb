"""Reply lists are bounded: a process that stops reading its replies (here
a real process stopped with SIGSTOP while it holds the WebSocket of a
session owned elsewhere) cannot grow Redis' memory; the owner drops what
does not fit, says so in its log, and closes the sessions that depended on
it."""

from __future__ import annotations

import logging
import signal

import pytest
import redis

from engineio_sync.cluster import ClusterOptions

from clusterkit import Node, in_thread, messages
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.waiting import wait_until
from test_cluster_websocket import receive_skipping_pings, upgrade

LIMIT = 20


@pytest.fixture
def owner_and_helper(redis_url):
    made = {'A': Node('A', ClusterOptions(url=redis_url, reply_limit=LIMIT)),
            'C': Node('C', redis_url)}
    try:
        yield made
    finally:
        for node in made.values():
            node.stop()


def others(store, nodes: dict[str, Node]) -> set[str]:
    """The process ids of the cluster's live processes but ``nodes``."""
    return {key.decode().split(':', 2)[2]
            for key in store.keys('engineio:live:*')} - {
        node.server.cluster.process_id for node in nodes.values()}


def test_a_stopped_holder_cannot_grow_its_reply_list(
        owner_and_helper, raw_client, start_server, redis_url, caplog):
    nodes = owner_and_helper
    owner = nodes['A']
    holder = start_server('threading', cluster=redis_url)
    sid, ws = upgrade(nodes, raw_client, port=holder.port)
    store = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: owner.server.transport(sid) == 'websocket',
                   what='upgraded')
        assert owner.server.send(sid, 'before')
        assert receive_skipping_pings(ws) == '4before'
        (holder_id,) = others(store, nodes)
        wake = f'engineio:wake:{holder_id}'
        caplog.set_level(logging.WARNING, logger='engineio_sync')
        holder.proc.send_signal(signal.SIGSTOP)
        try:
            # Every message the owner writes on the WebSocket goes to the
            # holder's reply list, which nobody reads now.
            sent = 0
            for i in range(10 * LIMIT):
                if not owner.server.send(sid, f'm{i}'):
                    break
                sent += 1
            wait_until(lambda: owner.seen('disconnect', sid), what='close')
            length = store.llen(wake)
            for i in range(50):  # the session is over: nothing more goes in
                owner.server.send(sid, f'late{i}')
            assert store.llen(wake) == length
            # Checked before the holder resumes: it then empties the list
            # with one pop.
            assert 0 < store.ttl(wake) <= 60
        finally:
            holder.proc.send_signal(signal.SIGCONT)
        # The stopped process's pending pop may already hold one.
        assert LIMIT - 1 <= length <= LIMIT, length
        assert LIMIT <= sent < 10 * LIMIT, sent
        assert owner.seen('disconnect', sid) == [('transport error',)]
        warnings = [r.getMessage() for r in caplog.records
                    if 'reply list' in r.getMessage()]
        assert len(warnings) == 1 and holder_id in warnings[0] and \
            f'{LIMIT} replies unread' in warnings[0], warnings
        # The holder carries on once resumed: new sessions work through
        # it, and the owner pushes to it again.
        b, a = raw_client(holder.port), raw_client(owner.port)
        fresh, _ = a.handshake()
        assert b.post(fresh, '4echo:again') == (200, b'ok')
        status, body = b.get(fresh)
        assert status == 200 and messages(body) == ['again'], body
        assert any('reads its replies again' in r.getMessage()
                   for r in caplog.records)
    finally:
        ws.sock.close()
        store.close()


def test_an_answer_that_finds_the_reply_list_full_waits_for_the_next_get(
        owner_and_helper, raw_client, start_server, redis_url, caplog):
    owner = owner_and_helper['A']
    holder = start_server('threading', cluster=redis_url)
    a = raw_client(owner.port)
    sid, _ = a.handshake()
    # A GET on the holder, parked at the owner.
    in_thread(lambda: raw_client(holder.port).get(sid, timeout=60))
    store = redis.Redis.from_url(redis_url)
    holder_id = wait_until(lambda: others(store, owner_and_helper),
                           what='the holder in the cluster').pop()
    wait_until(lambda: owner.parked(sid), what='the GET parked at the owner')
    holder.proc.send_signal(signal.SIGSTOP)
    try:
        wake = f'engineio:wake:{holder_id}'
        # Unread replies fill the list (the stopped pop may take one).
        for _ in range(LIMIT + 1):
            if store.llen(wake) >= LIMIT:
                break
            store.rpush(wake, b'unread')
        assert store.llen(wake) == LIMIT
        caplog.set_level(logging.WARNING, logger='engineio_sync')
        assert owner.server.send(sid, 'kept')
        # The owner's answer to the parked GET does not fit: the message
        # goes back to the session's queue, and the next GET takes it.
        wait_until(lambda: any('reply list' in r.getMessage()
                             for r in caplog.records), what='the warning')
        status, body = a.get(sid)
        assert status == 200 and messages(body) == ['kept'], body
        assert store.llen(wake) == LIMIT
    finally:
        holder.proc.send_signal(signal.SIGCONT)
        store.close()

"""Long-polling sessions served by several processes sharing a Redis.

Three in-process servers with distinct process ids, each behind its own
HTTP listener, and requests routed on purpose so that every cross path
runs: handshake on A, POST on B, GET on C, close on B.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from clusterkit import Node, in_thread, messages, nodes  # noqa: F401
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.waiting import wait_until


@pytest.fixture
def store(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_processes_have_distinct_ids(nodes):
    ids = {node.server.cluster.process_id for node in nodes.values()}
    assert len(ids) == 3


def test_handshake_post_get_close_on_different_processes(nodes, raw_client,
                                                         store):
    a, b, c = (raw_client(nodes[n].port) for n in 'ABC')
    sid, info = a.handshake()
    assert nodes['A'].seen('connect', sid) == [()]
    # POSTs on B and C reach the owner's handlers, once and in order.
    assert b.post(sid, '4echo:1\x1e4echo:2') == (200, b'ok')
    assert c.post(sid, '4echo:3') == (200, b'ok')
    assert a.post(sid, '4echo:4') == (200, b'ok')
    assert nodes['A'].seen_at_least('message', sid, 4) == [
        ('echo:1',), ('echo:2',), ('echo:3',), ('echo:4',)]
    assert nodes['B'].seen('message') == nodes['C'].seen('message') == []
    # The owner's answers reach GETs on C, once and in order.
    got: list[str] = []
    for _ in range(4):
        status, body = c.get(sid)
        assert status == 200, body
        got += messages(body)
        if len(got) >= 4:
            break
    assert got == ['1', '2', '3', '4']
    # The directory entry expires unless renewed, and names A.
    key = f'engineio:sid:{sid}'
    assert store.hget(key, 'o').decode() == \
        nodes['A'].server.cluster.process_id
    assert 0 < store.ttl(key) <= 60
    # Close on B: the owner runs disconnect once; the session is gone
    # everywhere and its directory entry with it.
    assert b.post(sid, '1') == (200, b'ok')
    wait_until(lambda: nodes['A'].seen('disconnect', sid), what='disconnect')
    assert nodes['A'].seen('disconnect', sid) == [('client disconnect',)]
    for client in (a, b, c):
        status, body = client.get(sid)
        assert status == 400 and b'"code":1' in body, body
    assert not store.exists(key)
    assert nodes['B'].seen('disconnect') == nodes['C'].seen('disconnect') \
        == []


def test_parked_get_on_a_non_owner_wakes_for_sends_from_anywhere(
        nodes, raw_client, redis_url):
    a, c = raw_client(nodes['A'].port), raw_client(nodes['C'].port)
    sid, _ = a.handshake()
    from engineio_sync.cluster import Emitter
    emitter = Emitter(redis_url)
    try:
        for sender, text in ((lambda s, t: nodes['A'].server.send(s, t),
                              'from owner'),
                             (lambda s, t: nodes['B'].server.send(s, t),
                              'from B'),
                             (emitter.send, 'from a job')):
            parked = in_thread(lambda: c.get(sid))
            # The GET on C is parked at its owner, A.
            wait_until(lambda: nodes['A'].parked(sid), what='the GET parked')
            assert sender(sid, text) is True
            status, body = parked()
            assert status == 200 and messages(body) == [text], body
        assert emitter.send('no-such-session', 'x') is False
        assert nodes['B'].server.send('no-such-session', 'x') is False
    finally:
        emitter.close()


def test_a_second_get_is_refused_as_in_one_process(nodes, raw_client):
    a, b, c = (raw_client(nodes[n].port) for n in 'ABC')
    sid, _ = a.handshake()
    parked = in_thread(lambda: b.get(sid))
    wait_until(lambda: nodes['A'].parked(sid), what='the GET parked')
    status, body = c.get(sid)
    assert status == 400, body
    # The protocol ends a session whose client polls twice at once.
    assert parked()[0] == 200
    wait_until(lambda: nodes['A'].seen('disconnect', sid), what='disconnect')


def test_no_key_is_left_once_sessions_end_and_processes_leave(
        nodes, raw_client, store):
    a, b = raw_client(nodes['A'].port), raw_client(nodes['B'].port)
    sids = [a.handshake()[0] for _ in range(3)] + [b.handshake()[0]]
    for sid in sids:
        assert b.post(sid, '1') == (200, b'ok')
    for sid, owner in zip(sids, 'AAAB'):
        wait_until(lambda o=owner, s=sid: nodes[o].seen('disconnect', s))
    wait_until(lambda: not store.keys('engineio:sid:*'), what='no sessions')
    assert store.ttl(
        f"engineio:live:{nodes['A'].server.cluster.process_id}") > 0
    for node in nodes.values():
        node.stop()
    assert store.keys('*') == []


def commands(client) -> dict[str, int]:
    """Redis commands run so far, by name (INFO commandstats)."""
    return {name[len('cmdstat_'):]: stats['calls']
            for name, stats in client.info('commandstats').items()}


def test_redis_commands_per_request_are_few_and_none_for_the_owner(
        nodes, raw_client, store):
    a, b = raw_client(nodes['A'].port), raw_client(nodes['B'].port)
    sid, _ = a.handshake()
    rounds = 30

    def run(client, pushes: int) -> tuple[dict[str, int], float]:
        before = commands(store)
        started = time.monotonic()
        for i in range(rounds):
            assert client.post(sid, f'4echo:{i}') == (200, b'ok')
            status, body = client.get(sid)
            assert status == 200 and messages(body) == [str(i)], body
        elapsed = time.monotonic() - started
        # The report of the last answer written may still be on its way.
        wait_until(lambda: commands(store).get('rpush', 0)
                   - before.get('rpush', 0) >= pushes, what='last report')
        after = commands(store)
        return {name: after[name] - before.get(name, 0) for name in after
                if after[name] != before.get(name, 0) and name != 'info'
                }, elapsed

    on_owner, _ = run(a, 0)
    elsewhere, elapsed = run(b, 5 * rounds)
    # Only the background tasks (liveness every second, blocked pops
    # timing out) ran while the owner served everything itself.
    assert set(on_owner) <= {'blmpop', 'set', 'expire', 'hello',
                             'client|setinfo'}, on_owner
    # Elsewhere, per request: one script call (its HMGET, EXISTS, LLEN,
    # RPUSH and EXPIRE run inside Redis), the owner's pop, its reply
    # (a script too: LLEN, RPUSH, EXPIRE) and the asker's pop; after a
    # GET's answer is written, one more script call and the owner's pop
    # tell the owner so (off the client's path). A pop that took something
    # is followed by a non-blocking LPOP (sent with the other commands)
    # and, when that finds nothing, by a blocking one. (The first call of
    # each script may be retried once to load it; each of the six blocked
    # pops times out once a second when idle; each process renews its
    # sessions' directory entries every 20 s.)
    calls = 3 * rounds
    replies = 2 * rounds
    scripts = elsewhere.get('evalsha', 0) + elsewhere.get('eval', 0)
    assert calls + replies <= scripts <= calls + replies + 2, elsewhere
    pops = elsewhere.get('blmpop', 0) + elsewhere.get('lpop', 0)
    assert 5 * rounds <= pops <= 3 * 5 * rounds + 6 * (elapsed + 1), \
        elsewhere
    assert elsewhere['rpush'] == 5 * rounds, elsewhere
    assert 5 * rounds <= elsewhere['expire'] <= 5 * rounds + 3, elsewhere
    assert elsewhere.get('hmget', 0) == calls + 1, elsewhere
    assert set(elsewhere) <= {'evalsha', 'eval', 'blmpop', 'lpop', 'rpush',
                              'expire', 'hmget', 'exists', 'llen', 'set',
                              'hello', 'client|setinfo', 'ping'}, elsewhere


def test_protocol_v3_base64_sessions_encode_alike_everywhere(redis_url,
                                                            raw_client):
    from engineio_sync import Packet, PacketType
    from engineio_sync.core.payload import encode_payload_v3
    made = [Node(name, redis_url, allow_eio3=True) for name in 'AB']
    try:
        a, b = raw_client(made[0].port), raw_client(made[1].port)
        status, _, body = a.request('GET', 'EIO=3&transport=polling&b64=1')
        assert status == 200, body
        sid = json.loads(body.decode().split(':', 1)[1][1:])['sid']
        query = f'EIO=3&transport=polling&b64=1&sid={sid}'
        assert made[0].server.send(sid, b'\x01\x02')
        status, _, body = b.request('GET', query)
        expected = encode_payload_v3(
            [Packet(PacketType.MESSAGE, b'\x01\x02')], b64=True)
        assert (status, body.decode()) == (200, expected)
        # A v3 POST elsewhere is decoded by the session's protocol.
        status, _, body = b.request('POST', query, body='7:4echo:x')
        assert (status, body) == (200, b'ok')
        assert made[0].seen_at_least('message', sid, 1) == [('echo:x',)]
    finally:
        for node in made:
            node.stop()


def test_broadcast_reaches_every_session_of_every_process_once(
        nodes, raw_client, redis_url):
    from engineio_sync.cluster import Emitter
    a, b, c = (raw_client(nodes[n].port) for n in 'ABC')
    sids = [a.handshake()[0], a.handshake()[0], b.handshake()[0]]
    # A process joins at its first request: A and B have, C not yet.
    assert nodes['C'].server.cluster.broadcast('to all') == 2
    emitter = Emitter(redis_url)
    try:
        assert emitter.broadcast(b'\x07') == 2
    finally:
        emitter.close()
    for sid in sids:
        got: list[str] = []
        for _ in range(2):
            status, body = c.get(sid)
            assert status == 200, body
            got += body.decode().split('\x1e')
            if len(got) >= 2:
                break
        assert got == ['4to all', 'bBw=='], (sid, got)


def test_a_get_elsewhere_reports_its_answer_written_or_not(nodes,
                                                          raw_client):
    from support.httpclient import reset_get
    a, c = raw_client(nodes['A'].port), raw_client(nodes['C'].port)
    sid, _ = a.handshake()
    written = []
    socket = nodes['A'].server.clients[sid]
    # A send callback runs on the owner once the answer carrying the
    # message was written by the process that served the GET.
    assert socket.send('small', callback=lambda: written.append('small'))
    status, body = c.get(sid)
    assert status == 200 and messages(body) == ['small'], body
    wait_until(lambda: written == ['small'], what='the send callback')
    # An answer the other process could not write (6 MB, more than the
    # kernel buffers hold, its connection reset while it is written) goes
    # back to the front of the owner's queue: the next GET, anywhere,
    # carries it.
    big = [f'{i:02}' + 'y' * 100_000 for i in range(60)]
    for text in big[:-1]:
        assert socket.send(text)
    assert socket.send(big[-1], callback=lambda: written.append('big'))
    reset_get(nodes['B'].port, sid)
    assert written == ['small']
    received: list[str] = []
    for _ in range(10):
        status, body = c.get(sid)
        assert status == 200, body[:100]
        received += messages(body)
        if len(received) >= len(big):
            break
    assert received == big
    wait_until(lambda: written == ['small', 'big'], what='the send callback')

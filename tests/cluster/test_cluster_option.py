"""The ``cluster`` option: off by default (nothing of Redis loads), clear
errors for bad values, 503 for handshakes while Redis is down."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

import engineio_sync
from engineio_sync import ConfigError
from engineio_sync.cluster import ClusterOptions

from clusterkit import Node
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.processes import ListeningProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_without_the_option_nothing_of_redis_is_imported():
    code = ('import sys, engineio_sync\n'
            's = engineio_sync.Server(async_mode="threading")\n'
            'assert s.cluster is None\n'
            'print(sorted(m for m in sys.modules if m == "redis" or '
            'm.startswith(("redis.", "engineio_sync.cluster"))))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, 'PYTHONPATH': ROOT})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'


@pytest.mark.parametrize('value, message', [
    ('http://127.0.0.1:6379/0',
     r'redis://, rediss://, unix:// or redis\+sentinel://'),
    ('redis+sentinel://127.0.0.1/0/mymaster', 'sentinels must be host:port'),
    ('redis://', 'names no host'),
    ('redis://127.0.0.1:99999/0', 'malformed'),
    ('redis://127.0.0.1:6379/zero', 'database must be a number'),
    ('unix://', 'no socket path'),
    (True, 'a Redis URL, a redis-py client or a ClusterOptions'),
    (object(), 'a Redis URL, a redis-py client or a ClusterOptions'),
])
def test_bad_values_are_refused_clearly(value, message):
    with pytest.raises(ConfigError, match=message.replace('/', '/')
                       .replace('.', r'\.')):
        engineio_sync.Server(async_mode='threading', cluster=value)


@pytest.mark.parametrize('options, message', [
    ({}, 'exactly one of url and client'),
    ({'url': 'redis://h/0', 'prefix': 'a b'}, 'prefix'),
    ({'url': 'redis://h/0', 'process_id': ''}, 'process_id'),
    ({'url': 'redis://h/0', 'liveness_ttl': 0.5}, 'liveness_ttl'),
    ({'url': 'redis://h/0', 'directory_ttl': 5}, 'directory_ttl'),
    ({'url': 'redis://h/0', 'inbox_limit': 0}, 'inbox_limit'),
    ({'client': 'redis://h/0'}, 'redis-py client'),
])
def test_bad_cluster_options_are_refused_clearly(options, message):
    with pytest.raises(ConfigError, match=message):
        ClusterOptions(**options)


def test_a_client_or_options_object_is_accepted(redis_url, raw_client):
    client = redis.Redis.from_url(redis_url)
    try:
        nodes = [Node('A', client),
                 Node('B', ClusterOptions(client=client, process_id='b-1'))]
        try:
            assert nodes[1].server.cluster.process_id == 'b-1'
            sid, _ = raw_client(nodes[0].port).handshake()
            assert raw_client(nodes[1].port).post(sid, '4x') == (200, b'ok')
            assert nodes[0].seen_at_least('message', sid, 1) == [('x',)]
        finally:
            for node in nodes:
                node.stop()
    finally:
        client.close()


def test_redis_down_handshakes_503_requests_400_then_recovery(
        redis_proc, raw_client):
    a_node, b_node = Node('A', redis_proc.url), Node('B', redis_proc.url)
    try:
        a, b = raw_client(a_node.port), raw_client(b_node.port)
        sid, _ = a.handshake()
        redis_proc.stop()
        status, headers, body = a.request('GET', 'EIO=4&transport=polling')
        assert status == 503, body
        assert headers.get('retry-after') == '5'
        assert b'"code":3' in body
        status, body = b.post(sid, '4lost')
        assert status == 400 and b'"code":1' in body, body
        # The owner's own requests never needed Redis.
        assert a.post(sid, '4local') == (200, b'ok')
        redis_proc.start()
        new_sid, _ = b.handshake()
        assert a.post(new_sid, '4back') == (200, b'ok')
        assert b_node.seen_at_least('message', new_sid, 1) == [('back',)]
    finally:
        a_node.stop()
        b_node.stop()


def test_listen_leaves_the_cluster_when_stopped(redis_url, raw_client):
    code = ('import sys, engineio_sync\n'
            'engineio_sync.listen(0, async_mode="threading", '
            'cluster=sys.argv[1], shutdown_timeout=0.5, '
            'ready=lambda s: print("LISTENING", '
            's.listening_port, flush=True))\n')
    server = ListeningProcess([sys.executable, '-c', code, redis_url],
                              env={**os.environ, 'PYTHONPATH': ROOT})
    client = redis.Redis.from_url(redis_url)
    try:
        status, _, body = raw_client(server.port).request(
            'GET', 'EIO=4&transport=polling')
        assert status == 200, body
        assert client.keys('engineio:live:*')
        server.proc.terminate()
        assert server.proc.wait(15) == 0, server.output()
        assert client.keys('*') == []
    finally:
        client.close()
        server.stop()

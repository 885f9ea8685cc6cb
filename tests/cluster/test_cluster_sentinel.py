"""The cluster through Redis Sentinel: a real master, a replica and a
sentinel (Debian's redis-server in ``--sentinel`` mode), two servers that
find the master through a ``redis+sentinel://`` URL, and the master
killed in the middle of the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from engineio_sync.cluster import ClusterOptions, Emitter
from engineio_sync.exceptions import ConfigError
from engineio_sync.cluster.options import make_client, parse_sentinel_url

from clusterkit import Node, messages
from redisproc import REDIS_SERVER, RedisProcess, available, free_port, ping
from support.processes import stop_process
from support.waiting import wait_until

SERVICE = 'mymaster'


class SentinelProcess:
    """One sentinel watching ``SERVICE`` on ``master_port``, quorum 1, a
    master counted down after one second without answers."""

    def __init__(self, master_port: int) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='eio-sentinel-')
        conf = os.path.join(self.dir, 'sentinel.conf')
        with open(conf, 'w') as out:
            out.write(f'port {self.port}\nbind 127.0.0.1\ndaemonize no\n'
                      f'dir {self.dir}\n'
                      f'sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n'
                      f'sentinel down-after-milliseconds {SERVICE} 1000\n'
                      f'sentinel failover-timeout {SERVICE} 5000\n')
        self.proc = subprocess.Popen([REDIS_SERVER, conf, '--sentinel'],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir)
        self.client = redis.Redis(port=self.port, socket_timeout=2,
                                  decode_responses=True)
        wait_until(lambda: ping(self.port), 10, 'sentinel answering')

    def master_port(self) -> int | None:
        address = self.client.sentinel_get_master_addr_by_name(SERVICE)
        return int(address[1]) if address else None

    def knows_replica(self, port: int) -> bool:
        return any(int(replica['port']) == port
                   and not ({'s_down', 'o_down', 'disconnected'}
                            & set(replica['flags'].split(',')))
                   for replica in self.client.sentinel_slaves(SERVICE))

    def close(self) -> None:
        self.client.close()
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def sentinel():
    """(sentinel, master, replica), all running and agreed."""
    if not available():
        pytest.fail('redis-server is not installed (.ci/run installs it)')
    master = RedisProcess()
    master.start()
    replica = RedisProcess(args=('--replicaof', '127.0.0.1',
                                 str(master.port)))
    replica.start()
    watcher = None
    try:
        link = redis.Redis(port=replica.port, decode_responses=True)
        wait_until(lambda: link.info('replication')['master_link_status']
                   == 'up', 10, 'replica in sync')
        link.close()
        watcher = SentinelProcess(master.port)
        wait_until(lambda: watcher.knows_replica(replica.port), 10,
                   'sentinel knowing the replica')
        yield watcher, master, replica
    finally:
        if watcher is not None:
            watcher.close()
        replica.close()
        master.close()


def echo(client, sid: str, text: str, deadline: float) -> list[str]:
    """POST ``echo:text`` and GET until its echo (or a 400) comes back."""
    status, body = client.post(sid, f'4echo:{text}')
    if status != 200:
        return [f'POST {status}', body.decode()]
    got: list[str] = []
    while time.monotonic() < deadline and text not in got:
        status, body = client.get(sid)
        if status != 200:
            return got + [f'GET {status}']
        got += messages(body)
    return got


def handshake_until_served(client, deadline: float) -> str:
    """A handshake, retried while the cluster answers 503 (Redis is
    changing masters)."""
    refused = 0
    while time.monotonic() < deadline:
        status, _, body = client.request('GET', 'EIO=4&transport=polling')
        if status == 200:
            return json.loads(body.decode().split('\x1e')[0][1:])['sid']
        assert status == 503, (status, body)
        refused += 1
        time.sleep(0.2)                 # paces the retries of a failover
    raise AssertionError(f'no handshake served ({refused} times 503)')


@pytest.mark.timeout(40)
def test_two_servers_through_sentinel_survive_a_failover(sentinel,
                                                         raw_client):
    watcher, master, replica = sentinel
    url = f'redis+sentinel://127.0.0.1:{watcher.port}/0/{SERVICE}'
    # A short heartbeat: a GET that finds nothing comes back soon.
    nodes = {name: Node(name, url, ping_interval=2, ping_timeout=2)
             for name in 'AB'}
    try:
        a, b = (raw_client(nodes[name].port) for name in 'AB')
        assert nodes['A'].server.cluster.process_id != \
            nodes['B'].server.cluster.process_id
        sid, _ = a.handshake()
        deadline = time.monotonic() + 10
        assert echo(b, sid, 'before', deadline) == ['before']
        assert nodes['A'].seen('message', sid) == [('echo:before',)]
        # The master holds the cluster's keys.
        on_master = redis.Redis(port=master.port)
        assert on_master.exists(f'engineio:sid:{sid}')
        on_master.close()

        # The master crashes; the sentinel promotes the replica.
        master.proc.kill()
        master.proc.wait(5)
        wait_until(lambda: watcher.master_port() == replica.port, 10,
                   'the replica promoted')
        promoted = redis.Redis(port=replica.port)
        # The old session may end (its requests 400) or go on; either way
        # nothing hangs.
        deadline = time.monotonic() + 8
        got = echo(b, sid, 'during', deadline)
        assert got == ['during'] or 'POST 400' in got or got[-1] == 'GET 400', got
        # New sessions are served again, across the two processes, by the
        # new master, once both processes renewed their liveness there
        # (until then a session may end at once: its owner looks gone).
        deadline = time.monotonic() + 10
        failed = []
        while True:
            fresh = handshake_until_served(b, deadline)
            got = echo(a, fresh, 'after', deadline)
            if got == ['after']:
                break
            failed.append(got)
            assert time.monotonic() < deadline, failed
            time.sleep(0.2)             # paces the retries of a failover
        assert len(failed) < 10, failed
        assert nodes['B'].seen('message', fresh) == [('echo:after',)]
        assert promoted.hget(f'engineio:sid:{fresh}', 'o').decode() == \
            nodes['B'].server.cluster.process_id
        promoted.close()
        # An emitter finds the new master through the same URL.
        emitter = Emitter(url)
        try:
            assert emitter.send(fresh, 'from a job')
        finally:
            emitter.close()
        status, body = a.get(fresh)
        assert status == 200 and messages(body) == ['from a job'], body
    finally:
        for node in nodes.values():
            node.stop()


def test_sentinel_urls_are_checked():
    assert parse_sentinel_url('redis+sentinel://u:p%40ss@h1:26379,'
                              '[::1]:26380/2/cache') == (
        [('h1', 26379), ('::1', 26380)], 'cache',
        {'username': 'u', 'password': 'p@ss', 'db': 2})
    assert parse_sentinel_url('redis+sentinel://h:1') == (
        [('h', 1)], 'mymaster', {})
    for bad in ('redis+sentinel://h', 'redis+sentinel://h:1/x',
                'redis+sentinel://h:1/0/a/b', 'redis+sentinel://h:99999'):
        with pytest.raises(ConfigError):
            make_client(ClusterOptions(url=bad))

"""The shared pipeline of a cluster process, against a real redis-server:
each caller gets its own reply, in the order the commands were issued,
with errors kept to their own command, and it survives Redis going away."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
import redis
from redis.exceptions import RedisError, ResponseError

from engineio_sync.cluster.pipelining import AutoPipeline
from engineio_sync.drivers import get_driver
from redisproc import redis_proc  # noqa: F401  (fixture)
from support.waiting import wait_until


def client_for(proc) -> redis.Redis:
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
        proc.url, max_connections=8, timeout=5, socket_timeout=5,
        socket_connect_timeout=2))


def commands_seen(client) -> dict[str, int]:
    return {name[len('cmdstat_'):]: stats['calls']
            for name, stats in client.info('commandstats').items()}


def test_many_callers_share_round_trips_and_each_gets_its_own_reply(
        redis_proc):
    client = client_for(redis_proc)
    pipeline = AutoPipeline(client, get_driver('threading'))
    callers, rounds = 20, 50
    results: dict[int, list] = {}
    start = threading.Barrier(callers)

    def caller(n: int) -> None:
        start.wait(5)
        results[n] = [pipeline.execute('RPUSH', f'list:{n}', i)
                      for i in range(rounds)]

    threads = [threading.Thread(target=caller, args=(n,))
               for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # RPUSH answers the list's new length: every caller saw its own
    # commands' replies, in the order it issued them.
    assert results == {n: list(range(1, rounds + 1)) for n in range(callers)}
    for n in range(callers):
        assert client.lrange(f'list:{n}', 0, -1) == [
            str(i).encode() for i in range(rounds)]
    client.close()


def test_commands_of_one_call_run_in_order_and_errors_stay_with_theirs(
        redis_proc):
    client = client_for(redis_proc)
    pipeline = AutoPipeline(client, get_driver('threading'))
    assert pipeline.execute_all(('SET', 'k', 'v'), ('GET', 'k'),
                                ('DEL', 'k')) == [b'OK', b'v', 1]
    pipeline.execute('SET', 'text', 'x')
    # A command Redis refuses raises for its caller only.
    with pytest.raises(ResponseError):
        pipeline.execute('LPUSH', 'text', 'y')
    with pytest.raises(ResponseError):
        pipeline.execute_all(('INCR', 'n'), ('LPUSH', 'text', 'y'))
    assert client.get('n') == b'1'
    assert pipeline.execute('GET', 'text') == b'x'
    client.close()


def test_a_script_redis_does_not_have_is_sent_once_then_run_by_sha(
        redis_proc):
    client = client_for(redis_proc)
    pipeline = AutoPipeline(client, get_driver('threading'))
    source = "return redis.call('INCR', KEYS[1])"
    sha = hashlib.sha1(source.encode()).hexdigest()
    before = commands_seen(client)
    assert [pipeline.run_script(sha, source, ['n'], []) for _ in range(3)] \
        == [1, 2, 3]
    after = commands_seen(client)
    assert after['eval'] - before.get('eval', 0) == 1
    assert after['evalsha'] - before.get('evalsha', 0) == 3
    client.close()


@pytest.mark.parametrize('mode', ['threading', 'eventlet', 'gevent'])
def test_every_driver_gets_its_replies(redis_proc, mode, tmp_path):
    # Under eventlet and gevent redis-py needs patched sockets: run the
    # pipeline in a monkey-patched child process.
    import subprocess
    import sys
    patch = {'eventlet': 'import eventlet; eventlet.monkey_patch()',
             'gevent': 'from gevent import monkey; monkey.patch_all()',
             'threading': ''}[mode]
    script = tmp_path / 'run.py'
    script.write_text(f'''{patch}
import redis
from engineio_sync.cluster.pipelining import AutoPipeline
from engineio_sync.drivers import get_driver
driver = get_driver({mode!r})
client = redis.Redis.from_url({redis_proc.url!r})
pipeline = AutoPipeline(client, driver)
done = []
def caller(n):
    done.append([pipeline.execute('RPUSH', 'l%d' % n, i) for i in range(20)])
tasks = [driver.spawn(caller, n) for n in range(10)]
for task in tasks:
    task.join(20)
assert done == [list(range(1, 21))] * 10, done
print('ok')
''')
    out = subprocess.run([sys.executable, str(script)], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == 'ok', out.stderr[-2000:]


def test_callers_get_an_error_while_redis_is_down_then_it_recovers(
        redis_proc):
    client = client_for(redis_proc)
    pipeline = AutoPipeline(client, get_driver('threading'))
    assert pipeline.execute('SET', 'k', '1') == b'OK'
    redis_proc.stop()
    started = time.monotonic()
    with pytest.raises(RedisError):
        pipeline.execute('GET', 'k')
    assert time.monotonic() - started < 10
    redis_proc.start()
    # The broken connection was dropped: the next batch connects again.
    wait_until(lambda: pipeline.execute('SET', 'k', '2') == b'OK',
               what='recovery', interval=0.1, ignore=(RedisError,))
    assert pipeline.execute('GET', 'k') == b'2'
    client.close()


def test_the_flusher_ends_when_idle_and_returns_its_connection(redis_proc):
    # A pool of one connection: while the flusher holds it, nobody else
    # can have it.
    client = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
        redis_proc.url, max_connections=1, timeout=0.2))
    pipeline = AutoPipeline(client, get_driver('threading'), idle=1.5)
    assert pipeline.execute('SET', 'k', '1') == b'OK'
    with pytest.raises(redis.ConnectionError):
        client.get('k')
    deadline = time.monotonic() + 5
    while True:
        try:
            assert client.get('k') == b'1'
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, 'the connection stays held'
    # And it starts again with the next command.
    assert pipeline.execute('SET', 'k', '2') == b'OK'
    assert pipeline.execute('GET', 'k') == b'2'
    client.close()


def test_a_connection_gone_stale_while_idle_is_replaced_at_once(redis_proc):
    # Redis restarts between two commands: the connection the flusher
    # held is dead, and the next command must not fail because of it.
    client = client_for(redis_proc)
    pipeline = AutoPipeline(client, get_driver('threading'), idle=30)
    assert pipeline.execute('SET', 'k', '1') == b'OK'
    redis_proc.stop()
    redis_proc.start()
    assert pipeline.execute('SET', 'k', '2') == b'OK'
    assert pipeline.execute('GET', 'k') == b'2'
    client.close()

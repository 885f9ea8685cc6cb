"""The redis-server fixture itself: a private, empty, working server."""

from __future__ import annotations


import redis

from redisproc import ping, redis_proc  # noqa: F401  (fixture)
from support.waiting import wait_until


def test_fixture_serves_an_empty_private_redis(redis_proc):
    client = redis.Redis.from_url(redis_proc.url)
    try:
        assert client.dbsize() == 0
        assert client.config_get('save') == {'save': ''}
        assert client.config_get('appendonly') == {'appendonly': 'no'}
        # TTLs and Lua run for real: the cluster code relies on both.
        client.set('k', 'v', px=100)
        script = client.register_script(
            "return redis.call('PTTL', KEYS[1]) > 0")
        assert script(keys=['k']) == 1
        wait_until(lambda: not client.exists('k'), what='the key expired')
    finally:
        client.close()


def test_fixture_restarts_on_the_same_port(redis_proc):
    redis_proc.stop()
    assert not ping(redis_proc.port)
    redis_proc.start()
    assert ping(redis_proc.port)

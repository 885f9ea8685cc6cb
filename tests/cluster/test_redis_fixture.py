"""The redis-server fixture itself: a private, empty, working server."""

from __future__ import annotations

import time

import redis

from redisproc import ping, redis_proc  # noqa: F401  (fixture)


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
        deadline = time.monotonic() + 5
        while client.exists('k') and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not client.exists('k')
    finally:
        client.close()


def test_fixture_restarts_on_the_same_port(redis_proc):
    redis_proc.stop()
    assert not ping(redis_proc.port)
    redis_proc.start()
    assert ping(redis_proc.port)

"""Concurrency drivers: async_mode detection and the single timer task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import engineio_sync
from conftest import REPO, RawClient
from engineio_sync.drivers import get_driver
from engineio_sync.exceptions import ConfigError


def run_fresh(prelude: str) -> dict:
    """Run ``prelude`` then report the detected mode in a new interpreter."""
    code = textwrap.dedent(prelude) + textwrap.dedent('''
        import importlib.util, json, sys
        import engineio_sync
        from engineio_sync.drivers import detect_async_mode
        server = engineio_sync.Server()
        print(json.dumps({
            'detected': detect_async_mode(),
            'server': server.async_mode,
            'eventlet_installed':
                importlib.util.find_spec('eventlet') is not None,
            'gevent_installed': importlib.util.find_spec('gevent') is not None,
        }))
    ''')
    env = {**os.environ, 'PYTHONPATH': REPO, 'PYTHONWARNINGS': 'ignore'}
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_plain_python_is_threading_even_with_eventlet_installed():
    result = run_fresh('')
    assert result['eventlet_installed'] and result['gevent_installed']
    assert result['detected'] == 'threading'
    assert result['server'] == 'threading'


def test_eventlet_monkey_patched_process_is_eventlet():
    result = run_fresh('''
        import eventlet
        eventlet.monkey_patch()
    ''')
    assert result['detected'] == 'eventlet'
    assert result['server'] == 'eventlet'


def test_gevent_monkey_patched_process_is_gevent():
    result = run_fresh('''
        from gevent import monkey
        monkey.patch_all()
    ''')
    assert result['detected'] == 'gevent'
    assert result['server'] == 'gevent'


@pytest.mark.parametrize('mode', ['bogus', 'asyncio', 'Threading', ''])
def test_unknown_async_mode_is_a_config_error(mode):
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode=mode)


def test_get_driver_names():
    for mode in ('threading', 'eventlet', 'gevent'):
        driver = get_driver(mode)
        assert driver.name == mode
    with pytest.raises(ValueError):
        get_driver('bogus')


def test_explicit_async_mode_wins():
    assert engineio_sync.Server(async_mode='threading').async_mode == \
        'threading'


def test_one_timer_task_for_many_sessions(start_server):
    server = start_server('threading', ping_interval=0.3, ping_timeout=30)
    client = RawClient(server.port)

    def thread_count(sid: str) -> int:
        assert client.post(sid, '4cmd:{"threads": true}') == (200, b'ok')
        return server.wait_event(ev='threads', sid=sid)['count']

    first, _ = client.handshake()
    before = thread_count(first)
    sids = [client.handshake()[0] for _ in range(200)]
    # Every session's heartbeat is running: each gets its ping.
    assert client.get(sids[0], timeout=5) == (200, b'2')
    assert client.get(sids[-1], timeout=5) == (200, b'2')
    after = thread_count(first)
    assert after - before < 10, (before, after)

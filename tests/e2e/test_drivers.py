"""Concurrency drivers: async_mode detection and the single timer task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import engineio_sync
from support import REPO
from support.httpclient import RawClient
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


LOCK_CHECK = '''
import json, sys
from engineio_sync.drivers import get_driver
driver = get_driver(sys.argv[1])
lock = driver.lock()
state = {'inside': 0, 'overlaps': 0, 'done': 0}

def worker():
    for _ in range(20):
        with lock:
            state['inside'] += 1
            if state['inside'] != 1:
                state['overlaps'] += 1
            driver.sleep(0.001)          # switch while holding it
            state['inside'] -= 1
        state['done'] += 1

tasks = [driver.spawn(worker) for _ in range(5)]
for task in tasks:
    task.join(20)
# A waiter that gives up, and one killed by nothing: the lock stays usable.
assert lock.acquire()
gave_up = []
waiter = driver.spawn(lambda: gave_up.append(lock.acquire(True, 0.05)))
waiter.join(5)
queued = []
def patient():
    with lock:
        queued.append(True)
late = driver.spawn(patient)
# Time to start waiting for the lock: no driver shows its waiters, and one
# that comes late finds the lock free, which the check accepts as well.
driver.sleep(0.05)
lock.release()                           # handed to the patient waiter
late.join(5)
free = lock.acquire(False)
print(json.dumps({**state, 'gave_up': gave_up, 'queued': queued,
                  'free_after': free}))
'''


LOOP_CHECK = '''
import _socket, json, logging, sys, time
from engineio_sync.drivers import get_driver
driver = get_driver(sys.argv[1])
loop = driver.socket_loop()
failures = []

class Failures(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.ERROR:
            failures.append(record.exc_info[1].args[0])

logging.getLogger('engineio_sync').addHandler(Failures())
a, a_peer = _socket.socketpair()
b, b_peer = _socket.socketpair()
a.setblocking(False)
b.setblocking(False)
events, fired, removed = [], [], []
hub = driver.io_hub()

def wait(seconds):
    if hub is None:
        driver.sleep(seconds)           # a green callback may wait
    else:
        # With threads, application code goes through the hub, which
        # moves the loop to another thread while it waits.
        hub.run_app('a', driver.sleep, seconds)

def on_a():
    data = a.recv(100).decode()
    events.append('a:' + data)
    if data == 'slow':
        wait(0.4)                        # a callback that waits
    events.append('a done:' + data)

def on_b():
    data = b.recv(100).decode()
    events.append('b:' + data)
    if data == 'boom':
        raise RuntimeError('boom')

def timers():
    loop.call_later(0.05, fired.append, 'kept')
    loop.call_later(0.05, fired.append, 'cancelled').cancel()

def remove_a():
    removed.append(loop.remove_reader(a))
    removed.append(loop.remove_reader(a))

loop.call_soon(loop.add_reader, a, on_a)
loop.call_soon(loop.add_reader, b, on_b)
driver.sleep(0.1)
a_peer.send(b'slow')
driver.sleep(0.1)
b_peer.send(b'quick')
driver.sleep(0.1)
while_waiting = list(events)
driver.sleep(0.5)
b_peer.send(b'boom')
driver.sleep(0.1)
b_peer.send(b'after')
loop.call_soon(timers)
driver.sleep(0.2)
loop.call_soon(remove_a)
driver.sleep(0.1)
a_peer.send(b'unheard')
driver.sleep(0.2)
print(json.dumps({'while_waiting': while_waiting, 'events': events,
                  'failures': failures, 'fired': fired,
                  'removed': removed}))
'''


def run_check(code: str, driver: str) -> dict:
    """Run ``code`` with the driver's name as its argument in a new
    interpreter; the JSON it printed last."""
    env = {**os.environ, 'PYTHONPATH': REPO, 'PYTHONWARNINGS': 'ignore'}
    proc = subprocess.run([sys.executable, '-c', code, driver],
                          capture_output=True, text=True, timeout=60,
                          cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('name', ['eventlet', 'gevent', 'threading'])
def test_driver_locks_exclude_and_hand_over(name):
    assert run_check(LOCK_CHECK, name) == {
        'inside': 0, 'overlaps': 0, 'done': 100, 'gave_up': [False],
        'queued': [True], 'free_after': True}


EVENT_CHECK = '''
import json, sys, time
from engineio_sync.drivers import get_driver
driver = get_driver(sys.argv[1])
event = driver.event()
out = {}
started = time.monotonic()
out['timed_out'] = event.wait(0.05)
out['waited'] = time.monotonic() - started >= 0.04
woken = []
tasks = [driver.spawn(lambda: woken.append(event.wait(5))) for _ in range(3)]
# Time to start waiting (not observable; a late waiter finds it set).
driver.sleep(0.02)
event.set()
for task in tasks:
    task.join(5)
out['woken'] = woken
out['set_already'] = event.wait(0)
event.clear()
out['cleared'] = (event.is_set(), event.wait(0))
# Wake-ups racing timeouts: each round a waiter with a tiny timeout and a
# setter at about the same moment. A wake-up delivered after its waiter
# gave up would resume that task in the middle of its next sleep.
results, early = [], 0
def racer():
    global early
    for round in range(200):
        ev = driver.event()
        driver.spawn(lambda: (driver.sleep(0.001 * (round % 3)), ev.set()))
        results.append(ev.wait(0.001 * (round % 4)))
        began = time.monotonic()
        driver.sleep(0.005)
        if time.monotonic() - began < 0.004:
            early += 1
driver.spawn(racer).join(30)
out['rounds'] = len(results)
out['early_wakeups'] = early
print(json.dumps(out))
'''


@pytest.mark.parametrize('name', ['eventlet', 'gevent', 'threading'])
def test_driver_events_wake_waiters_and_time_out(name):
    assert run_check(EVENT_CHECK, name) == {
        'timed_out': False, 'waited': True, 'woken': [True, True, True],
        'set_already': True, 'cleared': [False, False], 'rounds': 200,
        'early_wakeups': 0}


@pytest.mark.parametrize('name', ['eventlet', 'gevent', 'threading'])
def test_socket_loop_callbacks_may_wait_without_holding_up_others(name):
    # Every driver's socket loop: a callback that waits holds up no other
    # socket's, one that raises is logged and the loop goes on, timers run
    # unless cancelled, and a removed reader hears nothing more.
    assert run_check(LOOP_CHECK, name) == {
        'while_waiting': ['a:slow', 'b:quick'],
        'events': ['a:slow', 'b:quick', 'a done:slow', 'b:boom',
                   'b:after'],
        'failures': ['boom'], 'fired': ['kept'], 'removed': [True, False]}

"""Process life of engineio_sync.listen(): graceful shutdown on SIGTERM and
SIGINT with clients connected, and what the logs say (and never say)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from deploykit import HERE, wait_until
from support import wsclient
from support.eio import open_polling, open_websocket, upgrade_to_websocket
from support.httpclient import BackgroundGet, RawClient
from support.processes import ListeningProcess

pytestmark = pytest.mark.timeout(90)

APP = os.path.join(HERE, 'signal_app.py')


class Proc(ListeningProcess):
    """signal_app.py on a setup (see its docstring), at a log level."""

    def __init__(self, driver: str, level: str | None = None) -> None:
        super().__init__(
            [sys.executable, APP, driver] + ([level] if level else []),
            env={**os.environ, 'PYTHONWARNINGS': 'ignore'})

    def events(self) -> list[dict]:
        out = []
        for line in list(self.out):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def finish(self) -> None:
        """Kill the process if it still runs; read the rest of its output."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.stop()


@pytest.fixture
def procs():
    started = []

    def start(*args):
        p = Proc(*args)
        started.append(p)
        return p
    yield start
    for p in started:
        p.finish()


def read_until_closed(ws, timeout=8.0) -> list:
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f'no close frame; got {messages}'
        try:
            data = ws.receive(timeout=left)
        except wsclient.ConnectionClosed:
            return messages
        if data is not None:
            messages.append(data)


def setup_of(p: Proc) -> dict:
    """What signal_app.py says of its process once it listens."""
    return wait_until(lambda: next((e for e in p.events()
                                    if e.get('ev') == 'setup'), None),
                      5, what='the setup line')


@pytest.mark.parametrize('driver,signame', [
    ('eventlet', 'SIGTERM'), ('eventlet', 'SIGINT'),
    ('threading', 'SIGTERM'), ('threading', 'SIGINT'),
    ('gevent', 'SIGTERM'), ('native', 'SIGTERM'),
    # Monkey-patched: the handlers are installed although eventlet's
    # threading no longer sees the main thread as main_thread().
    ('eventlet+patched+native', 'SIGTERM'),
    ('gevent+patched+native', 'SIGTERM'),
    # gevent without monkey-patching, on both servers of listen().
    ('gevent+unpatched+native', 'SIGTERM'),
    ('gevent+unpatched+wsgi', 'SIGTERM'),
])
def test_signal_closes_sessions_gracefully(procs, driver, signame):
    p = procs(driver)
    if '+' in driver:
        setup = setup_of(p)
        assert setup['socket_patched'] == ('+patched' in driver), setup
        if driver.startswith('eventlet+patched'):
            # The case at stake: threading's main-thread check fails.
            assert not setup['threading_main'], setup
    parked_sid = open_polling(p.port)
    parked = BackgroundGet(
        p.port, f'EIO=4&transport=polling&sid={parked_sid}')
    direct, direct_sid = open_websocket(p.port)
    upgraded_sid = open_polling(p.port)
    upgraded = upgrade_to_websocket(p.port, upgraded_sid)
    # A message queued but not yet collected goes out before the close.
    upgraded.send('4queued?')
    assert wsclient.receive(upgraded) == '4queued?'
    parked.wait_taken()

    started = time.monotonic()
    p.proc.send_signal(getattr(signal, signame))
    for ws in (direct, upgraded):
        messages = read_until_closed(ws)
        assert messages[-1:] == ['1'], messages
        assert ws.close_payload[:2] == b'\x03\xe8'
        ws.send_close(1000)
        assert ws.read_to_eof(timeout=5) == b'', 'bytes after close frame'
    status, body = parked.result(8)
    assert status == 200 and body.split(b'\x1e')[-1] == b'1', body
    code = p.proc.wait(10)
    assert time.monotonic() - started < 10
    assert code == 0, (code, p.stderr)
    wait_until(lambda: any(e.get('ev') == 'exited' for e in p.events()), 5,
               what='listen() returned')
    reasons = {e['sid']: e['reason'] for e in p.events()
               if e.get('ev') == 'disconnect'}
    assert reasons == {parked_sid: 'server shutting down',
                       direct_sid: 'server shutting down',
                       upgraded_sid: 'server shutting down'}, p.events()
    assert 'Traceback' not in p.stderr, p.stderr


def test_stop_without_clients_is_quick(procs):
    p = procs('eventlet')
    started = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(10) == 0
    assert time.monotonic() - started < 5


def test_dead_client_does_not_hold_the_exit(procs):
    """A polling client that vanished never collects its close packet: the
    process still exits, after the bounded shutdown wait."""
    p = procs('threading')
    open_polling(p.port)          # never polls again
    started = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(15) == 0, p.stderr
    assert time.monotonic() - started < 10


@pytest.mark.parametrize('driver', ['eventlet', 'threading'])
def test_debug_logging(procs, driver):
    """One INFO line per session open/upgrade/close, packets at DEBUG, and
    never a message's contents."""
    p = procs(driver, 'DEBUG')
    secret_text = 'SECRET-TEXT-7f3a9c'
    secret_bytes = b'SECRET-BYTES-\x01\x02'
    client = RawClient(p.port)
    sid = open_polling(p.port)
    assert client.post(sid, '4' + secret_text)[0] == 200
    status, body = client.get(sid)
    assert body == ('4' + secret_text).encode()
    ws = upgrade_to_websocket(p.port, sid)
    ws.send(secret_bytes)
    assert wsclient.receive(ws) == secret_bytes
    ws.send('4' + secret_text)
    assert wsclient.receive(ws) == '4' + secret_text
    direct, direct_sid = open_websocket(p.port)
    direct.send('1')
    read_until_closed(direct)
    ws.send('1')
    read_until_closed(ws)
    wait_until(lambda: sum(e.get('ev') == 'disconnect'
                           for e in p.events()) == 2, 10,
               what='two disconnects')
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(10) == 0
    p.finish()                          # all of its output read
    err = p.stderr
    lines = err.splitlines()
    info = [line for line in lines if line.startswith('INFO engineio_sync')]
    debug = [line for line in lines
             if line.startswith('DEBUG engineio_sync')]

    def count(text, among=info):
        return sum(text in line for line in among)

    assert count(f'{sid}: session opened (polling, EIO=4)') == 1, err
    assert count(f'{sid}: upgraded to websocket') == 1, err
    assert count(f'{sid}: session closed (client disconnect)') == 1, err
    assert count(f'{direct_sid}: session opened (websocket, EIO=4)') == 1
    assert count(f'{direct_sid}: session closed (client disconnect)') == 1
    # Packets at DEBUG: types and sizes.
    assert count(f'{sid}: received message({len(secret_text)} chars)',
                 debug) >= 2, err
    assert count(f'{sid}: received message({len(secret_bytes)} bytes)',
                 debug) == 1, err
    assert any(sid in line and 'sending' in line for line in debug), err
    # Contents never.
    assert 'SECRET' not in err
    assert 'Traceback' not in err


def test_info_logging_has_no_packet_lines(procs):
    p = procs('eventlet', 'INFO')
    sid = open_polling(p.port)
    ws = upgrade_to_websocket(p.port, sid)
    ws.send('4hello')
    assert wsclient.receive(ws) == '4hello'
    ws.send('1')
    read_until_closed(ws)
    wait_until(lambda: any(e.get('ev') == 'disconnect'
                           for e in p.events()), 10, what='disconnect')
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(10) == 0
    p.finish()                          # all of its output read
    lines = [line for line in p.stderr.splitlines()
             if 'engineio_sync' in line]
    assert not [line for line in lines if line.startswith('DEBUG')]
    mine = [line for line in lines if sid in line]
    assert [line.split(': ', 1)[1] for line in mine] == [
        'session opened (polling, EIO=4)', 'upgraded to websocket',
        'session closed (client disconnect)'], mine

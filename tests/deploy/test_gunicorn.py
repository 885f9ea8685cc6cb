"""The gunicorn recipes of examples/gunicorn/ with real worker processes:
gthread and gevent workers (current gunicorn) and eventlet workers
(gunicorn 25.x, in .venv-gunicorn25)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from deploykit import (BYTES, AppProcess, deployments,  # noqa: F401
                       free_port, http_get, wait_until)
from support.eio import (open_polling, open_websocket,
                         receive_skipping_pings, upgrade_to_websocket)
from support import wsclient
from support.httpclient import BackgroundGet, RawClient

pytestmark = pytest.mark.timeout(120)

WORKERS = ['gthread', 'gevent', 'eventlet']


def chat(ws, text):
    ws.send('4' + json.dumps({'type': 'chat', 'text': text}))


def receive_chat(ws, text):
    """Messages until the broadcast of ``text`` (skipping system lines)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        data = receive_skipping_pings(ws)
        if isinstance(data, str) and data.startswith('4{'):
            msg = json.loads(data[1:])
            if msg.get('type') == 'chat' and msg['text'] == text:
                return msg
    raise AssertionError(f'no broadcast of {text!r}')


def close_and_check_wire(ws):
    """Client-initiated close: the server answers with a close frame and
    then closes the TCP connection without writing anything else (no
    HTTP response on the upgraded socket)."""
    ws.send_close(1000)
    frames = []
    while True:
        frame = ws.read_frame(timeout=5)
        assert frame is not None, f'no close frame; got {frames}'
        frames.append(frame)
        if frame[0] == 8:
            break
    assert frames[-1][1][:2] == b'\x03\xe8', frames[-1]
    rest = ws.read_to_eof(timeout=5)
    assert rest == b'', f'bytes after the close frame: {rest[:200]!r}'
    ws.sock.close()


@pytest.mark.parametrize('worker', WORKERS)
def test_worker_serves_polling_websocket_and_upgrade(deployments, worker):
    app = deployments(f'gunicorn-{worker}',
                      extra_args=['--log-level', 'debug',
                                  '--access-logfile', '-'])
    status, body = http_get(app.url + '/health')
    health = json.loads(body)
    assert health['async_mode'] == {'gthread': 'threading'}.get(
        worker, worker), health

    # A WebSocket-only session and an upgraded polling session chat.
    direct, direct_sid = open_websocket(app.port)
    sid = open_polling(app.port)
    upgraded = upgrade_to_websocket(app.port, sid)
    chat(direct, 'hello over gunicorn')
    assert receive_chat(upgraded, 'hello over gunicorn')['text']
    assert receive_chat(direct, 'hello over gunicorn')
    upgraded.send(bytes(BYTES))
    assert receive_skipping_pings(upgraded) == bytes(BYTES)

    close_and_check_wire(upgraded)
    close_and_check_wire(direct)
    # The worker is still healthy and logged no error for the two
    # WebSockets it just ended.
    assert http_get(app.url + '/health')[0] == 200
    wait_until(lambda: json.loads(http_get(app.url + '/health')[1])
               ['sessions'] == 0, 10, what='sessions closed')
    assert 'Error' not in app.stderr(), app.stderr()
    if worker != 'gthread':
        # Async workers are told the request is handled: no response is
        # even attempted on the upgraded socket (gthread's attempt fails
        # on the shut-down socket, 'Ignoring EPIPE' at debug level).
        assert 'epipe' not in app.stderr().lower(), app.stderr()
        access = [line for line in app.stdout().splitlines()
                  if 'transport=websocket' in line]
        assert access == [], access


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT'])
@pytest.mark.parametrize('worker', WORKERS)
def test_stop_closes_every_session(deployments, worker, signame):
    """SIGTERM to the gunicorn master (its graceful stop) or SIGINT (its
    quick stop): every session gets its close packet, the disconnect
    handlers run, and the workers and the master exit quickly."""
    app = deployments(f'gunicorn-{worker}')
    parked_sid = open_polling(app.port)
    parked = BackgroundGet(
        app.port, f'EIO=4&transport=polling&sid={parked_sid}')
    direct, direct_sid = open_websocket(app.port)
    upgraded_sid = open_polling(app.port)
    upgraded = upgrade_to_websocket(app.port, upgraded_sid)
    parked.wait_taken()

    started = time.monotonic()
    app.signal(getattr(signal, signame))
    for ws in (direct, upgraded):
        messages = []
        while True:
            try:
                data = wsclient.receive(ws, timeout=8)
            except wsclient.ConnectionClosed:
                break
            messages.append(data)
        assert messages[-1:] == ['1'], messages
        assert ws.close_payload[:2] == b'\x03\xe8', ws.close_payload
        ws.send_close(1000)
        assert ws.read_to_eof(timeout=5) == b''
    status, body = parked.result(8)
    assert status == 200 and body.split(b'\x1e')[-1] == b'1', body
    code = app.wait_exit(10)
    elapsed = time.monotonic() - started
    assert code == 0, (code, app.output())
    assert elapsed < 10
    err = app.stderr()
    for sid in (parked_sid, direct_sid, upgraded_sid):
        assert f'{sid}: session closed (server shutting down)' in err, err
    assert err.count('left (server shutting down)') == 3, err
    assert 'graceful timeout' not in err.lower(), err


def test_two_workers_websocket_only(deployments):
    """With -w 2 and no sticky sessions, WebSocket-only clients work (each
    session is one connection, so one worker)."""
    app = deployments('gunicorn-gthread', extra_args=['-w', '2'])
    sockets = [open_websocket(app.port)[0] for _ in range(6)]
    for i, ws in enumerate(sockets):
        ws.send(bytes([i]) * 5)
    for i, ws in enumerate(sockets):
        # Text is chat noise ('... left' of the sessions closed before).
        data = receive_skipping_pings(ws)
        while isinstance(data, str):
            data = receive_skipping_pings(ws)
        assert data == bytes([i]) * 5
    for ws in sockets:
        close_and_check_wire(ws)


@pytest.mark.parametrize('worker', WORKERS)
def test_stop_waits_for_an_upgrade_in_flight(deployments, worker):
    """SIGTERM while a client has its probe answered but has not sent its
    upgrade packet yet: the worker waits (bounded) for it, and the close
    packet reaches the client on its new WebSocket. Nothing else keeps
    the worker: the WebSocket is no longer one of gunicorn's requests."""
    app = deployments(f'gunicorn-{worker}')
    sid = open_polling(app.port)
    ws = wsclient.connect(app.port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    app.signal(signal.SIGTERM)
    wait_until(lambda: 'graceful stop' in app.stderr(), 10,
               what='the worker stopping')
    time.sleep(0.2)   # the worker would be gone by now without the wait
    ws.send('5')
    messages = []
    while True:
        try:
            messages.append(wsclient.receive(ws, timeout=8))
        except wsclient.ConnectionClosed:
            break
    assert messages[-1:] == ['1'], messages
    assert app.wait_exit(10) == 0, app.output()


def test_max_requests_restart_closes_sessions(deployments):
    """A worker that stops by itself (max_requests) closes its sessions at
    once instead of waiting out graceful_timeout."""
    app = deployments('gunicorn-gthread', extra_args=['--max-requests', '4'])
    ws, sid = open_websocket(app.port)
    started = time.monotonic()
    for _ in range(4):
        http_get(app.url + '/health')
    messages = []
    while True:
        try:
            data = wsclient.receive(ws, timeout=8)
        except wsclient.ConnectionClosed:
            break
        messages.append(data)
    assert messages[-1:] == ['1'], messages
    assert time.monotonic() - started < 8
    wait_until(lambda: f'{sid}: session closed (server shutting down)'
               in app.stderr(), 5, what='disconnect logged')
    # The master started a new worker, which serves.
    wait_until(lambda: http_get(app.url + '/health')[0] == 200, 10,
               what='new worker')


def echo_app_worker(name: str, worker_args: list[str]) -> AppProcess:
    """tests/deploy/echo_app.py under ``gunicorn -w 1`` with
    ``worker_args``, answering /health."""
    port = free_port()
    return AppProcess(
        name, [
            sys.executable, '-m', 'gunicorn', '-w', '1', *worker_args,
            '-b', f'127.0.0.1:{port}', '--no-control-socket',
            '--pythonpath', os.path.dirname(__file__), 'echo_app:app'],
        port, ready_path='/health')


def echoing_websockets(port: int, count: int) -> list:
    """``count`` WebSockets open on ``port``, each checked to echo."""
    sockets = [open_websocket(port)[0] for _ in range(count)]
    for i, ws in enumerate(sockets):
        ws.send(f'4m{i}')
    for i, ws in enumerate(sockets):
        assert receive_skipping_pings(ws) == f'4m{i}'
    return sockets


def hold_500_websockets(name: str, worker_args: list[str]) -> dict:
    """Run tests/deploy/echo_app.py under ``gunicorn -w 1`` with
    ``worker_args``, open 500 WebSockets and check that every one echoes;
    returns the worker's /health state while it holds them (then closes
    them and checks that every session ends)."""
    app = echo_app_worker(name, worker_args)
    try:
        sockets = echoing_websockets(app.port, 500)
        state = json.loads(http_get(app.url + '/health')[1])
        assert state['sessions'] == 500
        for ws in sockets:
            ws.sock.close()
        wait_until(lambda: json.loads(http_get(app.url + '/health')[1])[
            'sessions'] == 0, 20, what='every session closed')
        assert app.tracebacks() == [], app.output()
        return state
    finally:
        app.stop()


def test_gthread_with_8_threads_holds_500_websockets(deployments):
    """WebSockets leave gunicorn's threads after the 101 and wait in the
    I/O loop: a worker with 8 threads holds 500 of them, every one echoes,
    and the worker has far fewer threads than WebSockets."""
    state = hold_500_websockets('gunicorn-gthread-8', [
        '-k', 'gthread', '--threads', '8', '--worker-connections', '2000'])
    assert state['threads'] < 60, state


def test_gevent_worker_holds_websockets_beyond_its_connections(deployments):
    """Under gevent a quiet WebSocket is a listener on the hub, not a
    greenlet, and it leaves gunicorn after the 101: a worker with
    ``--worker-connections 50`` holds 500 of them, every one echoes, and
    far fewer greenlets are alive than WebSockets."""
    state = hold_500_websockets('gunicorn-gevent-50', [
        '-k', 'gevent', '--worker-connections', '50'])
    assert state['greenlets'] < 100, state


def test_server_made_before_the_fork_serves_in_the_workers(deployments):
    """``--preload``: the server (and its hub, with the loop's threads)
    is made in the master; in the forked worker the hub starts afresh
    and serves WebSockets and long-polls, handlers included."""
    app = echo_app_worker('gunicorn-gthread-preload', [
        '-k', 'gthread', '--threads', '4', '--preload'])
    try:
        sockets = echoing_websockets(app.port, 20)
        client = RawClient(app.port)
        sid, _ = client.handshake()
        assert client.post(sid, '4polled') == (200, b'ok')
        assert client.get(sid) == (200, b'4polled')
        for ws in sockets:
            ws.sock.close()
        assert app.tracebacks() == [], app.output()
    finally:
        app.stop()

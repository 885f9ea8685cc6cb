"""Flask-SocketIO on engineio_sync (``engineio_sync.flask.SocketIO``).

A real Flask-SocketIO app (flask_socketio_app.py, served by
``socketio.run()`` in a subprocess) is driven by the npm
``socket.io-client`` (node/flask_socketio_client.js) on eventlet, gevent
and threading, and by headless Chromium; Flask-SocketIO's own
``test_client`` runs in process. One server per driver is shared by the
tests of that driver; the last test of each driver stops it with
``socketio.stop()`` and checks the whole event log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from typing import Callable

import pytest

pytest.importorskip('flask_socketio')

from flask import Flask, request, session  # noqa: E402
from flask_socketio import (Namespace, emit, join_room,  # noqa: E402
                            leave_room, rooms)

import engineio_sync  # noqa: E402
from engineio_sync.flask import SocketIO  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'deploy'))
from support.processes import ListeningProcess, stop_process  # noqa: E402
from deploykit import browser, free_port, wait_until  # noqa: E402,F401

APP = os.path.join(HERE, 'flask_socketio_app.py')
CLIENT_JS = os.path.join(HERE, 'node', 'flask_socketio_client.js')
DRIVERS = ('eventlet', 'gevent', 'threading')
# kombu's in-memory transport carries message_queue='memory://' between
# two SocketIO objects of one process.
try:
    import kombu  # noqa: F401
    HAVE_KOMBU = True
except ImportError:  # pragma: no cover - kombu is in the dev extra
    HAVE_KOMBU = False
# Extra SocketIO options of each driver's app.
APP_OPTIONS = {
    'threading': {'cors_allowed_origins': ['http://allowed.example'],
                  'ping_interval': (10, 2), 'max_http_buffer_size': 100_000,
                  **({'message_queue': 'memory://'} if HAVE_KOMBU else {})},
}

# Extra socketio.run() arguments of each driver's app.
RUN_OPTIONS = {'gevent': {'debug': True, 'use_reloader': False},
               'threading': {'metrics': True}}

needs_node = pytest.mark.skipif(
    shutil.which('node') is None or not os.path.isfile(os.path.join(
        REPO, 'node_modules', 'socket.io-client', 'package.json')),
    reason='node or socket.io-client missing (npm ci)')


class AppProcess(ListeningProcess):
    """flask_socketio_app.py serving on one driver, and every event it
    printed (``log``), read in the background."""

    def __init__(self, driver: str) -> None:
        self.log: list[dict] = []
        self._logged = threading.Condition()
        super().__init__(
            [sys.executable, APP, driver,
             json.dumps(APP_OPTIONS.get(driver, {})),
             json.dumps(RUN_OPTIONS.get(driver, {}))],
            on_line=self._record)
        #: the event the app prints before it listens
        self.ready = self.log[0]

    def errors(self) -> str:
        """What the app wrote to stderr so far."""
        return self.stderr

    def _record(self, line: str) -> None:
        if line.startswith('LISTENING'):
            return
        with self._logged:
            self.log.append(json.loads(line))
            self._logged.notify_all()

    def events_since(self, start: int, until: str, count: int = 1,
                     timeout: float = 5.0) -> list[dict]:
        """The events after ``log[start]``, once ``count`` of them are
        named ``until`` (AssertionError after ``timeout`` seconds)."""
        def enough() -> bool:
            return sum(e['ev'] == until for e in self.log[start:]) >= count
        with self._logged:
            if not self._logged.wait_for(enough, timeout):
                raise AssertionError(f'{count} x {until} not seen in '
                                     f'{self.log[start:]}')
            return self.log[start:]

    def wait_exit(self, timeout: float = 10.0) -> int:
        """The exit code, once the process and its readers are done."""
        code = self.proc.wait(timeout)
        self.stop()
        return code


@pytest.fixture(scope='module')
def apps():
    """The app of a driver, started on first use, shared by the module."""
    running: dict[str, AppProcess] = {}

    def get(driver: str) -> AppProcess:
        if driver not in running:
            running[driver] = AppProcess(driver)
        return running[driver]

    yield get
    for app in running.values():
        app.stop()


def node_events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def run_node(url: str, mode: str = 'scenario', options: dict | None = None
             ) -> dict:
    """Run a client scenario to its end; its events by name."""
    proc = subprocess.run(
        ['node', CLIENT_JS, url, mode, json.dumps(options or {})],
        cwd=REPO, capture_output=True, text=True, timeout=30)
    events = node_events(proc.stdout)
    assert proc.returncode == 0 and events[-1:] == [{'event': 'done'}], \
        (events, proc.stderr[-3000:])
    return {e['event']: e for e in events}


def node_connected_during(url: str, mode: str, action: Callable[[], None]
                          ) -> list[dict]:
    """Start a client in ``mode`` ('hold' or 'listen'), run ``action``
    once it is connected, and return its events when it is done."""
    client = subprocess.Popen(
        ['node', CLIENT_JS, url, mode, '{}'], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = node_events(client.stdout.readline())
        assert first and first[0]['event'] == 'connect', first
        action()
        out, err = client.communicate(timeout=20)
    finally:
        stop_process(client)
    events = first + node_events(out)
    assert events[-1] == {'event': 'done'}, (events, err)
    return events


def close_session(polling_url: str, sid: str,
                  headers: dict | None = None) -> None:
    """Send a close packet: the app's graceful stop would otherwise wait
    for this client to collect its own."""
    assert http(f'{polling_url}&sid={sid}', headers, data=b'1')[0] == 200


def http(url: str, headers: dict | None = None, data: bytes | None = None
         ) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- the app on each driver, driven by the npm socket.io-client ---------------

@needs_node
@pytest.mark.parametrize('driver', DRIVERS)
def test_socket_io_client(apps, driver):
    app = apps(driver)
    # eventlet and gevent are found from the monkey-patching, threading is
    # asked for; the Engine.IO server is engineio_sync's.
    assert app.ready == {'ev': 'ready', 'async_mode': driver,
                         'eio': 'engineio_sync.flask'}
    start = len(app.log)
    got = run_node(app.url)
    # Started on polling, upgraded to WebSocket by the time it ends.
    assert got['connect']['transport'] == 'polling'
    assert got['transport']['a'] == 'websocket'
    assert got['refused']['message'] == 'no entry'
    assert got['echo_ack']['data'] == ['hello', {'n': 1, 's': 'é€😀'}]
    assert got['boom_ack']['data'] == 'error: boom 7'   # on_error's answer
    assert got['bin_ack']['data'] == [250, 3, 2, 1]
    assert got['bin_reply'] == {'event': 'bin_reply', 'label': 'pushed',
                                'data': [1, 2, 3, 250, 33]}
    assert got['chat_ack']['data'] == {'namespace': '/chat',
                                       'hello': 'there', 'name': 'A'}
    # B joined and left the room: only A hears it.
    assert got['room']['heard'] == {'A': ['hi room'], 'B': []}
    assert got['a_disconnect']['reason'] == 'io client disconnect'
    assert got['b_disconnect']['reason'] == 'io server disconnect'

    seen = app.events_since(start, until='disconnect', count=2)
    connects = {e['name']: e for e in seen if e['ev'] == 'connect'}
    assert set(connects) == {'A', 'B'}
    assert connects['A']['sid'] == got['connect']['a']
    assert connects['A']['path'] == '/socket.io/'
    assert [e['data'] for e in seen if e['ev'] == 'bin'] == [[1, 2, 3, 250]]
    # The session Flask-SocketIO manages survives until the disconnect.
    gone = {e['name']: e['reason'] for e in seen if e['ev'] == 'disconnect'}
    assert gone == {'A': 'client disconnect', 'B': 'server disconnect'}


@needs_node
def test_run_serves_metrics(apps):
    """run(metrics=True): Prometheus metrics on /metrics, counting the
    Engine.IO sessions under Socket.IO."""
    pytest.importorskip('prometheus_client')
    from prometheus_client.parser import text_string_to_metric_families
    app = apps('threading')

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(app.url + '/metrics', timeout=5) as r:
            families = text_string_to_metric_families(r.read().decode())
        totals: dict[str, float] = {}
        for family in families:
            for sample in family.samples:
                totals[sample.name] = totals.get(sample.name, 0) + \
                    sample.value
        return totals

    before = scrape()
    run_node(app.url)
    # Every session the scenario opened is closed again.
    after = wait_until(lambda: (lambda s: s if s['engineio_sessions_open'] ==
                                before['engineio_sessions_open'] else None)(
        scrape()), 5, what='the sessions closed')
    opened = after['engineio_handshakes_total'] - \
        before['engineio_handshakes_total']
    assert opened >= 2     # the scenario's clients A and B, at least
    assert after['engineio_closes_total'] - \
        before['engineio_closes_total'] == opened
    assert after['engineio_upgrades_total'] > before['engineio_upgrades_total']
    assert after['engineio_received_bytes_total'] > \
        before['engineio_received_bytes_total']


@needs_node
def test_websocket_only_client(apps):
    got = run_node(apps('threading').url,
                   options={'transports': ['websocket']})
    assert got['connect']['transport'] == 'websocket'
    assert got['echo_ack']['data'] == ['hello', {'n': 1, 's': 'é€😀'}]
    assert got['room']['heard'] == {'A': ['hi room'], 'B': []}


@needs_node
@pytest.mark.skipif(not HAVE_KOMBU, reason='kombu is not installed')
def test_message_queue_carries_an_emit_from_another_socketio(apps):
    """The threading app runs with message_queue='memory://': a second,
    write-only SocketIO on that queue (as another process would use)
    reaches the app's client, and so does everything the app emits
    (test_socket_io_client[threading] goes through the queue too)."""
    app = apps('threading')
    start = len(app.log)

    def notify() -> None:
        assert http(app.url + '/notify/hello')[:1] == (200,)
    events = node_connected_during(app.url, 'listen', notify)
    assert {'event': 'notice', 'data': 'hello'} in events
    app.events_since(start, until='disconnect')


def test_engineio_options_reach_the_server(apps):
    """The threading app has cors_allowed_origins=['http://allowed.example']
    and, as Flask-SocketIO documents, credentials allowed by default."""
    app = apps('threading')
    url = app.url + '/socket.io/?EIO=4&transport=polling'
    status, headers, body = http(url, {'Origin': 'http://allowed.example'})
    assert status == 200, body
    assert headers['Access-Control-Allow-Origin'] == 'http://allowed.example'
    assert headers['Access-Control-Allow-Credentials'] == 'true'
    open_packet = json.loads(body.decode()[1:])
    assert open_packet['pingInterval'] == 10_000
    assert open_packet['maxPayload'] == 100_000
    close_session(url, open_packet['sid'],
                  {'Origin': 'http://allowed.example'})
    status, headers, _ = http(url, {'Origin': 'http://evil.example'})
    assert status == 403
    assert 'Access-Control-Allow-Origin' not in headers
    # Flask's own routes are still served around the Socket.IO endpoint.
    assert http(app.url + '/')[0] == 200


def test_debug_mode_shows_werkzeugs_debugger(apps):
    """The gevent app runs with run(debug=True): a failing route answers
    with the debugger page, the others and Socket.IO as usual."""
    app = apps('gevent')
    status, _, page = http(app.url + '/fail')
    assert status == 500 and b'Werkzeug Debugger' in page
    assert b'failing on purpose' in page
    assert http(app.url + '/')[0] == 200


def test_browser_round_trips_an_ack(apps, browser):
    app = apps('eventlet')
    start = len(app.log)
    browser.switch_to.new_window('tab')
    try:
        browser.get(app.url + '/')
        result = wait_until(
            lambda: browser.execute_script('return window.result'),
            timeout=15, what='the page got its ack')
        assert result['error'] is None, result
        assert result['reply'] == ['from the browser', [1, 2]]
        browser.execute_script('window.socket.disconnect()')
        seen = app.events_since(start, until='disconnect')
    finally:
        browser.close()
        browser.switch_to.window(browser.window_handles[0])
    names = {e['name'] for e in seen if e['ev'] in ('connect', 'disconnect')}
    assert names == {'browser'}


def test_example_app_serves_its_page_and_socket_io():
    """examples/flask_socketio/app.py: the page, the client bundle and a
    Socket.IO handshake; SIGTERM stops it cleanly."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'examples', 'flask_socketio',
                                      'app.py'), '--port', str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith('serving on http://')
        base = f'http://127.0.0.1:{port}'
        status, _, page = wait_until(
            lambda: http(base + '/'), timeout=10, what='the page')
        assert status == 200 and b'/vendor/socket.io.min.js' in page
        assert http(base + '/vendor/socket.io.min.js')[0] == 200
        url = base + '/socket.io/?EIO=4&transport=polling'
        status, _, body = http(url)
        assert status == 200 and body.startswith(b'0{"sid":')
        close_session(url, json.loads(body[1:])['sid'])
        proc.terminate()
        assert proc.wait(10) == 0
        assert 'Traceback' not in proc.stderr.read()
    finally:
        stop_process(proc)


CHAT_JS = os.path.join(HERE, 'node', 'flask_socketio_chat.js')


@needs_node
@pytest.mark.parametrize('worker', ['gthread', 'gevent'])
def test_the_example_chat_under_gunicorn(worker):
    """examples/flask_socketio/app.py under gunicorn with the recipes of
    examples/gunicorn/, unchanged: an upgrading and a WebSocket-only
    socket.io-client chat in one room, every line to both, once.
    (Flask-SocketIO runs each event in a task of its own by default,
    ``async_handlers=True``, so lines of one sender may overtake each
    other.)"""
    port = free_port()
    env = {**os.environ,
           'ASYNC_MODE': 'gevent' if worker == 'gevent' else 'threading'}
    stderr = tempfile.TemporaryFile('w+')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'gunicorn', '-c',
         os.path.join(REPO, 'examples', 'gunicorn', f'{worker}.conf.py'),
         '--pythonpath', os.path.join(REPO, 'examples', 'flask_socketio'),
         '-b', f'127.0.0.1:{port}', '--no-control-socket', 'app:app'],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        base = f'http://127.0.0.1:{port}'
        status, _, _ = wait_until(lambda: http(base + '/'), timeout=20,
                                  what='gunicorn')
        assert status == 200
        result = subprocess.run(['node', CHAT_JS, base, '20'], cwd=REPO,
                                capture_output=True, text=True, timeout=30)
        events = node_events(result.stdout)
        assert result.returncode == 0, (events, result.stderr[-2000:])
        done = events[-1]
        for name in ('up', 'ws'):
            assert done[name]['transport'] == 'websocket'
            for sender in ('up', 'ws'):
                heard = done[name]['from' + sender.capitalize()]
                assert sorted(heard) == sorted(
                    f'{sender}:m{i}' for i in range(20)), heard
        proc.terminate()
        assert proc.wait(15) == 0
    finally:
        stop_process(proc)
        stderr.seek(0)
        log = stderr.read()
        stderr.close()
    assert 'Traceback' not in log, log[-3000:]


# -- Flask-SocketIO's test client, in process ---------------------------------

def make_app():
    """An app factory, the way Flask-SocketIO documents init_app."""
    socketio = SocketIO(async_mode='threading')

    @socketio.on('connect')
    def connect(auth):
        session['name'] = (auth or {}).get('name')
        emit('welcome', session['name'])

    @socketio.event
    def whoami():
        return {'sid': request.sid, 'name': session['name'],
                'rooms': sorted(rooms())}

    @socketio.event
    def join(room):
        join_room(room)

    @socketio.event
    def leave(room):
        leave_room(room)

    @socketio.event
    def tell(data):
        emit('told', data['text'], to=data['room'], include_self=False)

    @socketio.event
    def fail():
        raise KeyError('nope')

    @socketio.on_error_default
    def failed(exc):
        return 'failed: ' + type(exc).__name__

    class Admin(Namespace):
        def on_stats(self):
            return {'namespace': request.namespace}

    socketio.on_namespace(Admin('/admin'))
    app = Flask(__name__)
    app.config['SECRET_KEY'] = 'test only'
    socketio.init_app(app)
    return app, socketio


def test_flask_socketio_test_client():
    app, socketio = make_app()
    assert isinstance(socketio.server.eio, engineio_sync.Server)
    alice = socketio.test_client(app, auth={'name': 'alice'})
    bob = socketio.test_client(app, auth={'name': 'bob'})
    assert alice.is_connected() and bob.is_connected()
    assert alice.get_received() == [
        {'name': 'welcome', 'args': ['alice'], 'namespace': '/'}]
    me = alice.emit('whoami', callback=True)
    assert me['name'] == 'alice' and me['rooms'] == [me['sid']]

    alice.emit('join', 'lobby')
    bob.emit('join', 'lobby')
    bob.emit('tell', {'room': 'lobby', 'text': 'hi'})
    assert alice.get_received() == [
        {'name': 'told', 'args': ['hi'], 'namespace': '/'}]
    bob.get_received()
    alice.emit('leave', 'lobby')
    bob.emit('tell', {'room': 'lobby', 'text': 'again'})
    assert alice.get_received() == []
    assert bob.get_received() == []      # include_self=False

    assert alice.emit('fail', callback=True) == 'failed: KeyError'
    alice.connect(namespace='/admin')
    assert alice.emit('stats', callback=True, namespace='/admin') == {
        'namespace': '/admin'}
    alice.disconnect()
    assert not alice.is_connected()
    bob.disconnect()


# -- options ------------------------------------------------------------------

def test_options_keep_flask_socketio_meaning():
    app = Flask(__name__)
    sio = SocketIO(app, async_mode='threading', ping_interval=(5, 1),
                   ping_timeout=3, transports=['websocket'],
                   allow_upgrades=False, http_compression=False,
                   compression_threshold=10, monitor_clients=True,
                   engineio_logger=False, cors_allowed_origins=['*'],
                   cookie={'name': 'sticky', 'path': '/', 'SameSite': 'Strict',
                           'Secure': True, 'Max-Age': 60},
                   path='/live', always_connect=True)
    config = sio.server.eio.config
    assert (config.ping_interval, config.ping_interval_grace,
            config.ping_timeout) == (5, 1, 3)
    assert config.transports == ('websocket',)
    assert not config.allow_upgrades and not config.http_compression
    assert config.compression_threshold == 10
    assert config.cors.allows('http://anywhere.example')
    assert config.cors.credentials          # Flask-SocketIO's default
    assert config.cookie.header('x') == (
        'Set-Cookie', 'sticky=x; Path=/; Max-Age=60; Secure; SameSite=Strict')
    assert sio.sockio_mw.engineio_path == '/live'
    assert sio.server.always_connect

    # [] turns CORS handling off: any origin, no CORS headers.
    cors = SocketIO(app, async_mode='threading',
                    cors_allowed_origins=[]).server.eio.config.cors
    assert cors.allows('http://anywhere.example')
    assert cors.headers('http://anywhere.example') == []
    # engineio_sync's own options are accepted too.
    sio = SocketIO(app, async_mode='threading', upgrade_timeout=3,
                   per_message_deflate=True)
    assert sio.server.eio.config.per_message_deflate


def test_async_mode_none_follows_flask_socketio():
    """In a fresh, unpatched process the first installed library of
    Flask-SocketIO's order wins (eventlet is in the dev extra); under
    ``flask run`` it is threading."""
    script = (
        'import os; from flask import Flask;'
        'from engineio_sync.flask import SocketIO;'
        'print(SocketIO(Flask("a")).async_mode);'
        'os.environ["FLASK_RUN_FROM_CLI"] = "true";'
        'print(SocketIO(Flask("b")).async_mode)')
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c', script],
                         cwd=REPO, capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.split() == ['eventlet', 'threading'], out.stderr


def test_unknown_or_unsupported_options_are_refused():
    app = Flask(__name__)
    with pytest.raises(engineio_sync.ConfigError, match="'ping_intervall' "
                       r"\(did you mean 'ping_interval'\?\)"):
        SocketIO(app, ping_intervall=5)
    with pytest.raises(engineio_sync.ConfigError, match='gevent_uwsgi'):
        SocketIO(app, async_mode='gevent_uwsgi')
    with pytest.raises(engineio_sync.ConfigError, match='ping_interval'):
        SocketIO(app, async_mode='threading', ping_interval='soon')
    with pytest.raises(engineio_sync.ConfigError, match='Expires'):
        SocketIO(app, async_mode='threading',
                 cookie={'name': 'io', 'Expires': 'never'})
    # Factory style: checked when given, before init_app.
    with pytest.raises(engineio_sync.ConfigError, match='cors_allowed'):
        SocketIO(cors_allowed='*')
    sio = SocketIO(app, async_mode='threading')
    with pytest.raises(TypeError, match='TLS'):
        sio.run(app, port=0, certfile='cert.pem', keyfile='key.pem')
    with pytest.raises(RuntimeError):
        sio.stop()                       # not running


# -- the end of each driver's app ---------------------------------------------

@needs_node
@pytest.mark.parametrize('driver', DRIVERS)
def test_stop_is_graceful_and_disconnects_run_once(apps, driver):
    app = apps(driver)

    def stop() -> None:
        # socketio.stop() from an HTTP route, as Flask-SocketIO documents.
        assert http(app.url + '/stop')[::2] == (200, b'stopping')
    events = node_connected_during(app.url, 'hold', stop)
    assert events[1] == {'event': 'disconnect', 'reason': 'transport close'}
    assert app.wait_exit() == 0
    assert app.log[-1] == {'ev': 'exit'}
    shutdown = [e for e in app.log if e['ev'] == 'disconnect'
                and e['name'] == 'holder']
    assert [e['reason'] for e in shutdown] == ['server shutting down']
    # Over the app's whole life every connection was closed exactly once.
    connected = [e['sid'] for e in app.log if e['ev'] == 'connect']
    closed = [e['sid'] for e in app.log if e['ev'] == 'disconnect']
    assert sorted(closed) == sorted(connected) and len(set(closed)) == len(
        closed)
    # No tracebacks but the debugger's report of the /fail route's error.
    errors = app.errors()
    assert errors.count('Traceback') == errors.count(
        'RuntimeError: failing on purpose'), errors

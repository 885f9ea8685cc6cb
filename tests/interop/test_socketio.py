"""python-socketio's ``socketio.Server`` on engineio_sync, driven by the
official JS ``socket.io-client`` 4.x (node/sio_client.js).

Run as a script (``python test_socketio.py DRIVER '<json options>'``) this
file is the server: it prints ``LISTENING <port>`` and then one JSON line
per server-side event.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SIO_CLIENT_JS = os.path.join(HERE, 'node', 'sio_client.js')


def serve(driver: str, options: dict) -> None:  # pragma: no cover - child
    if driver == 'eventlet':
        import eventlet
        eventlet.monkey_patch()
        import eventlet.wsgi
    elif driver == 'gevent':
        from gevent import monkey
        monkey.patch_all()
    sys.path.insert(0, REPO)
    from engineio_sync.socketio_compat import SocketIOServer, WSGIApp

    def log(**event):
        sys.stdout.write(json.dumps(event) + '\n')
        sys.stdout.flush()

    sio = SocketIOServer(async_mode=driver, **options)

    @sio.event
    def connect(sid, environ, auth):
        log(ev='connect', sid=sid, name=(auth or {}).get('name'),
            path=environ.get('PATH_INFO'))
        sio.save_session(sid, {'name': (auth or {}).get('name')})

    @sio.event
    def echo(sid, *args):
        return list(args)

    @sio.event
    def bin(sid, data):
        log(ev='bin', data=list(data))
        sio.emit('bin_reply', {'label': 'pushed', 'payload': data + b'!'},
                 to=sid)
        return bytes(reversed(data))

    @sio.event
    def join(sid, room):
        sio.enter_room(sid, room)
        return True

    @sio.event
    def shout(sid, message):
        sio.emit('shouted', message['text'], room=message['room'])

    @sio.event
    def ask_me(sid, question):
        def answered(answer):
            log(ev='answer', sid=sid, data=answer)
            sio.emit('told', answer, to=sid)
        sio.emit('question', question, to=sid, callback=answered)

    @sio.event
    def kick_me(sid):
        sio.disconnect(sid)

    @sio.event
    def disconnect(sid, reason):
        log(ev='disconnect', sid=sid, reason=reason,
            name=sio.get_session(sid).get('name'))

    app = WSGIApp(sio)
    if driver == 'eventlet':
        sock = eventlet.listen(('127.0.0.1', 0))
        print('LISTENING', sock.getsockname()[1], flush=True)
        eventlet.wsgi.server(sock, app, log_output=False)
    elif driver == 'gevent':
        from gevent.pywsgi import WSGIServer
        http = WSGIServer(('127.0.0.1', 0), app, log=None)
        http.start()
        print('LISTENING', http.server_port, flush=True)
        http.serve_forever()
    else:
        from engineio_sync.wsgi_servers.werkzeug import make_threaded_server
        httpd = make_threaded_server('127.0.0.1', 0, app)
        print('LISTENING', httpd.server_port, flush=True)
        httpd.serve_forever()


if __name__ == '__main__':  # pragma: no cover - child process
    serve(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    sys.exit(0)

import pytest  # noqa: E402

from support.processes import ListeningProcess  # noqa: E402

pytest.importorskip('socketio')

_HAVE_CLIENT = (shutil.which('node') is not None and os.path.isfile(
    os.path.join(REPO, 'node_modules', 'socket.io-client', 'package.json')))
pytestmark = pytest.mark.skipif(not _HAVE_CLIENT,
                                reason='node or socket.io-client missing')


class SioServer(ListeningProcess):
    """This file running as a server process, and its events."""

    def __init__(self, driver: str, options: dict) -> None:
        self.events: queue.Queue = queue.Queue()
        super().__init__([sys.executable, os.path.abspath(__file__), driver,
                          json.dumps(options)], on_line=self._event_line)

    def _event_line(self, line: str) -> None:
        try:
            self.events.put(json.loads(line))
        except ValueError:
            pass

    def collect(self, count: int, ev: str, timeout: float = 5.0) -> list:
        """Wait until ``count`` events named ``ev`` arrived; all so far."""
        deadline = time.monotonic() + timeout
        seen: list[dict] = []
        while sum(1 for e in seen if e['ev'] == ev) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'{count} x {ev} not seen: {seen}')
            try:
                seen.append(self.events.get(timeout=left))
            except queue.Empty:
                pass
        return seen


@pytest.fixture
def sio_server():
    servers: list[SioServer] = []

    def start(driver: str, **options) -> SioServer:
        server = SioServer(driver, options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert not server.tracebacks(), server.stderr


def run_client(url: str, options: dict) -> list[dict]:
    proc = subprocess.run(
        ['node', SIO_CLIENT_JS, url, json.dumps(options)], cwd=REPO,
        capture_output=True, text=True, timeout=30)
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    names = [e.get('event') for e in events]
    assert proc.returncode == 0 and names[-1:] == ['done'], \
        (events, proc.stderr[-3000:])
    return events


def by_name(events: list[dict]) -> dict:
    return {e['event']: e for e in events}


@pytest.mark.parametrize('driver,transports', [
    ('eventlet', None),                 # polling, then upgrade
    ('eventlet', ['polling']),
    ('eventlet', ['websocket']),
    ('threading', None),
    ('gevent', None),
])
def test_socketio_client_scenario(sio_server, driver, transports):
    server = sio_server(driver, ping_interval=5)
    options = {} if transports is None else {'transports': transports}
    got = by_name(run_client(server.url, options))
    if transports is not None:
        assert got['connect']['transport'] == transports[0]
    # Without a transports option the client upgrades to WebSocket.
    assert got['transport']['a'] == (transports or ['websocket'])[-1]
    assert got['echo_ack']['data'] == ['hello', {'n': 1, 's': 'é€😀'}]
    assert got['bin_ack']['data'] == [250, 3, 2, 1]
    assert got['bin_reply'] == {'event': 'bin_reply', 'label': 'pushed',
                                'data': [1, 2, 3, 250, 33]}
    assert got['shouted']['a'] == got['shouted']['b'] == 'hi room'
    assert got['told']['data'] == 'answer to q1'
    assert got['a_disconnect']['reason'] == 'io client disconnect'
    assert got['b_disconnect']['reason'] == 'io server disconnect'

    seen = server.collect(2, 'disconnect')
    connects = {e['name']: e for e in seen if e['ev'] == 'connect'}
    assert set(connects) == {'A', 'B'}
    assert connects['A']['sid'] == got['connect']['a']
    assert connects['A']['path'].startswith('/socket.io')
    assert [e['data'] for e in seen if e['ev'] == 'bin'] == [[1, 2, 3, 250]]
    assert [e['data'] for e in seen if e['ev'] == 'answer'] == ['answer to q1']
    reasons = {e['name']: e['reason'] for e in seen if e['ev'] == 'disconnect'}
    assert reasons == {'A': 'client disconnect', 'B': 'server disconnect'}


def test_engineio_api_python_socketio_uses():
    import engineio.packet
    from engineio_sync.socketio_compat import (EngineIOServer,
                                               SocketIOServer, WSGIApp)
    sio = SocketIOServer(async_mode='threading', ping_interval=(5, 1),
                         cors_allowed_origins='*')
    eio = sio.eio
    assert isinstance(eio, EngineIOServer)
    assert sio.async_mode == eio.async_mode == 'threading'
    assert eio.config.ping_interval_grace == 1
    ids = {eio.generate_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 20 for i in ids)
    # Unknown sessions: python-engineio semantics are False / KeyError.
    assert eio.send_packet('nope', engineio.packet.Packet(
        engineio.packet.MESSAGE, '2["x"]')) is False
    with pytest.raises(TypeError):
        eio.send_packet('nope', object())
    for name in ('on', 'send', 'handle_request', 'get_session',
                 'save_session', 'transport', 'start_background_task',
                 'sleep', 'create_event', 'create_queue', 'shutdown',
                 'disconnect'):
        assert callable(getattr(eio, name)), name
    assert eio.reason.CLIENT_DISCONNECT == 'client disconnect'
    assert WSGIApp(sio).engineio_path == '/socket.io'
    with pytest.raises(TypeError):
        WSGIApp(object())

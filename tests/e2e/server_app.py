"""A real engineio_sync server process for end-to-end tests.

Usage: python server_app.py DRIVER '<json Server options>'

DRIVER is eventlet, threading, gevent, native (eventlet behind
engineio_sync.http_server.HTTPServer) or native-threading (the threading
driver behind it: the server on the I/O loop).

Binds 127.0.0.1 on a free port, prints ``LISTENING <port>``, then one JSON
line per server event (connect, message, disconnect, close...). Messages
are echoed back, except text starting with ``cmd:`` which is a JSON
command: ``{"disconnect": true}``, ``{"send_n": N, "prefix": "s"}``,
``{"send_binary": [1, 2]}``, ``{"shutdown": true}``, ``{"raise": true}``,
``{"threads": true}`` (prints ``{"ev": "threads", "count": N}`` with
``threading.active_count()``).

The options may hold an ``"_app"`` dict that configures this script rather
than the Server: ``"deny_query": "deny=1"`` installs an ``allow_request``
refusing handshakes whose query has that parameter; ``"wsgi_app": true``
wraps a tiny WSGI app answering ``app:<PATH_INFO>``; ``"engineio_path"`` and
``"static_files"`` are passed to ``WSGIApp``. ``"middleware_deny":
"x=1"`` adds a ``server.use()`` middleware refusing that parameter with a
message; ``"log_errors": true`` prints ``connection_error`` events;
``"headers_hook": "X-Name"`` installs callable ``headers`` /
``initial_headers``; ``"cors_callable": ".example"`` makes the CORS origin
a callable accepting origins ending with that text.

A polling request carrying an ``X-Test-Watch: TAG`` header is watched
until the engine has it: a GET until its session's GET is parked (the
session's ``poll_waiting``), then the server prints ``{"ev": "parked",
"tag": TAG, "sid": SID}``; a POST until the session has begun it
(``post_active``): ``{"ev": "posting", ...}``. A request answered before
that gets ``{"ev": "answered", ...}``. Tests wait for these events
instead of sleeping.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from urllib.parse import parse_qs

DRIVER = sys.argv[1]
OPTIONS = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
# 'native': the eventlet driver behind engineio_sync's own HTTP server;
# 'native-threading': the threading driver behind it.
NATIVE = DRIVER in ('native', 'native-threading')
if NATIVE:
    DRIVER = 'eventlet' if DRIVER == 'native' else 'threading'

if DRIVER == 'eventlet':
    import eventlet
    if os.environ.get('EIO_TEST_MONKEY_PATCH'):
        eventlet.monkey_patch()
    import eventlet.wsgi
elif DRIVER == 'gevent':
    from gevent import monkey
    monkey.patch_all()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import engineio_sync  # noqa: E402


def log(**event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


APP = OPTIONS.pop('_app', None) or {}

if APP.get('deny_query'):
    def _allow_request(environ, _deny=APP['deny_query']):
        return _deny not in environ.get('QUERY_STRING', '').split('&')
    OPTIONS['allow_request'] = _allow_request

if APP.get('headers_hook'):
    # headers / initial_headers as callables: echo a query parameter.
    def _headers_hook(environ, _name=APP['headers_hook']):
        return {_name: 'q=' + environ.get('QUERY_STRING', '')[:40]}
    OPTIONS['headers'] = _headers_hook
    OPTIONS['initial_headers'] = lambda environ: [('X-Initial-Hook', 'yes')]

if APP.get('cors_callable'):
    OPTIONS['cors'] = dict(OPTIONS.get('cors') or {},
                           origin=lambda origin: origin.endswith(
                               APP['cors_callable']))

server = engineio_sync.Server(async_mode=DRIVER, **OPTIONS)

if APP.get('middleware_deny'):
    # server.use(): refuse handshakes and upgrades carrying this parameter.
    def _middleware(environ, _deny=APP['middleware_deny']):
        if _deny in environ.get('QUERY_STRING', '').split('&'):
            return False, 'denied by middleware'
        return True
    server.use(_middleware)

if APP.get('log_errors'):
    @server.on('connection_error')
    def on_connection_error(error):
        log(ev='connection_error', code=error.code, message=error.message,
            context=error.context, path=error.req.get('PATH_INFO'))


def start_stream(sid, n, prefix, gap, first=0):
    def stream():
        for i in range(first, n):
            if not server.send(sid, f'{prefix}{i}'):
                log(ev='stream_stopped', sid=sid, at=i)
                return
            server.sleep(gap)
        log(ev='stream_done', sid=sid, n=n)
    server.start_background_task(stream)


@server.on('connect')
def on_connect(sid, environ):
    log(ev='connect', sid=sid, transport=server.transport(sid),
        query=environ.get('QUERY_STRING', ''))
    if environ.get('QUERY_STRING', '').find('refuse=1') >= 0:
        return False
    query = dict(part.partition('=')[::2] for part in
                 environ.get('QUERY_STRING', '').split('&'))
    if query.get('stream'):
        # Start streaming at once, so that the stream straddles the
        # client's upgrade to WebSocket.
        # s0 rides in the handshake response, so the stream has surely
        # begun before the client can start its upgrade.
        server.send(sid, 's0')
        start_stream(sid, int(query['stream']), 's',
                     float(query.get('interval', '0.002')), first=1)


@server.on('connection')
def on_connection(socket):
    socket.on('upgrading', lambda transport: log(
        ev='upgrading', sid=socket.id, transport=transport,
        current=socket.transport, upgraded=socket.upgraded))
    socket.on('upgrade', lambda transport: log(
        ev='upgrade', sid=socket.id, transport=transport,
        current=socket.transport, upgraded=socket.upgraded))
    socket.on('close', lambda reason, desc: log(ev='close', sid=socket.id,
                                                reason=reason))
    if APP.get('socket_events'):
        # Every per-socket event, as packet types and counts only.
        sid = socket.id
        socket.on('packet', lambda p: log(ev='sock_packet', sid=sid,
                                          type=int(p.type)))
        socket.on('packet_create', lambda p: log(
            ev='sock_packet_create', sid=sid, type=int(p.type)))
        socket.on('flush', lambda packets: log(
            ev='sock_flush', sid=sid, types=[int(p.type) for p in packets]))
        socket.on('drain', lambda: log(ev='sock_drain', sid=sid))
        socket.on('heartbeat', lambda: log(ev='sock_heartbeat', sid=sid))
        socket.on('message', lambda data: log(ev='sock_message', sid=sid))


if APP.get('socket_events'):
    server.on('flush', lambda socket, packets: log(
        ev='srv_flush', sid=socket.id, n=len(packets)))
    server.on('drain', lambda socket: log(ev='srv_drain', sid=socket.id))


@server.on('message')
def on_message(sid, data):
    if isinstance(data, bytes):
        log(ev='message', sid=sid, binary=list(data[:64]), size=len(data))
        server.send(sid, data)
        return
    log(ev='message', sid=sid, data=data[:200], size=len(data))
    if data.startswith('cmd:'):
        cmd = json.loads(data[4:])
        if cmd.get('disconnect'):
            server.disconnect(sid)
        if 'send_n' in cmd:
            for i in range(cmd['send_n']):
                try:
                    if not server.send(sid, f"{cmd.get('prefix', 's')}{i}"):
                        log(ev='send_refused', sid=sid, at=i)
                        break
                except engineio_sync.SendBufferFull:
                    log(ev='buffer_full', sid=sid, at=i,
                        buffered=server.clients[sid].buffered_amount)
                    break
                if cmd.get('yield_every') and i % cmd['yield_every'] == 0:
                    server.sleep(0)
        if cmd.get('buffered'):
            log(ev='buffered', sid=sid,
                amount=server.clients[sid].buffered_amount)
        if 'send_binary' in cmd:
            server.send(sid, bytes(cmd['send_binary']))
        if cmd.get('sleep'):
            # The handler (and so the WebSocket's reading task) is busy.
            server.sleep(cmd['sleep'])
            log(ev='slept', sid=sid)
        if cmd.get('threads'):
            log(ev='threads', sid=sid, count=threading.active_count())
        if cmd.get('fds'):
            log(ev='fds', sid=sid, count=len(os.listdir('/proc/self/fd')))
        if 'stream' in cmd:
            start_stream(sid, cmd['stream'], cmd.get('prefix', 's'),
                         cmd.get('interval', 0.002))
        if 'send_cb' in cmd:
            # send() with a callback that reports when it ran
            server.clients[sid].send(
                cmd['send_cb'],
                callback=lambda: log(ev='callback', sid=sid,
                                     data=cmd['send_cb']))
        if 'remember' in cmd:
            with server.session(sid) as user_session:
                user_session['remembered'] = cmd['remember']
        if cmd.get('recall'):
            log(ev='recall', sid=sid,
                value=server.get_session(sid).get('remembered'),
                count=server.clients_count, known=sid in server.clients,
                state=server.clients[sid].ready_state)
        if cmd.get('raise'):
            raise RuntimeError('handler failure requested by the test')
        if cmd.get('shutdown'):
            server.shutdown()
        return
    server.send(sid, data)


@server.on('disconnect')
def on_disconnect(sid, reason):
    log(ev='disconnect', sid=sid, reason=reason)


def _plain_app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/stream':  # no Content-Length: chunked (or close) framing
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return (f'part{i};'.encode() for i in range(5))
    if path == '/lazy':  # start_response only once iterated (PEP 3333)
        def lazy():
            start_response('200 OK', [('Content-Type', 'text/plain')])
            yield b'lazy;'
            yield b'start'
        return lazy()
    if path == '/boom':
        raise RuntimeError('the wrapped app failed (requested by a test)')
    if path == '/echo':
        data = environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Length', str(len(data)))])
        return [data]
    body = ('app:' + path).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


# A watch checks its session at this interval, for at most this long (a
# GET parks for less than the ping interval plus its timeout).
WATCH_CHECK = 0.002
WATCH_FOR = 120.0
# What a watched request is waiting for, and the event that says it is.
WATCHED = {'GET': ('poll_waiting', 'parked'),
           'POST': ('post_active', 'posting')}


def watch(sid, tag, method, answered):
    """Print the event of ``WATCHED[method]`` once ``sid``'s session is in
    that state, or ``answered`` if the request ended first."""
    attribute, event = WATCHED[method]
    for _ in range(int(WATCH_FOR / WATCH_CHECK)):
        socket = server.clients.get(sid)
        if socket is not None and getattr(socket.engine.session, attribute):
            log(ev=event, tag=tag, sid=sid)
            return
        if answered:
            break
        server.sleep(WATCH_CHECK)
    log(ev='answered', tag=tag, sid=sid)


def watching(wsgi_app):
    """``wsgi_app``, watching the requests that carry ``X-Test-Watch``."""
    def app(environ, start_response):
        tag = environ.get('HTTP_X_TEST_WATCH')
        method = environ.get('REQUEST_METHOD')
        if tag is None or method not in WATCHED:
            return wsgi_app(environ, start_response)
        sid = parse_qs(environ.get('QUERY_STRING', '')).get('sid', [''])[0]
        answered = []
        server.start_background_task(watch, sid, tag, method, answered)
        try:
            return wsgi_app(environ, start_response)
        finally:
            answered.append(True)
    return app


_wsgi_kwargs = {}
if 'engineio_path' in APP:
    _wsgi_kwargs['engineio_path'] = APP['engineio_path']
if 'static_files' in APP:
    _wsgi_kwargs['static_files'] = APP['static_files']
app = watching(engineio_sync.WSGIApp(
    server, _plain_app if APP.get('wsgi_app') else None, **_wsgi_kwargs))

if __name__ == '__main__':
    if NATIVE:
        from engineio_sync.http_server import HTTPServer
        native = HTTPServer(app, '127.0.0.1', 0, driver=server.driver,
                            keepalive_timeout=float(os.environ.get(
                                'EIO_TEST_KEEPALIVE', '75')),
                            head_timeout=float(os.environ.get(
                                'EIO_TEST_HEAD_TIMEOUT', '30')),
                            max_connections=int(os.environ.get(
                                'EIO_TEST_MAX_CONNECTIONS', '20000')))
        print('LISTENING', native.port, flush=True)
        native.serve_forever()
    elif DRIVER == 'eventlet':
        sock = eventlet.listen(('127.0.0.1', 0), backlog=1024)
        print('LISTENING', sock.getsockname()[1], flush=True)
        eventlet.wsgi.server(sock, app, log_output=False, max_size=20000)
    elif DRIVER == 'gevent':
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

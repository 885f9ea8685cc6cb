"""Server options and events end to end: allow_request / use() on
handshakes and upgrades, connection_error, CORS in all its forms (also on
WebSocket Origin), cookies, compression thresholds, headers hooks, path and
add_trailing_slash, allow_upgrades, transports, ping_interval with grace,
json, logger, async_handlers, and validation at construction.

Options already covered elsewhere (basic CORS, cookie, compression, limits,
upgrade_timeout, initial_packet) are only exercised here where a variant
was missing.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
import time
import types
import zlib

import pytest

import engineio_sync
from support import DRIVERS, wsclient
from support.httpclient import RawClient
from engineio_sync.exceptions import ConfigError

QS = 'EIO=4&transport=polling'


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


def error_body(body: bytes) -> dict:
    return json.loads(body)


def read_body(ws) -> bytes:
    """The body of a refused WebSocket handshake (by Content-Length)."""
    length = int(ws.headers['content-length'])
    ws.sock.settimeout(5)
    while len(ws.buffer) < length:
        chunk = ws.sock.recv(65536)
        assert chunk, 'connection closed early'
        ws.buffer += chunk
    return ws.buffer[:length]


# -- allow_request, use() and connection_error ------------------------------

GATED = {'_app': {'deny_query': 'deny=1', 'middleware_deny': 'mw=1',
                  'log_errors': True}}


def test_allow_request_and_middleware_refuse_handshakes(driver, server_pool):
    server = server_pool(driver, **GATED)
    client = RawClient(server.port)
    status, _, body = client.request('GET', QS + '&deny=1')
    assert (status, error_body(body)) == (403, {'code': 4,
                                                'message': 'Forbidden'})
    status, _, body = client.request('GET', QS + '&mw=1')
    assert (status, error_body(body)) == (
        403, {'code': 4, 'message': 'denied by middleware'})
    event = server.wait_event(ev='connection_error',
                              message='denied by middleware')
    assert event['code'] == 4
    assert event['context'] == {'method': 'GET', 'query': QS + '&mw=1',
                                'http_status': 403}
    # Neither opened a session.
    assert not [e for e in server.drain_events() if e.get('ev') == 'connect'
                and ('deny=1' in e['query'] or 'mw=1' in e['query'])]
    sid, _ = client.handshake()
    assert server.wait_event(ev='connect', sid=sid)


def test_allow_request_and_middleware_run_on_upgrades(driver, server_pool):
    server = server_pool(driver, **GATED)
    client = RawClient(server.port)
    sid, _ = client.handshake()
    for param, message in (('deny=1', 'Forbidden'),
                           ('mw=1', 'denied by middleware')):
        ws = wsclient.RawWebSocket(
            server.port, f'EIO=4&transport=websocket&sid={sid}&{param}')
        try:
            assert ws.status == 403, ws.head
            assert message.encode() in read_body(ws)
        finally:
            ws.sock.close()
        event = server.wait_event(ev='connection_error', message=message)
        assert event['code'] == 4
    # The polling session is unharmed and can still upgrade.
    ws = wsclient.connect(server.port, f'EIO=4&transport=websocket&sid={sid}')
    try:
        ws.send('2probe')
        assert wsclient.receive(ws) == '3probe'
        ws.send('5')
        ws.send('4up')
        assert wsclient.receive(ws) == '4up'
    finally:
        ws.close()
    # A direct WebSocket handshake is gated too.
    ws = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket&mw=1')
    assert ws.status == 403
    ws.sock.close()


@pytest.mark.parametrize('method,query,code,status', [
    ('GET', 'EIO=4&transport=carrier-pigeon', 0, 400),
    ('GET', 'EIO=4&transport=polling&sid=nope', 1, 400),
    ('POST', 'EIO=4&transport=polling', 2, 400),
    ('GET', 'EIO=4&transport=websocket', 3, 400),
    ('GET', 'EIO=4&transport=polling&deny=1', 4, 403),
    ('GET', 'EIO=3&transport=polling', 5, 400),
])
def test_connection_error_for_every_refusal(server_pool, method, query, code,
                                            status):
    server = server_pool('eventlet', **GATED)
    got_status, _, body = RawClient(server.port).request(method, query)
    assert got_status == status
    message = error_body(body)['message']
    context = {'method': method, 'query': query, 'http_status': status}
    event = server.wait_event(ev='connection_error', code=code,
                              context=context)
    assert event['message'] == message
    assert event['path'] == '/engine.io/'


# -- CORS -------------------------------------------------------------------

def preflight(client: RawClient, origin: str) -> tuple[int, dict]:
    status, headers, body = client.request('OPTIONS', QS, headers={
        'Origin': origin, 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, x-custom'})
    assert body == b''
    return status, headers


def test_cors_list_with_credentials_methods_headers_max_age(driver,
                                                           server_pool):
    server = server_pool(driver, cors={
        'origin': ['https://a.example', 'https://b.example'],
        'credentials': True, 'methods': ['GET', 'POST'],
        'allowed_headers': ['Content-Type'], 'max_age': 600})
    client = RawClient(server.port)
    status, headers = preflight(client, 'https://b.example')
    assert status == 204
    assert headers['access-control-allow-origin'] == 'https://b.example'
    assert headers['access-control-allow-credentials'] == 'true'
    assert headers['access-control-allow-methods'] == 'GET, POST'
    assert headers['access-control-allow-headers'] == 'Content-Type'
    assert headers['access-control-max-age'] == '600'
    status, headers, _ = client.request('GET', QS, headers={
        'Origin': 'https://a.example'})
    assert status == 200
    assert headers['access-control-allow-origin'] == 'https://a.example'
    assert 'access-control-allow-methods' not in headers
    status, headers, body = client.request('GET', QS, headers={
        'Origin': 'https://evil.example'})
    assert (status, error_body(body)['code']) == (403, 4)
    assert 'access-control-allow-origin' not in headers
    # Same-origin is no longer implied once a list is given.
    status, _, _ = client.request('GET', QS, headers={
        'Origin': f'http://127.0.0.1:{server.port}'})
    assert status == 403


def test_cors_single_origin_string(server_pool):
    server = server_pool('eventlet', cors='https://only.example')
    client = RawClient(server.port)
    status, headers = preflight(client, 'https://only.example')
    assert status == 204
    assert headers['access-control-allow-origin'] == 'https://only.example'
    # No allowed_headers option: the requested ones are reflected.
    assert headers['access-control-allow-headers'] == 'content-type, x-custom'
    assert 'access-control-max-age' not in headers
    status, _, _ = client.request('GET', QS, headers={
        'Origin': 'https://other.example'})
    assert status == 403


def test_cors_callable_and_websocket_origin(driver, server_pool):
    server = server_pool(driver, _app={'cors_callable': '.good.example'})
    client = RawClient(server.port)
    status, headers, _ = client.request('GET', QS, headers={
        'Origin': 'https://app.good.example'})
    assert status == 200
    assert headers['access-control-allow-origin'] == 'https://app.good.example'
    status, _, _ = client.request('GET', QS, headers={
        'Origin': 'https://bad.example'})
    assert status == 403
    good = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket',
                                 headers={'Origin': 'https://x.good.example'})
    assert good.status == 101
    good.close()
    bad = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket',
                                headers={'Origin': 'https://bad.example'})
    assert bad.status == 403
    bad.sock.close()


def test_cors_list_checks_websocket_origin(server_pool):
    server = server_pool('eventlet', cors=['https://a.example'])
    ok = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket',
                               headers={'Origin': 'https://a.example'})
    assert ok.status == 101
    ok.close()
    refused = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket',
                                    headers={'Origin': 'https://b.example'})
    assert refused.status == 403
    refused.sock.close()


# -- cookie, compression, per-message deflate ---------------------------------

def test_cookie_dict(server_pool):
    server = server_pool('eventlet', cookie={
        'name': 'lb', 'path': '/rt', 'httponly': False, 'samesite': 'Strict',
        'secure': True, 'max_age': 120})
    client = RawClient(server.port)
    status, headers, body = client.request('GET', QS)
    sid = json.loads(body.decode()[1:].split('\x1e')[0])['sid']
    assert headers['set-cookie'] == (f'lb={sid}; Path=/rt; Max-Age=120; '
                                     'Secure; SameSite=Strict')
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    assert ws.headers['set-cookie'].startswith('lb=')
    ws.close()


def test_cookie_false_and_true(server_pool):
    server = server_pool('eventlet', cookie=False)
    _, headers, _ = RawClient(server.port).request('GET', QS)
    assert 'set-cookie' not in headers
    server = server_pool('eventlet', cookie=True)
    _, headers, body = RawClient(server.port).request('GET', QS)
    sid = json.loads(body.decode()[1:].split('\x1e')[0])['sid']
    assert headers['set-cookie'] == (f'io={sid}; Path=/; HttpOnly; '
                                     'SameSite=Lax')


def test_compression_threshold_and_deflate(server_pool):
    server = server_pool('eventlet', compression_threshold=100)
    client = RawClient(server.port)
    sid, _ = client.handshake()
    assert client.post(sid, '4' + 'a' * 150) == (200, b'ok')
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}', headers={'Accept-Encoding': 'deflate'})
    assert headers['content-encoding'] == 'deflate'
    assert zlib.decompress(body) == b'4' + b'a' * 150
    assert client.post(sid, '4' + 'b' * 90) == (200, b'ok')
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}', headers={'Accept-Encoding': 'gzip'})
    assert 'content-encoding' not in headers and body == b'4' + b'b' * 90
    assert client.post(sid, '4' + 'c' * 150) == (200, b'ok')
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}',
        headers={'Accept-Encoding': 'br, gzip;q=0.5'})
    assert headers['content-encoding'] == 'gzip'
    assert gzip.decompress(body) == b'4' + b'c' * 150


def read_frame_with_flags(ws) -> tuple[int, bytes]:
    """(first header byte, payload) of the next frame."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if len(ws.buffer) >= 2:
            first = ws.buffer[0]
            frame = ws._parse()
            if frame is not None:
                return first, frame[1]
        chunk = ws.sock.recv(65536)
        assert chunk, 'connection closed'
        ws.buffer += chunk
    raise AssertionError('no frame')


def test_per_message_deflate_threshold(server_pool):
    server = server_pool('eventlet', per_message_deflate=True,
                         compression_threshold=300)
    ws = wsclient.RawWebSocket(server.port, 'EIO=4&transport=websocket',
                               extensions='permessage-deflate')
    assert ws.status == 101
    assert 'permessage-deflate' in ws.headers['sec-websocket-extensions']
    inflate = zlib.decompressobj(-15)
    try:
        first, payload = read_frame_with_flags(ws)      # open packet
        assert not first & 0x40 and payload.startswith(b'0{')
        ws.send('4' + 'x' * 100)
        first, payload = read_frame_with_flags(ws)
        assert not first & 0x40, 'under the threshold: not compressed'
        assert payload == b'4' + b'x' * 100
        ws.send('4' + 'y' * 1000)
        first, payload = read_frame_with_flags(ws)
        assert first & 0x40, 'over the threshold: compressed (RSV1)'
        assert len(payload) < 200
        assert inflate.decompress(payload + b'\x00\x00\xff\xff') == \
            b'4' + b'y' * 1000
    finally:
        ws.close()


# -- headers hooks ------------------------------------------------------------

def test_headers_and_initial_headers_dicts(driver, server_pool):
    server = server_pool(driver, headers={'X-Every': 'yes'},
                         initial_headers=[('X-First', '1')],
                         cors='*')
    client = RawClient(server.port)
    status, headers, body = client.request('GET', QS)
    assert status == 200
    assert headers['x-every'] == 'yes' and headers['x-first'] == '1'
    sid = json.loads(body.decode()[1:].split('\x1e')[0])['sid']
    status, headers, _ = client.request('POST', f'{QS}&sid={sid}',
                                        body='4hi')
    assert status == 200
    assert headers['x-every'] == 'yes' and 'x-first' not in headers
    _, headers, _ = client.request('GET', f'{QS}&sid={sid}')
    assert headers['x-every'] == 'yes' and 'x-first' not in headers
    status, headers = preflight(client, 'https://a.example')
    assert status == 204 and headers['x-every'] == 'yes'
    status, headers, _ = client.request('GET', f'{QS}&sid=unknown')
    assert status == 400 and headers['x-every'] == 'yes'


def test_headers_hooks_get_the_environ(server_pool):
    server = server_pool('eventlet', _app={'headers_hook': 'X-Query'})
    client = RawClient(server.port)
    status, headers, body = client.request('GET', QS + '&tag=7')
    assert headers['x-query'] == f'q={QS}&tag=7'
    assert headers['x-initial-hook'] == 'yes'
    sid = json.loads(body.decode()[1:].split('\x1e')[0])['sid']
    client.post(sid, '4x')
    _, headers, _ = client.request('GET', f'{QS}&sid={sid}')
    assert headers['x-query'].startswith('q=EIO=4')
    assert 'x-initial-hook' not in headers


def test_headers_hook_failure_is_logged_not_fatal():
    server = engineio_sync.Server(
        async_mode='threading',
        headers=lambda environ: {'Bad\nName': 'x'})
    status, headers, _ = wsgi_call(server, 'GET', QS)
    assert status.startswith('200')
    assert not [h for h in headers if h[0].startswith('Bad')]
    server.shutdown()


# -- path and add_trailing_slash ----------------------------------------------

def test_path_with_trailing_slash(server_pool):
    server = server_pool('eventlet', path='/rt', _app={'wsgi_app': True})
    for path in ('/rt/', '/rt'):
        status, _, body = RawClient(server.port, path).request('GET', QS)
        assert status == 200 and body.startswith(b'0{'), path
    status, _, body = RawClient(server.port, '/engine.io/').request('GET', QS)
    assert body == b'app:/engine.io/'


def test_path_without_trailing_slash(driver, server_pool):
    server = server_pool(driver, path='rt', add_trailing_slash=False,
                         _app={'wsgi_app': True})
    status, _, body = RawClient(server.port, '/rt').request('GET', QS)
    assert status == 200 and body.startswith(b'0{')
    status, _, body = RawClient(server.port, '/rt/').request('GET', QS)
    assert body == b'app:/rt/'
    assert server_path_ws(server.port, '/rt') == 101


def server_path_ws(port: int, path: str) -> int:
    import base64
    import os
    import socket
    sock = socket.create_connection(('127.0.0.1', port), timeout=5)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f'GET {path}?EIO=4&transport=websocket HTTP/1.1\r\n'
                      f'Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n'
                      'Connection: Upgrade\r\n'
                      f'Sec-WebSocket-Key: {key}\r\n'
                      'Sec-WebSocket-Version: 13\r\n\r\n').encode())
        head = b''
        while b'\r\n' not in head:
            chunk = sock.recv(1024)
            if not chunk:
                break
            head += chunk
        return int(head.split(b' ', 2)[1])
    finally:
        sock.close()


def test_path_properties():
    server = engineio_sync.Server(async_mode='threading')
    assert server.path == '/engine.io/'
    server = engineio_sync.Server(async_mode='threading', path='/a/b/',
                                  add_trailing_slash=False)
    assert server.path == '/a/b'
    assert server.matches_path('/a/b') and not server.matches_path('/a/b/')
    app = engineio_sync.WSGIApp(server)
    assert app.engineio_path == '/a/b'
    # An explicit engineio_path still wins.
    assert engineio_sync.WSGIApp(server, engineio_path='x').engineio_path \
        == '/x'


# -- allow_upgrades, transports, ping_interval grace --------------------------

def test_allow_upgrades_false(driver, server_pool):
    server = server_pool(driver, allow_upgrades=False, _app={
        'log_errors': True})
    client = RawClient(server.port)
    sid, info = client.handshake()
    assert info['upgrades'] == []
    ws = wsclient.RawWebSocket(server.port,
                               f'EIO=4&transport=websocket&sid={sid}')
    assert ws.status == 400
    ws.sock.close()
    assert server.wait_event(ev='connection_error', code=3)['message'] == \
        'Upgrades are not allowed'
    # Direct WebSocket sessions are still fine, and polling goes on.
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    assert wsclient.receive(ws).startswith('0{')
    ws.close()
    assert client.post(sid, '4still') == (200, b'ok')
    assert client.get(sid) == (200, b'4still')


def test_transports_websocket_only(server_pool):
    server = server_pool('eventlet', transports=['websocket'])
    status, _, body = RawClient(server.port).request('GET', QS)
    assert (status, error_body(body)['code']) == (400, 0)
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    opened = wsclient.receive(ws)
    assert json.loads(opened[1:])['upgrades'] == []
    ws.close()


def test_initial_packet_on_websocket_and_v3(server_pool):
    server = server_pool('eventlet', initial_packet='hi€', allow_eio3=True)
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    try:
        assert wsclient.receive(ws).startswith('0{')
        assert wsclient.receive(ws) == '4hi€'
    finally:
        ws.close()
    status, _, body = RawClient(server.port).request(
        'GET', 'EIO=3&transport=polling')
    assert status == 200 and body.decode().endswith('4:4hi€')


def test_transports_polling_only(server_pool):
    server = server_pool('eventlet', transports=['polling'])
    sid, info = RawClient(server.port).handshake()
    assert info['upgrades'] == []
    ws = wsclient.RawWebSocket(server.port,
                               f'EIO=4&transport=websocket&sid={sid}')
    assert ws.status == 400
    ws.sock.close()


def test_ping_interval_grace_extends_the_pong_deadline(server_pool):
    server = server_pool('eventlet', ping_interval=[0.3, 0.6],
                         ping_timeout=0.2)
    client = RawClient(server.port)
    sid, info = client.handshake()
    assert info['pingInterval'] == 300 and info['pingTimeout'] == 200
    assert client.get(sid) == (200, b'2')
    time.sleep(0.45)                  # past ping_timeout, within the grace
    assert client.post(sid, '3') == (200, b'ok')
    assert client.get(sid) == (200, b'2')
    start = time.monotonic()          # no pong now: closed after 0.8 s
    event = server.wait_event(ev='disconnect', sid=sid, timeout=5)
    assert event['reason'] == 'ping timeout'
    assert 0.6 <= time.monotonic() - start < 2.0


# -- json, logger, async_handlers (in process) --------------------------------

def wsgi_call(server, method: str, query: str, body: bytes = b'',
              headers: dict | None = None) -> tuple[str, list, bytes]:
    environ = {
        'REQUEST_METHOD': method, 'QUERY_STRING': query,
        'PATH_INFO': '/engine.io/', 'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '80', 'HTTP_HOST': '127.0.0.1',
        'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body)),
        'wsgi.url_scheme': 'http',
    }
    for name, value in (headers or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    out = {}

    def start_response(status, response_headers, exc_info=None):
        out['status'], out['headers'] = status, response_headers

    result = server.handle_request(environ, start_response)
    data = b''.join(result)
    if hasattr(result, 'close'):
        result.close()
    return out['status'], out['headers'], data


def test_json_module_is_per_server():
    calls = []

    def dumps(value, **kwargs):
        calls.append(value)
        return json.dumps(value, sort_keys=True, separators=(',', ':'))

    custom = types.SimpleNamespace(dumps=dumps, loads=json.loads)
    server = engineio_sync.Server(async_mode='threading', json=custom)
    plain = engineio_sync.Server(async_mode='threading')
    _, _, body = wsgi_call(server, 'GET', QS)
    assert len(calls) == 1 and calls[0]['sid'] in body.decode()
    keys = list(json.loads(body.decode()[1:]))
    assert keys == sorted(keys)
    wsgi_call(plain, 'GET', QS)
    assert len(calls) == 1
    assert json.dumps is not dumps
    server.shutdown()
    plain.shutdown()


def test_logger_and_engineio_logger():
    stream = io.StringIO()
    logger = logging.getLogger('engineio_sync.test_options')
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(stream))
    server = engineio_sync.Server(async_mode='threading', logger=logger)
    assert server.logger is logger
    _, _, body = wsgi_call(server, 'GET', QS)
    sid = json.loads(body.decode()[1:])['sid']
    assert f'{sid}: session opened' in stream.getvalue()
    other = engineio_sync.Server(async_mode='threading', logger=False,
                                 engineio_logger=logger)
    assert other.logger is logger
    assert engineio_sync.Server(async_mode='threading').logger.name == \
        'engineio_sync'
    server.shutdown()
    other.shutdown()


@pytest.mark.parametrize('async_handlers', [False, True])
def test_async_handlers(async_handlers):
    server = engineio_sync.Server(async_mode='threading',
                                  async_handlers=async_handlers)
    seen = []
    done = threading.Event()

    @server.on('message')
    def message(sid, data):
        seen.append((data, threading.current_thread()))
        done.set()

    _, _, body = wsgi_call(server, 'GET', QS)
    sid = json.loads(body.decode()[1:])['sid']
    status, _, _ = wsgi_call(server, 'POST', f'{QS}&sid={sid}', b'4hi')
    assert status.startswith('200')
    assert done.wait(5)
    assert seen[0][0] == 'hi'
    # The threading driver runs a session's handlers on its worker pool,
    # in order; async_handlers gives each message a task of its own.
    thread = seen[0][1]
    assert thread is not threading.current_thread()
    assert thread.name.startswith('engineio-app') is not async_handlers
    server.shutdown()


def test_connect_and_connection_events_in_process():
    server = engineio_sync.Server(async_mode='threading', cors='*')
    events = []
    server.on('connect', lambda sid, environ: events.append(('connect', sid)))
    server.on('connection', lambda socket: events.append(
        ('connection', socket.id)))
    server.on('connection_error', lambda err: events.append(
        ('error', err.code, err.message, err.context['http_status'])))
    server.use(lambda environ: 'HTTP_X_TOKEN' in environ or 'no token')
    status, _, body = wsgi_call(server, 'GET', QS)
    assert status.startswith('403')
    assert json.loads(body) == {'code': 4, 'message': 'no token'}
    status, _, body = wsgi_call(server, 'GET', QS, headers={'X-Token': 't'})
    sid = json.loads(body.decode()[1:])['sid']
    assert events == [('error', 4, 'no token', 403), ('connect', sid),
                      ('connection', sid)]
    with pytest.raises(TypeError):
        server.use('not callable')
    server.shutdown()


# -- validation ---------------------------------------------------------------

@pytest.mark.parametrize('options', [
    {'ping_interval': 0}, {'ping_interval': 'x'}, {'ping_interval': (1,)},
    {'ping_interval': (1, -1)}, {'ping_timeout': -1}, {'ping_timeout': True},
    {'upgrade_timeout': 0}, {'max_http_buffer_size': 0},
    {'max_http_buffer_size': '1'}, {'transports': []},
    {'transports': ['polling', 'flash']}, {'allow_upgrades': 'yes'},
    {'allow_eio3': 1}, {'http_compression': None},
    {'per_message_deflate': 'no'}, {'compression_threshold': -1},
    {'cors': 42}, {'cors': {'origin': [1]}}, {'cors': {'max_age': -1}},
    {'cors': {'bogus': True}}, {'cookie': 3}, {'cookie': {'name': 'a;b'}},
    {'cookie': {'samesite': 'Sometimes'}}, {'cookie': {'bogus': 1}},
    {'json': object()}, {'initial_packet': 3},
    {'initial_packet': 'a\x1eb'}, {'allow_request': 'yes'},
    {'generate_id': 'abc'}, {'path': ''}, {'path': '/'},
    {'path': '/a?b'}, {'path': 3}, {'add_trailing_slash': 'no'},
    {'headers': 'X-A: 1'}, {'headers': {'X-A': 'a\r\nb'}},
    {'initial_headers': {'Bad Name': 'x'}}, {'initial_headers': [('X',)]},
    {'async_mode': 'tornado'}, {'close_timeout': 0},
])
def test_bad_options_raise_config_error(options):
    with pytest.raises(ConfigError):
        engineio_sync.Server(**options)


def test_good_option_spellings():
    server = engineio_sync.Server(
        async_mode='threading', ping_interval=(10, 2), ping_timeout=3,
        cors={'origin': lambda o: True, 'allowedHeaders': ['A'],
              'maxAge': 5, 'methods': 'GET,POST'},
        cookie={'name': 'x', 'maxAge': 10}, headers=[('X-A', 1)],
        initial_headers=lambda environ: None, path='socket.io',
        add_trailing_slash=False, cors_allowed_origins=None)
    config = server.config
    assert (config.ping_interval, config.ping_interval_grace) == (10, 2)
    assert config.cookie.max_age == 10
    assert config.headers == (('X-A', '1'),)
    assert config.cors.methods == 'GET, POST' and config.cors.max_age == 5
    assert server.path == '/socket.io'
    legacy = engineio_sync.Server(async_mode='threading',
                                  cors_allowed_origins=['https://a.example'],
                                  cors_credentials=True)
    assert legacy.config.cors.credentials
    assert legacy.config.cors.allows('https://a.example')
    assert not legacy.config.cors.allows('https://b.example')


def test_graceful_shutdown_says_how_long_it_waited_and_why_it_stopped(
        caplog):
    from engineio_sync.standalone import graceful_shutdown
    server = engineio_sync.Server(async_mode='threading')
    status, _, body = wsgi_call(server, 'GET', 'EIO=4&transport=polling')
    assert status.startswith('200'), body
    caplog.set_level(logging.INFO, logger='engineio_sync')
    # The session's close packet is never collected: it stays pending.
    started = time.monotonic()
    assert graceful_shutdown(server, timeout=30, abort=lambda: True) is False
    assert time.monotonic() - started < 5
    stops = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith('shutdown:')]
    assert len(stops) == 1, stops
    assert 'still closing after 0.' in stops[0], stops
    assert 'asked to stop at once' in stops[0], stops
    # Without an abort it waits its whole timeout, and says so.
    other = engineio_sync.Server(async_mode='threading')
    wsgi_call(other, 'GET', 'EIO=4&transport=polling')
    caplog.clear()
    assert graceful_shutdown(other, timeout=0.3) is False
    (stop,) = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith('shutdown:')]
    waited = float(stop.split('after ')[1].split('s;')[0])
    assert 0.3 <= waited < 5 and stop.endswith('stopping anyway'), stop
    assert 'asked' not in stop, stop


def test_app_threads_grows_the_process_pool():
    from engineio_sync.hub import process_hub
    server = engineio_sync.Server(async_mode='threading', app_threads=17)
    assert process_hub().pool.size >= 17
    server.shutdown()

"""WSGIApp: routing between Engine.IO, a wrapped WSGI app and static files.

In-process tests use werkzeug's test client; the last ones run the real
server process of each driver.
"""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

import engineio_sync
from support import DRIVERS
from support.httpclient import RawClient

QS = 'EIO=4&transport=polling'


def inner_app(environ, start_response):
    body = f'inner:{environ["REQUEST_METHOD"]}:{environ["PATH_INFO"]}:' \
           f'{environ.get("QUERY_STRING", "")}'.encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('X-Inner', 'yes')])
    return [body]


@pytest.fixture
def eio_server():
    server = engineio_sync.Server(async_mode='threading')
    yield server
    server.shutdown()


def is_handshake(response) -> bool:
    text = response.get_data(as_text=True)
    if response.status_code != 200 or not text.startswith('0{'):
        return False
    return 'sid' in json.loads(text[1:].split('\x1e')[0])


def test_engineio_path_goes_to_server(eio_server):
    client = Client(engineio_sync.WSGIApp(eio_server, inner_app))
    assert is_handshake(client.get(f'/engine.io/?{QS}'))
    assert is_handshake(client.get(f'/engine.io?{QS}'))
    # Below the mount point too.
    assert is_handshake(client.get(f'/engine.io/extra?{QS}'))


def test_other_paths_go_to_wrapped_app(eio_server):
    client = Client(engineio_sync.WSGIApp(eio_server, inner_app))
    for path in ('/', '/index.html', '/api/items', '/engine.iox',
                 '/static/engine.io/'):
        response = client.get(path + '?q=1')
        assert response.status_code == 200, path
        assert response.headers['X-Inner'] == 'yes'
        assert response.get_data(as_text=True) == f'inner:GET:{path}:q=1'
    response = client.post('/form', data=b'x=1')
    assert response.get_data(as_text=True) == 'inner:POST:/form:'


def test_404_without_wrapped_app(eio_server):
    client = Client(engineio_sync.WSGIApp(eio_server))
    for path in ('/', '/other', '/engine.iox'):
        response = client.get(path)
        assert response.status_code == 404, path
    assert is_handshake(client.get(f'/engine.io/?{QS}'))


def test_engineio_errors_are_not_passed_to_the_app(eio_server):
    client = Client(engineio_sync.WSGIApp(eio_server, inner_app))
    response = client.get('/engine.io/?EIO=4')
    assert response.status_code == 400
    assert json.loads(response.get_data()) == {
        'code': 0, 'message': 'Transport unknown'}


@pytest.mark.parametrize('path', ['socket.io', '/socket.io', '/socket.io/',
                                  'socket.io/'])
def test_custom_engineio_path(eio_server, path):
    client = Client(engineio_sync.WSGIApp(eio_server, inner_app,
                                          engineio_path=path))
    assert is_handshake(client.get(f'/socket.io/?{QS}'))
    response = client.get(f'/engine.io/?{QS}')
    assert response.get_data(as_text=True).startswith('inner:GET:/engine.io/')


def test_nested_custom_path(eio_server):
    client = Client(engineio_sync.WSGIApp(eio_server,
                                          engineio_path='app/realtime'))
    assert is_handshake(client.get(f'/app/realtime/?{QS}'))
    assert client.get(f'/app/?{QS}').status_code == 404


def test_polling_round_trip_in_process(eio_server):
    @eio_server.on('message')
    def echo(sid, data):
        eio_server.send(sid, data)

    client = Client(engineio_sync.WSGIApp(eio_server, inner_app))
    response = client.get(f'/engine.io/?{QS}')
    sid = json.loads(response.get_data(as_text=True)[1:])['sid']
    response = client.post(f'/engine.io/?{QS}&sid={sid}', data=b'4ping me')
    assert (response.status_code, response.get_data()) == (200, b'ok')
    response = client.get(f'/engine.io/?{QS}&sid={sid}')
    assert response.get_data() == b'4ping me'


@pytest.fixture
def static_dir(tmp_path):
    (tmp_path / 'index.html').write_text('<h1>home</h1>')
    assets = tmp_path / 'assets'
    assets.mkdir()
    (assets / 'app.js').write_text('console.log(1)')
    (assets / 'data.bin').write_bytes(b'\x00\x01')
    (assets / 'index.html').write_text('<p>assets index</p>')
    (tmp_path / 'secret.txt').write_text('top secret')
    return tmp_path


def test_static_files(eio_server, static_dir):
    app = engineio_sync.WSGIApp(eio_server, inner_app, static_files={
        '/home': str(static_dir / 'index.html'),
        '/static/': str(static_dir / 'assets'),
        '/assets': str(static_dir / 'assets'),
        '/data': {'filename': str(static_dir / 'assets' / 'data.bin'),
                  'content_type': 'application/x-custom'},
    })
    client = Client(app)
    response = client.get('/home')
    assert response.status_code == 200
    assert response.get_data(as_text=True) == '<h1>home</h1>'
    assert response.headers['Content-Type'].startswith('text/html')
    response = client.get('/static/app.js')
    assert response.status_code == 200
    assert response.get_data(as_text=True) == 'console.log(1)'
    assert 'javascript' in response.headers['Content-Type']
    # A directory mapping serves its index.html.
    assert client.get('/assets').get_data(as_text=True) == \
        '<p>assets index</p>'
    response = client.get('/data')
    assert response.headers['Content-Type'] == 'application/x-custom'
    assert response.get_data() == b'\x00\x01'
    # Unmapped paths still reach the wrapped app, Engine.IO still works.
    assert client.get('/other').get_data(as_text=True) == 'inner:GET:/other:'
    assert client.get('/staticx').get_data(as_text=True) == \
        'inner:GET:/staticx:'
    assert is_handshake(client.get(f'/engine.io/?{QS}'))


def test_static_missing_file_is_404_without_app(eio_server, static_dir):
    client = Client(engineio_sync.WSGIApp(eio_server, static_files={
        '/static/': str(static_dir / 'assets')}))
    assert client.get('/static/app.js').status_code == 200
    assert client.get('/static/missing.js').status_code == 404
    assert client.get('/elsewhere').status_code == 404


def test_root_page_mapping_does_not_hide_the_wrapped_app(eio_server,
                                                         static_dir):
    """The README's mapping ``{'/': 'index.html', '/static/': 'static'}``
    serves '/' and the static directory; every other request still goes
    to the wrapped app ("passes every other request to wsgi_app")."""
    client = Client(engineio_sync.WSGIApp(eio_server, inner_app, static_files={
        '/': str(static_dir / 'index.html'),
        '/static/': str(static_dir / 'assets')}))
    assert client.get('/').get_data(as_text=True) == '<h1>home</h1>'
    assert client.get('/static/app.js').get_data(as_text=True) == \
        'console.log(1)'
    response = client.get('/api/items')
    assert response.status_code == 200
    assert response.get_data(as_text=True) == 'inner:GET:/api/items:'
    assert is_handshake(client.get(f'/engine.io/?{QS}'))


def test_static_files_do_not_escape_their_directory(eio_server, static_dir):
    client = Client(engineio_sync.WSGIApp(eio_server, static_files={
        '/static/': str(static_dir / 'assets')}))
    for path in ('/static/../secret.txt', '/static/%2e%2e/secret.txt',
                 '/static/../../etc/passwd'):
        response = client.get(path)
        assert b'top secret' not in response.get_data()
        assert response.status_code == 404, path


def test_wsgiapp_checks_its_arguments(eio_server):
    with pytest.raises(TypeError):
        engineio_sync.WSGIApp(object())
    with pytest.raises(TypeError):
        engineio_sync.WSGIApp(eio_server, wsgi_app='not callable')


# -- the real server processes ------------------------------------------------

@pytest.mark.parametrize('driver', DRIVERS)
def test_real_server_passes_other_paths_through(driver, server_pool):
    server = server_pool(driver, _app={'wsgi_app': True})
    client = RawClient(server.port, path='/hello/world')
    status, _, body = client.request('GET', 'x=1')
    assert (status, body) == (200, b'app:/hello/world')
    sid, _ = RawClient(server.port).handshake()
    assert len(sid) >= 20


@pytest.mark.parametrize('driver', DRIVERS)
def test_real_server_404_without_app(driver, server_pool):
    server = server_pool(driver)
    status, _, _ = RawClient(server.port, path='/nothing/here').request('GET')
    assert status == 404


@pytest.mark.parametrize('driver', DRIVERS)
def test_real_server_custom_path(driver, server_pool):
    server = server_pool(driver, _app={'wsgi_app': True,
                                       'engineio_path': 'socket.io'})
    custom = RawClient(server.port, path='/socket.io/')
    sid, _ = custom.handshake()
    assert custom.post(sid, '4via custom path') == (200, b'ok')
    assert custom.get(sid) == (200, b'4via custom path')
    status, _, body = RawClient(server.port).request('GET', QS)
    assert (status, body) == (200, b'app:/engine.io/')

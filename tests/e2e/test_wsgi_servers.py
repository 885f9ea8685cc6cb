"""engineio_sync.wsgi_servers: each WSGI server's socket, its way to end a
taken-over request, and its standalone runner, on real servers; and the
driver registry of engineio_sync.drivers."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

import engineio_sync
from engineio_sync import drivers, wsgi_servers
from engineio_sync.drivers import ASYNC_MODES, DRIVERS, get_driver
from engineio_sync.exceptions import ConfigError

from support import REPO
from support.httpclient import raw_exchange
from support.processes import ListeningProcess
from support.waiting import wait_until

pytestmark = pytest.mark.timeout(90)

PACKAGE = os.path.join(REPO, 'engineio_sync', 'wsgi_servers')
ENV = {**os.environ, 'PYTHONPATH': REPO, 'PYTHONWARNINGS': 'ignore'}

# The tiny WSGI app every server runs. /info answers normally with what
# find() saw; /hijack answers on the raw socket, shuts it down and returns
# hijack.finish(start_response), as the WebSocket transport does.
APP_SOURCE = '''
import json
import socket

from engineio_sync import wsgi_servers


def reply(start_response, status, payload):
    body = json.dumps(payload).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/stop':
        STOP.append(True)
        return reply(start_response, '200 OK', {'stopping': True})
    hijack = wsgi_servers.find(environ)
    if hijack is None:
        return reply(start_response, '500 Internal Server Error',
                     {'error': 'no socket'})
    sock = hijack.sock
    info = {'server': hijack.server,
            'socket': isinstance(sock.fileno(), int) and sock.fileno() >= 0,
            'peer': list(sock.getpeername()[:2])}
    if path != '/hijack':
        return reply(start_response, '200 OK', info)
    body = json.dumps(info).encode()
    sock.sendall(b'HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n'
                 b'Content-Length: ' + str(len(body)).encode() +
                 b'\\r\\n\\r\\n' + body)
    sock.shutdown(socket.SHUT_RDWR)
    return hijack.finish(start_response)


STOP = []
'''

# A process that serves APP_SOURCE with wsgi_servers.runner(NAME) on
# driver MODE until /stop, then stops the runner and reports alive().
RUNNER_SOURCE = '''
import sys
import time

NAME, MODE = sys.argv[1], sys.argv[2]
if MODE == 'gevent':
    from gevent import monkey
    monkey.patch_all()
elif MODE == 'eventlet':
    import eventlet  # noqa: F401

from engineio_sync import wsgi_servers
from engineio_sync.drivers import get_driver
''' + APP_SOURCE + '''
driver = get_driver(MODE)
runner = wsgi_servers.runner(NAME)('127.0.0.1', 0, app, driver)
print('LISTENING', runner.port, runner.alive(), flush=True)
# Polls for /stop (or the runner's end) rather than waiting on an event:
# the app also runs under gunicorn, without a driver.
deadline = time.monotonic() + 60
while not STOP and runner.alive() and time.monotonic() < deadline:
    driver.sleep(0.02)
runner.stop()
deadline = time.monotonic() + 5
while runner.alive() and time.monotonic() < deadline:  # Runner has no join
    driver.sleep(0.02)
print('STOPPED', runner.alive(), flush=True)
'''

RUNNERS = [('native', 'threading'), ('native', 'eventlet'),
           ('native', 'gevent'), ('eventlet.wsgi', 'eventlet'),
           ('gevent.pywsgi', 'gevent'), ('werkzeug', 'threading')]


def http(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes,
                                                              bytes]:
    """GET ``path``: (status, body, everything the server sent)."""
    data = raw_exchange(port, f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                              'Connection: close\r\n\r\n'.encode(), timeout)
    head, _, body = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1]) if head else 0
    return status, body, data


@pytest.fixture
def children():
    """``start(argv, cwd, **address)`` -> a :class:`ListeningProcess` with
    the test environment, stopped after the test."""
    started: list[ListeningProcess] = []

    def start(argv: list[str], cwd: str | None = None,
              **address: str) -> ListeningProcess:
        child = ListeningProcess(argv, env=ENV, cwd=cwd, **address)
        started.append(child)
        return child

    yield start
    for child in started:
        child.stop()


def check_server(port: int, name: str) -> None:
    """find() names the server and yields a live socket, both for a
    normal request and for one answered on the taken-over socket."""
    status, body, _ = http(port, '/info')
    assert status == 200, body
    info = json.loads(body)
    assert info['server'] == name
    assert info['socket'] is True
    assert info['peer'][0] == '127.0.0.1'
    # The answer written on the raw socket is all the client gets:
    # whatever finish() makes the server do afterwards cannot add to it.
    status, body, raw = http(port, '/hijack')
    assert status == 200, raw
    assert json.loads(body)['server'] == name
    assert raw.count(b'HTTP/1.1') == 1, raw
    assert raw.endswith(body)
    # ... and the server is still serving.
    status, body, _ = http(port, '/info')
    assert status == 200 and json.loads(body)['server'] == name


# -- standalone runners, one process each --------------------------------------


@pytest.mark.parametrize('name,mode', RUNNERS,
                         ids=[f'{n}-{m}' for n, m in RUNNERS])
def test_runner_serves_and_find_names_its_server(children, name, mode):
    child = children([sys.executable, '-c', RUNNER_SOURCE, name, mode])
    match = child.wait_line(r'^LISTENING (\d+) (\w+)')
    port = child.port
    assert port > 0
    assert match.group(2) == 'True'  # alive() once run() returned
    check_server(port, name)
    status, _, _ = http(port, '/stop')
    assert status == 200
    assert child.wait_line(r'^STOPPED (\w+)').group(1) == 'False'
    assert child.proc.wait(10) == 0, child.stderr
    assert 'Traceback' not in child.stderr, child.stderr
    # stop() really closed the listening socket.
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', port), timeout=2).close()


def test_every_runner_is_tested():
    runnable = {server.NAME for server in wsgi_servers.SERVERS
                if getattr(server, 'run', None) is not None}
    assert runnable == {name for name, _ in RUNNERS}


EVENTLET_LOGGED = '''
import sys
import eventlet
import eventlet.wsgi
''' + APP_SOURCE + '''
sock = eventlet.listen(('127.0.0.1', 0))
print('LISTENING', sock.getsockname()[1], flush=True)
eventlet.wsgi.server(sock, app, log=sys.stdout, log_output=True)
'''


def test_eventlet_wsgi_is_told_the_request_was_handled(children):
    """With eventlet's log on (the runner silences it), a taken-over
    request ends cleanly. Not told, eventlet would try to write a response
    of its own, fail, and log a traceback and a 500."""
    child = children([sys.executable, '-c', EVENTLET_LOGGED])
    check_server(child.port, 'eventlet.wsgi')
    wait_until(lambda: sum('/info' in line for line in child.out) >= 2,
               what='two /info lines in the access log')
    assert sum('/info' in line for line in child.out) == 2, child.out
    hijacked = [line for line in child.out if '/hijack' in line]
    assert len(hijacked) == 1 and '" 200 ' in hijacked[0], child.out
    assert 'Traceback' not in ''.join(child.out) + child.stderr, child.out


# -- gunicorn (no runner: gunicorn runs the process) ---------------------------

G25_PYTHON = os.path.join(REPO, '.venv-gunicorn25', 'bin', 'python')


def gunicorn_python(worker: str) -> str:
    if worker != 'eventlet':
        return sys.executable
    # gunicorn 26 dropped the eventlet worker; tests/deploy keeps 25.x in
    # its own environment.
    if not os.path.exists(G25_PYTHON):
        pytest.skip('no .venv-gunicorn25 (make gunicorn25)')
    return G25_PYTHON


@pytest.mark.parametrize('worker', ['gthread', 'gevent', 'eventlet'])
def test_gunicorn_worker_socket_and_finish(children, tmp_path, worker):
    (tmp_path / 'tinyapp.py').write_text(APP_SOURCE)
    child = children([gunicorn_python(worker), '-m', 'gunicorn',
                      '-k', worker, '-w', '1', '--threads', '2',
                      '-b', '127.0.0.1:0', '--no-control-socket',
                      '--graceful-timeout', '3', '--access-logfile', '-',
                      '--pythonpath', f'{tmp_path}{os.pathsep}{REPO}',
                      'tinyapp:app'], cwd=str(tmp_path),
                     address=r'Listening at: http://127\.0\.0\.1:(\d+)',
                     address_stream='err')
    port = child.port
    child.wait_line(r'Booting worker', 'err')
    # The worker may still be importing the app.
    wait_until(lambda: http(port, '/info', timeout=2)[0] == 200, 20,
               what='the worker serving', ignore=(OSError,))
    check_server(port, 'gunicorn')
    # The access log shows how the taken-over request ended: async
    # workers were told it was handled (no line at all); gthread answered
    # a dummy 200 on the shut-down socket.
    wait_until(lambda: sum('/info' in line for line in child.out) >= 3,
               what='three /info lines in the access log')
    hijacked = [line for line in child.out if '/hijack' in line]
    assert len(hijacked) == (1 if worker == 'gthread' else 0), child.out
    child.proc.send_signal(signal.SIGTERM)
    assert child.proc.wait(20) == 0, child.stderr
    assert 'Traceback' not in child.stderr, child.stderr


# -- the registry without a server ------------------------------------------------


def test_find_order_and_misses():
    native, werk, guni = object(), object(), object()
    environ = {'engineio_sync.socket': native, 'werkzeug.socket': werk,
               'gunicorn.socket': guni}
    hijack = wsgi_servers.find(environ)
    assert (hijack.server, hijack.sock) == ('native', native)
    del environ['engineio_sync.socket']
    assert wsgi_servers.find(environ).server == 'gunicorn'
    del environ['gunicorn.socket']
    assert wsgi_servers.find(environ).server == 'werkzeug'
    assert wsgi_servers.find({}) is None
    # gevent's pywsgi is recognised by SERVER_SOFTWARE, but only with a
    # socket behind wsgi.input.
    assert wsgi_servers.find({'SERVER_SOFTWARE': 'gevent/22 Python/3',
                              'wsgi.input': object()}) is None
    assert wsgi_servers.find({'SERVER_SOFTWARE': 'werkzeug'}) is None


def test_finish_modes_without_a_server():
    calls: list = []

    def start_response(status, headers):
        calls.append((status, headers))

    sock = socket.socket()
    try:
        # Servers that write nothing unless start_response was called.
        pywsgi_input = SimpleNamespace(
            rfile=SimpleNamespace(raw=SimpleNamespace(_sock=sock)))
        for environ, name in [
                ({'engineio_sync.socket': sock}, 'native'),
                ({'SERVER_SOFTWARE': 'gevent/22 Python/3',
                  'wsgi.input': pywsgi_input}, 'gevent.pywsgi')]:
            hijack = wsgi_servers.find(environ)
            assert (hijack.server, hijack.sock) == (name, sock)
            assert list(hijack.finish(start_response)) == []
        assert calls == []
        # werkzeug, and gunicorn's gthread and sync workers (plain
        # sockets), cannot be told: a dummy 200 that goes nowhere.
        for environ in ({'werkzeug.socket': sock}, {'gunicorn.socket': sock}):
            assert list(wsgi_servers.find(environ).finish(
                start_response)) == []
        assert calls == [('200 OK', [('Content-Length', '0')])] * 2
    finally:
        sock.close()


def test_runner_lookup_errors_and_wsgi_choice():
    assert wsgi_servers.names() == ['native', 'eventlet.wsgi', 'gunicorn',
                                    'werkzeug', 'gevent.pywsgi']
    with pytest.raises(ValueError, match='unknown WSGI server'):
        wsgi_servers.runner('tornado')
    with pytest.raises(ValueError, match='cannot be started'):
        wsgi_servers.runner('gunicorn')
    assert callable(wsgi_servers.runner('native'))
    assert wsgi_servers.wsgi_server_for('eventlet') == 'eventlet.wsgi'
    assert wsgi_servers.wsgi_server_for('gevent') == 'gevent.pywsgi'
    assert wsgi_servers.wsgi_server_for('threading') == 'werkzeug'
    assert wsgi_servers.wsgi_server_for('other') == 'werkzeug'


def test_listen_rejects_unknown_http_server():
    with pytest.raises(ValueError, match="'native' or 'wsgi'"):
        engineio_sync.listen(0, async_mode='threading', http_server='nginx',
                             handle_signals=False)


def test_importing_is_lazy():
    code = textwrap.dedent('''
        import sys
        import engineio_sync.wsgi_servers
        from engineio_sync.drivers import get_driver
        get_driver('threading')
        print(sorted(m for m in ('eventlet', 'gevent', 'werkzeug',
                                 'gunicorn') if m in sys.modules))
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=60, env=ENV, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'


ALLOWED = {'drivers', 'exceptions', 'http_server'}


def package_imports() -> list[tuple[str, str]]:
    """(file, engineio_sync module) for every import in wsgi_servers that
    leaves the package."""
    found = []
    for filename in sorted(os.listdir(PACKAGE)):
        if not filename.endswith('.py'):
            continue
        with open(os.path.join(PACKAGE, filename), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    continue
                if node.level == 2:
                    target = node.module or ''
                    names = [target] if target else \
                        [a.name for a in node.names]
                    found += [(filename, n.split('.')[0]) for n in names]
                elif (node.module or '').startswith('engineio_sync'):
                    found.append((filename, node.module.split('.')[1]))
            elif isinstance(node, ast.Import):
                found += [(filename, a.name.split('.')[1])
                          for a in node.names
                          if a.name.startswith('engineio_sync.')]
    return found


def test_wsgi_servers_imports_only_leaf_modules():
    imports = package_imports()
    assert ('native.py', 'http_server') in imports  # the check sees them
    bad = [item for item in imports if item[1] not in ALLOWED]
    assert not bad


def test_no_private_reach_through():
    offenders = []
    for filename in sorted(os.listdir(PACKAGE)):
        if not filename.endswith('.py'):
            continue
        with open(os.path.join(PACKAGE, filename), encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and \
                    node.attr.startswith('_') and \
                    not node.attr.startswith('__') and not (
                        isinstance(node.value, ast.Name) and
                        node.value.id in ('self', 'cls')):
                offenders.append((filename, node.attr))
            if isinstance(node, ast.ImportFrom) and node.level:
                offenders += [(filename, a.name) for a in node.names
                              if a.name.startswith('_')]
    assert not offenders


# -- the driver registry -----------------------------------------------------------


def test_driver_registry_names_and_classes():
    assert ASYNC_MODES == ('eventlet', 'gevent', 'threading')
    assert tuple(DRIVERS) == ASYNC_MODES
    for mode in ASYNC_MODES:
        driver = get_driver(mode)
        assert driver.name == mode
        module, _, cls = DRIVERS[mode].partition(':')
        assert type(driver).__name__ == cls
        assert type(driver).__module__ == 'engineio_sync.drivers' + module


@pytest.mark.parametrize('mode', ['bogus', '', 'Threading', 'asyncio', 3,
                                  ['threading']])
def test_driver_registry_errors_unchanged(mode):
    with pytest.raises(ValueError) as info:
        get_driver(mode)
    assert str(info.value) == (
        "async_mode must be one of ('eventlet', 'gevent', 'threading') or "
        f'None, not {mode!r}')
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode=mode)


def test_driver_missing_package_is_an_import_error(monkeypatch):
    monkeypatch.setitem(DRIVERS, 'missing',
                        'engineio_sync_no_such_module:Driver')
    with pytest.raises(ImportError):
        get_driver('missing')
    assert drivers.ASYNC_MODES == ('eventlet', 'gevent', 'threading')

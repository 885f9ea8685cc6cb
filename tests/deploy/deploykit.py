"""Helpers for the deployment tests: real server processes (the examples,
gunicorn), a headless Chromium driven by selenium, and bounded waits.

Fixtures are defined here and imported by the test modules (there is no
conftest.py in this folder, so it cannot clash with tests/conftest.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from typing import Any, Callable

import pytest

from support import waiting

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
EXAMPLES = os.path.join(REPO, 'examples')
ARTIFACTS = os.path.join(REPO, 'test-artifacts')
CLIENT_JS = os.path.join(REPO, 'node_modules', 'engine.io-client', 'dist',
                         'engine.io.min.js')

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
IN_CI = os.environ.get('CI', '').lower() in ('1', 'true', 'yes')

#: The second environment for gunicorn 25.x (its eventlet worker was
#: removed in gunicorn 26); created by `make gunicorn25` (or on demand).
G25_VENV = os.path.join(REPO, '.venv-gunicorn25')
G25_PYTHON = os.path.join(G25_VENV, 'bin', 'python')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


#: Deployment checks ask servers that may still be booting or restarting:
#: any error means "not yet" (the last one is named if time runs out).
wait_until = functools.partial(waiting.wait_until, interval=0.05,
                               ignore=(Exception,))


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read()


class AppProcess:
    """A server started from a command line, its output kept in files."""

    def __init__(self, name: str, argv: list[str], port: int,
                 env: dict[str, str] | None = None,
                 ready_path: str = '/', ready_timeout: float = 30.0,
                 cwd: str = REPO) -> None:
        self.name = name
        self.port = port
        self.url = f'http://127.0.0.1:{port}'
        self.dir = tempfile.mkdtemp(prefix=f'eio-{name}-')
        self.stdout_path = os.path.join(self.dir, 'stdout')
        self.stderr_path = os.path.join(self.dir, 'stderr')
        self._out = open(self.stdout_path, 'wb')
        self._err = open(self.stderr_path, 'wb')
        full_env = {**os.environ, 'PYTHONUNBUFFERED': '1',
                    'PYTHONWARNINGS': 'ignore::DeprecationWarning',
                    **(env or {})}
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self._out,
                                     stderr=self._err, env=full_env,
                                     start_new_session=True)
        try:
            wait_until(lambda: self._ready(ready_path), ready_timeout,
                       interval=0.1, what=f'{name} answering {ready_path}')
        except AssertionError:
            self.stop()
            raise AssertionError(f'{name} did not start:\n' + self.output())

    def _ready(self, path: str) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f'{self.name} exited with '
                                 f'{self.proc.returncode}')
        try:
            status, _ = http_get(self.url + path, timeout=2)
        except OSError:
            return False
        return status == 200

    def stdout(self) -> str:
        with open(self.stdout_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def stderr(self) -> str:
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode(errors='replace')

    def output(self) -> str:
        return (f'--- {self.name} stdout ---\n{self.stdout()}\n'
                f'--- {self.name} stderr ---\n{self.stderr()}')

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(15) is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait(5)
        else:
            # Worker processes of a dead master must not linger.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        self._out.close()
        self._err.close()

    def tracebacks(self) -> list[str]:
        return [line for line in self.stderr().splitlines()
                if 'Traceback' in line]


# -- how each deployment is started (the commands the README documents) -----

def gunicorn25_python() -> str:
    """The python of the gunicorn 25.x environment, creating it if needed."""
    if not _g25_ready():
        if not IN_CI and os.environ.get('EIO_SKIP_GUNICORN25'):
            pytest.skip('EIO_SKIP_GUNICORN25 set')
        result = subprocess.run(['make', 'gunicorn25'], cwd=REPO,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not _g25_ready():
            message = ('could not create .venv-gunicorn25:\n' +
                       result.stdout[-3000:] + result.stderr[-3000:])
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
    return G25_PYTHON


def _g25_ready() -> bool:
    if not os.path.exists(os.path.join(G25_VENV, '.installed')):
        return False
    result = subprocess.run(
        [G25_PYTHON, '-c', 'import gunicorn, eventlet, flask, redis; '
         'print(gunicorn.__version__)'], capture_output=True, text=True,
        timeout=60)
    return result.returncode == 0 and result.stdout.startswith('25.')


def start_deployment(kind: str, port: int | None = None,
                     extra_args: list[str] | None = None,
                     env: dict[str, str] | None = None) -> AppProcess:
    """Start the Flask chat the way README.rst documents for ``kind``."""
    port = port or free_port()
    flask_dir = os.path.join(EXAMPLES, 'flask_chat')
    extra = list(extra_args or [])
    if kind == 'flask':
        argv = [sys.executable, os.path.join(flask_dir, 'app.py'),
                '--port', str(port)]
        ready = '/health'
    elif kind == 'standalone':
        argv = [sys.executable, os.path.join(EXAMPLES, 'standalone.py'),
                '--port', str(port)]
        ready = '/'
    elif kind.startswith('gunicorn-'):
        worker = kind.split('-', 1)[1]
        python = gunicorn25_python() if worker == 'eventlet' \
            else sys.executable
        argv = [python, '-m', 'gunicorn', '-c',
                os.path.join(EXAMPLES, 'gunicorn', f'{worker}.conf.py'),
                '--pythonpath', flask_dir, '-b', f'127.0.0.1:{port}',
                # gunicorn >= 25.1 opens ~/.gunicorn/gunicorn.ctl, one per
                # user: tests must not share it with anything else.
                '--no-control-socket', *extra, 'app:app']
        ready = '/health'
    elif kind == 'django':
        argv = [sys.executable,
                os.path.join(EXAMPLES, 'django_app', 'serve.py'),
                '--port', str(port)]
        ready = '/'
    elif kind == 'django-gunicorn-gthread':
        argv = [sys.executable, '-m', 'gunicorn', '-c',
                os.path.join(EXAMPLES, 'gunicorn', 'gthread.conf.py'),
                '--pythonpath', os.path.join(EXAMPLES, 'django_app'),
                '-b', f'127.0.0.1:{port}', '--no-control-socket', *extra,
                'chatsite.wsgi:application']
        ready = '/'
    else:  # pragma: no cover
        raise ValueError(kind)
    return AppProcess(kind, argv, port, env=env, ready_path=ready)


@pytest.fixture
def deployments():
    """``start(kind)`` -> AppProcess; all stopped after the test, and none
    may have printed a Traceback."""
    started: list[AppProcess] = []

    def start(kind: str, **kwargs: Any) -> AppProcess:
        app = start_deployment(kind, **kwargs)
        started.append(app)
        return app

    yield start
    problems = []
    for app in started:
        app.stop()
        if app.tracebacks():
            problems.append(app.output())
    assert not problems, '\n'.join(problems)


# -- the browser ---------------------------------------------------------------

CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage', '--window-size=900,700',
    # Background tabs must keep their timers: two chat tabs talk at once.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return (f'{path} is missing (apt-get install chromium '
                    f'chromium-driver; .ci/run does it in CI)')
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (it is in the dev extra)'
    if not os.path.isfile(CLIENT_JS):
        return f'{CLIENT_JS} is missing (npm ci)'
    return None


@pytest.fixture(scope='session')
def browser():
    """One headless Chromium (selenium + chromedriver) for the session."""
    missing = browser_missing()
    if missing:
        if IN_CI:
            pytest.fail('browser tests must run in CI: ' + missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix='eio-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={profile}')
    log_path = os.path.join(profile, 'chromedriver.log')
    service = Service(executable_path=CHROMEDRIVER, log_output=log_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)


class ChatPage:
    """One browser tab showing the chat page."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        driver.switch_to.new_window('tab')
        self.handle = driver.current_window_handle
        driver.get(url)

    def activate(self) -> 'ChatPage':
        if self.driver.current_window_handle != self.handle:
            self.driver.switch_to.window(self.handle)
        return self

    def state(self) -> dict:
        self.activate()
        return self.driver.execute_script(
            'var c = window.chat; if (!c) return null; return {'
            'state: c.state, transport: c.transport, upgraded: c.upgraded,'
            'seen: c.transportsSeen, sid: c.sid, chats: c.chats,'
            'binaries: c.binaries, events: c.events,'
            'closeReason: c.closeReason};') or {}

    def wait(self, predicate: Callable[[dict], Any], what: str,
             timeout: float = 15.0) -> dict:
        box = {}

        def check() -> bool:
            box['state'] = self.state()
            return bool(predicate(box['state']))
        try:
            wait_until(check, timeout, interval=0.1, what=what)
        except AssertionError as exc:
            raise AssertionError(f'{exc}; page state: {box.get("state")}'
                                 f'\nconsole: {self.console()}') from None
        return box['state']

    def console(self) -> list:
        try:
            return [entry.get('message') for entry in
                    self.driver.get_log('browser')][-20:]
        except Exception:  # noqa: BLE001 - not every driver keeps logs
            return []

    def type_message(self, text: str) -> None:
        from selenium.webdriver.common.by import By
        self.activate()
        box = self.driver.find_element(By.ID, 'text')
        box.clear()
        box.send_keys(text)
        self.driver.find_element(By.ID, 'send').click()

    def click_send_bytes(self) -> None:
        from selenium.webdriver.common.by import By
        self.activate()
        self.driver.find_element(By.ID, 'send-bytes').click()

    def screenshot(self, name: str) -> str:
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        self.activate()
        assert self.driver.save_screenshot(path), path
        return path

    def close(self) -> None:
        self.activate()
        # Close the Engine.IO session first: a closed tab sends nothing,
        # and the server would wait for the session to time out.
        self.driver.execute_script(
            'var s = (window.chat || window.live || {}).socket;'
            'if (s) s.close();')
        self.driver.close()
        handles = self.driver.window_handles
        if handles:
            self.driver.switch_to.window(handles[0])


BYTES = [0, 1, 2, 127, 128, 200, 254, 255]


def chats_of(state: dict) -> list[tuple[str, str]]:
    return [(c['name'], c['text']) for c in state.get('chats') or []]


def run_chat_scenario(driver: Any, base_url: str, label: str) -> None:
    """The browser scenario every deployment must pass.

    Page A connects with polling and upgrades to WebSocket, sends text and
    bytes; page B joins and the two chat; a polling-only page and a
    WebSocket-only page exchange text and bytes too. A screenshot of the
    chat lands in test-artifacts/.
    """
    pages: list[ChatPage] = []
    try:
        alice = ChatPage(driver, f'{base_url}/?name=alice')
        pages.append(alice)
        st = alice.wait(lambda s: s.get('upgraded'),
                        'page A open and upgraded to websocket')
        assert st['seen'] == ['polling', 'websocket'], st
        assert st['transport'] == 'websocket'
        alice.type_message('hello from alice')
        alice.wait(lambda s: ('alice', 'hello from alice') in chats_of(s),
                   'page A sees its own message')
        alice.click_send_bytes()
        alice.wait(lambda s: s['binaries'] == [BYTES],
                   'page A gets its bytes back')

        bob = ChatPage(driver, f'{base_url}/?name=bob')
        pages.append(bob)
        bob.wait(lambda s: s.get('upgraded'), 'page B open and upgraded')
        bob.type_message('hi alice, bob here')
        alice.wait(lambda s: ('bob', 'hi alice, bob here') in chats_of(s),
                   'page A receives page B\'s message')
        alice.type_message('hi bob')
        bob.wait(lambda s: ('alice', 'hi bob') in chats_of(s),
                 'page B receives page A\'s message')
        st = bob.state()
        assert ('alice', 'hello from alice') not in chats_of(st), \
            'B joined after that message was sent'
        alice.screenshot(f'chat-{label}.png')

        poll = ChatPage(driver, f'{base_url}/?name=poller'
                        '&transports=polling')
        pages.append(poll)
        poll.wait(lambda s: s.get('state') == 'open', 'polling page open')
        poll.type_message('polling only')
        poll.click_send_bytes()
        st = poll.wait(lambda s: ('poller', 'polling only') in chats_of(s)
                       and s['binaries'] == [BYTES],
                       'polling page exchanges text and bytes')
        assert st['seen'] == ['polling'] and not st['upgraded'], st
        alice.wait(lambda s: ('poller', 'polling only') in chats_of(s),
                   'page A hears the polling page')

        ws = ChatPage(driver, f'{base_url}/?name=wsonly'
                      '&transports=websocket')
        pages.append(ws)
        ws.wait(lambda s: s.get('state') == 'open', 'websocket page open')
        ws.type_message('websocket only')
        ws.click_send_bytes()
        st = ws.wait(lambda s: ('wsonly', 'websocket only') in chats_of(s)
                     and s['binaries'] == [BYTES],
                     'websocket page exchanges text and bytes')
        assert st['seen'] == ['websocket'] and not st['upgraded'], st
        poll.wait(lambda s: ('wsonly', 'websocket only') in chats_of(s),
                  'the polling page hears the websocket page')
        alice.screenshot(f'chat-{label}-4-pages.png')
    finally:
        for page in reversed(pages):
            try:
                page.close()
            except Exception:  # noqa: BLE001 - the browser may be gone
                pass

"""``python -m engineio_sync`` (what ``make demo`` runs): it starts without
eventlet's deprecation banner, says where it listens, and its page shows
Engine.IO at work in headless Chromium: the transport and its upgrade,
echoes, round trips, and the session count the server pushes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from typing import Any

import pytest

from deploykit import (REPO, AppProcess, ChatPage, browser,  # noqa: F401
                       free_port, http_get, wait_until)

pytestmark = pytest.mark.timeout(120)

#: What eventlet's import-time warning prints (its category and its text).
EVENTLET_BANNER = ('EventletDeprecationWarning', 'Eventlet is deprecated')


def assert_no_eventlet_banner(output: str) -> None:
    """Fail if eventlet's deprecation banner is anywhere in ``output``."""
    for text in EVENTLET_BANNER:
        assert text not in output, f'eventlet banner printed:\n{output}'


def start_demo(*args: str, cwd: str = REPO,
               env: dict[str, str] | None = None) -> AppProcess:
    """The demo on a free port, with PYTHONWARNINGS=default (show every
    warning): nothing in the environment hides the banner."""
    port = free_port()
    return AppProcess('demo', [sys.executable, '-m', 'engineio_sync',
                               '--port', str(port), *args],
                      port, env={'PYTHONWARNINGS': 'default', **(env or {})},
                      cwd=cwd)


def test_eventlet_prints_the_banner_when_nothing_filters_it():
    """The control for the tests below: this eventlet does warn on
    import, so not finding the banner means it was filtered."""
    result = subprocess.run(
        [sys.executable, '-c', 'import eventlet'], capture_output=True,
        text=True, timeout=60,
        env={**os.environ, 'PYTHONWARNINGS': 'default'})
    assert all(text in result.stderr for text in EVENTLET_BANNER), \
        result.stderr


@pytest.mark.parametrize('mode', [None, 'eventlet', 'gevent'])
def test_demo_starts_quietly_and_says_where_it_listens(mode):
    demo = start_demo(*(['--async-mode', mode] if mode else []))
    try:
        expected = (f'engineio_sync demo ({mode or "threading"}) on '
                    f'http://127.0.0.1:{demo.port}/')
        wait_until(lambda: expected in demo.stdout(), 10,
                   what='the demo printing where it listens')
        # An Engine.IO handshake and close, so the driver (and for
        # eventlet, its import) has surely run.
        status, body = http_get(f'{demo.url}/engine.io/?EIO=4'
                                '&transport=polling')
        assert status == 200 and body.startswith(b'0{"sid":')
        sid = json.loads(body[1:].split(b'\x1e')[0])['sid']
        close = urllib.request.Request(
            f'{demo.url}/engine.io/?EIO=4&transport=polling&sid={sid}',
            data=b'1', headers={'Content-Type': 'text/plain'})
        with urllib.request.urlopen(close, timeout=5) as answer:
            assert answer.read() == b'ok'
    finally:
        demo.stop()
    assert_no_eventlet_banner(demo.output())
    assert not demo.tracebacks(), demo.output()


class DemoPage(ChatPage):
    """One browser tab showing the demo page."""

    def shown(self) -> dict[str, Any]:
        """What the page shows, read from its elements."""
        self.activate()
        return self.driver.execute_script(
            'function t(id) {'
            ' return document.getElementById(id).textContent; }'
            'var d = window.demo || {};'
            'return {transport: t("transport"), sessions: t("sessions"),'
            ' rtt: t("rtt"), state: t("state"), driver: t("driver"),'
            ' problem: document.getElementById("problem").hidden ? null'
            '   : t("problem"),'
            ' log: Array.prototype.map.call('
            '   document.querySelectorAll("#log li"),'
            '   function (li) { return li.textContent; }).reverse(),'
            ' seen: d.transportsSeen};')

    state = shown  # what ChatPage.wait() polls

    def close(self) -> None:
        """Close the page's session, then its tab; once only."""
        if getattr(self, 'closed', False):
            return
        self.closed = True
        self.activate()
        # Close the session first: a closed tab says nothing, and the
        # server would count it until its ping timeout.
        self.driver.execute_script(
            'var d = window.demo; if (d && d.socket) d.socket.close();')
        super().close()


def open_page(cleanup: contextlib.ExitStack, browser: Any,
              url: str) -> DemoPage:
    """A new tab on ``url``, closed when ``cleanup`` ends."""
    page = DemoPage(browser, url)
    cleanup.callback(page.close)
    return page


def lines_with(shown: dict[str, Any], text: str) -> list[str]:
    return [line for line in shown['log'] if text in line]


def test_page_shows_engineio_at_work(browser):
    demo = start_demo()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(demo.stop)
        first = open_page(cleanup, browser, demo.url + '/')
        shown = first.wait(
            lambda s: s['transport'] == 'websocket' and s['sessions'] == '1'
            and lines_with(s, 'echoed: "') and s['rtt'].endswith(' ms'),
            'the first page on websocket, with an echo, a round trip and '
            'one session')
        assert shown['seen'] == ['polling', 'websocket'], shown
        assert shown['state'] == 'open' and shown['driver'] == 'threading'
        # The upgrade as it happened, in order: opened on polling, the
        # probe answered, then the switch.
        log = shown['log']
        steps = [lines_with(shown, text)[0] for text in
                 ('open over polling', 'upgrading: the websocket probe',
                  'upgraded to websocket')]
        assert [log.index(step) for step in steps] == \
            sorted(log.index(step) for step in steps), log
        assert float(shown['rtt'].split()[0]) >= 0

        first.type_message('said by the test')
        first.wait(lambda s: lines_with(s, 'echoed: "said by the test"'),
                   'the typed message echoed')

        second = open_page(cleanup, browser,
                           demo.url + '/?transports=websocket')
        shown = second.wait(
            lambda s: s['sessions'] == '2' and s['transport'] == 'websocket',
            'the second page open, counting two sessions')
        assert shown['seen'] == ['websocket'], shown
        first.wait(lambda s: s['sessions'] == '2',
                   'the first page told of the second session')
        first.screenshot('demo-two-sessions.png')
        second.close()
        first.wait(lambda s: s['sessions'] == '1',
                   'the first page told the second one left')
    assert not demo.tracebacks(), demo.output()


def test_without_node_modules_it_says_how_to_get_them(browser):
    """A copy of the package beside no node_modules: the demo still
    starts, says on stderr and on the page how to get the bundle."""
    where = tempfile.mkdtemp(prefix='eio-demo-no-npm-')
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, where, ignore_errors=True)
        shutil.copytree(os.path.join(REPO, 'engineio_sync'),
                        os.path.join(where, 'engineio_sync'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        demo = start_demo(cwd=where, env={'PYTHONPATH': where,
                                          'ENGINEIO_CLIENT_JS': ''})
        cleanup.callback(demo.stop)
        assert 'npm ci' in demo.stderr(), demo.output()
        with pytest.raises(OSError, match='404'):
            http_get(demo.url + '/vendor/engine.io.min.js')
        page = open_page(cleanup, browser, demo.url + '/')
        shown = page.wait(lambda s: s['problem'],
                          'the page explaining the problem')
        assert 'npm ci' in shown['problem'], shown

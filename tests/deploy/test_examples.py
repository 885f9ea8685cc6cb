"""Each example starts with its documented command and works: the Flask
chat, the Django project (its view and its realtime page), the
framework-free standalone script."""

from __future__ import annotations

import json
import re

import pytest

from deploykit import (BYTES, CLIENT_JS, ChatPage, browser,  # noqa: F401
                       deployments, http_get, wait_until)
from support.eio import (open_polling, open_websocket,
                         receive_skipping_pings, upgrade_to_websocket)
from support import wsclient
from test_demo import assert_no_eventlet_banner

# The examples run with PYTHONWARNINGS=ignore::DeprecationWarning (deploykit),
# which does not hide eventlet's banner: its EventletDeprecationWarning is
# not a DeprecationWarning. So their output shows whether they filter it.

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize('kind', ['flask', 'standalone'])
def test_chat_page_uses_the_served_npm_bundle(deployments, kind):
    app = deployments(kind)
    status, page = http_get(app.url + '/')
    assert status == 200
    scripts = re.findall(rb'<script src="([^"]+)"', page)
    assert scripts == [b'/vendor/engine.io.min.js', b'/static/chat.js']
    status, bundle = http_get(app.url + '/vendor/engine.io.min.js')
    assert status == 200
    with open(CLIENT_JS, 'rb') as f:
        assert bundle == f.read()
    assert b'Engine.IO v6.6.8' in bundle[:200]
    assert http_get(app.url + '/static/chat.js')[0] == 200


def test_flask_chat_broadcasts_between_sessions(deployments):
    app = deployments('flask')
    a, _ = open_websocket(app.port)
    sid = open_polling(app.port)
    b = upgrade_to_websocket(app.port, sid)
    a.send('4' + json.dumps({'type': 'hello', 'name': 'ann'}))
    a.send('4' + json.dumps({'type': 'chat', 'text': 'hi all'}))
    for ws in (a, b):
        seen = []
        while True:
            data = receive_skipping_pings(ws)
            seen.append(data)
            if data.startswith('4{"type": "chat"'):
                break
        assert json.loads(seen[-1][1:]) == {'type': 'chat', 'name': 'ann',
                                            'text': 'hi all'}
    b.send(bytes(BYTES))
    assert receive_skipping_pings(b) == bytes(BYTES)
    status, body = http_get(app.url + '/health')
    assert json.loads(body)['async_mode'] == 'eventlet'


@pytest.mark.parametrize('kind', ['django', 'django-gunicorn-gthread'])
def test_django_view_and_realtime(deployments, kind):
    app = deployments(kind)
    status, page = http_get(app.url + '/')
    assert status == 200 and b'Hello from Django' in page
    expected = b'eventlet' if kind == 'django' else b'threading'
    assert expected in page
    status, live = http_get(app.url + '/live/')
    assert status == 200 and b'/vendor/engine.io.min.js' in live
    assert http_get(app.url + '/vendor/engine.io.min.js')[0] == 200
    # The Engine.IO side: a direct WebSocket and an upgraded polling
    # session, both echoed.
    ws, _ = open_websocket(app.port)
    sid = open_polling(app.port)
    up = upgrade_to_websocket(app.port, sid)
    for sock in (ws, up):
        sock.send('4shout')
        while True:
            data = receive_skipping_pings(sock)
            if 'echo' in data:
                break
        assert json.loads(data[1:]) == {'echo': 'SHOUT'}
    status, page = http_get(app.url + '/')
    assert b'<strong id="online">2</strong>' in page
    for sock in (ws, up):
        sock.close()
    assert_no_eventlet_banner(app.output())


def test_django_realtime_page_in_browser(browser, deployments):
    app = deployments('django')
    page = ChatPage(browser, app.url + '/live/')
    try:
        def state():
            page.activate()
            return browser.execute_script(
                'var l = window.live; return l && {upgraded: l.upgraded,'
                'online: l.online, echoes: l.echoes};') or {}
        wait_until(lambda: state().get('upgraded'), 15,
                   what='live page upgraded')
        assert state()['online'] == 1
        page.activate()
        from selenium.webdriver.common.by import By
        browser.find_element(By.ID, 'text').send_keys('quiet words')
        browser.find_element(By.ID, 'send').click()
        wait_until(lambda: state().get('echoes') == ['QUIET WORDS'], 10,
                   what='echo on the live page')
        page.screenshot('django-live.png')
    finally:
        page.close()


@pytest.mark.parametrize('kind', ['flask', 'standalone', 'django'])
def test_example_stops_gracefully_on_sigterm(deployments, kind):
    """The example scripts stop like listen() does: close packet, close
    frame, disconnect handlers with 'server shutting down', quick exit."""
    import signal
    import time
    app = deployments(kind)
    ws, sid = open_websocket(app.port)
    started = time.monotonic()
    app.signal(signal.SIGTERM)
    messages = []
    while True:
        try:
            data = wsclient.receive(ws, timeout=8)
        except wsclient.ConnectionClosed:
            break
        messages.append(data)
    assert messages[-1:] == ['1'], messages
    assert ws.close_payload[:2] == b'\x03\xe8'
    assert app.wait_exit(10) == 0, app.output()
    assert time.monotonic() - started < 10
    assert f'{sid}: session closed (server shutting down)' in app.stderr()
    assert_no_eventlet_banner(app.output())


@pytest.mark.parametrize('worker', ['gthread', 'gevent', 'eventlet'])
def test_gunicorn_config_starts_without_eventlet_banner(deployments, worker):
    app = deployments(f'gunicorn-{worker}',
                      env={'PYTHONWARNINGS': 'default'})
    status, body = http_get(app.url + '/health')
    assert status == 200 and json.loads(body)['async_mode'] == (
        'threading' if worker == 'gthread' else worker)
    app.stop()
    assert_no_eventlet_banner(app.output())

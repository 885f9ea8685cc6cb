"""engineio_sync.gunicorn without gunicorn: finding the servers of an app
and what the hooks do to a worker object."""

from __future__ import annotations

import logging
import signal

import pytest

import engineio_sync
from engineio_sync import gunicorn as hooks

from support.waiting import wait_until


def make_server():
    return engineio_sync.Server(async_mode='threading')


def test_find_servers_through_wrappers():
    flask = pytest.importorskip('flask')
    eio = make_server()
    app = flask.Flask(__name__)
    app.wsgi_app = engineio_sync.WSGIApp(eio, app.wsgi_app)
    assert hooks.find_servers(app) == [eio]
    # Django style: WSGIApp is the callable itself.
    other = make_server()
    assert hooks.find_servers(engineio_sync.WSGIApp(other)) == [other]


def test_find_servers_socketio_style_and_explicit_list():
    eio = make_server()

    class SioServer:
        pass

    class SioApp:
        def __call__(self, environ, start_response):  # pragma: no cover
            return []

    sio = SioServer()
    sio.eio = eio
    sio_app = SioApp()
    sio_app.engineio_app = sio
    assert hooks.find_servers(sio_app) == [eio]

    a, b = make_server(), make_server()

    def plain(environ, start_response):  # pragma: no cover
        return []
    plain.engineio_servers = [a, b]
    assert hooks.find_servers(plain) == [a, b]
    assert hooks.find_servers(lambda e, s: []) == []


class FakeWorker:
    def __init__(self, wsgi):
        self.wsgi = wsgi
        self.alive = True
        self.log = logging.getLogger('test.fakeworker')

    def handle_exit(self, sig, frame):
        self.alive = False


def test_hooks_shut_down_once_and_watch_alive():
    eio = make_server()
    calls = []
    eio.shutdown = lambda *a, **k: calls.append('shutdown')
    worker = FakeWorker(engineio_sync.WSGIApp(eio))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        hooks.post_worker_init(worker)
        assert signal.getsignal(signal.SIGTERM) == worker.handle_exit
        worker.alive = False            # as max_requests does
        wait_until(lambda: calls, what='the shutdown')
        assert calls == ['shutdown']
        hooks.worker_int(worker)
        hooks.worker_exit(None, worker)
        assert calls == ['shutdown']    # only once
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_server_found_only_warns(caplog):
    worker = FakeWorker(lambda e, s: [])
    previous = signal.getsignal(signal.SIGTERM)
    with caplog.at_level(logging.WARNING, logger='test.fakeworker'):
        hooks.post_worker_init(worker)
    assert signal.getsignal(signal.SIGTERM) == previous
    assert 'no engineio_sync.Server found' in caplog.text

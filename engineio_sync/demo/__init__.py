"""The live demo behind ``python -m engineio_sync``.

An echo server and the page that shows it at work: the page (``index.html``,
``demo.js``, ``demo.css`` beside this file) connects with the official
``engine.io-client`` browser bundle from npm and shows the transport, the
upgrade, the echoes and their round-trip times, and how many sessions the
server has open, which the server pushes to every client when it changes.

What travels (all text is JSON, except what a client sends, which comes back
exactly as it was sent, text or bytes):

- server to one client, once, on connect:
  ``{"type": "welcome", "sid": ..., "driver": "threading"}``
- server to every client, whenever the number of sessions changes:
  ``{"type": "sessions", "count": 2}``
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..server import Server

__all__ = ['HERE', 'CLIENT_JS_HELP', 'find_client_bundle', 'make_server',
           'static_files']

#: The folder of the page's files.
HERE = os.path.dirname(os.path.abspath(__file__))

#: Where ``npm ci`` puts the browser bundle, relative to a checkout's root.
BUNDLE = os.path.join('node_modules', 'engine.io-client', 'dist',
                      'engine.io.min.js')

#: What to tell someone whose checkout has no ``node_modules`` yet.
CLIENT_JS_HELP = (
    f'the demo page needs the engine.io-client browser bundle ({BUNDLE}), '
    'which is not installed here. From the repository root run `make demo` '
    '(it runs `npm ci` first) or `npm ci`, or set ENGINEIO_CLIENT_JS to the '
    'path of an engine.io.min.js. Until then the page cannot connect; the '
    'Engine.IO endpoint /engine.io/ echoes for any other client.')


def find_client_bundle() -> str | None:
    """The path of ``engine.io.min.js``, or None when it is not installed.

    Looked for in ``$ENGINEIO_CLIENT_JS``, then under the current directory,
    then in the checkout this package was installed from (``pip install
    -e .``, as ``make setup`` does).
    """
    checkout = os.path.dirname(os.path.dirname(HERE))
    candidates = [os.environ.get('ENGINEIO_CLIENT_JS'),
                  os.path.join(os.getcwd(), BUNDLE),
                  os.path.join(checkout, BUNDLE)]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    return None


def static_files(client_js: str | None) -> dict[str, Any]:
    """The page's URLs for ``listen(static_files=...)``: ``/`` and its
    script, style sheet and (when installed) the client bundle."""
    files: dict[str, Any] = {
        '/': os.path.join(HERE, 'index.html'),
        '/demo.js': {'filename': os.path.join(HERE, 'demo.js'),
                     'content_type': 'text/javascript; charset=utf-8'},
        '/demo.css': {'filename': os.path.join(HERE, 'demo.css'),
                      'content_type': 'text/css; charset=utf-8'},
    }
    if client_js:
        files['/vendor/engine.io.min.js'] = {
            'filename': client_js, 'content_type': 'text/javascript'}
    return files


def make_server(**options: Any) -> Server:
    """A :class:`Server` (``options`` as for it) that echoes every message
    and keeps every client told how many sessions are open."""
    server = Server(**options)
    changed = server.create_event()

    def push_session_counts() -> None:
        # One task sends every count, always the one current when it
        # wakes: two handlers each sending their own count could deliver
        # an older count after a newer one.
        while True:
            changed.wait()
            changed.clear()
            text = json.dumps({'type': 'sessions',
                               'count': server.clients_count})
            for socket in list(server.clients.values()):
                socket.send(text)  # False (and harmless) once it closed

    @server.on('connect')
    def connect(sid: str, environ: dict) -> None:
        server.send(sid, json.dumps({'type': 'welcome', 'sid': sid,
                                     'driver': server.async_mode}))
        changed.set()

    @server.on('message')
    def echo(sid: str, data: str | bytes) -> None:
        server.send(sid, data)

    @server.on('disconnect')
    def disconnect(sid: str, reason: str) -> None:
        changed.set()

    server.start_background_task(push_session_counts)
    return server

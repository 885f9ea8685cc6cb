"""A bare Engine.IO echo server for gunicorn tests: every message comes
back to its sender. ``/health`` answers with the worker's thread count.

    gunicorn -k gthread --pythonpath tests/deploy echo_app:app
"""

from __future__ import annotations

import json
import os
import threading

import engineio_sync
from engineio_sync.gunicorn import (post_worker_init, worker_exit,  # noqa: F401
                                    worker_int)

eio = engineio_sync.Server(async_mode='threading',
                           ping_interval=float(os.environ.get('PING', '25')),
                           ping_timeout=float(os.environ.get('PING', '25')))


@eio.on('message')
def message(sid: str, data: object) -> None:
    eio.send(sid, data)


def health(environ: dict, start_response) -> list[bytes]:
    body = json.dumps({'threads': threading.active_count(),
                       'sessions': len(eio.clients)}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


app = engineio_sync.WSGIApp(eio, health)

"""A bare Engine.IO echo server for gunicorn tests: every message comes
back to its sender. ``/health`` answers with the worker's thread count
(and its count of live greenlets under a gevent worker).

    gunicorn -k gthread --pythonpath tests/deploy echo_app:app
    gunicorn -k gevent --pythonpath tests/deploy echo_app:app
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading

import engineio_sync
from engineio_sync.gunicorn import (post_worker_init, worker_exit,  # noqa: F401
                                    worker_int)

# The driver follows the worker: gevent's monkey-patches, else threads.
eio = engineio_sync.Server(
                           ping_interval=float(os.environ.get('PING', '25')),
                           ping_timeout=float(os.environ.get('PING', '25')))


@eio.on('message')
def message(sid: str, data: object) -> None:
    eio.send(sid, data)


def health(environ: dict, start_response) -> list[bytes]:
    state = {'threads': threading.active_count(),
             'sessions': len(eio.clients)}
    if 'greenlet' in sys.modules:
        greenlet = sys.modules['greenlet'].greenlet
        state['greenlets'] = sum(1 for o in gc.get_objects()
                                 if isinstance(o, greenlet) and not o.dead)
    body = json.dumps(state).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


app = engineio_sync.WSGIApp(eio, health)

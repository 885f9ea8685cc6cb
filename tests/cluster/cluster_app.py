"""A WSGI app for cluster tests with real worker processes (gunicorn -w N).

``EIO_CLUSTER`` is the Redis URL. A client's messages are numbers 0, 1,
2...; the handler checks that they arrive in order in this process (it
keeps the next expected number per session in a plain dict, so a handler
running in another process than the owner would see them out of order)
and answers ``N@<pid>``, or ``order error`` text. ``/health`` answers 200
with the pid of the process that served it.
"""

from __future__ import annotations

import os

import engineio_sync

from handoverlog import cluster_options, log_handover

if os.environ.get('EIO_LOG_HANDOVER'):
    log_handover()

server = engineio_sync.Server(cluster=cluster_options(),
                              ping_interval=5, ping_timeout=5)
expected: dict[str, int] = {}


@server.on('connect')
def connect(sid: str, environ: dict) -> None:
    expected[sid] = 0


@server.on('message')
def message(sid: str, data: str) -> None:
    want = expected.get(sid)
    if data != str(want):
        server.send(sid, f'order error: got {data!r}, wanted {want}')
        return
    expected[sid] = want + 1
    server.send(sid, f'{data}@{os.getpid()}')


@server.on('disconnect')
def disconnect(sid: str, reason: str) -> None:
    expected.pop(sid, None)


def health(environ: dict, start_response) -> list[bytes]:
    body = str(os.getpid()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


app = engineio_sync.WSGIApp(server, health)

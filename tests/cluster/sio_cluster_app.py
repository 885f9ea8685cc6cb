"""python-socketio on engineio_sync's cluster, for gunicorn -w N tests.

Sessions are shared through Redis (``cluster``), and python-socketio's
``RedisManager`` on the same Redis carries rooms and broadcasts between
the workers. Events: ``num`` (the numbers 0, 1, 2... of one client, in
order; each is answered with a ``num`` event ``N@<pid>``, or ``order
error``), ``shout`` (re-emitted to every client of every worker).
``/health`` answers 200.
"""

from __future__ import annotations

import os

import socketio

from engineio_sync.socketio_compat import SocketIOServer, WSGIApp

from handoverlog import cluster_options, log_handover

if os.environ.get('EIO_LOG_HANDOVER'):
    log_handover()

URL = os.environ['EIO_CLUSTER']
# async_handlers=False: python-socketio runs a client's events in order.
sio = SocketIOServer(client_manager=socketio.RedisManager(URL),
                     async_handlers=False, cluster=cluster_options(), ping_interval=5,
                     ping_timeout=5)
expected: dict[str, int] = {}


@sio.event
def connect(sid: str, environ: dict) -> None:
    expected[sid] = 0
    sio.enter_room(sid, 'everyone')


@sio.event
def num(sid: str, number: int) -> None:
    want = expected.get(sid)
    if number != want:
        sio.emit('num', f'order error: got {number}, wanted {want}', to=sid)
        return
    expected[sid] = want + 1
    sio.emit('num', f'{number}@{os.getpid()}', to=sid)


@sio.event
def shout(sid: str, text: str) -> None:
    sio.emit('shout', text, room='everyone')


@sio.event
def disconnect(sid: str, *args) -> None:
    expected.pop(sid, None)


def health(environ: dict, start_response) -> list[bytes]:
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', '2')])
    return [b'ok']


app = WSGIApp(sio, health)

"""The Engine.IO side of the project: echo, and a live visitor count."""

import json
import os

import engineio_sync

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
#: The browser bundle of engine.io-client, installed by ``npm ci``.
CLIENT_JS = os.environ.get('ENGINEIO_CLIENT_JS') or os.path.join(
    REPO, 'node_modules', 'engine.io-client', 'dist', 'engine.io.min.js')

# None: eventlet when serve.py imported it, the gunicorn worker's library
# under gunicorn, threads otherwise. EIO_ASYNC_MODE forces one.
eio = engineio_sync.Server(async_mode=os.environ.get('EIO_ASYNC_MODE')
                           or None)


def announce_count():
    text = json.dumps({'online': eio.clients_count})
    for sid in list(eio.clients):
        eio.send(sid, text)


@eio.on('connect')
def connect(sid, environ):
    eio.start_background_task(announce_count)


@eio.on('message')
def message(sid, data):
    if isinstance(data, bytes):
        eio.send(sid, data)
    else:
        eio.send(sid, json.dumps({'echo': data.upper()}))


@eio.on('disconnect')
def disconnect(sid, reason):
    announce_count()

"""A live chat: Flask + engineio_sync + the official engine.io-client.

Run it (from the repository root, after ``make setup``)::

    make flask-chat                      # or: .venv/bin/python examples/flask_chat/app.py

then open http://127.0.0.1:5000/ in two tabs. Under gunicorn the WSGI
callable is ``app`` (see examples/gunicorn/).

Text messages are JSON: ``{"type": "hello", "name": ...}`` names the
session, ``{"type": "chat", "text": ...}`` is broadcast to every session as
``{"type": "chat", "name": ..., "text": ...}``. Binary messages are echoed
back to their sender.
"""

import json
import logging
import os
import sys
import warnings

# eventlet warns on import that it is in bug-fix-only mode (README.rst,
# "Which driver?"); filtered here, before eventlet is imported, so the
# example starts quietly. Only that warning: others still show.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
try:
    import engineio_sync
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, REPO)
    import engineio_sync

from flask import Flask, send_from_directory  # noqa: E402

#: The browser bundle of engine.io-client, installed by ``npm ci``.
CLIENT_JS = os.environ.get('ENGINEIO_CLIENT_JS') or os.path.join(
    REPO, 'node_modules', 'engine.io-client', 'dist', 'engine.io.min.js')
if not os.path.isfile(CLIENT_JS):
    print(f'warning: {CLIENT_JS} is missing; run `npm ci` at the repository '
          'root (the page needs the engine.io-client bundle)',
          file=sys.stderr)

# async_mode None picks the driver from the process: eventlet or gevent
# under those gunicorn workers (they monkey-patch), threads under gthread.
# EIO_ASYNC_MODE forces one; `python app.py` serves with eventlet.
ASYNC_MODE = os.environ.get('EIO_ASYNC_MODE') or None
if ASYNC_MODE is None and __name__ == '__main__':
    ASYNC_MODE = 'eventlet'

eio = engineio_sync.Server(async_mode=ASYNC_MODE)
app = Flask(__name__, static_folder=os.path.join(HERE, 'static'))
app.wsgi_app = engineio_sync.WSGIApp(
    eio, app.wsgi_app,
    static_files={'/vendor/engine.io.min.js': {
        'filename': CLIENT_JS, 'content_type': 'text/javascript'}})

names = {}  # sid -> display name


@app.route('/')
def index():
    return send_from_directory(app.static_folder, 'chat.html')


@app.route('/health')
def health():
    return {'ok': True, 'sessions': eio.clients_count,
            'async_mode': eio.async_mode, 'pid': os.getpid()}


def broadcast(message):
    text = json.dumps(message)
    for sid in list(eio.clients):
        eio.send(sid, text)


@eio.on('connect')
def connect(sid, environ):
    names[sid] = 'guest-' + sid[:4]


@eio.on('message')
def message(sid, data):
    if isinstance(data, bytes):
        eio.send(sid, data)          # binary: echo to the sender
        return
    try:
        msg = json.loads(data)
    except ValueError:
        msg = {'type': 'chat', 'text': data}
    if not isinstance(msg, dict):
        return
    if msg.get('type') == 'hello':
        names[sid] = str(msg.get('name') or names.get(sid))[:40]
        broadcast({'type': 'system', 'text': f'{names[sid]} joined'})
    elif msg.get('type') == 'chat':
        broadcast({'type': 'chat', 'name': names.get(sid, sid[:4]),
                   'text': str(msg.get('text', ''))[:2000]})


@eio.on('disconnect')
def disconnect(sid, reason):
    name = names.pop(sid, sid[:4])
    logging.getLogger('chat').info('%s left (%s)', name, reason)
    broadcast({'type': 'system', 'text': f'{name} left'})


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int,
                        default=int(os.environ.get('PORT', 5000)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(name)s %(message)s')
    engineio_sync.listen(
        args.port, args.host, server=eio, wsgi_app=app,
        ready=lambda s: print(f'flask_chat on http://{args.host}:'
                              f'{s.listening_port}/', flush=True))

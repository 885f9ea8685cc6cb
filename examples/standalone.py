"""The chat of examples/flask_chat without a framework: engineio_sync on
eventlet, serving the page and the engine.io-client bundle as static files.

Run it (from the repository root, after ``make setup``)::

    make standalone               # or: .venv/bin/python examples/standalone.py

then open http://127.0.0.1:5000/ in two tabs. ``--port 0`` picks a free
port. SIGTERM or Ctrl-C stops it gracefully: every client gets a close
packet and the disconnect handlers run with 'server shutting down'.
"""

import argparse
import json
import logging
import os
import sys
import warnings

# eventlet warns on import that it is in bug-fix-only mode (README.rst,
# "Which driver?"); filtered here, before eventlet is imported, so the
# example starts quietly. Only that warning: others still show.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import eventlet  # noqa: E402, F401  (serve with eventlet.wsgi, green threads)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
try:
    import engineio_sync
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, REPO)
    import engineio_sync

STATIC = os.path.join(HERE, 'flask_chat', 'static')
CLIENT_JS = os.environ.get('ENGINEIO_CLIENT_JS') or os.path.join(
    REPO, 'node_modules', 'engine.io-client', 'dist', 'engine.io.min.js')

eio = engineio_sync.Server(async_mode='eventlet')
log = logging.getLogger('chat')
names = {}


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
        eio.send(sid, data)
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
    log.info('%s left (%s)', name, reason)
    broadcast({'type': 'system', 'text': f'{name} left'})


def main():
    parser = argparse.ArgumentParser(description='engineio_sync chat, '
                                     'no framework')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int,
                        default=int(os.environ.get('PORT', 5000)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(name)s %(message)s')
    if not os.path.isfile(CLIENT_JS):
        log.warning('%s is missing: run `npm ci` at the repository root',
                    CLIENT_JS)
    engineio_sync.listen(
        args.port, args.host, server=eio,
        static_files={
            '/': os.path.join(STATIC, 'chat.html'),
            '/static/': STATIC,
            '/vendor/engine.io.min.js': {
                'filename': CLIENT_JS, 'content_type': 'text/javascript'},
        },
        ready=lambda s: print(f'standalone chat on http://{args.host}:'
                              f'{s.listening_port}/', flush=True))


if __name__ == '__main__':
    main()

"""A room chat on Flask-SocketIO, served by engineio_sync.

An ordinary Flask-SocketIO app: the one engineio_sync line is the import
of ``SocketIO``. Run it from the repository root (after ``make setup``)::

    .venv/bin/python examples/flask_socketio/app.py --port 5000

then open http://127.0.0.1:5000/?room=lobby in two tabs (``&name=alice``
sets the name). Messages go to the tabs in the same room; each sender
gets an ack back. Under gunicorn the WSGI callable is ``app``, with the
recipes of examples/gunicorn/::

    gunicorn -c examples/gunicorn/gthread.conf.py --pythonpath examples/flask_socketio app:app
    ASYNC_MODE=gevent gunicorn -c examples/gunicorn/gevent.conf.py --pythonpath examples/flask_socketio app:app
"""

import argparse
import os
import sys

from flask import Flask, render_template, request, send_file, session
from flask_socketio import emit, join_room

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
try:
    from engineio_sync.flask import SocketIO
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, REPO)
    from engineio_sync.flask import SocketIO

#: The browser bundle of socket.io-client, installed by ``npm ci``.
CLIENT_JS = os.path.join(REPO, 'node_modules', 'socket.io-client', 'dist',
                         'socket.io.min.js')

app = Flask(__name__)
app.config['SECRET_KEY'] = os.environ.get('SECRET_KEY', 'change me')
# Threads: no monkey-patching, and every blocking library just works.
# (Under gunicorn's gevent workers, ASYNC_MODE=gevent.)
socketio = SocketIO(app, async_mode=os.environ.get('ASYNC_MODE',
                                                   'threading'))


@app.route('/')
def index():
    return render_template('index.html')


@app.route('/vendor/socket.io.min.js')
def client_js():
    return send_file(CLIENT_JS, mimetype='text/javascript')


@socketio.on('join')
def on_join(data):
    session['name'] = str(data.get('name') or 'anonymous')[:40]
    session['room'] = str(data.get('room') or 'lobby')[:40]
    join_room(session['room'])
    emit('status', f"{session['name']} joined {session['room']}",
         to=session['room'])
    return session['room']


@socketio.on('chat')
def on_chat(text):
    if 'room' not in session:
        return 'join a room first'
    emit('chat', {'name': session['name'], 'text': str(text)[:500]},
         to=session['room'])
    return 'delivered'


@socketio.on('disconnect')
def on_disconnect(reason=None):
    if 'room' in session:
        emit('status', f"{session['name']} left ({reason})",
             to=session['room'], include_self=False)
    app.logger.info('%s gone: %s', request.sid, reason)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000)
    args = parser.parse_args()
    if not os.path.isfile(CLIENT_JS):
        print(f'warning: {CLIENT_JS} is missing; run `npm ci` at the '
              'repository root', file=sys.stderr)
    print(f'serving on http://{args.host}:{args.port}/?room=lobby',
          flush=True)
    socketio.run(app, host=args.host, port=args.port)


if __name__ == '__main__':
    main()

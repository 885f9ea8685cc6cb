"""A Flask-SocketIO application on engineio_sync, for
tests/interop/test_flask_socketio.py.

It is written as a Flask-SocketIO user writes one; only the import of
``SocketIO`` differs. ``python flask_socketio_app.py DRIVER '<json>'``
serves it with ``socketio.run()`` on 127.0.0.1 and a free port: eventlet
and gevent monkey-patch first and leave ``async_mode`` to the detection,
threading names it. The JSON object holds extra ``SocketIO`` options; a
second one (``'<json>' '<json>'``) extra ``run()`` arguments.
The process prints ``LISTENING <port>``, then one JSON line per
server-side event.
"""

from __future__ import annotations

import json
import os
import sys

DRIVER = sys.argv[1] if len(sys.argv) > 1 else 'threading'
if DRIVER == 'eventlet':
    import eventlet
    eventlet.monkey_patch()
elif DRIVER == 'gevent':
    from gevent import monkey
    monkey.patch_all()

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

from flask import Flask, request, send_file, session  # noqa: E402
from flask_socketio import (ConnectionRefusedError, Namespace,  # noqa: E402
                            disconnect, emit, join_room, leave_room)

from engineio_sync.flask import SocketIO  # noqa: E402

SOCKET_IO_JS = os.path.join(REPO, 'node_modules', 'socket.io-client', 'dist',
                            'socket.io.min.js')

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>flask-socketio</title>
<script src="/vendor/socket.io.min.js"></script></head>
<body><pre id="out">connecting</pre>
<script>
  var out = document.getElementById('out');
  window.result = null;
  var socket = io({auth: {name: 'browser'}});
  window.socket = socket;
  socket.on('connect', function () {
    socket.timeout(5000).emit('echo', 'from the browser', [1, 2],
      function (err, reply) {
        window.result = {error: err ? String(err) : null, reply: reply,
                         transport: socket.io.engine.transport.name};
        out.textContent = JSON.stringify(window.result);
      });
  });
  socket.on('connect_error', function (err) {
    window.result = {error: 'connect_error: ' + err.message};
    out.textContent = JSON.stringify(window.result);
  });
</script></body></html>
"""


def log(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


app = Flask(__name__)
app.config['SECRET_KEY'] = 'test only'
options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
if DRIVER == 'threading':
    options['async_mode'] = 'threading'
socketio = SocketIO(app, **options)


@app.route('/')
def index():
    return PAGE


@app.route('/vendor/socket.io.min.js')
def socket_io_js():
    return send_file(SOCKET_IO_JS, mimetype='application/javascript')


@app.route('/fail')
def fail():
    raise RuntimeError('failing on purpose')


@app.route('/stop')
def stop():
    socketio.stop()
    return 'stopping'


if options.get('message_queue'):
    # Another process would do this: a write-only SocketIO on the same
    # queue emits to the clients of the app.
    emitter = SocketIO(message_queue=options['message_queue'],
                       async_mode='threading')

    @app.route('/notify/<text>')
    def notify(text):
        emitter.emit('notice', text)
        return 'sent'


@socketio.on('connect')
def on_connect(auth):
    name = (auth or {}).get('name')
    if name == 'intruder':
        raise ConnectionRefusedError('no entry')
    session['name'] = name
    log(ev='connect', sid=request.sid, name=name, path=request.path)


@socketio.on('disconnect')
def on_disconnect(reason=None):
    log(ev='disconnect', sid=request.sid, name=session.get('name'),
        reason=reason)


@socketio.event
def echo(*args):
    return list(args)


@socketio.event
def boom(data):
    raise ValueError(f'boom {data}')


@socketio.on_error()
def on_error(exc):
    return f'error: {exc}'


@socketio.on('bin')
def on_bin(data):
    log(ev='bin', sid=request.sid, data=list(data))
    emit('bin_reply', {'label': 'pushed', 'payload': data + b'!'})
    return bytes(reversed(data))


@socketio.event
def join(room):
    join_room(room)
    return room


@socketio.event
def leave(room):
    leave_room(room)
    return room


@socketio.event
def shout(message):
    emit('shouted', message['text'], to=message['room'])
    # Everyone gets the fence after the room message: a client that saw
    # the fence without the room message was not in the room.
    socketio.emit('fence', message['room'])


@socketio.event
def kick_me():
    disconnect()


class Chat(Namespace):
    def on_hello(self, data):
        return {'namespace': request.namespace, 'hello': data,
                'name': session.get('name')}


socketio.on_namespace(Chat('/chat'))


def ready(server) -> None:
    log(ev='ready', async_mode=socketio.async_mode,
        eio=type(socketio.server.eio).__module__)
    print('LISTENING', server.listening_port, flush=True)


if __name__ == '__main__':
    run_options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    socketio.run(app, host='127.0.0.1', port=0, ready=ready, **run_options)
    log(ev='exit')

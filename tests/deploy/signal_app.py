"""An engineio_sync server run by engineio_sync.listen(), for the process
life tests: signals, graceful shutdown, logging.

Usage: python signal_app.py DRIVER [LOG_LEVEL]

DRIVER: eventlet, gevent, threading, or native (eventlet driver behind
engineio_sync's own HTTP server, ``listen(http_server='native')``).

Prints ``LISTENING <port>`` once serving, then one JSON line per event on
stdout (``connect``, ``message`` with sizes only, ``disconnect`` with the
reason) and ``{"ev": "exited"}`` when listen() returns. With LOG_LEVEL,
the ``engineio_sync`` logger goes to stderr at that level. Messages are
echoed back.
"""

import json
import logging
import os
import sys

DRIVER = sys.argv[1]
# 'native': the eventlet driver behind engineio_sync's own HTTP server.
HTTP_SERVER = 'wsgi'
if DRIVER == 'native':
    DRIVER, HTTP_SERVER = 'eventlet', 'native'
LEVEL = sys.argv[2] if len(sys.argv) > 2 else None

if DRIVER == 'gevent':
    from gevent import monkey
    monkey.patch_all()
elif DRIVER == 'eventlet':
    import eventlet  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import engineio_sync  # noqa: E402

if LEVEL:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, LEVEL),
                        format='%(levelname)s %(name)s %(message)s')


def log(**event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


eio = engineio_sync.Server(async_mode=DRIVER)


@eio.on('connect')
def connect(sid, environ):
    log(ev='connect', sid=sid)


@eio.on('message')
def message(sid, data):
    log(ev='message', sid=sid, size=len(data))
    eio.send(sid, data)


@eio.on('disconnect')
def disconnect(sid, reason):
    log(ev='disconnect', sid=sid, reason=reason)


engineio_sync.listen(0, server=eio, shutdown_timeout=5,
                     http_server=HTTP_SERVER,
                     ready=lambda s: print('LISTENING', s.listening_port,
                                           flush=True))
log(ev='exited')

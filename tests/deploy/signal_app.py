"""An engineio_sync server run by engineio_sync.listen(), for the process
life tests: signals, graceful shutdown, logging.

Usage: python signal_app.py SETUP [LOG_LEVEL]

SETUP is a driver with optional words after it, joined by ``+``:
``patched`` (``eventlet.monkey_patch()`` or ``gevent.monkey.patch_all()``
first), ``unpatched``, ``native`` (``listen(http_server='native')``) or
``wsgi`` (``http_server='wsgi'``). The short forms of the other tests:
``eventlet`` (unpatched, eventlet.wsgi), ``gevent`` (patched, pywsgi),
``threading`` (werkzeug) and ``native`` (eventlet unpatched behind
engineio_sync's own HTTP server). ``eventlet+patched+native`` is eventlet
monkey-patched behind the native server.

Prints ``LISTENING <port>`` once serving, then ``{"ev": "setup", ...}``
(is the socket module monkey-patched, does threading see the main thread
as main_thread()), one JSON line per event on stdout (``connect``,
``message`` with sizes only, ``disconnect`` with the reason) and
``{"ev": "exited"}`` when listen() returns. With LOG_LEVEL, the
``engineio_sync`` logger goes to stderr at that level. Messages are
echoed back; paths outside /engine.io/ answer ``page``.
"""

import sys

SHORT_FORMS = {'eventlet': 'eventlet+unpatched+wsgi',
               'gevent': 'gevent+patched+wsgi',
               'threading': 'threading+wsgi',
               'native': 'eventlet+unpatched+native'}
DRIVER, *WORDS = SHORT_FORMS.get(sys.argv[1], sys.argv[1]).split('+')
HTTP_SERVER = 'native' if 'native' in WORDS else 'wsgi'
LEVEL = sys.argv[2] if len(sys.argv) > 2 else None

if 'patched' in WORDS:
    if DRIVER == 'gevent':
        from gevent import monkey
        monkey.patch_all()
    else:
        import eventlet
        eventlet.monkey_patch()
elif DRIVER == 'eventlet':
    import eventlet  # noqa: F401

# After the monkey-patching, as an application would.
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
import engineio_sync  # noqa: E402

if LEVEL:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, LEVEL),
                        format='%(levelname)s %(name)s %(message)s')


def log(**event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def socket_patched():
    import socket
    return socket.socket.__module__.split('.')[0] in ('eventlet', 'gevent')


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


def page(environ, start_response):
    """The application's own page, beside Engine.IO."""
    body = b'page'
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def ready(server):
    print('LISTENING', server.listening_port, flush=True)
    # What the tests rely on: whether the process really is monkey-patched,
    # and whether threading still recognises its main thread.
    log(ev='setup', socket_patched=socket_patched(),
        threading_main=threading.current_thread() is threading.main_thread())


engineio_sync.listen(0, server=eio, wsgi_app=page, shutdown_timeout=5,
                     http_server=HTTP_SERVER, ready=ready)
log(ev='exited')

"""The application behind tests/e2e/test_http_strict.py, and its server.

``python strict_app.py DRIVER`` (eventlet or threading) serves it with
engineio_sync's own HTTPServer on 127.0.0.1, on a free port, and prints
``LISTENING <port>``. ``gunicorn strict_app:app`` serves the same app
(threading driver) for the comparison.

Paths:

- ``/echo``: reads the whole body with ``wsgi.input.read()`` (and lets a
  bad body's error propagate, so the server decides the status), answers
  ``len:<N>:<first 64 bytes>``;
- ``/info``: ``PATH_INFO|QUERY_STRING|HTTP_HOST``;
- ``/refuse``: 403 without reading the body;
- ``/split``: a response header with CRLF in its value;
- ``/engine.io/``: an engineio_sync Server with ``per_message_deflate``;
- anything else: ``ok``.

``EIO_STRICT_NOFILE=N``: once listening, the process may open only N more
descriptors (RLIMIT_NOFILE), to run into EMFILE on purpose.
``EIO_STRICT_KEEPALIVE``: the native server's keep-alive timeout.
"""

from __future__ import annotations

import logging
import os
import sys

if __name__ == '__main__':
    DRIVER = sys.argv[1]
else:
    DRIVER = os.environ.get('EIO_STRICT_DRIVER', 'threading')
if DRIVER == 'eventlet':
    import eventlet  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import engineio_sync  # noqa: E402

logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format='%(name)s %(levelname)s %(message)s')

server = engineio_sync.Server(async_mode=DRIVER, per_message_deflate=True,
                              compression_threshold=0)


@server.on('message')
def on_message(sid, data):
    server.send(sid, data)


def _plain(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/echo':
        data = environ['wsgi.input'].read()
        body = b'len:%d:' % len(data) + data[:64]
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    if path == '/split':
        # A header value with a line break in it (an app bug the server
        # must not turn into an injected header).
        start_response('200 OK', [('X-Echo', 'a\r\nX-Injected: yes'),
                                  ('Content-Length', '2')])
        return [b'ok']
    if path == '/refuse':
        start_response('403 Forbidden', [('Content-Length', '2')])
        return [b'no']
    if path == '/info':
        body = '|'.join((path, environ.get('QUERY_STRING', ''),
                         environ.get('HTTP_HOST', ''))).encode('latin-1')
    else:
        body = b'ok'
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


app = engineio_sync.WSGIApp(server, _plain)


def _limit_descriptors(more: int) -> None:
    import resource
    used = len(os.listdir('/proc/self/fd'))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + more, hard))


if __name__ == '__main__':
    from engineio_sync.http_server import HTTPServer
    http = HTTPServer(app, '127.0.0.1', 0, driver=server.driver,
                      keepalive_timeout=float(os.environ.get(
                          'EIO_STRICT_KEEPALIVE', '75')))
    if os.environ.get('EIO_STRICT_NOFILE'):
        _limit_descriptors(int(os.environ['EIO_STRICT_NOFILE']))
    print('LISTENING', http.port, flush=True)
    http.serve_forever()

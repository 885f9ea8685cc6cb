"""The application behind tests/e2e/test_loop_http.py, and its server.

``python loop_http_app.py`` serves it with engineio_sync's own HTTPServer
on the threading driver (the server on the I/O loop) on 127.0.0.1, on a
free port, prints ``LISTENING <port>``, then one JSON line per event.
``EIO_LOOP_POOL=N``: the hub's worker pool has N threads.

Paths:

- ``/defer?after=S&tag=T``: a deferred response, answered from another
  thread S seconds later (``deferred:T``); prints ``parked`` as the app
  returns the handle and ``done`` with what ``done()`` was told;
- ``/gone?tag=T``: a deferred response answered only once the client has
  gone (``on_gone``: prints ``gone``), from a loop timer 0.1 s later
  (``call_later``); prints ``done``;
- ``/slow?s=S``: prints ``slow`` and sleeps S seconds, then ``slow``;
- ``/big?n=N``: a complete body of N bytes;
- ``/echo``: reads the body: ``len:<N>:<sha1 hex>``;
- ``/threads``: ``threading.active_count()``;
- anything else: ``app:<PATH_INFO>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

from engineio_sync.drivers.threading import ThreadingDriver  # noqa: E402
from engineio_sync.http_server import HTTPServer  # noqa: E402
from engineio_sync.wsgi_servers.native import deferrer  # noqa: E402


def log(**event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def _answer(start_response, body: bytes):
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def _report(tag):
    return lambda ok: log(ev='done', tag=tag, ok=ok)


def app(environ, start_response):
    path = environ['PATH_INFO']
    query = {k: v[0] for k, v in parse_qs(environ['QUERY_STRING']).items()}
    tag = query.get('tag', '')
    if path == '/defer':
        handle = deferrer(environ)()
        after = float(query.get('after', '0.2'))

        def later():
            time.sleep(after)
            handle.respond('200 OK', [('Content-Type', 'text/plain')],
                           b'deferred:' + tag.encode(), _report(tag))
        threading.Thread(target=later, daemon=True).start()
        log(ev='parked', tag=tag)
        return handle
    if path == '/gone':
        handle = deferrer(environ)()

        def gone():
            log(ev='gone', tag=tag)
            handle.call_later(0.1, lambda: handle.respond(
                '200 OK', [], b'too late', _report(tag)))
        handle.on_gone(gone)
        log(ev='parked', tag=tag)
        return handle
    if path == '/slow':
        log(ev='slow', at='start')
        time.sleep(float(query.get('s', '2')))
        log(ev='slow', at='end')
        return _answer(start_response, b'slow')
    if path == '/big':
        return _answer(start_response, b'x' * int(query['n']))
    if path == '/echo':
        data = environ['wsgi.input'].read()
        return _answer(start_response, b'len:%d:%s' % (
            len(data), hashlib.sha1(data).hexdigest().encode()))
    if path == '/threads':
        return _answer(start_response,
                       str(threading.active_count()).encode())
    return _answer(start_response, ('app:' + path).encode())


if __name__ == '__main__':
    driver = ThreadingDriver()
    hub = driver.io_hub()
    # The pool's bound is read as work comes: set before any.
    hub.pool.size = int(os.environ.get('EIO_LOOP_POOL', '16'))
    http = HTTPServer(app, '127.0.0.1', 0, driver=driver)
    print('LISTENING', http.port, flush=True)
    http.serve_forever()

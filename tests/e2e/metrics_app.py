"""A server with Prometheus metrics for tests/e2e/test_metrics.py.

Usage: python metrics_app.py DRIVER '<json Server options>'

Serves with ``engineio_sync.listen(0, metrics=True)`` on DRIVER (eventlet,
gevent or threading), prints ``LISTENING <port>``, echoes every message
but ``burst:N:SIZE`` (answered with N messages of SIZE characters),
refuses (connect handler) handshakes whose query holds ``refuse=1`` and
closes, from the connect handler, those with ``close=1``.
"""

from __future__ import annotations

import json
import os
import sys

DRIVER = sys.argv[1]
OPTIONS = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
if DRIVER == 'gevent':
    from gevent import monkey
    monkey.patch_all()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import engineio_sync  # noqa: E402

server = engineio_sync.Server(async_mode=DRIVER, **OPTIONS)


@server.on('connect')
def connect(sid, environ):
    query = environ.get('QUERY_STRING', '').split('&')
    if 'close=1' in query:
        server.disconnect(sid)
    return 'refuse=1' not in query


@server.on('message')
def message(sid, data):
    if isinstance(data, str) and data.startswith('burst:'):
        _, count, size = data.split(':')
        for _ in range(int(count)):
            server.send(sid, 'y' * int(size))
        return
    server.send(sid, data)


def ready(srv):
    print('LISTENING', srv.listening_port, flush=True)


if __name__ == '__main__':
    engineio_sync.listen(0, server=server, ready=ready, metrics=True,
                         shutdown_timeout=1)

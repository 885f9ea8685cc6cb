"""engineio_sync with the same echo behaviour and settings as the anchors.

Usage: python engineio_sync_server.py PORT [native|wsgi] [eventlet|threading]

- ``native`` (default): engineio_sync's own HTTP server, as ``listen()``
  runs it.
- ``wsgi``: behind ``eventlet.wsgi``, exactly like servers/pyeio_eventlet.py
  (``eventlet.listen(backlog=1024)``, ``max_size=20000``), so the two differ
  only in the Engine.IO layer. Eventlet only.

Ping interval 25 s, ping timeout 20 s, max payload 1e6, no HTTP or
WebSocket compression, backlog 1024. Set ENGINEIO_SYNC_PATH to the checkout
if the package is not installed in the bench venv.
"""
import os
import sys

if os.environ.get('BENCH_MONKEY_PATCH') and 'eventlet' in sys.argv[3:4]:
    # bench/cluster.py: redis-py needs cooperative sockets under eventlet
    import eventlet
    eventlet.monkey_patch()

if os.environ.get('ENGINEIO_SYNC_PATH'):
    sys.path.insert(0, os.environ['ENGINEIO_SYNC_PATH'])

import engineio_sync  # noqa: E402

port = int(sys.argv[1])
server_kind = sys.argv[2] if len(sys.argv) > 2 else 'native'
mode = sys.argv[3] if len(sys.argv) > 3 else 'eventlet'
eio = engineio_sync.Server(
    async_mode=mode,
    ping_interval=float(os.environ.get('BENCH_PING_INTERVAL', '25')),
    ping_timeout=20,
    max_http_buffer_size=1_000_000,
    http_compression=False,
    # bench/cluster.py: several of these on one Redis (only then: older
    # checkouts, run as @before, have no such option)
    **({'cluster': os.environ['BENCH_CLUSTER']}
       if os.environ.get('BENCH_CLUSTER') else {}),
)


@eio.on('message')
def message(sid, data):
    eio.send(sid, data)


app = engineio_sync.WSGIApp(eio)

if __name__ == '__main__':
    print(f'engineio-sync ({server_kind}, {mode}) listening on '
          f'127.0.0.1:{port}', flush=True)
    if server_kind == 'wsgi':
        import eventlet
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', port), backlog=1024)
        eventlet.wsgi.server(sock, app, log_output=False, max_size=20000)
    else:
        from engineio_sync.http_server import HTTPServer
        HTTPServer(app, '127.0.0.1', port, driver=eio.driver,
                   backlog=1024).serve_forever()

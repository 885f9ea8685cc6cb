"""engineio_sync with the same echo behaviour and settings as the anchors.

Usage: python engineio_sync_server.py PORT [native|wsgi] [eventlet|threading|gevent]
       gunicorn -k gthread ... engineio_sync_server:app   (threading driver)

- ``native`` (default): engineio_sync's own HTTP server, as ``listen()``
  runs it.
- ``wsgi``: behind ``eventlet.wsgi``, exactly like servers/pyeio_eventlet.py
  (``eventlet.listen(backlog=1024)``, ``max_size=20000``), so the two differ
  only in the Engine.IO layer. Eventlet only.
- imported (run.sh's ``engineio-sync-gthread``): ``app`` on the threading
  driver, for gunicorn's gthread worker; gunicorn does the serving.

Ping interval 25 s, ping timeout 20 s, max payload 1e6, no HTTP or
WebSocket compression, backlog 1024. Set ENGINEIO_SYNC_PATH to the checkout
if the package is not installed in the bench venv.

Knobs (environment; unset leaves the settings above):
  BENCH_PING_INTERVAL, BENCH_PING_TIMEOUT  seconds
  BENCH_MAX_CONNECTIONS  the native HTTP server's connection limit (its
                         default, 20000, caps ws_many beyond that)
  BENCH_BLOCK_WORD, BENCH_BLOCK_S  a message that is exactly the word
                         makes the handler sleep BENCH_BLOCK_S (5) seconds
                         with time.sleep, then echo it (ws_blocking)
"""
import os
import sys
import time

if (__name__ == '__main__' and os.environ.get('BENCH_MONKEY_PATCH')
        and 'eventlet' in sys.argv[3:4]):
    # bench/cluster.py: redis-py needs cooperative sockets under eventlet
    import eventlet
    eventlet.monkey_patch()

if os.environ.get('ENGINEIO_SYNC_PATH'):
    sys.path.insert(0, os.environ['ENGINEIO_SYNC_PATH'])

import engineio_sync  # noqa: E402


def build(mode: str) -> tuple[engineio_sync.Server, engineio_sync.WSGIApp]:
    """The echo server on driver ``mode`` and its WSGI app."""
    eio = engineio_sync.Server(
        async_mode=mode,
        ping_interval=float(os.environ.get('BENCH_PING_INTERVAL', '25')),
        ping_timeout=float(os.environ.get('BENCH_PING_TIMEOUT', '20')),
        max_http_buffer_size=1_000_000,
        http_compression=False,
        # bench/cluster.py: several of these on one Redis (only then: older
        # checkouts, run as @before, have no such option)
        **({'cluster': os.environ['BENCH_CLUSTER']}
           if os.environ.get('BENCH_CLUSTER') else {}),
    )
    block_word = os.environ.get('BENCH_BLOCK_WORD')
    block_s = float(os.environ.get('BENCH_BLOCK_S', '5'))

    def echo(sid: str, data: str | bytes) -> None:
        eio.send(sid, data)

    def echo_or_block(sid: str, data: str | bytes) -> None:
        if data == block_word:
            # a handler stuck in a blocking call (ws_blocking): whatever
            # else this stalls is what the scenario measures
            time.sleep(block_s)
        eio.send(sid, data)

    # without the knob, the plain echo: other scenarios pay for no test
    eio.on('message', echo_or_block if block_word else echo)
    return eio, engineio_sync.WSGIApp(eio)


def main() -> None:
    """Serve on the port and server kind that the command line names."""
    port = int(sys.argv[1])
    server_kind = sys.argv[2] if len(sys.argv) > 2 else 'native'
    mode = sys.argv[3] if len(sys.argv) > 3 else 'eventlet'
    eio, app = build(mode)
    print(f'engineio-sync ({server_kind}, {mode}) listening on '
          f'127.0.0.1:{port}', flush=True)
    if server_kind == 'wsgi':
        import eventlet
        import eventlet.wsgi
        sock = eventlet.listen(('127.0.0.1', port), backlog=1024)
        eventlet.wsgi.server(sock, app, log_output=False, max_size=20000)
    else:
        from engineio_sync.http_server import HTTPServer
        # only when asked: checkouts run as @before may predate the option
        limit = os.environ.get('BENCH_MAX_CONNECTIONS')
        HTTPServer(app, '127.0.0.1', port, driver=eio.driver, backlog=1024,
                   **({'max_connections': int(limit)} if limit else {})
                   ).serve_forever()


if __name__ == '__main__':
    main()
else:
    eio, app = build('threading')

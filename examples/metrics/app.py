"""An Engine.IO echo server with Prometheus metrics on ``/metrics``.

Alone (one process, threads)::

    .venv/bin/python examples/metrics/app.py --port 5000
    curl http://127.0.0.1:5000/metrics

Under gunicorn with several workers (their numbers add up; see
``examples/gunicorn/metrics.conf.py``)::

    .venv/bin/gunicorn -c examples/gunicorn/metrics.conf.py \\
        --pythonpath examples/metrics -b 127.0.0.1:5000 app:app

The message ``pid`` is answered with the process id of the worker holding
the session; any other message is echoed. ``/health`` answers JSON.
"""

import argparse
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import engineio_sync
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    import engineio_sync
from engineio_sync.metrics import MetricsApp, instrument  # noqa: E402

eio = engineio_sync.Server()
# How often each gunicorn worker writes its open sessions' traffic for the
# others to serve (multiprocess mode only).
instrument(eio, refresh_interval=float(os.environ.get('METRICS_REFRESH', 2)))


@eio.on('message')
def message(sid, data):
    eio.send(sid, str(os.getpid()) if data == 'pid' else data)


def health(environ, start_response):
    """Everything but /engine.io/ and /metrics: a small JSON status."""
    body = json.dumps({'sessions': eio.clients_count, 'pid': os.getpid(),
                       'async_mode': eio.async_mode}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


# GET /metrics: the metrics; /engine.io/: Engine.IO; the rest: health().
app = MetricsApp(engineio_sync.WSGIApp(eio, health))

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    engineio_sync.listen(args.port, args.host, server=eio, wsgi_app=health,
                         metrics=True)

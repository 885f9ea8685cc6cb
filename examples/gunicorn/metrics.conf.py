"""The gthread recipe (gthread.conf.py) with Prometheus metrics summed
over its workers (prometheus_client's multiprocess mode).

    gunicorn -c examples/gunicorn/metrics.conf.py --pythonpath examples/metrics app:app

Every worker writes its numbers to files in ``PROMETHEUS_MULTIPROC_DIR``;
whichever worker answers ``GET /metrics`` serves their sum.
"""
import os
import runpy
import tempfile

# Before any worker imports prometheus_client: it reads this once, at import.
os.environ.setdefault('PROMETHEUS_MULTIPROC_DIR', os.path.join(
    tempfile.gettempdir(), f'engineio-metrics-{os.getuid()}'))

# gthread.conf.py's settings and graceful-shutdown hooks, then these.
globals().update(runpy.run_path(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), 'gthread.conf.py')))

from engineio_sync.gunicorn import child_exit, on_starting  # noqa: E402,F401

# The metrics example's clients use WebSocket only, which needs no sticky
# sessions; long-polling clients would (see README.rst).
workers = int(os.environ.get('WEB_CONCURRENCY', 2))

"""gunicorn, eventlet workers: needs gunicorn 25.x (gunicorn 26 removed
the eventlet worker); `make gunicorn25` installs it in .venv-gunicorn25
from the ``gunicorn-eventlet`` extra. engineio_sync's eventlet driver:
gunicorn monkey-patches the worker, so ``async_mode=None`` picks eventlet.

    .venv-gunicorn25/bin/gunicorn -c examples/gunicorn/eventlet.conf.py --pythonpath examples/flask_chat app:app
"""
import logging
import os
import warnings

# eventlet warns on import that it is in bug-fix-only mode (README.rst,
# "Which driver?"); filtered here, before eventlet is imported, so the
# master and its workers start quietly. Only that warning: others still show.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from engineio_sync.gunicorn import (post_worker_init, worker_exit,  # noqa: E402, F401
                                    worker_int)

bind = os.environ.get('BIND', '127.0.0.1:5000')
worker_class = 'eventlet'
# More than one worker needs sticky sessions (see README.rst) unless every
# client uses transports=['websocket'].
workers = int(os.environ.get('WEB_CONCURRENCY', 1))
# HTTP requests in flight, parked long-polls included; a WebSocket leaves
# gunicorn after its upgrade and does not count (see README.rst).
worker_connections = 1000
graceful_timeout = 10

logging.basicConfig(level=logging.INFO,
                    format='%(asctime)s [%(process)d] %(name)s %(message)s')

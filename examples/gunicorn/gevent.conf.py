"""gunicorn, gevent workers (current gunicorn; engineio_sync's gevent
driver: gunicorn monkey-patches the worker, so ``async_mode=None`` picks
gevent).

    gunicorn -c examples/gunicorn/gevent.conf.py --pythonpath examples/flask_chat app:app
"""
import logging
import os

from engineio_sync.gunicorn import (post_worker_init, worker_exit,  # noqa: F401
                                    worker_int)

bind = os.environ.get('BIND', '127.0.0.1:5000')
worker_class = 'gevent'
# More than one worker needs sticky sessions (see README.rst) unless every
# client uses transports=['websocket'].
workers = int(os.environ.get('WEB_CONCURRENCY', 1))
# HTTP requests in flight, parked long-polls included; a WebSocket leaves
# gunicorn after its upgrade and does not count (see README.rst).
worker_connections = 1000
graceful_timeout = 10

logging.basicConfig(level=logging.INFO,
                    format='%(asctime)s [%(process)d] %(name)s %(message)s')

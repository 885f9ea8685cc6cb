"""gunicorn, gthread workers (current gunicorn; engineio_sync's threading
driver). Each parked long-poll and each WebSocket holds one thread, so
``threads`` bounds the concurrent sessions of a worker.

    gunicorn -c examples/gunicorn/gthread.conf.py --pythonpath examples/flask_chat app:app
"""
import logging
import os

from engineio_sync.gunicorn import (post_worker_init, worker_exit,  # noqa: F401
                                    worker_int)

bind = os.environ.get('BIND', '127.0.0.1:5000')
worker_class = 'gthread'
# More than one worker needs sticky sessions (see README.rst) unless every
# client uses transports=['websocket'].
workers = int(os.environ.get('WEB_CONCURRENCY', 1))
threads = int(os.environ.get('THREADS', 100))
# A stop waits at most this long; the hooks close every session at once.
graceful_timeout = 10

logging.basicConfig(level=logging.INFO,
                    format='%(asctime)s [%(process)d] %(name)s %(message)s')

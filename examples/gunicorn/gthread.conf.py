"""gunicorn, gthread workers (current gunicorn; engineio_sync's threading
driver). A WebSocket leaves gunicorn's thread after the upgrade and waits
in engineio_sync's I/O loop; a parked long-poll holds one of ``threads``
while it waits, so ``threads`` bounds the polling clients of a worker
(sessions upgrade after their first round trip).

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

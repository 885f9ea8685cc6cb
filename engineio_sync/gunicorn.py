"""gunicorn server hooks: close Engine.IO sessions when a worker stops.

gunicorn stops a worker gracefully on SIGTERM (``kill -TERM <master>``,
a ``HUP`` reload, ``--max-requests``): the worker stops accepting and
waits up to ``graceful_timeout`` for its requests to end. Engine.IO
requests never end on their own (a long-poll is parked, a WebSocket lives
for the whole session), so without help the worker sits out the whole
grace period and is then killed, and clients see the connection drop.

With these hooks, a worker that is told to stop (or stops by itself, as
after ``max_requests``) calls
``Server.shutdown()`` on every Engine.IO server of its application: each
session gets its close packet (parked GETs answered, WebSockets get the
close packet and a close frame), ``disconnect`` handlers run with reason
``'server shutting down'``, the requests end, and the worker exits well
inside the grace period. Use them from a gunicorn config file::

    # gunicorn.conf.py
    from engineio_sync.gunicorn import post_worker_init, worker_int, \\
        worker_exit  # noqa: F401

The servers are found by walking the WSGI application (``WSGIApp``
instances, Flask's ``app.wsgi_app``, Django's handler wrapped by
``WSGIApp``, python-socketio's ``WSGIApp`` and ``Server.eio``...). An application can also name them explicitly with an
``engineio_servers`` attribute (a list) on its WSGI callable.
"""

from __future__ import annotations

import signal
import weakref
from collections import deque
from typing import Any

__all__ = ['find_servers', 'post_worker_init', 'worker_int', 'worker_exit']

#: seconds between checks of ``worker.alive``
WATCH_INTERVAL = 0.5

# Attributes that lead from a WSGI callable towards its Engine.IO servers:
# WSGIApp, Flask (wsgi_app), common wrappers, python-socketio's WSGIApp
# (engineio_app) and Server (eio).
_ATTRS = ('engineio_server', 'wsgi_app', 'app', 'application', '_app',
          'wrapped', 'engineio_servers', 'engineio_app', 'eio')


def find_servers(app: Any, depth: int = 6) -> list:
    """The :class:`engineio_sync.Server` objects reachable from ``app``."""
    from .server import Server
    found: list = []
    seen: set[int] = set()
    todo = deque([(app, 0)])
    while todo:
        obj, level = todo.popleft()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Server):
            found.append(obj)
            continue
        if isinstance(obj, (list, tuple)):
            todo.extend((item, level) for item in obj)
            continue
        if level >= depth:
            continue
        for name in _ATTRS:
            try:
                value = getattr(obj, name, None)
            except Exception:  # a lazy object that fails to load
                continue
            if value is not None:
                todo.append((value, level + 1))
    return found


# What this process found and did, kept here rather than on gunicorn's
# objects.
_found: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_shut_down: weakref.WeakSet = weakref.WeakSet()


def _servers(worker: Any) -> list:
    servers = _found.get(worker)
    if servers is None:
        servers = find_servers(getattr(worker, 'wsgi', None))
        _found[worker] = servers
    return servers


def _shutdown_all(worker: Any, why: str) -> None:
    for server in _servers(worker):
        if server in _shut_down:
            continue
        _shut_down.add(server)
        worker.log.info('engineio_sync: %s; closing %d session(s)', why,
                        len(server.clients))
        try:
            server.shutdown()
        except Exception:  # pragma: no cover - never block the exit
            worker.log.exception('engineio_sync: shutdown failed')


def post_worker_init(worker: Any) -> None:
    """Shut the servers down when the worker stops: wrap its SIGTERM
    handler, and watch ``worker.alive`` for stops without a signal."""
    servers = _servers(worker)
    if not servers:
        worker.log.warning('engineio_sync: no engineio_sync.Server found in '
                           'the WSGI application; sessions will not be '
                           'closed gracefully on shutdown')
        return
    original = worker.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        original(sig, frame)
        # A signal handler may interrupt anything: do the work in a task
        # of the server's own driver.
        servers[0].start_background_task(_shutdown_all, worker,
                                         'graceful stop (SIGTERM)')

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)
    signal.siginterrupt(signal.SIGTERM, False)

    # A worker also stops without a signal (max_requests, a dead parent):
    # it clears ``alive`` and waits for its requests. Watch for that.
    def watch() -> None:
        server = servers[0]
        while getattr(worker, 'alive', False):
            server.sleep(WATCH_INTERVAL)
        _shutdown_all(worker, 'worker stopping')

    servers[0].start_background_task(watch)


def worker_int(worker: Any) -> None:
    """SIGINT/SIGQUIT (quick stop): send the close packets on the way out."""
    _shutdown_all(worker, 'quick stop (SIGINT/SIGQUIT)')


def worker_exit(server: Any, worker: Any) -> None:
    """The worker is exiting (e.g. ``max_requests``): close what is left,
    and leave the cluster (``cluster`` option) at once rather than by
    expiry."""
    _shutdown_all(worker, 'worker exit')
    for engineio_server in _servers(worker):
        cluster = getattr(engineio_server, 'cluster', None)
        if cluster is not None:
            cluster.stop()

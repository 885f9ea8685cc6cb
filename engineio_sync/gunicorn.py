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

Prometheus metrics with several workers (:mod:`engineio_sync.metrics`,
prometheus_client's multiprocess mode): set ``PROMETHEUS_MULTIPROC_DIR``
in the config file, before any worker imports prometheus_client, and
import two more hooks: ``on_starting`` empties that directory when the
master starts (files of an earlier run would add to the new numbers) and
``child_exit`` drops a finished worker's open-session gauge::

    os.environ.setdefault('PROMETHEUS_MULTIPROC_DIR', '/run/myapp-metrics')
    from engineio_sync.gunicorn import on_starting, child_exit  # noqa: F401
"""

from __future__ import annotations

import glob
import os
import signal
import weakref
from collections import deque
from typing import Any

from .standalone import wait_for_sessions

__all__ = ['find_servers', 'post_worker_init', 'worker_int', 'worker_exit',
           'on_starting', 'child_exit', 'multiprocess_dir']

#: seconds between checks of ``worker.alive``
WATCH_INTERVAL = 0.5
#: At most how long an exiting worker waits for its sessions' last packets
#: and close frames (never past gunicorn's ``graceful_timeout``).
EXIT_WAIT = 5.0

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
    wait for the sessions' last packets to go out (``EXIT_WAIT``; a
    WebSocket is not one of gunicorn's requests once upgraded, so nothing
    else waits for it), and leave the cluster (``cluster`` option) at
    once rather than by expiry."""
    _shutdown_all(worker, 'worker exit')
    servers = _servers(worker)
    if servers:
        graceful = getattr(getattr(worker, 'cfg', None), 'graceful_timeout',
                           EXIT_WAIT)
        wait_for_sessions(servers, min(EXIT_WAIT, float(graceful)))
    for engineio_server in servers:
        cluster = getattr(engineio_server, 'cluster', None)
        if cluster is not None:
            cluster.stop()


# -- Prometheus multiprocess mode ---------------------------------------------

def multiprocess_dir() -> str | None:
    """prometheus_client's ``PROMETHEUS_MULTIPROC_DIR`` (or its old
    lower-case spelling), or None when it is not set."""
    return (os.environ.get('PROMETHEUS_MULTIPROC_DIR')
            or os.environ.get('prometheus_multiproc_dir') or None)


def on_starting(server: Any) -> None:
    """The master starts: create ``PROMETHEUS_MULTIPROC_DIR`` if needed and
    remove the metric files an earlier run left there."""
    path = multiprocess_dir()
    if path is None:
        return
    os.makedirs(path, exist_ok=True)
    stale = glob.glob(os.path.join(path, '*.db'))
    for name in stale:
        os.remove(name)
    if stale:
        server.log.info('engineio_sync: removed %d metric file(s) of an '
                        'earlier run from %s', len(stale), path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone (in the master): its open-session gauge no longer
    counts; its counters stay in the totals."""
    if multiprocess_dir() is None:
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:  # pragma: no cover - metrics not installed
        return
    multiprocess.mark_process_dead(worker.pid)

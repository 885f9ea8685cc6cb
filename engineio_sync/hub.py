"""The process's I/O loop and worker pool, for the threading driver.

One :class:`Hub` per process: a :class:`~engineio_sync.reactor.Reactor`
run by a daemon thread, which owns the sockets that wait (WebSockets,
their write backlogs, closing handshakes), and a
:class:`~engineio_sync.workpool.WorkPool` that runs application code,
each session's in order. :func:`process_hub` makes it on first use and
again in a forked child (threads do not survive ``fork``: gunicorn forks
its workers after loading the application).

The hub decides nothing about sessions; it only says where code runs.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Hashable

from .reactor import Reactor
from .workpool import DEFAULT_SIZE, WorkPool

__all__ = ['Hub', 'process_hub', 'run_app', 'want_pool_size']

logger = logging.getLogger('engineio_sync.hub')


class Hub:
    """One I/O loop thread and one pool of worker threads.

    ``pool_size`` bounds the threads that run application code.
    """

    def __init__(self, pool_size: int = DEFAULT_SIZE) -> None:
        self.reactor = Reactor()
        self.pool = WorkPool(pool_size, name='engineio-app')
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop's thread (once)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self.reactor.run, name='engineio-loop', daemon=True)
            self._thread.start()

    def in_loop(self) -> bool:
        """True in the loop's thread."""
        return self.reactor.in_loop_thread()

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in the loop's thread soon (from any thread;
        starts the loop if need be)."""
        if self._thread is None:
            self.start()
        self.reactor.call_soon_threadsafe(fn, *args)

    def in_loop_now(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` now if this is the loop's thread, else soon
        in it."""
        if self.reactor.in_loop_thread():
            fn(*args)
        else:
            self.call_soon(fn, *args)

    def run_app(self, key: Hashable, fn: Callable[..., object],
                *args: Any) -> None:
        """Run application code ``fn(*args)`` for ``key`` (a session id)
        after the key's earlier work: at once when this thread is already
        running that key's work, else on a pool thread. Never dropped: a
        pool that is shut down (the process is ending) runs it here."""
        pool = self.pool
        if pool.current_key() == key and key is not None:
            fn(*args)
            return
        if not pool.submit_always(key, fn, *args):
            fn(*args)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and the pool (tests, interpreter exit)."""
        self.reactor.stop(timeout)
        self.pool.shutdown(timeout)


# The pool size asked for (the largest), for this hub and any made after a
# fork.
_pool_size = DEFAULT_SIZE
_hub: Hub | None = None
_hub_pid = 0
_hub_lock = threading.Lock()


def process_hub() -> Hub:
    """This process's hub, started (a new one after a fork)."""
    global _hub, _hub_pid
    hub = _hub
    pid = os.getpid()
    if hub is None or _hub_pid != pid:
        with _hub_lock:
            if _hub is None or _hub_pid != pid:
                _hub = Hub(_pool_size)
                _hub_pid = pid
            hub = _hub
    hub.start()
    return hub


def run_app(key: Hashable, fn: Callable[..., object], *args: Any) -> None:
    """:meth:`Hub.run_app` on this process's hub (the one of a forked
    child in the child: a server made before gunicorn forks keeps
    working)."""
    process_hub().run_app(key, fn, *args)


def want_pool_size(size: int) -> None:
    """At least ``size`` threads in the pool from now on (the largest
    size asked for counts)."""
    global _pool_size
    with _hub_lock:
        _pool_size = max(_pool_size, size)
        if _hub is not None:
            _hub.pool.size = max(_hub.pool.size, size)

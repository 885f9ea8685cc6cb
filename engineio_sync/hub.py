"""The process's I/O loop and worker pool, for the threading driver.

One :class:`Hub` per process: a :class:`~engineio_sync.reactor.Reactor`
run by a daemon thread, which owns the sockets that wait (WebSockets,
their write backlogs, closing handshakes), and a
:class:`~engineio_sync.workpool.WorkPool` that runs application code,
each session's in order. :func:`process_hub` makes it on first use and
again in a forked child (threads do not survive ``fork``: gunicorn forks
its workers after loading the application).

Application code that the loop itself comes upon (a message read from a
WebSocket) runs right there, in the loop's thread, when its session has no
other work running: handing each message to another thread costs more
than most handlers take, and under the GIL two busy threads hand it to
each other at every system call. A handler that blocks (a database call,
``time.sleep``) would then hold up every socket, so a guard thread watches:
once one call has run for ``STALL`` seconds, a new thread takes the loop
over (:meth:`~engineio_sync.reactor.Reactor.hand_over`) and the blocked
one leaves it when its handler returns. Only that session waits for it;
its next messages queue behind it, in order, for the pool. No more
threads are handed away than the pool has: past that, application code
the loop comes upon goes to the pool (bounded in threads and queue)
until one of them is back.

The hub decides nothing about sessions; it only says where code runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Hashable

from .reactor import Reactor
from .workpool import DEFAULT_SIZE, WorkPool

__all__ = ['Hub', 'process_hub', 'want_pool_size']

logger = logging.getLogger('engineio_sync.hub')
_get_ident = threading.get_ident

#: How often the guard looks: an application call that it finds holding
#: the loop's thread at two looks in a row (STALL seconds at least) makes
#: a new thread take the loop over.
GUARD_TICK = 0.005
STALL = GUARD_TICK


class Hub:
    """One I/O loop thread and one pool of worker threads.

    ``pool_size`` bounds the threads that run application code.
    """

    def __init__(self, pool_size: int = DEFAULT_SIZE) -> None:
        self._fresh(pool_size)

    def _fresh(self, pool_size: int) -> None:
        self.reactor = Reactor()
        self.pool = WorkPool(pool_size, name='engineio-app')
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # The application calls the loop ran (a count), and the thread
        # of the one running now (None while none), read by the guard.
        self._calls = 0
        self._caller: int | None = None
        #: how many times a blocked handler made the loop change threads
        self.handovers = 0
        # Threads the loop was handed away from, still in a handler: as
        # many as the pool has threads at most, then application code the
        # loop comes upon goes to the pool (bounded) instead.
        self._away = 0
        self._away_lock = threading.Lock()
        # The rest of the socket loop's surface (drivers.base.SocketLoop)
        # is the reactor's own, bound once: these are on every hot path.
        reactor = self.reactor
        self.add_reader = reactor.add_reader
        self.remove_reader = reactor.remove_reader
        self.add_writer = reactor.add_writer
        self.remove_writer = reactor.remove_writer
        self.call_later = reactor.call_later

    def forked(self) -> None:
        """In a forked child: the parent's threads (loop, guard, pool)
        are gone. Start afresh, the same object (whoever holds its
        methods keeps them); the loop starts again on first use."""
        self._fresh(self.pool.size)

    @property
    def busy(self) -> bool:
        """The pool's queue is full: sockets can wait a moment."""
        return self.pool.full

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
            threading.Thread(target=self._guard, name='engineio-guard',
                             daemon=True).start()

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in the loop's thread soon (from any thread;
        starts the loop if need be)."""
        if self._thread is None:
            self.start()
        self.reactor.call_soon(fn, *args)

    def in_loop_now(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` now if this is the loop's thread, else soon
        in it."""
        if self.reactor.in_loop_thread():
            fn(*args)
        else:
            self.call_soon(fn, *args)

    def run_app(self, key: Hashable, fn: Callable[..., object],
                *args: Any) -> None:
        """Run application code ``fn(*args)`` for ``key`` (a session id,
        a connection) after the key's earlier work: at once when this
        thread is already running that key's work; in the loop's thread,
        now, when the key has nothing running or waiting (and fewer
        threads than the pool has are handed away, see the module's
        docstring); else on a pool thread. Never dropped: a pool that is
        shut down (the process is ending) runs it here."""
        # On every message: kept to the fewest steps (bench/).
        pool = self.pool
        me = _get_ident()
        if me == self.reactor.owner and self._away < pool.size:
            if self._caller == me:
                # Inside another application call of the loop's (a
                # handler's send ran a callback): that one is timed.
                pool.run_here(key, fn, *args)
                return
            self._calls += 1
            self._caller = me
            try:
                pool.run_here(key, fn, *args)
            finally:
                # A guard that handed the loop over has reset it.
                if self._caller == me:
                    self._caller = None
            return
        if key is not None and pool.current_key() == key:
            fn(*args)
            return
        if not pool.submit_always(key, fn, *args):
            fn(*args)

    def _guard(self) -> None:
        """Hand the loop to a new thread when an application call holds
        it for ``STALL`` seconds (see the module's docstring)."""
        seen = -1
        while True:
            time.sleep(GUARD_TICK)
            # The count first: a call that starts between the two reads
            # has a count not seen yet.
            calls = self._calls
            if self._caller is None or calls != seen:
                seen = calls
                continue
            # The same call as at the last look, still running.
            seen = -1
            self._caller = None
            with self._away_lock:
                self._away += 1
            if self.reactor.hand_over(self._start_loop_thread, self._back):
                self.handovers += 1
                logger.info('an application handler held the I/O loop for '
                            'over %.0f ms; a new thread runs the loop',
                            STALL * 1000)
            else:
                self._back()

    def _back(self) -> None:
        """A thread the loop was handed away from is done."""
        with self._away_lock:
            self._away -= 1

    @staticmethod
    def _start_loop_thread(fn: Callable[[], None]) -> None:
        threading.Thread(target=fn, name='engineio-loop',
                         daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and the pool (tests, interpreter exit)."""
        self.reactor.stop(timeout)
        self.pool.shutdown(timeout)


# The pool size asked for (the largest), for this hub and any made after a
# fork.
_pool_size = DEFAULT_SIZE
_hub: Hub | None = None
_hub_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """The parent's threads are gone: the hub starts afresh (see
    :meth:`Hub.forked`), with a new lock."""
    global _hub_lock
    _hub_lock = threading.Lock()
    if _hub is not None:
        _hub.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def process_hub() -> Hub:
    """This process's hub, started (afresh after a fork)."""
    global _hub
    hub = _hub
    if hub is None:
        with _hub_lock:
            if _hub is None:
                _hub = Hub(_pool_size)
            hub = _hub
    hub.start()
    return hub


def want_pool_size(size: int) -> None:
    """At least ``size`` threads in the pool from now on (the largest
    size asked for counts)."""
    global _pool_size
    with _hub_lock:
        _pool_size = max(_pool_size, size)
        if _hub is not None:
            _hub.pool.size = max(_hub.pool.size, size)

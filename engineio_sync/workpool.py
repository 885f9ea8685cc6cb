"""A bounded pool of worker threads for application code.

:class:`WorkPool` runs jobs submitted under a key (a session id): the jobs
of one key run one at a time and in the order submitted; jobs of different
keys run side by side on up to ``size`` threads. A key with a job running
or waiting never holds a second thread, so a handler that blocks (a
database call, ``time.sleep``) holds up its own session and one thread,
nothing else.

The pool is bounded twice: ``size`` threads (started when work comes,
ended after ``idle_timeout`` without any) and ``max_queued`` jobs waiting
in all. ``submit`` beyond that returns False and the caller decides what a
refusal means (refuse the request, close the session, wait); nothing is
dropped silently. When every thread is busy and runnable work waits, the
pool is *saturated*: each spell is counted, logged once as a WARNING with
the numbers when it starts and once when a thread finds nothing left to
do, and the queue's high-water mark is kept (:meth:`WorkPool.stats`).
Spells that begin within ``log_every`` seconds of the last one logged are
counted but not logged (bursts of work would otherwise log two lines a
burst); the next warning says how many there were.

Threads are woken sparingly. Under the GIL every thread that runs Python
code at the same time costs the others a hand-off at each system call, and
measured on echo work a pool of 16 threads all awake did a third of the
work of one thread (bench/reactor_pingpong.py). So while some thread is at
work, a job that comes waits for it, watched by one awake thread (the
*seeker*), which takes the job itself only once every running job has
run for ``stall`` seconds (they are taken as blocked: a database call, a
sleep) or the job has waited ``max_wait`` seconds. A handler that blocks costs the
other keys at most ``stall`` of delay, and a pool doing quick jobs keeps
to one or two threads.

Every field the submitters and the workers share is guarded by one lock,
so correctness does not lean on the GIL.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, cast

__all__ = ['WorkPool', 'PoolStats', 'DEFAULT_SIZE', 'DEFAULT_MAX_QUEUED',
           'DEFAULT_STALL', 'DEFAULT_MAX_WAIT']

logger = logging.getLogger('engineio_sync.workpool')

#: Threads for application code. A typical Flask handler waits on a
#: database or an HTTP API rather than computing, so a pool somewhat larger
#: than gunicorn's advice for its gthread worker (2-4 threads per core)
#: keeps a few slow handlers from holding up the rest, while staying well
#: below the hundreds of threads whose GIL hand-offs ruin latency; 16 also
#: matches SQLAlchemy's default connection pool (5 + 10 overflow), so
#: threads rarely queue for a database connection.
DEFAULT_SIZE = 16

#: Jobs waiting in all: at about a kilobyte a message, 10 MB at most, and a
#: fraction of a second of work for a pool that keeps up.
DEFAULT_MAX_QUEUED = 10_000

#: When every running job has run this long they are taken as blocked,
#: and another thread takes the jobs waiting: the GIL's switch interval,
#: so a job that computes longer than a slice counts too.
DEFAULT_STALL = 0.005

#: A job waiting this long is given another thread even while the running
#: ones make progress: many short jobs that each wait on I/O (1 ms database
#: calls) need threads side by side, not one after the other.
DEFAULT_MAX_WAIT = 0.02

Job = tuple[Callable[..., object], tuple[Any, ...]]
# A key's entry in _jobs while run_here() runs its job and none waits.
_NONE_WAITING: tuple[()] = ()
#: what a worker logs once it has let go of the lock: (level, format, args)
Note = tuple[int, str, tuple[Any, ...]]


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a :class:`WorkPool`'s counters."""

    size: int
    #: threads alive, and of them running a job
    threads: int
    busy: int
    #: jobs waiting (not yet started), and the most there ever were
    queued: int
    queued_high_water: int
    #: keys with a job running or waiting
    keys: int
    #: a saturation spell is on, and how many have begun
    saturated: bool
    saturations: int
    #: jobs that waited because every thread was busy
    waited: int
    #: submits refused because ``max_queued`` jobs were waiting
    rejected: int
    #: jobs finished, and of them those that raised
    done: int
    failed: int


class _Running(threading.local):
    """Per thread: the key of the job it runs (None: none)."""

    key: Hashable | None = None


class WorkPool:
    """Worker threads for application code; see the module's docstring."""

    def __init__(self, size: int = DEFAULT_SIZE, *,
                 max_queued: int = DEFAULT_MAX_QUEUED,
                 idle_timeout: float | None = 30.0,
                 stall: float = DEFAULT_STALL,
                 max_wait: float = DEFAULT_MAX_WAIT,
                 log_every: float = 60.0,
                 name: str = 'engineio-work') -> None:
        if size < 1:
            raise ValueError('size must be at least 1')
        if max_queued < 0:
            raise ValueError('max_queued must not be negative')
        self.size = size
        self._max_queued = max_queued
        #: True while ``max_queued`` jobs or more wait: whoever reads new
        #: work (a socket) should pause until :meth:`submit` takes work
        #: again. An attribute, not a property: it is read per message.
        self.full = max_queued == 0
        self.idle_timeout = idle_timeout
        self.stall = stall
        self.max_wait = max_wait
        self.log_every = log_every
        self.name = name
        self._lock = threading.Lock()
        # The key each worker thread runs a job for (current_key()).
        self._current = _Running()
        # shutdown() waits on it for the last thread to end.
        self._gone = threading.Condition(self._lock)
        # A key is in _jobs while it has a job running or waiting; its
        # deque holds the waiting ones (or it is _NONE_WAITING: run_here()
        # runs its job and none waits, the commonest case, with no deque
        # made). _ready lists, in order, the keys that have a job waiting
        # and none running (those a free thread may take), each with the
        # time it became ready.
        self._jobs: dict[Hashable, deque[Job] | tuple[()]] = {}
        self._ready: deque[tuple[Hashable, float]] = deque()
        self._queued = 0
        self._threads = 0
        # Idle threads, the last to go idle on top: it is woken first, so
        # that the others time out and end when there is little work.
        self._idle: list[_Worker] = []
        # Threads running a job (each knows since when).
        self._running: set[_Worker] = set()
        # Threads awake without a job, looking for one: woken or started
        # for a ready key. One is enough; _watcher is the one that waits
        # for the running jobs to stall, if any.
        self._seekers = 0
        self._watcher: _Worker | None = None
        self._started = 0
        self._closing = False
        # Counters (see PoolStats).
        self._high_water = 0
        self._saturated = False
        self._saturated_since = 0.0
        self._saturations = 0
        # Whether this spell's start was logged, when the last logged one
        # began, and how many began unlogged since.
        self._spell_logged = False
        self._spell_logged_at = -math.inf
        self._spells_unlogged = 0
        self._waited = 0
        self._spell_waited = 0
        self._rejected = 0
        self._full_logged = False
        self._done = 0
        self._failed = 0

    # -- submitting ----------------------------------------------------------

    def submit(self, key: Hashable, fn: Callable[..., object],
               *args: Any) -> bool:
        """Run ``fn(*args)`` after the jobs already submitted for ``key``.

        False when it was not taken: ``max_queued`` jobs are waiting, or
        the pool is shut down. Never blocks.
        """
        return self._submit(key, fn, args, False)

    def submit_always(self, key: Hashable, fn: Callable[..., object],
                      *args: Any) -> bool:
        """As :meth:`submit`, but past ``max_queued`` too: for work that
        follows from work already taken (a session's next event), which
        must not be lost. Callers bound it where new work comes in (see
        :attr:`full`). False only when the pool is shut down."""
        return self._submit(key, fn, args, True)

    def run_here(self, key: Hashable, fn: Callable[..., object],
                 *args: Any) -> None:
        """Run ``fn(*args)`` in this thread now if ``key`` has no job
        running or waiting, as if a pool thread ran it (jobs submitted for
        the key meanwhile wait for it, then go to the pool's threads), or
        if this thread is running the key's job already; else submit it
        behind the key's jobs (:meth:`submit_always`). For a caller whose
        own work is short and whose thread can be replaced if a job blocks
        (the I/O loop, see engineio_sync.hub)."""
        running = self._current
        outer = running.key
        if outer == key and outer is not None:
            fn(*args)
            return
        jobs = self._jobs
        lock = self._lock
        # acquire()/release() rather than ``with``: half the cost, and
        # nothing between them can raise.
        lock.acquire()
        busy = self._closing or key in jobs
        if not busy:
            jobs[key] = _NONE_WAITING
        lock.release()
        if busy:
            if not self._submit(key, fn, args, True):
                fn(*args)
            return
        running.key = key
        try:
            fn(*args)
        except Exception:
            logger.exception('work pool %s: job %r for key %r raised',
                             self.name, fn, key)
        finally:
            running.key = outer
            lock.acquire()
            if jobs[key]:
                # Work came for the key meanwhile: the pool's threads
                # take it from here, in order.
                try:
                    self._ready.append((key, time.monotonic()))
                    thread, _ = self._find_thread()
                finally:
                    lock.release()
                if thread:
                    self._start_thread(thread)
            else:
                del jobs[key]
                lock.release()

    @property
    def max_queued(self) -> int:
        """How many jobs may wait before :meth:`submit` refuses more."""
        return self._max_queued

    def _submit(self, key: Hashable, fn: Callable[..., object],
                args: tuple[Any, ...], always: bool) -> bool:
        with self._lock:
            if self._closing:
                return False
            if self._queued >= self._max_queued and not always:
                self._rejected += 1
                if self._full_logged:
                    return False
                # Logged once until the queue has drained to half.
                self._full_logged = True
                queued = self._queued
                refused = True
            else:
                refused = False
                self._queued += 1
                self.full = self._queued >= self._max_queued
                self._high_water = max(self._high_water, self._queued)
                jobs = self._jobs.get(key)
                if jobs is not None:
                    # Running or waiting already: the job waits its turn
                    # behind the key's others, on no new thread.
                    if jobs:
                        jobs.append((fn, args))
                    else:
                        self._jobs[key] = deque(((fn, args),))
                    return True
                self._jobs[key] = deque(((fn, args),))
                self._ready.append((key, time.monotonic()))
                thread, spell = self._find_thread()
                if not spell and not thread:
                    return True
                stats = self._stats_locked()
        # Logged and started outside the lock: a log handler may be slow
        # (or submit work itself), and a thread takes a while to start.
        if refused:
            logger.warning(
                'work pool %s is full: %d jobs waiting (max_queued); '
                'refusing new work until half of them ran', self.name,
                queued)
            return False
        if spell:
            logger.warning(
                'work pool %s saturated: all %d threads busy; jobs '
                'waiting: %d (high-water %d); keys with work: %d; spells '
                'not logged before this one: %d', self.name, stats.size,
                stats.queued, stats.queued_high_water, stats.keys, spell - 1)
        if thread:
            self._start_thread(thread)
        return True

    def _find_thread(self) -> tuple[int, int]:
        """A key just became ready (lock held): see that a thread looks
        for it. Returns (the number of a thread to start or 0, 0 or, when
        a spell began that is to be logged, 1 + how many began unlogged
        before it)."""
        if self._seekers:
            watcher = self._watcher
            if watcher is not None and not self._running:
                # It waits for running jobs that have all ended since.
                self._watcher = None
                watcher.release()
            return 0, 0
        thread = self._recruit()
        if thread >= 0:
            return thread, 0
        # Every thread is busy.
        self._waited += 1
        self._spell_waited += 1
        if self._saturated:
            return 0, 0
        self._saturated = True
        self._saturations += 1
        now = self._saturated_since = time.monotonic()
        if now - self._spell_logged_at < self.log_every:
            self._spell_logged = False
            self._spells_unlogged += 1
            return 0, 0
        self._spell_logged = True
        self._spell_logged_at = now
        unlogged, self._spells_unlogged = self._spells_unlogged, 0
        return 0, 1 + unlogged

    def _recruit(self) -> int:
        """Make a seeker (lock held, none awake): wake the idle thread on
        top, or reserve a new one. Returns the number of the thread to
        start, 0 when one was woken, -1 when every thread is busy."""
        if self._idle:
            self._seekers += 1
            self._idle.pop().release()
            return 0
        if self._threads < self.size:
            self._threads += 1
            self._seekers += 1
            self._started += 1
            return self._started
        return -1

    def _start_thread(self, number: int) -> None:
        thread = threading.Thread(target=self._work, daemon=True,
                                  name=f'{self.name}-{number}')
        try:
            thread.start()
        except RuntimeError:
            # Out of threads: the work stays queued for the threads there
            # are, or the next one started.
            with self._lock:
                self._threads -= 1
                self._seekers -= 1
                self._gone.notify_all()
            logger.exception('work pool %s could not start a thread',
                             self.name)

    # -- the workers -----------------------------------------------------------

    def current_key(self) -> Hashable | None:
        """The key of the job this thread runs for the pool, or None
        outside the pool's threads."""
        return self._current.key

    def _work(self) -> None:
        me = _Worker()
        running = self._current
        # Started for a ready key: a seeker.
        seeking = True
        key: Hashable = None
        finished = failed = False
        notes: list[Note] = []
        while True:
            with self._lock:
                taken = self._next_job(me, seeking, key, finished, failed,
                                       notes)
            _log(notes)
            if taken is None:
                return
            key, (fn, args), recruit = taken
            if recruit > 0:
                self._start_thread(recruit)
            seeking = False
            finished, failed = True, False
            running.key = key
            try:
                fn(*args)
            except Exception:
                failed = True
                logger.exception('work pool %s: job %r for key %r raised',
                                 self.name, fn, key)
            running.key = None

    def _next_job(self, me: _Worker, seeking: bool, key: Hashable,
                  finished: bool, failed: bool, notes: list[Note]
                  ) -> tuple[Hashable, Job, int] | None:
        """With the lock held: close the job just finished for ``key``
        and take the next (key, job, thread to start), waiting while there
        is none (or, for a seeker, while the running jobs make progress);
        what to log goes to ``notes``. None: the thread ends (idle too
        long, or shut down with nothing left)."""
        if finished:
            self._running.discard(me)
            self._done += 1
            self._failed += failed
            if self._jobs[key]:
                # Behind the keys already waiting, so that a key with a
                # flood of jobs takes turns with the others.
                self._ready.append((key, time.monotonic()))
            else:
                del self._jobs[key]
        while True:
            if self._ready:
                if seeking:
                    due = self._due()
                    if due > 0:
                        self._watch(me, due)
                        continue
                    self._seekers -= 1
                return self._take(me, notes)
            if seeking:
                seeking = False
                self._seekers -= 1
            if self._saturated:
                # A thread with nothing to do: the spell is over.
                self._saturated = False
                if self._spell_logged:
                    self._spell_logged = False
                    notes.append((
                        logging.WARNING, ('work pool %s recovered after '
                                          '%.1f s of saturation: %d jobs '
                                          'waited for a thread'),
                        (self.name, time.monotonic() - self._saturated_since,
                         self._spell_waited)))
                self._spell_waited = 0
            if self._closing:
                self._threads -= 1
                self._gone.notify_all()
                return None
            if notes:
                # Before parking, not after: it may be parked long. The
                # loop then looks at the state afresh.
                self._lock.release()
                try:
                    _log(notes)
                finally:
                    self._lock.acquire()
                continue
            if not self._park(me):
                return None
            # Woken for a ready key.
            seeking = True

    def _due(self) -> float:
        """For a seeker, with a key ready: how long until it should take
        it (0: now)."""
        if not self._running or self._closing:
            return 0.0
        # Stalled: no running thread started its job within ``stall`` (one
        # that blocks while another keeps going is covered already).
        latest = max(worker.started for worker in self._running)
        due = min(latest + self.stall, self._ready[0][1] + self.max_wait)
        return max(due - time.monotonic(), 0.0)

    def _watch(self, me: _Worker, timeout: float) -> None:
        """Wait (letting go of the lock) for ``timeout`` or until a
        submitter finds no job running any more."""
        self._watcher = me
        self._lock.release()
        try:
            woken = me.wait(timeout)
        finally:
            self._lock.acquire()
        if self._watcher is me:
            self._watcher = None
        elif not woken:
            # Released (under the lock) just as the wait timed out.
            me.consume()

    def _park(self, me: _Worker) -> bool:
        """Go idle (letting go of the lock) until woken for a ready key:
        True; False when the thread is to end, idle too long."""
        self._idle.append(me)
        self._lock.release()
        try:
            woken = me.wait(self.idle_timeout)
        finally:
            self._lock.acquire()
        if woken:
            return True
        if me in self._idle:
            self._idle.remove(me)
            self._threads -= 1
            self._gone.notify_all()
            return False
        # Taken off the stack (and released, under the lock) just as the
        # wait timed out: the wake-up is spent, and it is a seeker.
        me.consume()
        return True

    def _take(self, me: _Worker, notes: list[Note]
              ) -> tuple[Hashable, Job, int]:
        """Start the first ready key's next job on this thread (lock
        held)."""
        key, _ = self._ready.popleft()
        me.started = time.monotonic()
        self._running.add(me)
        self._queued -= 1
        self.full = self._queued >= self._max_queued
        if self._full_logged and self._queued <= self._max_queued // 2:
            self._full_logged = False
            notes.append((logging.WARNING,
                          ('work pool %s takes new work again: %d jobs '
                           'waiting'), (self.name, self._queued)))
        # Others waiting: one awake thread watches them while this one
        # works, in case it blocks.
        recruit = 0
        if self._ready and not self._seekers:
            recruit = max(self._recruit(), 0)
        # A ready key has jobs waiting: its entry is a deque.
        waiting = cast('deque[Job]', self._jobs[key])
        return key, waiting.popleft(), recruit

    # -- shutting down and counting -----------------------------------------------

    def shutdown(self, timeout: float | None = 5.0) -> int:
        """Refuse new jobs, run those waiting, and wait for the threads.

        Returns how many jobs were left unfinished after ``timeout``
        seconds: still running (they finish in their threads) or still
        waiting (dropped, and logged). Not from one of the pool's jobs.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._closing = True
            while self._idle:
                self._idle.pop().release()
            if self._watcher is not None:
                self._watcher.release()
                self._watcher = None
            while self._threads:
                remaining = None if deadline is None else \
                    deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._gone.wait(remaining)
            left = self._queued + len(self._running)
            dropped = self._queued
            if dropped:
                # Keys that are only waiting go; those running keep an
                # empty queue, which their worker closes when it is done.
                for ready, _ in self._ready:
                    del self._jobs[ready]
                for jobs in self._jobs.values():
                    if jobs:
                        jobs.clear()
                self._ready.clear()
                self._queued = 0
                self.full = self._max_queued == 0
        if dropped:
            logger.warning('work pool %s shut down with %d jobs not run',
                           self.name, dropped)
        return left

    def stats(self) -> PoolStats:
        """The pool's counters, read together."""
        with self._lock:
            return self._stats_locked()

    def _stats_locked(self) -> PoolStats:
        return PoolStats(
            size=self.size, threads=self._threads, busy=len(self._running),
            queued=self._queued, queued_high_water=self._high_water,
            keys=len(self._jobs), saturated=self._saturated,
            saturations=self._saturations, waited=self._waited,
            rejected=self._rejected, done=self._done, failed=self._failed)


class _Worker:
    """One worker thread's own: where it waits when idle or watching (a
    lock it holds, which another thread releases to wake it: cheaper than
    a condition's wait, which makes a lock per call), and since when it
    runs its job."""

    __slots__ = ('_lock', 'started')

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.started = 0.0

    def wait(self, timeout: float | None) -> bool:
        """Wait to be woken (without the pool's lock); False on timeout."""
        return self._lock.acquire(timeout=-1 if timeout is None else timeout)

    def release(self) -> None:
        """Wake the worker (the pool's lock held)."""
        self._lock.release()

    def consume(self) -> None:
        """Take a wake-up that came as the wait timed out: it was
        released under the pool's lock, which the caller holds now."""
        self._lock.acquire()


def _log(notes: list[Note]) -> None:
    for level, message, args in notes:
        logger.log(level, message, *args)
    notes.clear()

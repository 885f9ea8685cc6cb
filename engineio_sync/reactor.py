"""One I/O loop per process: readiness callbacks, timers and a wake-up.

:class:`Reactor` is run by one thread (``run()``). It watches file objects
with a :class:`~engineio_sync.poller.Poller` (epoll on Linux) and calls, in
that thread:

- the reader / writer callbacks of file objects that are ready
  (``add_reader``, ``add_writer``);
- timers that are due (``call_at``, ``call_later``), kept in one heap, so
  that the heartbeats of tens of thousands of sessions cost a small handle
  each and no thread;
- callables handed over by other threads (``call_soon_threadsafe``).

Callbacks must not block: everything else waits while one runs. One that
raises is logged on ``engineio_sync.reactor`` and the loop goes on. Each
turn takes at most ``batch`` due timers, ``batch`` ready file objects and
``batch`` queued calls, so that a flood of one kind cannot starve the
others.

The loop's state that other threads touch (the call queue, the timer heap,
whether the loop sleeps) is guarded by one lock: correctness does not lean
on the GIL, so the loop is also safe on a free-threaded interpreter.
Registering file objects is the loop's own business: from another thread,
hand it over with ``call_soon_threadsafe(reactor.add_reader, ...)``.

An idle loop costs nothing: it blocks in the selector until a file object
is ready, the next timer is due, or another thread wakes it; the wake-up
is written only when the loop is (about to be) blocked, so a burst of
``call_soon_threadsafe`` calls costs one write.
"""

from __future__ import annotations

import heapq
import logging
import os
import socket
import threading
import time
from collections import deque
from typing import Any, Callable

from .poller import IN, OUT, READABLE, WRITABLE, Poller

__all__ = ['Reactor', 'TimerHandle']

logger = logging.getLogger('engineio_sync.reactor')

Callback = Callable[[], object]

# The selector's timeout is capped: epoll refuses waits of more than
# INT_MAX milliseconds, and a wake-up an hour costs nothing.
_MAX_WAIT = 3600.0

# Cancelled timers stay in the heap until they reach its top or until they
# are this many and more than half of it; then the heap is rebuilt, so the
# garbage is bounded and each cancel costs O(1) amortised.
_MIN_GARBAGE = 512
# The owner while a hand-over is under way (no thread's ident).
_HANDING_OVER = -1


class TimerHandle:
    """A timer of a :class:`Reactor`; ``cancel()`` it to stop it running.

    The attributes are the reactor's; read ``when`` and ``cancelled``, set
    none of them.
    """

    # Slots keep a timer to one small object: a server holds one per
    # session's heartbeat.
    __slots__ = ('when', 'seq', 'callback', 'args', 'cancelled', 'in_heap',
                 '_queue')

    def __init__(self, when: float, callback: Callable[..., object],
                 args: tuple[Any, ...], queue: _TimerQueue) -> None:
        #: the clock time at which it runs
        self.when = when
        #: ties between equal ``when`` are broken in the order of creation
        self.seq = 0
        #: None once the timer has run or was cancelled
        self.callback: Callable[..., object] | None = callback
        self.args = args
        #: True once ``cancel()`` took it before it ran
        self.cancelled = False
        #: still in the reactor's heap (perhaps cancelled)
        self.in_heap = False
        self._queue = queue

    def cancel(self) -> None:
        """Do not run the callback (from any thread).

        A no-op once it has run. From the loop's thread (another callback)
        it always wins; from another thread, the callback may already be
        running when this returns.
        """
        self._queue.cancel(self)

    def __repr__(self) -> str:
        state = 'cancelled' if self.cancelled else \
            'done' if self.callback is None else 'pending'
        return f'<TimerHandle when={self.when:.3f} {state}>'


class _TimerQueue:
    """The reactor's heap of timers.

    Every method but ``cancel`` is called with the reactor's lock held;
    ``cancel`` (called by handles, from any thread) takes it.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        # (when, seq, handle): the heap compares the tuples in C, where a
        # handle's own comparison would be a Python call at every step.
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._garbage = 0
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap) - self._garbage

    def push(self, handle: TimerHandle) -> bool:
        """Add ``handle``; True when it is now the first due."""
        self._seq += 1
        seq = handle.seq = self._seq
        handle.in_heap = True
        heap = self._heap
        heapq.heappush(heap, (handle.when, seq, handle))
        return heap[0][2] is handle

    def cancel(self, handle: TimerHandle) -> None:
        """Mark ``handle`` cancelled; it leaves the heap lazily."""
        with self._lock:
            if handle.callback is None:
                return
            handle.callback = None
            handle.args = ()
            handle.cancelled = True
            if not handle.in_heap:
                # Taken by the loop for this turn: it checks again.
                return
            self._garbage += 1
            heap = self._heap
            if self._garbage > _MIN_GARBAGE and \
                    self._garbage * 2 > len(heap):
                live = []
                for entry in heap:
                    if entry[2].callback is None:
                        entry[2].in_heap = False
                    else:
                        live.append(entry)
                heap[:] = live
                heapq.heapify(heap)
                self._garbage = 0

    def next_when(self) -> float | None:
        """The clock time of the first live timer, or None."""
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)[2].in_heap = False
            self._garbage -= 1
        return heap[0][0] if heap else None

    def pop_due(self, now: float, limit: int,
                out: list[TimerHandle]) -> None:
        """Move up to ``limit`` timers due at ``now`` to ``out``, in order.

        They stay live (a callback of the same turn may still cancel them)
        until ``take`` hands their callback over.
        """
        heap = self._heap
        while heap and len(out) < limit:
            top = heap[0][2]
            if top.callback is not None and top.when > now:
                break
            heapq.heappop(heap)
            top.in_heap = False
            if top.callback is None:
                self._garbage -= 1
            else:
                out.append(top)

    def take(self, handle: TimerHandle
             ) -> tuple[Callable[..., object] | None, tuple[Any, ...]]:
        """The callback and arguments of a due timer, unless it was
        cancelled since ``pop_due``; it is done from now on."""
        with self._lock:
            callback, args = handle.callback, handle.args
            handle.callback = None
            handle.args = ()
        return callback, args

    def clear(self) -> None:
        for _, _, handle in self._heap:
            handle.callback = None
            handle.args = ()
            handle.in_heap = False
        self._heap.clear()
        self._garbage = 0


class _Wakeup:
    """A file descriptor the loop watches that any thread can make readable:
    an eventfd on Linux (one fd, one 8-byte counter), else a socket pair."""

    def __init__(self) -> None:
        self._pair: tuple[socket.socket, socket.socket] | None = None
        if hasattr(os, 'eventfd'):
            self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - not Linux
            pair = socket.socketpair()
            for sock in pair:
                sock.setblocking(False)
            self._pair = pair
            self._fd = pair[0].fileno()

    def fileno(self) -> int:
        return self._fd

    def wake(self) -> None:
        """Make the fd readable. The reactor calls it under its lock, which
        ``close`` also needs, so it never writes to a closed (and perhaps
        reused) descriptor."""
        try:
            if self._pair is None:
                os.eventfd_write(self._fd, 1)
            else:  # pragma: no cover - not Linux
                self._pair[1].send(b'\0')
        except OSError:
            # Full (the counter or the pair's buffer): already readable.
            pass

    def drain(self) -> None:
        """Read what woke the loop (its reader callback)."""
        try:
            if self._pair is None:
                os.eventfd_read(self._fd)
            else:  # pragma: no cover - not Linux
                while self._pair[0].recv(4096):
                    pass
        except OSError:
            # Nothing left to read: a wake-up already drained.
            pass

    def close(self) -> None:
        if self._pair is None:
            os.close(self._fd)
        else:  # pragma: no cover - not Linux
            for sock in self._pair:
                sock.close()


class _Registration:
    """What one registered file descriptor asks for."""

    __slots__ = ('reader', 'writer', 'events')

    def __init__(self, reader: Callback | None,
                 writer: Callback | None, events: int) -> None:
        self.reader = reader
        self.writer = writer
        #: what the poller watches it for (IN, OUT)
        self.events = events


class Reactor:
    """An I/O loop run by one thread; see the module's docstring.

    ``clock`` is the monotonic clock timers are expressed in (injectable
    for tests); ``batch`` bounds each kind of work per turn.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 batch: int = 256) -> None:
        if batch < 1:
            raise ValueError('batch must be at least 1')
        self._clock = clock
        self._batch = batch
        # Guards what other threads touch: the call queue, the timer heap,
        # the sleeping / woken / stopping flags and the owning thread.
        self._lock = threading.Lock()
        self._timers = _TimerQueue(self._lock)
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = \
            deque()
        self._sleeping = False
        self._woken = False
        self._stopping = False
        self._closed = False
        #: the ident of the thread that runs the loop (None while it does
        #: not run); read it, never set it
        self.owner: int | None = None
        # What to call when a thread the loop was handed away from leaves.
        self._leaving: dict[int, Callable[[], object]] = {}
        self._not_running = threading.Event()
        self._not_running.set()
        self._poller = Poller()
        # fd -> what it is watched for (the wake-up's too).
        self._regs: dict[int, _Registration] = {}
        self._wakeup = _Wakeup()
        wakeup = self._wakeup.fileno()
        self._poller.register(wakeup, IN)
        self._regs[wakeup] = _Registration(self._wakeup.drain, None, IN)
        # Ready descriptors of the last poll, taken ``batch`` at a time.
        self._ready: list[tuple[int, int]] = []
        self._ready_next = 0

    # -- the clock and the thread ------------------------------------------

    def now(self) -> float:
        """The reactor's clock (what ``call_at`` takes)."""
        return self._clock()

    def in_loop_thread(self) -> bool:
        """True in the thread that runs the loop, while it runs."""
        return self.owner == threading.get_ident()

    def _check_owner(self) -> None:
        owner = self.owner
        if owner is not None and owner != threading.get_ident():
            raise RuntimeError(
                'the reactor is running in another thread: hand this over '
                'with call_soon_threadsafe')

    # -- file objects (the loop's thread, or before run()) -----------------

    def add_reader(self, fileobj: Any, callback: Callback) -> None:
        """Call ``callback()`` whenever ``fileobj`` is readable.

        ``fileobj`` is anything with ``fileno()`` (or an fd), best
        non-blocking: readiness can be spurious. A second call replaces the
        callback. Remove it before closing the file object.
        """
        self._add(fileobj, IN, callback)

    def add_writer(self, fileobj: Any, callback: Callback) -> None:
        """Call ``callback()`` whenever ``fileobj`` is writable (a slow
        peer's backlog); remove it once the backlog is written, or it runs
        on every turn."""
        self._add(fileobj, OUT, callback)

    def remove_reader(self, fileobj: Any) -> bool:
        """Stop watching ``fileobj`` for reading; False if it was not."""
        return self._remove(fileobj, IN)

    def remove_writer(self, fileobj: Any) -> bool:
        """Stop watching ``fileobj`` for writing; False if it was not."""
        return self._remove(fileobj, OUT)

    def _add(self, fileobj: Any, event: int, callback: Callback) -> None:
        self._check_owner()
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        reg = self._regs.get(fd)
        if reg is None:
            reg = _Registration(None, None, event)
            self._set(reg, event, callback)
            self._poller.register(fd, event)
            self._regs[fd] = reg
            return
        self._set(reg, event, callback)
        if not reg.events & event:
            reg.events |= event
            self._poller.modify(fd, reg.events)

    def _remove(self, fileobj: Any, event: int) -> bool:
        self._check_owner()
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        reg = self._regs.get(fd)
        if reg is None or not reg.events & event:
            return False
        # Cleared on the registration itself, so that an event of this
        # turn's batch still waiting to be dispatched is skipped.
        self._set(reg, event, None)
        reg.events &= ~event
        if reg.events:
            self._poller.modify(fd, reg.events)
        else:
            del self._regs[fd]
            self._poller.unregister(fd)
        return True

    @staticmethod
    def _set(reg: _Registration, event: int,
             callback: Callback | None) -> None:
        if event == IN:
            reg.reader = callback
        else:
            reg.writer = callback

    def watched(self) -> int:
        """How many file objects are registered (not the wake-up)."""
        self._check_owner()
        return len(self._regs) - 1

    # -- timers and calls (any thread) -------------------------------------

    def call_at(self, when: float, callback: Callable[..., object],
                *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` in the loop once the clock reaches
        ``when``; timers due at the same time run in the order made."""
        handle = TimerHandle(when, callback, args, self._timers)
        with self._lock:
            if self._closed:
                raise RuntimeError('the reactor is closed')
            # An earlier deadline than the one the loop sleeps towards
            # must wake it; a later one waits for its turn.
            if self._timers.push(handle):
                self._wake_locked()
        return handle

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> TimerHandle:
        """``call_at(now() + delay, ...)``."""
        return self.call_at(self._clock() + delay, callback, *args)

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """As :meth:`call_soon_threadsafe`; from the loop's own thread it
        takes no lock (nothing to wake, and a deque's appends are
        thread-safe)."""
        if self.owner == threading.get_ident():
            self._calls.append((callback, args))
        else:
            self.call_soon_threadsafe(callback, *args)

    def call_soon_threadsafe(self, callback: Callable[..., object],
                             *args: Any) -> None:
        """Run ``callback(*args)`` in the loop soon, from any thread.

        Calls run in the order they were made (per calling thread, and
        overall in the order they took the lock). Queued before ``run()``,
        they run when it starts.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError('the reactor is closed')
            self._calls.append((callback, args))
            self._wake_locked()

    def timers(self) -> int:
        """How many timers wait (cancelled ones not counted)."""
        with self._lock:
            return len(self._timers)

    def _wake_locked(self) -> None:
        # Only a loop blocked (or about to block) in select needs the
        # write, and one write serves until it wakes: a burst of calls
        # costs one system call.
        if self._sleeping and not self._woken:
            self._woken = True
            self._wakeup.wake()

    # -- running -------------------------------------------------------------

    def run(self) -> None:
        """Run the loop in this thread until ``stop()``.

        A ``stop()`` that came before ``run()`` makes it return at once.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError('the reactor is closed')
            if self.owner is not None:
                raise RuntimeError('the reactor is already running')
            self.owner = threading.get_ident()
            self._not_running.clear()
        self._serve()

    def _serve(self) -> None:
        me = threading.get_ident()
        try:
            while self._turn(me):
                pass
        finally:
            with self._lock:
                # A thread that handed the loop over leaves it as it is.
                handed_over = self.owner != me
                if not handed_over:
                    self.owner = None
                    self._stopping = False
                    self._sleeping = False
                left = self._leaving.pop(me, None)
            if not handed_over:
                self._not_running.set()
            if left is not None:
                _call('hand-over callback', left, ())

    def hand_over(self, start: Callable[[Callable[[], None]], object],
                  left: Callable[[], object] | None = None) -> bool:
        """From another thread: a callback holds the loop's thread (it
        blocked), so a new thread runs the loop from now on;
        ``start(fn)`` starts that thread running ``fn``. The old thread
        finishes its callback and leaves the loop (what was left of its
        turn goes to the new one), and then calls ``left()``. False if the
        loop is not running.

        Callbacks that may still run in the old thread must hand their
        registrations over with ``call_soon_threadsafe`` (see
        :meth:`in_loop_thread`)."""
        with self._lock:
            old = self.owner
            if old is None or old == _HANDING_OVER or self._stopping or \
                    self._closed:
                return False
            if left is not None:
                self._leaving[old] = left
            self.owner = _HANDING_OVER
        start(self._take_over)
        return True

    def _take_over(self) -> None:
        with self._lock:
            if self.owner != _HANDING_OVER:
                return
            self.owner = threading.get_ident()
        self._serve()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Make ``run()`` return after its current turn, from any thread.

        From another thread, wait up to ``timeout`` seconds for it to
        return; True when it has (or was not running). From the loop's own
        thread, return True at once: the loop ends when the callback does.
        """
        with self._lock:
            self._stopping = True
            owner = self.owner
            self._wake_locked()
        if owner is None or owner == threading.get_ident():
            return True
        return self._not_running.wait(timeout)

    def close(self) -> None:
        """Release the selector and the wake-up; drop queued calls and
        timers. The loop must not be running."""
        with self._lock:
            if self.owner is not None:
                raise RuntimeError('stop the reactor before closing it')
            if self._closed:
                return
            self._closed = True
            self._calls.clear()
            self._timers.clear()
            self._wakeup.close()
        self._poller.close()

    def _turn(self, me: int) -> bool:
        """One turn: wait, then due timers, ready file objects, queued
        calls. False once stopped, or once the loop was handed over to
        another thread (``me`` is this one): then what is left of the turn
        is left for that thread."""
        batch = self._batch
        pending = self._ready_next < len(self._ready)
        with self._lock:
            if self._stopping:
                return False
            timeout: float | None = 0.0
            if not pending and not self._calls:
                when = self._timers.next_when()
                if when is None:
                    timeout = None
                else:
                    timeout = min(max(when - self._clock(), 0.0), _MAX_WAIT)
                self._sleeping = timeout != 0.0
        if not pending:
            # File objects still waiting from the last select are served
            # first: their readiness is level-triggered, so asking again
            # would only report them twice.
            self._ready = self._poller.poll(timeout)
            self._ready_next = 0
            if timeout != 0.0:
                with self._lock:
                    self._sleeping = False
                    self._woken = False

        # Timers and calls are taken one at a time, so that a callback
        # that blocks (and makes the loop change threads) holds none of
        # the others: the new thread finds them where they were.
        now = self._clock()
        due: list[TimerHandle] = []
        for _ in range(batch):
            with self._lock:
                self._timers.pop_due(now, 1, due)
            if not due:
                break
            callback, args = self._timers.take(due.pop())
            _call('timer callback', callback, args)
            if self.owner != me:
                return False

        ready = self._ready
        start = self._ready_next
        end = min(len(ready), start + batch)
        regs = self._regs
        for i in range(start, end):
            self._ready_next = i + 1
            fd, mask = ready[i]
            # Looked up at dispatch: an earlier callback of this batch may
            # have removed it (or even registered another file object on
            # the same descriptor: readiness may be spurious).
            reg = regs.get(fd)
            if reg is None:
                continue
            if mask & READABLE:
                # Called here, not through _call(): this is the loop's
                # hottest line (writers are rare: slow peers' backlogs).
                callback = reg.reader
                if callback is not None:
                    try:
                        callback()
                    except Exception:
                        logger.exception('reader callback %r raised',
                                         callback)
            if mask & WRITABLE:
                _call('writer callback', reg.writer, ())
            if self.owner != me:
                return False
        if end == len(ready):
            self._ready = []
            self._ready_next = 0

        # The calls queued when the turn began, at most ``batch`` (those
        # queued meanwhile wait for the next turn).
        with self._lock:
            count = min(len(self._calls), batch)
        for _ in range(count):
            with self._lock:
                if not self._calls:
                    break
                callback, args = self._calls.popleft()
            _call('call', callback, args)
            if self.owner != me:
                return False
        return True


def _call(what: str, callback: Callable[..., object] | None,
          args: tuple[Any, ...]) -> None:
    """Run a callback in the loop; one that raises is logged, and the
    loop goes on."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        logger.exception('%s %r raised', what, callback)

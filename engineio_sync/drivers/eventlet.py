"""eventlet green threads, with or without monkey-patching."""

from __future__ import annotations

import socket as _socket
from typing import TYPE_CHECKING, Any, Callable

import eventlet
import eventlet.patcher
import eventlet.queue
import eventlet.semaphore
from eventlet.hubs import get_hub, trampoline
from greenlet import getcurrent

from .base import (NULL_LOCK, Event, Lock, NonblockingSend, Queue, Recv,
                   Release, SendAll, Task, TimerHandle, peer_closed_by_poll,
                   release_nothing)
from .greenloop import GreenSocketLoop

if TYPE_CHECKING:
    import select

    from eventlet.greenthread import GreenThread
    from eventlet.hubs.hub import FdListener
    from eventlet.semaphore import Semaphore
    from greenlet import greenlet

# select.poll as it was before monkey-patching (which removes it).
_poll: Callable[[], select.poll] = eventlet.patcher.original('select').poll


class _Task:
    __slots__ = ('_gt',)

    def __init__(self, gt: GreenThread) -> None:
        self._gt = gt

    def join(self, timeout: float | None = None) -> None:
        if timeout is None:
            self._gt.wait()
            return
        with eventlet.Timeout(timeout, False):
            self._gt.wait()


class _Event:
    """``threading.Event`` for green threads, without what eventlet's green
    copy of the stdlib one builds: a Condition, a lock and a deque for each
    event, and a new lock for each wait. Every long-poll waits on one.

    A waiter is woken by a hub callback that first checks that it still
    waits, so a wake-up that lost the race to a timeout (or to a kill) is
    dropped instead of switching into a green thread busy elsewhere.
    """

    __slots__ = ('_flag', '_waiting')

    def __init__(self) -> None:
        self._flag = False
        self._waiting: set[greenlet] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        waiting = self._waiting
        if waiting:
            self._waiting = None
            schedule = get_hub().schedule_call_global
            for waiter in waiting:
                schedule(0, _wake, waiter, waiting, True)

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        current = getcurrent()
        hub = get_hub()
        waiting = self._waiting
        if waiting is None:
            waiting = self._waiting = set()
        waiting.add(current)
        timer = (None if timeout is None else hub.schedule_call_global(
            timeout, _wake, current, waiting, False))
        try:
            woken: bool = hub.switch()  # _wake's result
            return woken
        finally:
            waiting.discard(current)
            if timer is not None:
                timer.cancel()


def _wake(waiter: greenlet, waiting: set[greenlet], result: bool) -> None:
    """Resume ``waiter`` with ``result`` if it still waits (in the hub)."""
    if waiter in waiting:
        waiting.discard(waiter)
        waiter.switch(result)


class _Lock:
    """A lock for green threads that builds eventlet's Semaphore (whose
    deque alone is about 0.6 KiB) only once somebody has to wait: every
    session holds one, and most are never contended.

    Uncontended it is a flag. A holder that releases while others wait
    keeps the flag set and puts a token in the semaphore instead: whoever
    takes the token owns the lock (a waiter that timed out or was killed
    leaves it for the next one).
    """

    __slots__ = ('_held', '_sem')

    def __init__(self) -> None:
        self._held = False
        self._sem: Semaphore | None = None

    def acquire(self, blocking: bool = True,
                timeout: float | None = None) -> bool:
        if not self._held:
            self._held = True
            return True
        if not blocking:
            return False
        sem = self._sem
        if sem is None:
            sem = self._sem = eventlet.semaphore.Semaphore(0)
        if timeout is not None and timeout < 0:
            timeout = None
        acquired: bool = sem.acquire(True, timeout)
        return acquired

    def release(self) -> None:
        sem = self._sem
        if sem is not None and sem.balance < 0:
            sem.release()
        else:
            self._held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class _RawSocketIO:
    """recv/sendall on a green socket's raw fd, waiting on the hub only when
    the socket would block. A slotted object, not closures: thousands of
    idle WebSockets each hold one."""

    __slots__ = ('_green', '_raw', '_fileno')

    def __init__(self, green: _socket.socket, raw: _socket.socket) -> None:
        self._green = green
        self._raw = raw
        self._fileno = raw.fileno()

    def recv(self, size: int) -> bytes:
        raw = self._raw
        while True:
            try:
                return raw.recv(size)
            except BlockingIOError:
                pass
            # Waiting outside the except clause: inside it, the exception
            # and its traceback would live as long as the wait (an idle
            # WebSocket waits for ever).
            _wait_readable(self._fileno, self._green.gettimeout())

    def sendall(self, data: bytes) -> None:
        try:
            sent = self._raw.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._green.sendall(data[sent:])


def _wait_readable(fileno: int, timeout: float | None) -> None:
    """Wait on the hub until ``fileno`` is readable; the green socket's
    timeout, if it has one, applies."""
    if timeout is None:
        trampoline(fileno, read=True)
    else:
        trampoline(fileno, read=True, timeout=timeout,
                   timeout_exc=_socket.timeout('timed out'))


class _StreamReader(_RawSocketIO):
    """``recv`` for a socket that one green thread reads for a long time
    (a WebSocket), and ``release()`` once it is done with it.

    ``trampoline()`` registers the socket with the hub before each wait
    and unregisters it after: a listener object and two ``epoll_ctl``
    calls for every message. This reader stays registered between reads.
    If the socket becomes readable while its task is busy elsewhere, the
    reader steps aside (level-triggered epoll would call it again on
    every turn of the hub) and registers again at the next wait.
    """

    __slots__ = ('_listener', '_waiter')

    def __init__(self, green: _socket.socket, raw: _socket.socket) -> None:
        super().__init__(green, raw)
        self._listener: FdListener | None = None
        self._waiter: greenlet | None = None

    def recv(self, size: int) -> bytes:
        raw = self._raw
        while True:
            try:
                return raw.recv(size)
            except BlockingIOError:
                pass
            timeout = self._green.gettimeout()
            if timeout is not None:
                # A read with a deadline: the hub's own way.
                self.release()
                _wait_readable(self._fileno, timeout)
                continue
            hub = get_hub()
            if self._listener is None:
                self._listener = hub.add(hub.READ, self._fileno, self._ready,
                                         self._throw, None)
            self._waiter = getcurrent()
            try:
                hub.switch()
            finally:
                self._waiter = None

    def _ready(self, fileno: int) -> None:
        # Called by the hub: the socket is readable.
        waiter = self._waiter
        if waiter is not None:
            waiter.switch()
        else:
            self.release()

    def _throw(self, exc: BaseException) -> None:
        # Called by the hub when the descriptor was closed under us.
        self._listener = None
        waiter = self._waiter
        if waiter is not None:
            waiter.throw(exc)

    def release(self) -> None:
        """Unregister from the hub (call before the socket is closed)."""
        listener = self._listener
        if listener is not None:
            self._listener = None
            get_hub().remove(listener)


def _closed_elsewhere(exc: BaseException) -> None:
    # The hub reports a descriptor closed by someone else; the loop's
    # sockets are closed only by their owner, after it stopped watching.
    pass


class _EventletLoop(GreenSocketLoop):
    """The socket loop on eventlet's hub."""

    def _hub_greenlet(self) -> greenlet:
        hub_greenlet: greenlet = get_hub().greenlet
        return hub_greenlet

    def _watch(self, fileno: int, write: bool,
               callback: Callable[[], None]) -> FdListener:
        hub = get_hub()
        run_now = self.run_now
        listener: FdListener = hub.add(
            hub.WRITE if write else hub.READ, fileno,
            lambda _fileno: run_now(callback), _closed_elsewhere, None)
        return listener

    def _unwatch(self, handle: FdListener) -> None:
        get_hub().remove(handle)

    def _timer(self, delay: float, callback: Callable[..., object],
               args: tuple[Any, ...]) -> TimerHandle:
        timer: TimerHandle = get_hub().schedule_call_global(
            delay, self.run_now, callback, *args)
        return timer


class EventletDriver:
    """Green threads from eventlet. Works with an unpatched process too,
    since it uses eventlet's own primitives rather than the stdlib's."""

    name = 'eventlet'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Task:
        return _Task(eventlet.spawn(fn, *args, **kwargs))

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        # A bare greenlet: no GreenThread, no exit event (about 0.5 KiB
        # less for every connection).
        eventlet.spawn_n(fn, *args)

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def event(self) -> Event:
        return _Event()

    def lock(self) -> Lock:
        return _Lock()

    def state_lock(self) -> Lock:
        # Green threads switch only on I/O or sleep, and state locks are
        # never held across either, so mutual exclusion is already given.
        return NULL_LOCK

    def socket_io(self, sock: _socket.socket) -> tuple[Recv, SendAll]:
        """(recv, sendall) that skip GreenSocket's layers on the fast path.

        The raw non-blocking socket is tried first; only when it would
        block does the task wait on the hub.
        """
        raw = getattr(sock, 'fd', None)
        if raw is None or raw.gettimeout() != 0.0:
            return sock.recv, sock.sendall
        io = _RawSocketIO(sock, raw)
        return io.recv, io.sendall

    def stream_reader(self, sock: _socket.socket) -> tuple[Recv, Release]:
        """(recv, release) for a socket one task reads for a long time:
        it stays registered with the hub between reads."""
        raw = getattr(sock, 'fd', None)
        if raw is None or raw.gettimeout() != 0.0:
            return sock.recv, release_nothing
        reader = _StreamReader(sock, raw)
        return reader.recv, reader.release

    def nonblocking_send(self, sock: _socket.socket) -> NonblockingSend:
        """The raw (non-blocking) socket's send, under the green one."""
        raw: _socket.socket = getattr(sock, 'fd', sock)
        return raw.send

    def wait_writable(self, sock: _socket.socket, timeout: float) -> bool:
        """Wait on the hub until the socket can take more bytes."""
        try:
            trampoline(sock.fileno(), write=True, timeout=max(0.0, timeout),
                       timeout_exc=_socket.timeout('timed out'))
        except _socket.timeout:
            return False
        return True

    def peer_closed(self, sock: _socket.socket) -> bool:
        """True when the peer closed or reset the connection (the real
        ``select.poll``: monkey-patching removes it)."""
        return peer_closed_by_poll(_poll, sock)

    def listen(self, host: str, port: int,
               backlog: int = 1024) -> _socket.socket:
        """A listening green socket."""
        listener: _socket.socket = eventlet.listen((host, port),
                                                  backlog=backlog)
        return listener

    def queue(self) -> Queue[Any]:
        queue: Queue[Any] = eventlet.queue.Queue()
        return queue

    def io_hub(self) -> None:
        """None: each HTTP request has a green thread of its own, and
        application code runs in it."""
        return None

    def socket_loop(self) -> GreenSocketLoop:
        """Listeners and timers on eventlet's hub: a WebSocket has a green
        thread only while it has work (see
        :mod:`engineio_sync.drivers.greenloop`)."""
        return _LOOP


_LOOP = _EventletLoop()

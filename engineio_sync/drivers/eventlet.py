"""eventlet green threads, with or without monkey-patching."""

from __future__ import annotations

import socket as _socket
from typing import Any, Callable

import eventlet
import eventlet.patcher
import eventlet.queue
import eventlet.semaphore
from eventlet.hubs import get_hub, trampoline
from greenlet import getcurrent

from .base import NULL_LOCK, peer_closed_by_poll

_select = eventlet.patcher.original('select')


class _Task:
    __slots__ = ('_gt',)

    def __init__(self, gt: Any) -> None:
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
        self._waiting: set | None = None

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
            return hub.switch()
        finally:
            waiting.discard(current)
            if timer is not None:
                timer.cancel()


def _wake(waiter: Any, waiting: set, result: bool) -> None:
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
        self._sem: Any = None

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
        return sem.acquire(True, timeout)

    def release(self) -> None:
        sem = self._sem
        if sem is not None and sem.balance < 0:
            sem.release()
        else:
            self._held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class _RawSocketIO:
    """recv/sendall on a green socket's raw fd, waiting on the hub only when
    the socket would block. A slotted object, not closures: thousands of
    idle WebSockets each hold one."""

    __slots__ = ('_green', '_raw', '_fileno')

    def __init__(self, green: Any, raw: Any) -> None:
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
            # WebSocket waits for ever). The green socket's timeout still
            # applies.
            timeout = self._green.gettimeout()
            if timeout is None:
                trampoline(self._fileno, read=True)
            else:
                trampoline(self._fileno, read=True, timeout=timeout,
                           timeout_exc=_socket.timeout('timed out'))

    def sendall(self, data: bytes) -> None:
        try:
            sent = self._raw.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._green.sendall(data[sent:])


class EventletDriver:
    """Green threads from eventlet. Works with an unpatched process too,
    since it uses eventlet's own primitives rather than the stdlib's."""

    name = 'eventlet'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> _Task:
        return _Task(eventlet.spawn(fn, *args, **kwargs))

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        # A bare greenlet: no GreenThread, no exit event (about 0.5 KiB
        # less for every connection).
        eventlet.spawn_n(fn, *args)

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def event(self) -> Any:
        return _Event()

    def lock(self) -> Any:
        return _Lock()

    def state_lock(self) -> Any:
        # Green threads switch only on I/O or sleep, and state locks are
        # never held across either, so mutual exclusion is already given.
        return NULL_LOCK

    def socket_io(self, sock: Any) -> tuple[Callable, Callable]:
        """(recv, sendall) that skip GreenSocket's layers on the fast path.

        The raw non-blocking socket is tried first; only when it would
        block does the task wait on the hub.
        """
        raw = getattr(sock, 'fd', None)
        if raw is None or raw.gettimeout() != 0.0:
            return sock.recv, sock.sendall
        io = _RawSocketIO(sock, raw)
        return io.recv, io.sendall

    def nonblocking_send(self, sock: Any) -> Callable[[bytes, int], int]:
        """The raw (non-blocking) socket's send, under the green one."""
        return getattr(sock, 'fd', sock).send

    def wait_writable(self, sock: Any, timeout: float) -> bool:
        """Wait on the hub until the socket can take more bytes."""
        try:
            trampoline(sock.fileno(), write=True, timeout=max(0.0, timeout),
                       timeout_exc=_socket.timeout('timed out'))
        except _socket.timeout:
            return False
        return True

    def peer_closed(self, sock: Any) -> bool:
        """True when the peer closed or reset the connection (the real
        ``select.poll``: monkey-patching removes it)."""
        return peer_closed_by_poll(_select, sock)

    def listen(self, host: str, port: int, backlog: int = 1024) -> Any:
        """A listening green socket."""
        return eventlet.listen((host, port), backlog=backlog)

    def queue(self) -> Any:
        return eventlet.queue.Queue()

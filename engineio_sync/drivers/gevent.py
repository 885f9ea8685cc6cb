"""gevent greenlets."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable

import gevent
import gevent.event
import gevent.lock
import gevent.monkey
import gevent.queue

from .base import (NULL_LOCK, Event, Lock, NonblockingSend, Queue, Recv,
                   Release, SendAll, Task, TimerHandle, peer_closed_by_poll,
                   release_nothing)
from .greenloop import GreenSocketLoop

if TYPE_CHECKING:
    import select
    import socket

    from gevent import Greenlet
    from gevent.socket import socket as GreenSocket

# select.poll as it was before monkey-patching: it never waits.
_poll: Callable[[], select.poll] = gevent.monkey.get_original('select',
                                                              'poll')


class _Task:
    __slots__ = ('_glet',)

    def __init__(self, glet: Greenlet) -> None:
        self._glet = glet

    def join(self, timeout: float | None = None) -> None:
        self._glet.join(timeout)


class _Timeout(Exception):
    """wait_writable's timeout (gevent raises what it is given)."""


class _Lock:
    """gevent semaphore with threading.Lock's acquire(timeout=-1) signature."""

    __slots__ = ('_sem',)

    def __init__(self) -> None:
        self._sem = gevent.lock.Semaphore(1)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        acquired: bool = self._sem.acquire(
            blocking, None if timeout < 0 else timeout)
        return acquired

    def release(self) -> None:
        self._sem.release()

    def __enter__(self) -> '_Lock':
        self._sem.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


class _GeventTimer:
    """A callback on a timer watcher of gevent's loop."""

    __slots__ = ('_watcher', '_loop')

    def __init__(self, loop: _GeventLoop, delay: float,
                 callback: Callable[..., object],
                 args: tuple[Any, ...]) -> None:
        self._loop = loop
        self._watcher = gevent.get_hub().loop.timer(delay)
        self._watcher.start(self._fire, callback, args)

    def _fire(self, callback: Callable[..., object],
              args: tuple[Any, ...]) -> None:
        self._watcher.close()
        self._loop.run_now(callback, *args)

    def cancel(self) -> None:
        """It will not run (if it has not yet)."""
        self._watcher.close()


class _GeventLoop(GreenSocketLoop):
    """The socket loop on gevent's hub (its loop's io and timer
    watchers)."""

    def _hub_greenlet(self) -> Any:
        return gevent.get_hub()

    def _watch(self, fileno: int, write: bool,
               callback: Callable[[], None]) -> Any:
        watcher = gevent.get_hub().loop.io(fileno, 2 if write else 1)
        watcher.start(self.run_now, callback)
        return watcher

    def _unwatch(self, handle: Any) -> None:
        handle.close()

    def _timer(self, delay: float, callback: Callable[..., object],
               args: tuple[Any, ...]) -> TimerHandle:
        return _GeventTimer(self, delay, callback, args)

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` at the hub's next turn."""
        gevent.get_hub().loop.run_callback(self.run_now, fn, *args)


class GeventDriver:
    """Greenlets from gevent."""

    name = 'gevent'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Task:
        return _Task(gevent.spawn(fn, *args, **kwargs))

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        gevent.spawn(fn, *args)

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def event(self) -> Event:
        event: Event = gevent.event.Event()
        return event

    def lock(self) -> Lock:
        return _Lock()

    def state_lock(self) -> Lock:
        # Greenlets switch only on I/O or sleep, and state locks are never
        # held across either, so mutual exclusion is already guaranteed.
        return NULL_LOCK

    def socket_io(self, sock: socket.socket) -> tuple[Recv, SendAll]:
        return sock.recv, sock.sendall

    def stream_reader(self, sock: socket.socket) -> tuple[Recv, Release]:
        """(recv, release): the socket's own recv; nothing to release."""
        return sock.recv, release_nothing

    def nonblocking_send(self, sock: socket.socket) -> NonblockingSend:
        """gevent's send with ``timeout=0.0``: it reports a full buffer
        instead of waiting for room."""
        if not isinstance(sock, gevent.socket.socket):
            # The socket loop's own sockets are plain ones.
            return sock.send
        green: GreenSocket = sock  # the standard send takes no timeout
        return partial(green.send, timeout=0.0)

    def peer_closed(self, sock: socket.socket) -> bool:
        """True when the peer closed or reset the connection (the real
        ``select.poll``, not gevent's cooperative one: this never waits)."""
        return peer_closed_by_poll(_poll, sock)

    def wait_writable(self, sock: socket.socket, timeout: float) -> bool:
        """Wait on the hub until the socket can take more bytes."""
        import gevent.socket
        try:
            gevent.socket.wait_write(sock.fileno(), max(0.0, timeout),
                                     timeout_exc=_Timeout())
        except _Timeout:
            return False
        return True

    def listen(self, host: str, port: int,
               backlog: int = 1024) -> socket.socket:
        """A listening gevent socket.

        ``gevent.socket.create_server`` is the standard library's function
        re-exported: unless gevent monkey-patched the process it makes a
        plain blocking socket, whose ``accept()`` would hold the whole hub.
        So the socket is rebuilt as gevent's, on the same descriptor; the
        connections it accepts are gevent sockets too.
        """
        import gevent.socket
        sock: socket.socket = gevent.socket.create_server((host, port),
                                                          backlog=backlog)
        if not isinstance(sock, gevent.socket.socket):
            sock = gevent.socket.socket(fileno=sock.detach())
        return sock

    def queue(self) -> Queue[Any]:
        queue: Queue[Any] = gevent.queue.Queue()
        return queue

    def io_hub(self) -> None:
        """None: each HTTP request has a green thread of its own, and
        application code runs in it."""
        return None

    def socket_loop(self) -> GreenSocketLoop:
        """Watchers on gevent's loop: a WebSocket has a greenlet only
        while it has work (see :mod:`engineio_sync.drivers.greenloop`)."""
        return _LOOP


_LOOP = _GeventLoop()

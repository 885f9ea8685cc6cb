"""gevent greenlets."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import gevent
import gevent.event
import gevent.lock
import gevent.queue

from .base import NULL_LOCK, peer_closed_by_poll


class _OriginalSelect:
    """The unpatched ``select`` module's poll and constants."""

    def __init__(self) -> None:
        import select
        import gevent.monkey
        self.poll = gevent.monkey.get_original('select', 'poll')
        for name in ('POLLRDHUP', 'POLLHUP', 'POLLERR', 'POLLNVAL'):
            setattr(self, name, getattr(select, name))


_select = _OriginalSelect()


class _Task:
    __slots__ = ('_glet',)

    def __init__(self, glet: Any) -> None:
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
        return self._sem.acquire(blocking, None if timeout < 0 else timeout)

    def release(self) -> None:
        self._sem.release()

    def __enter__(self) -> '_Lock':
        self._sem.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sem.release()


class GeventDriver:
    """Greenlets from gevent."""

    name = 'gevent'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> _Task:
        return _Task(gevent.spawn(fn, *args, **kwargs))

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        gevent.spawn(fn, *args)

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def event(self) -> Any:
        return gevent.event.Event()

    def lock(self) -> Any:
        return _Lock()

    def state_lock(self) -> Any:
        # Greenlets switch only on I/O or sleep, and state locks are never
        # held across either, so mutual exclusion is already guaranteed.
        return NULL_LOCK

    def socket_io(self, sock: Any) -> tuple[Callable, Callable]:
        return sock.recv, sock.sendall

    def nonblocking_send(self, sock: Any) -> Callable[[bytes, int], int]:
        """gevent's send with ``timeout=0.0``: it reports a full buffer
        instead of waiting for room."""
        return partial(sock.send, timeout=0.0)

    def peer_closed(self, sock: Any) -> bool:
        """True when the peer closed or reset the connection (the real
        ``select.poll``, not gevent's cooperative one: this never waits)."""
        return peer_closed_by_poll(_select, sock)

    def wait_writable(self, sock: Any, timeout: float) -> bool:
        """Wait on the hub until the socket can take more bytes."""
        import gevent.socket
        try:
            gevent.socket.wait_write(sock.fileno(), max(0.0, timeout),
                                     timeout_exc=_Timeout())
        except _Timeout:
            return False
        return True

    def listen(self, host: str, port: int, backlog: int = 1024) -> Any:
        """A listening gevent socket.

        ``gevent.socket.create_server`` is the standard library's function
        re-exported: unless gevent monkey-patched the process it makes a
        plain blocking socket, whose ``accept()`` would hold the whole hub.
        So the socket is rebuilt as gevent's, on the same descriptor; the
        connections it accepts are gevent sockets too.
        """
        import gevent.socket
        sock = gevent.socket.create_server((host, port), backlog=backlog)
        if isinstance(sock, gevent.socket.socket):
            return sock
        return gevent.socket.socket(fileno=sock.detach())

    def queue(self) -> Any:
        return gevent.queue.Queue()

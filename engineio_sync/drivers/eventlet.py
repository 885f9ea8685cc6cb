"""eventlet green threads, with or without monkey-patching."""

from __future__ import annotations

import socket as _socket
from typing import Any, Callable

import eventlet
import eventlet.patcher
import eventlet.queue
import eventlet.semaphore
from eventlet.green import threading as green_threading
from eventlet.hubs import trampoline

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
                # The green socket's timeout still applies.
                trampoline(self._fileno, read=True,
                           timeout=self._green.gettimeout(),
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

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def event(self) -> Any:
        return green_threading.Event()

    def lock(self) -> Any:
        return eventlet.semaphore.Semaphore(1)

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

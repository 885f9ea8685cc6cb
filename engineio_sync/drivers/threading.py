"""The standard library's threads."""

from __future__ import annotations

import errno
import queue
import select
import socket
import threading
import time
from typing import Any, Callable

from ..hub import Hub, process_hub
from .base import (Event, Lock, NonblockingSend, Queue, Recv, Release,
                   SendAll, Task, peer_closed_by_poll, release_nothing)


class ThreadingDriver:
    """Real OS threads; every blocking call blocks one thread."""

    name = 'threading'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Task:
        thread = threading.Thread(target=fn, args=args, kwargs=kwargs,
                                  daemon=True)
        thread.start()
        return thread

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> Event:
        return threading.Event()

    def lock(self) -> Lock:
        return threading.Lock()

    def state_lock(self) -> Lock:
        """A lock for state that is changed without I/O in between."""
        return threading.Lock()

    def socket_io(self, sock: socket.socket) -> tuple[Recv, SendAll]:
        """(recv, sendall) for a connected socket."""
        return sock.recv, sock.sendall

    def stream_reader(self, sock: socket.socket) -> tuple[Recv, Release]:
        """(recv, release): the socket's own recv; nothing to release."""
        return sock.recv, release_nothing

    def nonblocking_send(self, sock: socket.socket) -> NonblockingSend:
        """The socket's own send: with MSG_DONTWAIT it never waits, as
        long as the socket has no timeout (a socket with one first waits
        for room, so then room is checked first)."""
        if sock.gettimeout() is None:
            return sock.send

        def send(data: bytes | memoryview, flags: int) -> int:
            if not _writable(sock, 0):
                raise BlockingIOError(errno.EAGAIN, 'no room')
            return sock.send(data, flags)
        return send

    def wait_writable(self, sock: socket.socket, timeout: float) -> bool:
        """Block this thread until the socket can take more bytes."""
        return _writable(sock, timeout)

    def peer_closed(self, sock: socket.socket) -> bool:
        """True when the peer closed or reset the connection."""
        return peer_closed_by_poll(select.poll, sock)

    def listen(self, host: str, port: int,
               backlog: int = 1024) -> socket.socket:
        """A listening socket."""
        return socket.create_server((host, port), backlog=backlog)

    def queue(self) -> Queue[Any]:
        return queue.Queue()

    def io_hub(self) -> Hub:
        """This process's hub: WebSockets wait in its loop, not in a
        thread each, and application code runs in the loop's thread or on
        its pool (see :mod:`engineio_sync.hub`)."""
        return process_hub()

    def socket_loop(self) -> Hub:
        """This process's hub (see :meth:`io_hub`)."""
        return process_hub()


def _writable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    # An error or hang-up counts as ready: the next send reports it.
    return bool(poller.poll(max(0.0, timeout) * 1000))

"""The standard library's threads."""

from __future__ import annotations

import errno
import queue
import select
import socket
import threading
import time
from typing import Any, Callable

from .base import peer_closed_by_poll


class ThreadingDriver:
    """Real OS threads; every blocking call blocks one thread."""

    name = 'threading'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> threading.Thread:
        thread = threading.Thread(target=fn, args=args, kwargs=kwargs,
                                  daemon=True)
        thread.start()
        return thread

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        threading.Thread(target=fn, args=args, daemon=True).start()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> threading.Event:
        return threading.Event()

    def lock(self) -> threading.Lock:
        return threading.Lock()

    def state_lock(self) -> threading.Lock:
        """A lock for state that is changed without I/O in between."""
        return threading.Lock()

    def socket_io(self, sock: Any) -> tuple[Callable, Callable]:
        """(recv, sendall) for a connected socket."""
        return sock.recv, sock.sendall

    def nonblocking_send(self, sock: Any) -> Callable[[bytes, int], int]:
        """The socket's own send: with MSG_DONTWAIT it never waits, as
        long as the socket has no timeout (a socket with one first waits
        for room, so then room is checked first)."""
        if sock.gettimeout() is None:
            return sock.send

        def send(data: bytes, flags: int) -> int:
            if not _writable(sock, 0):
                raise BlockingIOError(errno.EAGAIN, 'no room')
            return sock.send(data, flags)
        return send

    def wait_writable(self, sock: Any, timeout: float) -> bool:
        """Block this thread until the socket can take more bytes."""
        return _writable(sock, timeout)

    def peer_closed(self, sock: Any) -> bool:
        """True when the peer closed or reset the connection."""
        return peer_closed_by_poll(select, sock)

    def listen(self, host: str, port: int, backlog: int = 1024) -> Any:
        """A listening socket."""
        return socket.create_server((host, port), backlog=backlog)

    def queue(self) -> queue.Queue:
        return queue.Queue()


def _writable(sock: Any, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    # An error or hang-up counts as ready: the next send reports it.
    return bool(poller.poll(max(0.0, timeout) * 1000))

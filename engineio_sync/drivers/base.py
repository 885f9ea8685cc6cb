"""The interface every concurrency driver provides.

A socket here is a ``socket.socket`` or its green copy from eventlet or
gevent, which has the same methods (the type checker knows only the
first: neither package ships type information).
"""

from __future__ import annotations

import select
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

if TYPE_CHECKING:
    import socket
    from types import TracebackType

    from ..hub import Hub

_T = TypeVar('_T')

#: ``recv(size)``: up to ``size`` bytes, ``b''`` once the peer closed.
Recv = Callable[[int], bytes]
#: ``sendall(data)``: write all of ``data``, waiting for room if need be.
SendAll = Callable[[bytes], None]
#: ``send(data, flags)``: how many bytes of ``data`` were written, without
#: waiting (see :meth:`Driver.nonblocking_send`).
NonblockingSend = Callable[[bytes | memoryview, int], int]
#: ``release()``: end of a :meth:`Driver.stream_reader`'s reading.
Release = Callable[[], None]


class Task(Protocol):
    """A running background task."""

    def join(self, timeout: float | None = None) -> None: ...


class Event(Protocol):
    """A resettable flag that tasks can wait on (like threading.Event)."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Lock(Protocol):
    """A mutual-exclusion lock usable as a context manager."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None,
                 /) -> None: ...


class Queue(Protocol[_T]):
    """A FIFO queue that tasks can wait on (like queue.Queue)."""

    def put(self, item: _T, block: bool = True,
            timeout: float | None = None) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> _T: ...


class TimerHandle(Protocol):
    """A callback scheduled by :meth:`SocketLoop.call_later`."""

    def cancel(self) -> None:
        """It will not run (if it has not yet)."""


class SocketLoop(Protocol):
    """An event loop that holds sockets while they wait, so that a quiet
    connection costs no task of its own (see :meth:`Driver.socket_loop`).

    Callbacks may call application code. On a green hub each runs in a
    greenlet of its own and may wait like any other; on the threading
    driver's hub they run in the loop's thread, and application code
    goes through :meth:`~engineio_sync.hub.Hub.run_app`, which moves the
    loop to another thread when that code waits.
    """

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in the loop soon (from anywhere)."""

    def in_loop_now(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` now if that is allowed here, else soon."""

    def add_reader(self, sock: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is readable (until
        removed; adding again replaces it)."""

    def remove_reader(self, sock: Any) -> bool:
        """Stop watching ``sock`` for reading; False if it was not."""

    def add_writer(self, sock: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is writable."""

    def remove_writer(self, sock: Any) -> bool:
        """Stop watching ``sock`` for writing; False if it was not."""

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` in ``delay`` seconds."""

    @property
    def busy(self) -> bool:
        """The application is behind: reading more can wait a moment."""


class Driver(Protocol):
    """Spawn, sleep, events, locks and queues for one concurrency model."""

    name: str

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Task: ...

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in a new task that nobody will join (the
        cheapest kind the driver has: one per connection)."""

    def sleep(self, seconds: float) -> None: ...

    def event(self) -> Event: ...

    def lock(self) -> Lock: ...

    def state_lock(self) -> Lock: ...

    def socket_io(self, sock: socket.socket) -> tuple[Recv, SendAll]: ...

    def stream_reader(self, sock: socket.socket) -> tuple[Recv, Release]:
        """``(recv, release)`` for a socket that one task reads for a
        long time (a WebSocket); ``release()`` once reading is over,
        before the socket is closed."""

    def nonblocking_send(self, sock: socket.socket) -> NonblockingSend:
        """``send(data, flags)`` for ``sock`` that never waits: the number
        of bytes written, BlockingIOError when the socket has no room,
        another OSError if the connection failed. Call it with
        ``MSG_DONTWAIT``."""

    def wait_writable(self, sock: socket.socket, timeout: float) -> bool:
        """Wait until ``sock`` can take more bytes (or has failed, which
        the next send reports); False after ``timeout`` seconds."""

    def peer_closed(self, sock: socket.socket) -> bool:
        """True when the peer of ``sock`` has closed or reset the
        connection; never waits."""

    def listen(self, host: str, port: int,
               backlog: int = 1024) -> socket.socket: ...

    def queue(self) -> Queue[Any]: ...

    def io_hub(self) -> Hub | None:
        """The process's I/O loop and worker pool, when this driver
        serves HTTP from one loop and runs application code on a pool
        (threads); None when every connection has a task of its own
        (green threads, which cost little)."""

    def socket_loop(self) -> SocketLoop | None:
        """The loop that holds WebSockets between messages (the hub's
        with threads, the green hub's otherwise); None: each WebSocket
        is read by a task of its own."""


class _NullLock:
    """A lock that never blocks, for green threads (see ``state_lock``)."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> '_NullLock':
        return self

    def __exit__(self, *exc: object) -> None:
        pass


NULL_LOCK = _NullLock()


def release_nothing() -> None:
    """The ``release`` of a :meth:`Driver.stream_reader` that holds
    nothing."""


def peer_closed_by_poll(poll: Callable[[], select.poll],
                        sock: socket.socket) -> bool:
    """``Driver.peer_closed`` with the ``select.poll`` that monkey-patching
    did not replace: one non-blocking poll for a hang-up, a reset or the
    peer's FIN (POLLRDHUP), whatever data may still be unread."""
    try:
        fd = sock.fileno()
    except OSError:
        return True
    if fd < 0:
        return True
    # The constants survive monkey-patching (only poll itself is replaced
    # or removed).
    hung_up = select.POLLRDHUP | select.POLLHUP | select.POLLERR | \
        select.POLLNVAL
    poller = poll()
    poller.register(fd, hung_up)
    return any(events & hung_up for _, events in poller.poll(0))

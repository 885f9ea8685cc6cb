"""The interface every concurrency driver provides."""

from __future__ import annotations

from typing import Any, Callable, Protocol


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

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> Any: ...


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

    def socket_io(self, sock: Any) -> tuple[Callable, Callable]: ...

    def nonblocking_send(self, sock: Any) -> Callable[[bytes, int], int]:
        """``send(data, flags)`` for ``sock`` that never waits: the number
        of bytes written, BlockingIOError when the socket has no room,
        another OSError if the connection failed. Call it with
        ``MSG_DONTWAIT``."""

    def wait_writable(self, sock: Any, timeout: float) -> bool:
        """Wait until ``sock`` can take more bytes (or has failed, which
        the next send reports); False after ``timeout`` seconds."""

    def peer_closed(self, sock: Any) -> bool:
        """True when the peer of ``sock`` has closed or reset the
        connection; never waits."""

    def listen(self, host: str, port: int, backlog: int = 1024) -> Any: ...

    def queue(self) -> Any: ...


class _NullLock:
    """A lock that never blocks, for green threads (see ``state_lock``)."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> '_NullLock':
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


NULL_LOCK = _NullLock()


def peer_closed_by_poll(select_module: Any, sock: Any) -> bool:
    """``Driver.peer_closed`` with a (never monkey-patched) ``select``
    module's ``poll``: one non-blocking poll for a hang-up, a reset or the
    peer's FIN (POLLRDHUP), whatever data may still be unread."""
    try:
        fd = sock.fileno()
    except OSError:
        return True
    if fd < 0:
        return True
    hung_up = select_module.POLLRDHUP | select_module.POLLHUP | \
        select_module.POLLERR | select_module.POLLNVAL
    poller = select_module.poll()
    poller.register(fd, hung_up)
    return any(events & hung_up for _, events in poller.poll(0))

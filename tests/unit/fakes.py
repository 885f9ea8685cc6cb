"""Stand-ins for time, tasks and sockets, so that the session engine and
the transports run in the test's own thread, step by step.

Nothing here waits: a :class:`FakeEvent` that nobody has set runs what the
test asked to happen "meanwhile" (:meth:`FakeDriver.meanwhile`) and then
gives up, moving the :class:`FakeClock` past its timeout; spawned tasks
wait in :attr:`FakeDriver.tasks` until the test runs them (or a caller
joins them). A lock taken twice raises instead of deadlocking.
"""

from __future__ import annotations

import socket as _socket
from collections import deque
from typing import Any, Callable

__all__ = ['FakeClock', 'FakeDriver', 'FakeEvent', 'FakeLock', 'FakeTask',
           'FakeSocket']


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class FakeTask:
    """A spawned call that runs when the test says, or when joined."""

    def __init__(self, fn: Callable[..., Any], args: tuple,
                 kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.started = False

    def run(self) -> None:
        if not self.started:
            self.started = True
            self.fn(*self.args, **self.kwargs)

    def join(self, timeout: float | None = None) -> None:
        self.run()

    def __repr__(self) -> str:
        return f'<FakeTask {getattr(self.fn, "__name__", self.fn)}>'


class FakeLock:
    """A lock for one thread: taking it while held is a deadlock."""

    def __init__(self) -> None:
        self.held = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.held:
            if blocking and timeout < 0:
                raise AssertionError('deadlock: a lock taken while held')
            return False
        self.held = True
        return True

    def release(self) -> None:
        assert self.held, 'released a lock that is not held'
        self.held = False

    def __enter__(self) -> FakeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class FakeEvent:
    """An event whose wait runs the driver's "meanwhile" work first."""

    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver
        self.flag = False

    def set(self) -> None:
        self.flag = True

    def clear(self) -> None:
        self.flag = False

    def is_set(self) -> bool:
        return self.flag

    def wait(self, timeout: float | None = None) -> bool:
        if not self.flag:
            self.driver.waited(timeout)
            if not self.flag:
                self.driver.timed_out(timeout)
        return self.flag


class FakeDriver:
    """The driver interface (engineio_sync.drivers.base.Driver) on a fake
    clock: tasks queue up, sleeps move the clock, sockets are FakeSockets."""

    name = 'fake'

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        #: spawned tasks not run yet, oldest first
        self.tasks: deque[FakeTask] = deque()
        #: how many times a task slept (gave way to others)
        self.yields = 0
        #: how many waits found their event unset, and how many of those
        #: timed out (nothing set it meanwhile)
        self.waits = 0
        self.timeouts = 0
        self._meanwhile: deque[Callable[[], Any]] = deque()

    # -- what the test does ---------------------------------------------------

    def meanwhile(self, work: Callable[[], Any]) -> None:
        """Run ``work()`` when a task next waits for an unset event (each
        call once, in order)."""
        self._meanwhile.append(work)

    def run_tasks(self, limit: int = 100) -> int:
        """Run the queued tasks (and those they spawn), oldest first; how
        many ran. More than ``limit`` means a task keeps respawning."""
        ran = 0
        while self.tasks:
            assert ran < limit, f'tasks keep coming: {list(self.tasks)}'
            self.tasks.popleft().run()
            ran += 1
        return ran

    def waited(self, timeout: float | None) -> None:
        """A task waits for an event: run the next meanwhile work."""
        self.waits += 1
        if self._meanwhile:
            self._meanwhile.popleft()()

    def timed_out(self, timeout: float | None) -> None:
        """Nothing set the event a task waited for: the clock moves past
        its timeout."""
        self.timeouts += 1
        if timeout:
            self.clock.advance(timeout)

    # -- the driver interface -------------------------------------------------

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> FakeTask:
        task = FakeTask(fn, args, kwargs)
        self.tasks.append(task)
        return task

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        self.spawn(fn, *args)

    def sleep(self, seconds: float = 0) -> None:
        self.yields += 1
        if seconds > 0:
            self.clock.advance(seconds)

    def event(self) -> FakeEvent:
        return FakeEvent(self)

    def lock(self) -> FakeLock:
        return FakeLock()

    state_lock = lock

    def nonblocking_send(self, sock: FakeSocket) -> Callable[[bytes, int],
                                                             int]:
        return sock.send

    def wait_writable(self, sock: FakeSocket, timeout: float) -> bool:
        if not sock.wait_writable(timeout):
            # While this task waits for room, the others run (one may
            # cut the connection); then it looks again.
            self.run_tasks()
            return sock.wait_writable(timeout)
        return True

    def stream_reader(self, sock: FakeSocket) -> tuple[Callable, Callable]:
        return sock.recv, lambda: None

    def peer_closed(self, sock: FakeSocket) -> bool:
        return sock.peer_gone

    def io_hub(self) -> None:
        return None

    def socket_loop(self) -> None:
        return None


class FakeSocket:
    """A client connection, as the server's side sees it.

    ``incoming`` is what the client sends, in order: bytes, or callables
    run when the server reads that far (they return bytes, or None for
    nothing); once it is empty the client has closed (``recv`` returns
    b''). ``room`` is how many more bytes the client's side takes (None:
    any number), ``refill`` how many it reads each time the server waits
    for room (a slow reader); what the server sent is in :attr:`sent`.
    """

    def __init__(self, *incoming: bytes | Callable[[], bytes | None],
                 room: int | None = None) -> None:
        self.incoming: deque = deque(incoming)
        self.room = room
        self.refill = 0
        self.sent = bytearray()
        self.shut = False
        #: the client went away (what the driver's peer_closed reports)
        self.peer_gone = False
        self.timeout: float | None = None
        #: how many waits for room found none
        self.stalls = 0

    # -- the server's calls ---------------------------------------------------

    def recv(self, size: int) -> bytes:
        while self.incoming and not self.shut:
            item = self.incoming.popleft()
            data = item() if callable(item) else item
            if data:
                if len(data) > size:
                    self.incoming.appendleft(data[size:])
                return data[:size]
        return b''

    def send(self, data: bytes, flags: int = 0) -> int:
        if self.shut:
            raise BrokenPipeError('the connection is shut down')
        taken = len(data) if self.room is None else min(self.room,
                                                        len(data))
        if not taken and data:
            raise BlockingIOError('no room')
        self.sent += bytes(data[:taken])
        if self.room is not None:
            self.room -= taken
        return taken

    def sendall(self, data: bytes) -> None:
        if self.shut:
            raise BrokenPipeError('the connection is shut down')
        self.sent += data

    def wait_writable(self, timeout: float) -> bool:
        if self.shut or self.room != 0:
            return True
        if self.refill:
            self.room = self.refill
            return True
        # Bounded: a drain task that keeps finding no room is a test bug.
        self.stalls += 1
        assert self.stalls < 1000, 'waited for room forever'
        return False

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def shutdown(self, how: int = _socket.SHUT_RDWR) -> None:
        self.shut = True

    def close(self) -> None:
        self.shut = True

    def fileno(self) -> int:
        return -1 if self.shut else 99

    def getpeername(self) -> tuple[str, int]:
        return ('127.0.0.1', 50000)

"""The I/O loop (engineio_sync.reactor) on real sockets.

Every wait has a deadline and waits for the event itself; nothing asserts
how long something took.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import resource
import socket
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from engineio_sync.reactor import Reactor
from threadkit import DEADLINE, run_threads


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def start(reactor: Reactor) -> threading.Thread:
    thread = threading.Thread(target=reactor.run, daemon=True,
                              name='test-reactor')
    thread.start()
    # Running once a call made from here has run in the loop.
    in_loop(reactor, lambda: None)
    return thread


def finish(reactor: Reactor, thread: threading.Thread) -> None:
    assert reactor.stop(DEADLINE)
    thread.join(DEADLINE)
    assert not thread.is_alive()
    reactor.close()


def in_loop(reactor: Reactor, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` run in the loop's thread; its result (or exception)."""
    box: queue.Queue = queue.Queue()

    def call() -> None:
        try:
            box.put((True, fn(*args)))
        except BaseException as exc:  # handed to the test's thread
            box.put((False, exc))

    reactor.call_soon_threadsafe(call)
    ok, value = box.get(timeout=DEADLINE)
    if not ok:
        raise value
    return value


@pytest.fixture
def loop() -> Iterator[Reactor]:
    reactor = Reactor()
    thread = start(reactor)
    yield reactor
    finish(reactor, thread)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


# -- readers and writers ---------------------------------------------------


def test_a_reader_is_called_with_what_the_peer_sent(loop, pair):
    a, b = pair
    got: queue.Queue = queue.Queue()
    in_loop(loop, loop.add_reader, a, lambda: got.put(a.recv(100)))
    b.sendall(b'hello')
    assert got.get(timeout=DEADLINE) == b'hello'
    b.sendall(b'again')
    assert got.get(timeout=DEADLINE) == b'again'


def test_an_echo_server_on_tcp(loop):
    """Accept and echo on 127.0.0.1, all in the loop's callbacks."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    listener.setblocking(False)
    closed: queue.Queue = queue.Queue()

    def serve(conn: socket.socket) -> None:
        data = conn.recv(65536)
        if data:
            conn.send(data)
        else:
            loop.remove_reader(conn)
            conn.close()
            closed.put(True)

    def accept() -> None:
        conn, _ = listener.accept()
        conn.setblocking(False)
        loop.add_reader(conn, lambda: serve(conn))

    in_loop(loop, loop.add_reader, listener, accept)
    clients = [socket.create_connection(listener.getsockname(), DEADLINE)
               for _ in range(3)]
    for round_trip in range(20):
        for n, client in enumerate(clients):
            message = f'{n}:{round_trip}'.encode()
            client.sendall(message)
            assert client.recv(100) == message
    for client in clients:
        client.close()
    for _ in clients:
        assert closed.get(timeout=DEADLINE)
    assert in_loop(loop, loop.watched) == 1  # the listener
    in_loop(loop, loop.remove_reader, listener)
    listener.close()
    assert in_loop(loop, loop.watched) == 0


def test_a_writer_drains_a_backlog_to_a_slow_peer(loop, pair):
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    payload = os.urandom(1 << 20)
    backlog = bytearray(payload)
    calls = []
    drained = threading.Event()

    def write() -> None:
        calls.append(1)
        try:
            sent = a.send(backlog)
        except BlockingIOError:
            return
        del backlog[:sent]
        if not backlog:
            loop.remove_writer(a)
            drained.set()

    def begin() -> None:
        # Written at once as far as the buffers take it, the rest when
        # the peer reads: what a slow peer's write backlog does.
        sent = a.send(backlog)
        del backlog[:sent]
        loop.add_writer(a, write)

    in_loop(loop, begin)
    received = bytearray()
    b.settimeout(DEADLINE)
    while len(received) < len(payload):
        chunk = b.recv(65536)
        assert chunk
        received += chunk
    assert received == payload
    assert drained.wait(DEADLINE)
    assert len(calls) > 1
    assert in_loop(loop, loop.remove_writer, a) is False
    assert in_loop(loop, loop.watched) == 0


def test_reader_and_writer_on_one_socket(loop, pair):
    a, b = pair
    events: queue.Queue = queue.Queue()

    def wrote() -> None:
        loop.remove_writer(a)
        events.put('writable')

    def read() -> None:
        events.put(a.recv(100))

    in_loop(loop, loop.add_reader, a, read)
    in_loop(loop, loop.add_writer, a, wrote)
    assert events.get(timeout=DEADLINE) == 'writable'
    b.sendall(b'x')
    assert events.get(timeout=DEADLINE) == b'x'
    assert in_loop(loop, loop.remove_reader, a) is True
    assert in_loop(loop, loop.remove_reader, a) is False
    assert in_loop(loop, loop.watched) == 0


def test_a_removed_reader_is_not_called(loop, pair):
    a, b = pair
    c, d = socket.socketpair()
    c.setblocking(False)
    try:
        calls = {'a': 0, 'c': 0}

        def read_a() -> None:
            calls['a'] += 1
            a.recv(100)

        def read_c() -> None:
            calls['c'] += 1
            c.recv(100)

        in_loop(loop, loop.add_reader, a, read_a)
        in_loop(loop, loop.add_reader, c, read_c)
        assert in_loop(loop, loop.remove_reader, a) is True
        b.sendall(b'x')
        d.sendall(b'x')
        # A call made now runs after the select that sees both sockets
        # readable and after that turn's readers: c's proves the turn.
        for _ in range(3):
            in_loop(loop, lambda: None)
        assert calls == {'a': 0, 'c': 1}
        in_loop(loop, loop.remove_reader, c)
    finally:
        c.close()
        d.close()


def test_a_reader_removed_by_another_of_the_same_turn_is_skipped(pair):
    a, b = pair
    c, d = socket.socketpair()
    c.setblocking(False)
    reactor = Reactor()
    ran = []

    def read_a() -> None:
        ran.append('a')
        a.recv(10)
        reactor.remove_reader(c)

    def read_c() -> None:
        ran.append('c')
        c.recv(10)
        reactor.remove_reader(a)

    try:
        # Both readable before the loop starts: its first select reports
        # both, and whichever runs first removes the other.
        reactor.add_reader(a, read_a)
        reactor.add_reader(c, read_c)
        b.sendall(b'x')
        d.sendall(b'x')
        thread = start(reactor)
        try:
            in_loop(reactor, lambda: None)
            assert ran in (['a'], ['c'])
            assert in_loop(reactor, reactor.watched) == 1
        finally:
            finish(reactor, thread)
    finally:
        c.close()
        d.close()


def test_registering_from_another_thread_is_refused(loop, pair):
    a, _ = pair
    with pytest.raises(RuntimeError, match='call_soon_threadsafe'):
        loop.add_reader(a, lambda: None)
    assert loop.in_loop_thread() is False
    assert in_loop(loop, loop.in_loop_thread) is True


# -- timers -----------------------------------------------------------------


def test_timers_run_in_order_of_their_time_then_of_creation():
    clock = FakeClock()
    reactor = Reactor(clock)
    ran: list[str] = []
    reactor.call_at(1003, ran.append, 'third')
    reactor.call_at(1001, ran.append, 'first')
    reactor.call_at(1002, ran.append, 'second a')
    reactor.call_at(1002, ran.append, 'second b')
    reactor.call_later(5, ran.append, 'later')
    thread = start(reactor)
    try:
        assert in_loop(reactor, lambda: list(ran)) == []
        clock.now = 1002
        assert in_loop(reactor, lambda: list(ran)) == [
            'first', 'second a', 'second b']
        clock.now = 1010
        assert in_loop(reactor, lambda: list(ran)) == [
            'first', 'second a', 'second b', 'third', 'later']
        assert reactor.timers() == 0
    finally:
        finish(reactor, thread)


def test_thousands_of_timers_some_cancelled():
    clock = FakeClock()
    reactor = Reactor(clock, batch=64)
    rng = random.Random(7)
    ran: list[int] = []
    handles = [reactor.call_at(1000 + rng.random() * 100, ran.append, n)
               for n in range(5000)]
    cancelled = set(range(0, 5000, 3))
    for n in cancelled:
        handles[n].cancel()
    assert reactor.timers() == 5000 - len(cancelled)
    done = threading.Event()
    reactor.call_at(1101, done.set)
    clock.now = 1200
    thread = start(reactor)
    try:
        assert done.wait(DEADLINE)
        expected = sorted((n for n in range(5000) if n not in cancelled),
                          key=lambda n: (handles[n].when, n))
        assert ran == expected
        assert all(handles[n].cancelled for n in cancelled)
        assert not any(handles[n].cancelled for n in expected)
    finally:
        finish(reactor, thread)


def test_cancelled_timers_do_not_pile_up():
    reactor = Reactor(FakeClock())
    keep = reactor.call_later(10, lambda: None)
    for _ in range(20):
        handles = [reactor.call_later(5, lambda: None) for _ in range(1000)]
        for handle in handles:
            handle.cancel()
    assert reactor.timers() == 1
    # What the heap still holds: bounded by the compaction, not 20,000.
    assert len(reactor._timers._heap) <= 2 * 512 + 2
    keep.cancel()
    assert reactor.timers() == 0
    reactor.close()


def test_a_timer_cancelled_by_another_of_the_same_turn_does_not_run():
    clock = FakeClock()
    reactor = Reactor(clock)
    ran = []
    second = reactor.call_at(1002, ran.append, 'second')
    reactor.call_at(1001, lambda: (ran.append('first'), second.cancel()))
    clock.now = 1005
    thread = start(reactor)
    try:
        assert in_loop(reactor, lambda: list(ran)) == ['first']
        assert second.cancelled
    finally:
        finish(reactor, thread)


def test_an_earlier_timer_from_another_thread_wakes_the_loop(loop):
    fired = threading.Event()
    far = loop.call_later(3600, fired.set)  # the loop sleeps towards it
    in_loop(loop, lambda: None)
    soon = threading.Event()
    loop.call_later(0.01, soon.set)
    assert soon.wait(DEADLINE)
    assert not fired.is_set()
    far.cancel()
    assert loop.timers() == 0


def test_timers_on_the_real_clock_fire(loop):
    order: queue.Queue = queue.Queue()
    for delay in (0.03, 0.01, 0.02):
        loop.call_later(delay, order.put, delay)
    assert [order.get(timeout=DEADLINE) for _ in range(3)] == [
        0.01, 0.02, 0.03]


# -- calls from other threads -------------------------------------------------


def test_calls_from_eight_threads_run_once_each_in_order(loop):
    seen: dict[int, list[int]] = {t: [] for t in range(8)}

    def producer(t: int) -> None:
        for i in range(1000):
            loop.call_soon_threadsafe(seen[t].append, i)

    run_threads(producer, 8)
    in_loop(loop, lambda: None)  # queued after every one of them
    assert seen == {t: list(range(1000)) for t in range(8)}


def test_a_burst_to_a_busy_loop_writes_no_wake_up(loop, monkeypatch):
    writes = []
    real_write = os.eventfd_write

    def counting_write(fd: int, value: int) -> None:
        writes.append(value)
        real_write(fd, value)

    entered = threading.Event()
    release = threading.Event()
    loop.call_soon_threadsafe(lambda: (entered.set(), release.wait(DEADLINE)))
    assert entered.wait(DEADLINE)
    monkeypatch.setattr(os, 'eventfd_write', counting_write)
    ran = []
    run_threads(lambda _: [loop.call_soon_threadsafe(ran.append, 1)
                           for _ in range(1000)], 8)
    # The loop is running a callback, not sleeping: nothing to wake.
    assert writes == []
    release.set()
    in_loop(loop, lambda: None)
    assert len(ran) == 8000


def test_a_call_wakes_a_sleeping_loop(loop):
    # With no timer the loop sleeps without a timeout: only the wake-up
    # can bring it back, a hundred times over.
    for n in range(100):
        assert in_loop(loop, lambda n=n: n) == n


# -- failures, fairness, stopping ---------------------------------------------


def test_callbacks_that_raise_are_logged_and_the_loop_goes_on(
        loop, pair, caplog):
    a, b = pair

    def boom() -> None:
        raise ValueError('boom')

    def read_and_boom() -> None:
        a.recv(100)
        boom()

    caplog.set_level(logging.ERROR, logger='engineio_sync.reactor')
    in_loop(loop, loop.add_reader, a, read_and_boom)
    loop.call_soon_threadsafe(boom)
    timer_ran = threading.Event()
    loop.call_later(0, boom)
    loop.call_later(0, timer_ran.set)
    b.sendall(b'x')
    assert timer_ran.wait(DEADLINE)
    with pytest.raises(ZeroDivisionError):
        in_loop(loop, lambda: 1 / 0)  # the helper's own exception
    # Every kind of callback raised once; the loop still answers.
    messages = []
    deadline = time.monotonic() + DEADLINE
    while len(messages) < 3 and time.monotonic() < deadline:
        in_loop(loop, lambda: None)
        messages = [r.getMessage().split()[0] for r in caplog.records
                    if r.name == 'engineio_sync.reactor']
    assert sorted(messages) == ['call', 'reader', 'timer']
    assert all(r.exc_info and r.exc_info[0] is ValueError
               for r in caplog.records if r.name == 'engineio_sync.reactor')
    assert in_loop(loop, lambda: 'alive') == 'alive'


def test_a_flood_of_calls_does_not_starve_readers_or_timers(pair):
    a, b = pair
    reactor = Reactor(batch=8)
    thread = start(reactor)
    flooding = True
    runs = [0]
    underway = threading.Event()

    def flood() -> None:
        # Each call queues its successor: a hundred of them keep the queue
        # longer than a turn's batch for as long as the flood lasts.
        runs[0] += 1
        if runs[0] == 1000:
            underway.set()
        if flooding:
            reactor.call_soon_threadsafe(flood)

    try:
        got: queue.Queue = queue.Queue()
        in_loop(reactor, reactor.add_reader, a,
                lambda: got.put(a.recv(10)))
        for _ in range(100):
            reactor.call_soon_threadsafe(flood)
        # The timer and the bytes come once the flood is on.
        assert underway.wait(DEADLINE)
        timer = threading.Event()
        reactor.call_later(0, timer.set)
        b.sendall(b'x')
        assert got.get(timeout=DEADLINE) == b'x'
        assert timer.wait(DEADLINE)
        flooding = False
        in_loop(reactor, reactor.remove_reader, a)
    finally:
        flooding = False
        finish(reactor, thread)
    assert runs[0] >= 1000


def test_a_reader_always_ready_does_not_starve_calls_or_timers():
    reactor = Reactor(batch=4)
    pairs = [socket.socketpair() for _ in range(20)]
    try:
        for mine, peer in pairs:
            peer.sendall(b'never read')  # stays readable for ever
            reactor.add_reader(mine, lambda: None)
        thread = start(reactor)
        timer = threading.Event()
        reactor.call_later(0, timer.set)
        assert timer.wait(DEADLINE)
        assert in_loop(reactor, lambda: 'served') == 'served'
        for mine, _ in pairs:
            in_loop(reactor, reactor.remove_reader, mine)
        finish(reactor, thread)
    finally:
        for mine, peer in pairs:
            mine.close()
            peer.close()


def test_stop_from_another_thread_and_run_again():
    reactor = Reactor()
    for _ in range(3):
        thread = start(reactor)
        assert thread.is_alive()
        assert reactor.stop(DEADLINE) is True
        thread.join(DEADLINE)
        assert not thread.is_alive()
    # A stop before run(): run() returns at once.
    assert reactor.stop(DEADLINE) is True
    runner = threading.Thread(target=reactor.run)
    runner.start()
    runner.join(DEADLINE)
    assert not runner.is_alive()
    reactor.close()
    with pytest.raises(RuntimeError):
        reactor.call_soon_threadsafe(print)
    with pytest.raises(RuntimeError):
        reactor.run()


def test_stop_from_a_callback():
    reactor = Reactor()
    thread = threading.Thread(target=reactor.run)
    thread.start()
    reactor.call_soon_threadsafe(reactor.stop)
    thread.join(DEADLINE)
    assert not thread.is_alive()
    reactor.close()


def test_a_running_loop_cannot_be_closed_or_run_twice(loop):
    with pytest.raises(RuntimeError):
        loop.close()
    with pytest.raises(RuntimeError, match='already running'):
        loop.run()


def test_stop_waits_no_longer_than_its_timeout(loop):
    entered = threading.Event()
    release = threading.Event()
    loop.call_soon_threadsafe(lambda: (entered.set(), release.wait(DEADLINE)))
    assert entered.wait(DEADLINE)
    # The loop is stuck in a callback: stop() gives up after its timeout.
    assert loop.stop(0.05) is False
    release.set()
    assert loop.stop(DEADLINE) is True


# -- idle cost ------------------------------------------------------------------


def test_thousands_of_idle_sockets_and_far_timers_cost_no_cpu(capsys):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 11000:
        if hard != resource.RLIM_INFINITY and hard < 11000:
            pytest.skip('needs 11,000 file descriptors')
        resource.setrlimit(resource.RLIMIT_NOFILE, (11000, hard))
    reactor = Reactor()
    pairs = [socket.socketpair() for _ in range(5000)]
    try:
        for mine, _ in pairs:
            mine.setblocking(False)
            reactor.add_reader(mine, lambda: None)
            reactor.call_later(3600, lambda: None)
        assert reactor.watched() == 5000
        thread = start(reactor)
        try:
            before = time.process_time()
            # A measurement window, not a wait for something to happen.
            time.sleep(1.0)
            used = time.process_time() - before
            with capsys.disabled():
                print(f'\nreactor idle with 5,000 sockets and 5,000 timers: '
                      f'{used:.4f} s CPU in 1 s')
            assert used < 0.2
            # Still awake: the sockets are watched.
            pairs[0][1].sendall(b'x')
            got = threading.Event()
            in_loop(reactor, reactor.add_reader, pairs[0][0], got.set)
            assert got.wait(DEADLINE)
        finally:
            finish(reactor, thread)
    finally:
        for mine, peer in pairs:
            mine.close()
            peer.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_blocked_callback_hands_the_loop_to_a_new_thread():
    reactor = Reactor()
    start(reactor)
    release = threading.Event()
    blocked_in: list[int] = []
    ran_in: list[int] = []
    later = threading.Event()

    def blocks() -> None:
        blocked_in.append(threading.get_ident())
        release.wait(DEADLINE)

    def after() -> None:
        ran_in.append(threading.get_ident())
        later.set()

    left, right = socket.socketpair()
    try:
        in_loop(reactor, lambda: reactor.add_reader(left, lambda: (
            left.recv(10), reactor.remove_reader(left), blocks())))
        right.send(b'x')
        assert wait_until_true(lambda: blocked_in)
        # The loop's thread is stuck: the same call would never run.
        threads: list[threading.Thread] = []

        def start_thread(fn: Callable[[], None]) -> None:
            threads.append(threading.Thread(target=fn, daemon=True))
            threads[-1].start()
        assert reactor.hand_over(start_thread)
        reactor.call_soon_threadsafe(after)
        assert later.wait(DEADLINE), 'the new thread did not run the loop'
        assert ran_in[0] != blocked_in[0]
        assert reactor.in_loop_thread() is False
        release.set()
        # The old thread leaves the loop; the new one goes on.
        again = threading.Event()
        reactor.call_later(0.01, again.set)
        assert again.wait(DEADLINE)
    finally:
        release.set()
        assert reactor.stop(DEADLINE)
        left.close()
        right.close()
        reactor.close()


def wait_until_true(predicate: Callable[[], Any]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:  # bounded by the deadline
        if predicate():
            return True
        time.sleep(0.001)
    return False

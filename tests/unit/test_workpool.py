"""The pool of worker threads for application code (engineio_sync.workpool).

Jobs wait on events the test controls; every wait has a deadline and no
assertion depends on how long anything took.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Hashable, Iterable, Iterator

import pytest

from engineio_sync.workpool import DEFAULT_SIZE, WorkPool
from support.waiting import wait_until
from threadkit import DEADLINE, run_threads


class Records(logging.Handler):
    """The pool's log records, to wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: queue.Queue[logging.LogRecord] = queue.Queue()
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.put(record)

    def wait_for(self, text: str, times: int = 1) -> logging.LogRecord:
        """The ``times``-th record whose message holds ``text``."""
        deadline = time.monotonic() + DEADLINE
        while True:
            found = [r for r in self.seen if text in r.getMessage()]
            if len(found) >= times:
                return found[times - 1]
            self.seen.append(self.records.get(
                timeout=max(deadline - time.monotonic(), 0.001)))

    def count(self, text: str) -> int:
        while True:
            try:
                self.seen.append(self.records.get_nowait())
            except queue.Empty:
                break
        return sum(text in r.getMessage() for r in self.seen)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger('engineio_sync.workpool')
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def wait_for_releases(semaphore: threading.Semaphore, count: int) -> None:
    """``count`` releases of ``semaphore`` (jobs that said they ran)."""
    for _ in range(count):
        assert semaphore.acquire(timeout=DEADLINE)


def hold(pool: WorkPool, keys: Iterable[Hashable],
         running: int) -> threading.Event:
    """Submit for each key a job that blocks until the event returned is
    set; return once ``running`` of them run."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def block() -> None:
        started.release()
        release.wait(DEADLINE)

    for key in keys:
        assert pool.submit(key, block)
    wait_for_releases(started, running)
    return release


def test_jobs_of_one_key_run_one_at_a_time_in_order_from_8_submitters():
    pool = WorkPool(size=6)
    lock = threading.Lock()
    running: dict[int, int] = {}
    overlap = []
    ran: dict[int, list[tuple[int, int]]] = {k: [] for k in range(10)}
    all_done = threading.Semaphore(0)

    def job(key: int, submitter: int, n: int) -> None:
        with lock:
            running[key] = running.get(key, 0) + 1
            if running[key] > 1:
                overlap.append(key)
        # Give another thread a chance to break the rule, if it could.
        time.sleep(0)
        ran[key].append((submitter, n))
        with lock:
            running[key] -= 1
        all_done.release()

    def submitter(s: int) -> None:
        for n in range(500):
            assert pool.submit((s + n) % 10, job, (s + n) % 10, s, n)

    run_threads(submitter, 8)
    wait_for_releases(all_done, 4000)
    assert overlap == []
    for jobs in ran.values():
        for s in range(8):
            mine = [n for who, n in jobs if who == s]
            assert mine == sorted(mine)
            assert len(mine) == 50
    stats = pool.stats()
    assert stats.done == 4000 and stats.failed == 0 and stats.rejected == 0
    assert stats.threads <= 6
    assert pool.shutdown(DEADLINE) == 0


def test_a_key_with_work_gets_no_second_thread():
    pool = WorkPool(size=8)
    release = threading.Event()
    ran = []
    for n in range(50):
        assert pool.submit('one', lambda n=n: (release.wait(DEADLINE),
                                                ran.append(n)))
    stats = pool.stats()
    assert stats.threads == 1
    assert stats.keys == 1
    release.set()
    assert pool.shutdown(DEADLINE) == 0
    assert ran == list(range(50))


def test_a_blocked_job_holds_only_its_own_key():
    pool = WorkPool(size=3)
    release = threading.Event()
    slow_ran = []
    started = threading.Event()

    def slow(n: int) -> None:
        if n == 0:
            started.set()
            assert release.wait(DEADLINE)
        slow_ran.append(n)

    for n in range(5):
        assert pool.submit('slow', slow, n)
    assert started.wait(DEADLINE)
    others = threading.Semaphore(0)
    for n in range(300):
        assert pool.submit(f'other-{n % 30}', others.release)
    wait_for_releases(others, 300)
    # Everything else ran; the slow key's later jobs still wait behind it.
    assert slow_ran == []
    assert pool.stats().queued == 4
    release.set()
    assert pool.shutdown(DEADLINE) == 0
    assert slow_ran == [0, 1, 2, 3, 4]


def test_while_one_thread_keeps_up_no_other_is_woken():
    """Quick jobs stay on the thread that runs them and one that watches
    it: with the GIL more threads would only hand it to each other."""
    pool = WorkPool(size=8, stall=3600, max_wait=3600)
    done = threading.Semaphore(0)
    for n in range(2000):
        assert pool.submit(n % 50, done.release)
    wait_for_releases(done, 2000)
    assert pool.stats().threads <= 2
    assert pool.shutdown(DEADLINE) == 0


@pytest.mark.parametrize('stall, max_wait', [(0.01, 3600), (3600, 0.01)])
def test_blocked_jobs_bring_in_more_threads(stall, max_wait):
    """Jobs that all block: after ``stall`` (every running job is old) or
    ``max_wait`` (the next has waited), another thread takes the next."""
    pool = WorkPool(size=4, stall=stall, max_wait=max_wait)
    release = hold(pool, range(4), running=4)
    assert pool.stats().busy == 4
    release.set()
    assert pool.shutdown(DEADLINE) == 0


def test_saturation_refuses_counts_logs_once_and_loses_nothing(records):
    pool = WorkPool(size=2, max_queued=10)
    release = threading.Event()
    busy = threading.Semaphore(0)
    ran: list[str] = []
    lock = threading.Lock()

    def block(key: str) -> None:
        busy.release()
        assert release.wait(DEADLINE)
        with lock:
            ran.append(key)

    def quick(key: str) -> None:
        with lock:
            ran.append(key)

    assert pool.submit('b0', block, 'b0')
    assert pool.submit('b1', block, 'b1')
    wait_for_releases(busy, 2)
    # Both threads are held: what comes now waits, up to max_queued.
    for n in range(10):
        assert not pool.full
        assert pool.submit(f'k{n}', quick, f'k{n}')
    assert pool.full
    assert pool.submit('k10', quick, 'k10') is False
    assert pool.submit('b0', quick, 'late') is False
    stats = pool.stats()
    assert stats.saturated and stats.saturations == 1
    assert stats.queued == 10 and stats.queued_high_water == 10
    assert stats.rejected == 2 and stats.waited == 10
    assert stats.busy == 2 and stats.threads == 2
    assert records.count('saturated') == 1
    assert records.count('is full') == 1
    warning = records.wait_for('saturated')
    assert warning.levelno == logging.WARNING
    # Logged when the spell began: the first job that found no thread.
    assert 'all 2 threads busy; jobs waiting: 1 (high-water 1); ' \
        'keys with work: 3' in warning.getMessage()

    release.set()
    records.wait_for('recovered')
    assert not pool.full
    assert pool.shutdown(DEADLINE) == 0
    assert sorted(ran) == sorted(['b0', 'b1'] + [f'k{n}' for n in range(10)])
    stats = pool.stats()
    assert not stats.saturated and stats.done == 12 and stats.queued == 0
    assert records.count('saturated') == 1
    assert records.count('recovered') == 1
    assert records.count('takes new work again') == 1


@pytest.mark.parametrize('log_every', [0.0, 3600.0])
def test_every_spell_is_counted_and_logged_at_most_every_log_every(
        records, log_every):
    pool = WorkPool(size=1, max_queued=100, log_every=log_every)
    for spell in range(1, 4):
        release = threading.Event()
        busy = threading.Event()
        done = threading.Semaphore(0)
        assert pool.submit('blocker', lambda b=busy, r=release: (
            b.set(), r.wait(DEADLINE)))
        assert busy.wait(DEADLINE)
        for n in range(3):
            assert pool.submit(n, done.release)
        assert pool.stats().saturations == spell
        release.set()
        wait_for_releases(done, 3)
        if log_every == 0 or spell == 1:
            records.wait_for('recovered', spell if log_every == 0 else 1)
        # The spell ends when the thread finds nothing more to do.
        wait_until(lambda: not pool.stats().saturated, DEADLINE,
                   what='the saturation over')
    assert pool.shutdown(DEADLINE) == 0
    if log_every == 0:
        assert records.count('saturated:') == 3
        assert records.count('recovered') == 3
        assert records.count('spells not logged before this one: 0') == 3
    else:
        # A burst of spells: the first is logged, the others counted.
        assert records.count('saturated:') == 1
        assert records.count('recovered') == 1
    assert pool.stats().saturations == 3


def test_a_job_that_raises_is_logged_with_its_key_and_the_key_goes_on(
        records):
    pool = WorkPool(size=2)
    ran = threading.Event()

    def boom() -> None:
        raise ValueError('boom')

    assert pool.submit('session-7', boom)
    assert pool.submit('session-7', ran.set)
    assert ran.wait(DEADLINE)
    record = records.wait_for('raised')
    assert "'session-7'" in record.getMessage()
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    assert pool.shutdown(DEADLINE) == 0
    assert pool.stats().failed == 1 and pool.stats().done == 2


def test_threads_start_lazily_and_end_when_idle():
    pool = WorkPool(size=4, idle_timeout=0.05)
    assert pool.stats().threads == 0
    done = threading.Event()
    assert pool.submit('a', done.set)
    assert done.wait(DEADLINE)
    assert pool.stats().threads == 1
    wait_until(lambda: pool.stats().threads == 0, DEADLINE,
               what='every thread ended')
    # And come back for new work.
    again = threading.Event()
    assert pool.submit('a', again.set)
    assert again.wait(DEADLINE)
    assert pool.shutdown(DEADLINE) == 0


def test_a_trickle_of_work_lets_the_extra_threads_end():
    """The thread that went idle last is woken first: under light load
    the others stay idle long enough to end."""
    pool = WorkPool(size=4, idle_timeout=0.2)
    hold(pool, range(4), running=4).set()
    done = threading.Semaphore(0)
    deadline = time.monotonic() + DEADLINE
    # One job at a time, back to back: far more often than the idle
    # timeout, so a pool that woke its threads in turn would keep all 4.
    while pool.stats().threads > 1:
        assert time.monotonic() < deadline, pool.stats()
        assert pool.submit('trickle', done.release)
        assert done.acquire(timeout=DEADLINE)
    assert pool.shutdown(DEADLINE) == 0


def test_threads_grow_to_size_and_no_further():
    pool = WorkPool(size=3)
    release = hold(pool, range(6), running=3)
    stats = pool.stats()
    assert stats.threads == 3 and stats.busy == 3 and stats.queued == 3
    release.set()
    assert pool.shutdown(DEADLINE) == 0
    assert pool.stats().threads == 0


def test_shutdown_runs_what_is_queued():
    pool = WorkPool(size=2)
    gate = threading.Event()
    ran = []
    assert pool.submit('g', gate.wait, DEADLINE)
    for n in range(20):
        assert pool.submit(n % 4, ran.append, n)
    gate.set()
    assert pool.shutdown(DEADLINE) == 0
    assert sorted(ran) == list(range(20))
    assert pool.submit('after', ran.append, 99) is False
    assert pool.stats().threads == 0


def test_shutdown_says_what_it_left_behind(records):
    pool = WorkPool(size=2)
    release = threading.Event()
    started = threading.Event()
    ran = []
    assert pool.submit('stuck', lambda: (started.set(),
                                         release.wait(DEADLINE)))
    for n in range(3):
        assert pool.submit('stuck', ran.append, n)
    assert started.wait(DEADLINE)
    others = threading.Semaphore(0)
    for n in range(5):
        assert pool.submit(f'o{n}', others.release)
    wait_for_releases(others, 5)
    # One job running (it cannot finish before the release) and three
    # queued behind it.
    assert pool.shutdown(0.05) == 4
    assert records.wait_for('3 jobs not run').levelno == logging.WARNING
    release.set()
    wait_until(lambda: pool.stats().threads == 0, DEADLINE,
               what='every thread ended')
    assert ran == []
    stats = pool.stats()
    assert stats.keys == 0 and stats.queued == 0 and stats.busy == 0


def test_a_job_may_submit_more_work():
    pool = WorkPool(size=2)
    done = threading.Event()

    def chain(n: int) -> None:
        if n == 0:
            done.set()
        else:
            assert pool.submit('chain', chain, n - 1)

    assert pool.submit('chain', chain, 100)
    assert done.wait(DEADLINE)
    assert pool.shutdown(DEADLINE) == 0


def test_defaults_and_bad_options():
    pool = WorkPool()
    assert pool.size == DEFAULT_SIZE
    with pytest.raises(ValueError):
        WorkPool(size=0)
    with pytest.raises(ValueError):
        WorkPool(max_queued=-1)


def test_run_here_runs_in_this_thread_and_hands_later_work_to_the_pool():
    pool = WorkPool(2)
    try:
        order: list[tuple[str, str]] = []
        done = threading.Event()
        me = threading.current_thread().name

        def first() -> None:
            order.append(('first', threading.current_thread().name))
            # Work for the same key while it runs here waits for it.
            pool.submit('k', second)

        def second() -> None:
            order.append(('second', threading.current_thread().name))
            done.set()

        pool.run_here('k', first)
        assert done.wait(DEADLINE)
        assert order[0] == ('first', me)
        assert order[1][0] == 'second' and order[1][1] != me
    finally:
        pool.shutdown(DEADLINE)


def test_run_here_queues_behind_a_key_that_is_busy():
    pool = WorkPool(2)
    try:
        release = threading.Event()
        order: list[str] = []
        done = threading.Event()
        pool.submit('k', lambda: (release.wait(DEADLINE), order.append('a')))
        wait_until(lambda: pool.stats().busy == 1, what='the job running')
        pool.run_here('k', lambda: (order.append('b'), done.set()))
        assert order == [], 'ran here while the key was busy'
        release.set()
        assert done.wait(DEADLINE)
        assert order == ['a', 'b']
    finally:
        pool.shutdown(DEADLINE)

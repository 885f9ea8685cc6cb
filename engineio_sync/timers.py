"""One timer task per server for every session's heartbeat and timeouts."""

from __future__ import annotations

import heapq
import logging
import math
from typing import Any, Callable

from .drivers.base import Driver

__all__ = ['TimerService']

logger = logging.getLogger('engineio_sync')


class TimerService:
    """A heap of (deadline, key) run by a single background task.

    ``callback(key, now)`` runs for every entry whose deadline passed; it is
    the callback's job to schedule the key again. Entries are never removed:
    a stale one costs one callback that finds nothing to do.
    """

    # Sleeping longer than this is pointless and keeps shutdown prompt.
    MAX_SLEEP = 30.0

    def __init__(self, driver: Driver, clock: Callable[[], float],
                 callback: Callable[[Any, float], None]) -> None:
        self._driver = driver
        self._clock = clock
        self._callback = callback
        self._heap: list[tuple[float, int, Any]] = []
        self._counter = 0
        self._lock = driver.state_lock()
        self._wake = driver.event()
        self._wake_at = math.inf
        self._running = False
        self._task: Any = None

    def schedule(self, when: float, key: Any) -> None:
        """Run the callback for ``key`` at ``when`` (clock seconds)."""
        with self._lock:
            self._counter += 1
            heapq.heappush(self._heap, (when, self._counter, key))
            wake = when < self._wake_at
            if wake:
                self._wake_at = when
            if not self._running:
                self._running = True
                self._task = self._driver.spawn(self._run)
                wake = False
        if wake:
            self._wake.set()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the task; pending entries are dropped."""
        with self._lock:
            running = self._running
            self._running = False
            self._heap.clear()
            task, self._task = self._task, None
        if running:
            self._wake.set()
            if task is not None:
                task.join(timeout)

    def __len__(self) -> int:
        return len(self._heap)

    def _run(self) -> None:
        heap = self._heap
        while self._running:
            self._wake.clear()
            now = self._clock()
            due = []
            with self._lock:
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap)[2])
            for key in due:
                try:
                    self._callback(key, now)
                except Exception:
                    logger.exception('timer callback for %r raised', key)
            with self._lock:
                if not self._running:
                    break
                wait = (heap[0][0] - self._clock()) if heap else self.MAX_SLEEP
                wait = min(max(wait, 0.0), self.MAX_SLEEP)
                self._wake_at = self._clock() + wait
            if wait > 0:
                self._wake.wait(wait)
            else:
                # Let other tasks run between batches of due work.
                self._driver.sleep(0)

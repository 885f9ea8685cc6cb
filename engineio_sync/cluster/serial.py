"""Jobs run one after another per key, different keys side by side."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable

__all__ = ['SerialRunner']


class SerialRunner:
    """Runs the jobs submitted for one key in order, in a task that lives
    while the key has jobs; other keys' jobs run meanwhile in their own
    tasks. The owner of sessions uses one key per session: a slow handler
    holds up its own session only."""

    def __init__(self, spawn: Callable[..., Any], lock: Any,
                 logger: logging.Logger) -> None:
        self._spawn = spawn
        self._lock = lock
        self._logger = logger
        self._queues: dict[str, deque] = {}

    def submit(self, key: str, job: Callable[..., Any], *args: Any) -> None:
        """Run ``job(*args)`` after the jobs submitted before for ``key``."""
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append((job, args))
                return
            self._queues[key] = deque(((job, args),))
        self._spawn(self._run, key)

    def pending(self) -> int:
        """How many keys have jobs waiting or running."""
        return len(self._queues)

    def _run(self, key: str) -> None:
        queues = self._queues
        while True:
            with self._lock:
                queue = queues[key]
                if not queue:
                    del queues[key]
                    return
                job, args = queue.popleft()
            try:
                job(*args)
            except Exception:
                self._logger.exception('%s: cluster request failed', key)

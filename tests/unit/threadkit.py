"""Helpers for the tests of tests/unit: threads started together, with
deadlines."""

from __future__ import annotations

import threading
from typing import Any, Callable

#: the longest any test here waits for one thing
DEADLINE = 10.0


def run_threads(target: Callable[..., Any], count: int) -> None:
    """Run ``target(n)`` for n in range(count), each in its own thread,
    released together by a barrier; return once all of them have ended."""
    go = threading.Barrier(count)

    def run(n: int) -> None:
        go.wait(DEADLINE)
        target(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
        assert not thread.is_alive()

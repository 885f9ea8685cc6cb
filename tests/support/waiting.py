"""Waiting for something the test can observe, with a deadline.

Tests wait for the event itself (a server's JSON event line, a log line,
a counter, a socket's state), never for a guessed time: a busy machine
makes things slower, not different. The deadlines are generous because
they only matter when the test fails.
"""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ['wait_until']


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0,
               what: str = 'condition', interval: float = 0.01,
               ignore: tuple[type[BaseException], ...] = ()) -> Any:
    """Call ``predicate`` every ``interval`` seconds until it returns a
    true value, and return that value.

    AssertionError naming ``what`` after ``timeout`` seconds. Exceptions
    of the types in ``ignore`` count as "not yet" (the last one is named
    in the failure).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last_error = exc
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f'{what} not reached within {timeout}s' +
                (f' (last error: {last_error!r})' if last_error else ''))
        time.sleep(interval)

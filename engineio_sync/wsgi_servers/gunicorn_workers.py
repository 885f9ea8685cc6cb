"""gunicorn's workers (no standalone runner: gunicorn runs the process).

Its gevent and eventlet workers hand out green sockets and can be told
that a request is already handled; gthread and sync workers cannot.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from .base import empty_ok

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'finish']

NAME = 'gunicorn'
DRIVERS: tuple[str, ...] = ()

_GREEN = ('gevent', 'eventlet')


def raw_socket(environ: dict) -> Any | None:
    """The socket gunicorn puts in the environ."""
    return environ.get('gunicorn.socket')


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """gunicorn's ``ALREADY_HANDLED`` for async workers (they then write
    nothing, log no bogus 200 and close the connection), else an empty
    200 that cannot reach the client."""
    if type(sock).__module__.split('.', 1)[0] in _GREEN:
        try:
            from gunicorn.workers.base_async import ALREADY_HANDLED
        except ImportError:  # pragma: no cover - moved in a new gunicorn
            pass
        else:
            return ALREADY_HANDLED
    return empty_ok(start_response)

"""Concurrency drivers: the only modules that know eventlet, gevent or threads.

:func:`get_driver` returns the driver for an ``async_mode`` name, or picks
one when the name is None: eventlet or gevent when the process has been
monkey-patched by one of them (or eventlet is already imported by the
application, as when it serves with ``eventlet.wsgi`` unpatched), else
threads. Having a package installed is never enough.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable

from .base import Driver, Event, Lock, Queue, SocketLoop, Task

__all__ = ['Driver', 'Task', 'Event', 'Lock', 'Queue', 'SocketLoop',
           'get_driver',
           'detect_async_mode', 'sockets_cooperate', 'ASYNC_MODES',
           'DRIVERS']

#: async_mode -> ``'module:Class'`` of its driver. A module is imported
#: only when its driver is asked for, so eventlet and gevent are never
#: imported by a process that does not use them. Relative module names
#: are relative to this package.
DRIVERS: dict[str, str] = {
    'eventlet': '.eventlet:EventletDriver',
    'gevent': '.gevent:GeventDriver',
    'threading': '.threading:ThreadingDriver',
}

ASYNC_MODES = tuple(DRIVERS)


def _eventlet_patched() -> bool:
    if 'eventlet' not in sys.modules:
        return False
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return False
    return bool(patcher.is_monkey_patched('socket'))


def _gevent_patched() -> bool:
    if 'gevent' not in sys.modules:
        return False
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return False
    return bool(monkey.is_module_patched('socket'))


def sockets_cooperate(async_mode: str) -> bool:
    """True if blocking calls on the standard library's sockets let the
    other tasks of ``async_mode`` run: always for threads, for eventlet
    and gevent only once they monkey-patched the process."""
    if async_mode == 'eventlet':
        return _eventlet_patched()
    if async_mode == 'gevent':
        return _gevent_patched()
    return True


def detect_async_mode() -> str:
    """The async mode this process is set up for."""
    if _eventlet_patched():
        return 'eventlet'
    if _gevent_patched():
        return 'gevent'
    if 'eventlet.wsgi' in sys.modules or 'eventlet' in sys.modules:
        return 'eventlet'
    if 'gevent.pywsgi' in sys.modules:
        return 'gevent'
    return 'threading'


def get_driver(async_mode: str | None = None) -> Driver:
    """Return a driver instance for ``async_mode`` (None: detect).

    ValueError for an unknown name; ImportError when the driver's package
    (eventlet, gevent) is not installed.
    """
    if async_mode is None:
        async_mode = detect_async_mode()
    # Not a plain DRIVERS.get(): an unhashable name must be a ValueError.
    spec = DRIVERS.get(async_mode) if isinstance(async_mode, str) else None
    if spec is None:
        raise ValueError(f'async_mode must be one of {ASYNC_MODES} or None, '
                         f'not {async_mode!r}')
    module_name, _, class_name = spec.partition(':')
    module = importlib.import_module(module_name, __name__)
    driver_class: Callable[[], Driver] = getattr(module, class_name)
    return driver_class()

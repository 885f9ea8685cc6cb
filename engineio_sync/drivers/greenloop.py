"""The socket loop (:class:`~engineio_sync.drivers.base.SocketLoop`) on a
green hub: eventlet's or gevent's own listeners and timers.

A green thread blocked in a read keeps its stack, and that is most of
what an idle WebSocket costs under eventlet or gevent. Here a quiet
socket is a listener on the hub and nothing else; when it is readable (or
writable, or a timer is due) the callback runs in a greenlet made for it
there and then (a parked one, reused: see :data:`MAX_IDLE`). The hub's own
greenlet never runs a callback: it must never wait, and callbacks may
(a handler's database call, a contended lock).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from greenlet import getcurrent, greenlet

from .base import TimerHandle

__all__ = ['GreenSocketLoop']

logger = logging.getLogger('engineio_sync.loop')


#: Parked greenlets kept for the next callbacks; more are made when more
#: callbacks wait at once, and those beyond this many end when done.
MAX_IDLE = 64
# What run_now hands a parked greenlet (anything else is a stray wake-up,
# meant for a wait it finished long ago).
_RUN = object()


class GreenSocketLoop:
    """A :class:`~engineio_sync.drivers.base.SocketLoop` on a green hub;
    a driver supplies the hub's primitives (:meth:`_hub_greenlet`,
    :meth:`_watch`, :meth:`_unwatch`, :meth:`_timer`)."""

    #: Green threads have no pool to fill.
    busy = False

    def __init__(self) -> None:
        # fileno -> the hub's handle of its reader / writer
        self._readers: dict[int, Any] = {}
        self._writers: dict[int, Any] = {}
        # Greenlets parked between callbacks: making one costs several
        # microseconds (its own Python data stack), switching into a
        # parked one a fraction of that.
        self._idle: list[greenlet] = []

    # -- the hub's primitives ---------------------------------------------------

    def _hub_greenlet(self) -> greenlet:
        """The hub's greenlet (the parent of every callback's)."""
        raise NotImplementedError

    def _watch(self, fileno: int, write: bool,
               callback: Callable[[], None]) -> Any:
        """Have the hub call ``callback()`` (in its own greenlet) while
        ``fileno`` is readable (writable); returns a handle."""
        raise NotImplementedError

    def _unwatch(self, handle: Any) -> None:
        """Forget a handle of :meth:`_watch`."""
        raise NotImplementedError

    def _timer(self, delay: float, callback: Callable[..., object],
               args: tuple[Any, ...]) -> TimerHandle:
        """Have the hub call ``callback(*args)`` in ``delay`` seconds (in
        its own greenlet)."""
        raise NotImplementedError

    # -- the loop -----------------------------------------------------------------

    def run_now(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in a greenlet of its own, now (the hub's
        callbacks call this, in the hub's greenlet). When ``fn`` waits,
        the hub goes on; it resumes the greenlet like any other."""
        idle = self._idle
        hub = self._hub_greenlet()
        while idle:
            worker = idle.pop()
            if worker.parent is hub and not worker.dead:
                worker.switch(_RUN, fn, args)
                return
        greenlet(self._work, parent=hub).switch(_RUN, fn, args)

    def _work(self, *order: Any) -> None:
        """A callback greenlet: run a callback, park, run the next."""
        idle = self._idle
        me = getcurrent()
        while True:
            _, fn, args = order
            try:
                fn(*args)
            except Exception:
                # The hub is this greenlet's parent: nothing may reach it.
                logger.exception('a socket loop callback failed')
            del fn, args, order
            if len(idle) >= MAX_IDLE:
                return
            idle.append(me)
            while True:
                order = me.parent.switch()
                if type(order) is tuple and len(order) == 3 and \
                        order[0] is _RUN:
                    break

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` at the hub's next turn."""
        self._timer(0.0, fn, args)

    def in_loop_now(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` now: any greenlet but the hub's may."""
        if getcurrent() is self._hub_greenlet():
            self.run_now(fn, *args)
        else:
            fn(*args)

    def add_reader(self, sock: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is readable."""
        self._add(self._readers, sock.fileno(), False, callback)

    def add_writer(self, sock: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is writable."""
        self._add(self._writers, sock.fileno(), True, callback)

    def remove_reader(self, sock: Any) -> bool:
        """Stop watching ``sock`` for reading; False if it was not."""
        return self._remove(self._readers, sock.fileno())

    def remove_writer(self, sock: Any) -> bool:
        """Stop watching ``sock`` for writing; False if it was not."""
        return self._remove(self._writers, sock.fileno())

    def call_later(self, delay: float, callback: Callable[..., object],
                   *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` in ``delay`` seconds."""
        return self._timer(delay, callback, args)

    def _add(self, table: dict[int, Any], fileno: int, write: bool,
             callback: Callable[[], None]) -> None:
        old = table.pop(fileno, None)
        if old is not None:
            self._unwatch(old)
        table[fileno] = self._watch(fileno, write, callback)

    def _remove(self, table: dict[int, Any], fileno: int) -> bool:
        handle = table.pop(fileno, None)
        if handle is None:
            return False
        self._unwatch(handle)
        return True

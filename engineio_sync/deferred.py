"""Deferred HTTP responses: the handle a WSGI server may offer a request.

A server that can keep a connection waiting without a thread (the
native server on the threading driver, :mod:`engineio_sync.loop_http`)
puts a callable under ``environ['engineio_sync.defer']``
(:data:`engineio_sync.wsgi_servers.native.DEFER_KEY`). The application
calls it (at most once) for a :class:`Deferred` handle and returns the
handle itself as its WSGI result, without calling ``start_response``. The
connection then waits in the server's loop until some thread calls
``respond`` once; a parked long-poll holds no thread meanwhile.

These are the types both sides are checked against; nothing here runs.
"""

from __future__ import annotations

from typing import Callable, Protocol

__all__ = ['Deferred', 'Cancellable', 'Defer']


class Cancellable(Protocol):
    """A timer that may still be stopped."""

    def cancel(self) -> None:
        """Do not run it (a no-op once it ran)."""


class Deferred(Protocol):
    """A response the application gives later, from any thread."""

    def respond(self, status: str, headers: list[tuple[str, str]],
                body: bytes,
                done: Callable[[bool], None] | None = None) -> None:
        """Write the response (once; from any thread, never waiting).

        ``status`` and ``headers`` as for ``start_response``;
        ``Content-Length`` is added if absent. ``done(True)`` runs once
        every byte was handed to the kernel, ``done(False)`` if writing
        failed or the client was gone (in the server's loop thread: it
        must not block). Then the connection serves its next request.
        """

    def on_gone(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` (in the loop thread; it must not block) if
        the client closes or resets the connection before the response
        is written (at once if it already has). Bytes of a pipelined next
        request do not count: they wait for after the response."""

    def call_later(self, delay: float,
                   fn: Callable[[], None]) -> Cancellable:
        """Run ``fn()`` in the loop thread after ``delay`` seconds (the
        application's own deadline); it must not block."""


#: ``environ['engineio_sync.defer']``: returns the request's handle
Defer = Callable[[], Deferred]

"""engineio_sync's own HTTP/1.1 server (:mod:`engineio_sync.http_server`).

On a driver with an I/O loop (threads) the server offers every request a
deferred response: ``environ[DEFER_KEY]`` (``'engineio_sync.defer'``) is
a callable taking no arguments that returns a handle
(:class:`engineio_sync.transports.wsgi_io.Deferred`)
(call it at most once). The application returns the handle itself as its
WSGI result, without calling ``start_response``; the connection then
waits in the loop, holding no thread, until some thread calls
``handle.respond(status, headers, body, done)`` once. The loop writes the
response (``Content-Length`` added if absent) without waiting, calls
``done(True)`` once the kernel has every byte (``done(False)`` if the
write failed or the client was gone), and goes on with the connection's
next request. ``handle.on_gone(callback)`` runs ``callback()`` if the
client closes or resets the connection meanwhile (a pipelined next
request does not count); ``handle.call_later(delay, fn)`` is a loop timer
with ``cancel()``. Callbacks run in the loop's thread: they must not
block. :func:`deferrer` finds the callable; on other servers and drivers
there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'run_later', 'finish', 'run',
           'DEFER_KEY', 'deferrer']

NAME = 'native'
# Chosen by listen(http_server='native') whatever the driver, never as a
# driver's 'wsgi' server.
DRIVERS: tuple[str, ...] = ()

ENVIRON_KEY = 'engineio_sync.socket'
#: where a request that took its socket over may leave the rest of its
#: work (see :mod:`engineio_sync.http_server`)
THEN_KEY = 'engineio_sync.then'


#: where the server offers a request a deferred response (see above)
DEFER_KEY = 'engineio_sync.defer'


def deferrer(environ: dict) -> Callable[[], Any] | None:
    """The request's ``defer`` callable, or None if its server offers no
    deferred responses."""
    return environ.get(DEFER_KEY)


def raw_socket(environ: dict) -> Any | None:
    """The connection's socket, which the server puts in the environ."""
    return environ.get(ENVIRON_KEY)


def run_later(environ: dict, work: Callable[[], Any]) -> bool:
    """Have the server run ``work()`` in the connection's task once the
    request has returned; False if this request's server cannot."""
    then = environ.get(THEN_KEY)
    if then is None:
        return False
    then.append(work)
    return True


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """Nothing: the server treats a request that never called
    ``start_response`` as taken over and writes nothing more."""
    return []


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with a task of ``driver``."""
    from ..http_server import HTTPServer
    http = HTTPServer(app, host, port, driver=driver)
    done: list[bool] = []

    def serve() -> None:
        try:
            http.serve_forever()
        finally:
            done.append(True)

    def stop() -> None:
        # serve_forever() returns once its task next runs; alive() is
        # False from now on already.
        done.append(True)
        http.stop()

    driver.spawn(serve)
    return Runner(http.port, stop, lambda: not done)


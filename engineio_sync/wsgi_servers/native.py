"""engineio_sync's own HTTP/1.1 server (:mod:`engineio_sync.http_server`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'run_later', 'finish', 'run']

NAME = 'native'
# Chosen by listen(http_server='native') whatever the driver, never as a
# driver's 'wsgi' server.
DRIVERS: tuple[str, ...] = ()

ENVIRON_KEY = 'engineio_sync.socket'
#: where a request that took its socket over may leave the rest of its
#: work (see :mod:`engineio_sync.http_server`)
THEN_KEY = 'engineio_sync.then'


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


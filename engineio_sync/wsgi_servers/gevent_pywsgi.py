"""gevent's WSGI server, ``gevent.pywsgi.WSGIServer``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'finish', 'run']

NAME = 'gevent.pywsgi'
DRIVERS: tuple[str, ...] = ('gevent',)


def raw_socket(environ: dict) -> Any | None:
    """The socket under ``wsgi.input``'s buffered reader.

    pywsgi puts no socket in the environ; the only way to it is through
    the input stream's file object, whose layout gevent does not promise,
    hence every step is optional.
    """
    if not environ.get('SERVER_SOFTWARE', '').startswith('gevent'):
        return None
    stream = environ.get('wsgi.input')
    rfile = getattr(stream, 'rfile', stream)
    raw = getattr(rfile, 'raw', None)
    return getattr(raw, '_sock', None)


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """Nothing: without ``start_response`` pywsgi writes nothing."""
    return []


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with gevent's ``WSGIServer`` (its own greenlets)."""
    from gevent.pywsgi import WSGIServer
    http = WSGIServer((host, port), app, log=None)
    http.start()
    return Runner(http.server_port, lambda: http.stop(timeout=1),
                  lambda: http.started)

"""gevent's WSGI server, ``gevent.pywsgi.WSGIServer``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'closes_silently',
           'saying_close', 'finish', 'run']

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


def closes_silently(environ: dict) -> bool:
    """True if pywsgi will close the connection after answering this
    request without telling the client.

    gevent's pywsgi (26.x) honours an HTTP/1.1 request's ``Connection:
    close`` by closing once it has answered, but writes a ``Connection``
    header only in HTTP/1.0 responses; a client that pools connections
    (node's ``fetch``) then sends its next request on the closed socket.
    pywsgi honours an application's own ``Connection: close``, so adding
    one makes the response tell the truth.
    """
    value = environ.get('HTTP_CONNECTION')
    if not value or environ.get('SERVER_PROTOCOL') != 'HTTP/1.1' or \
            not environ.get('SERVER_SOFTWARE', '').startswith('gevent'):
        return False
    return 'close' in [token.strip() for token in value.lower().split(',')]


def saying_close(start_response: Callable) -> Callable:
    """``start_response`` that adds ``Connection: close`` to a response
    without a ``Connection`` header."""
    def start(status: str, headers: list[tuple[str, str]],
              exc_info: Any = None) -> Callable:
        if not any(name.lower() == 'connection' for name, _ in headers):
            headers = [*headers, ('Connection', 'close')]
        return start_response(status, headers, exc_info)
    return start


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """Nothing: without ``start_response`` pywsgi writes nothing."""
    return []


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with gevent's ``WSGIServer`` (its own greenlets).

    Every response to an HTTP/1.1 request with ``Connection: close`` says
    ``Connection: close`` (see :func:`closes_silently`), the application's
    own pages too.
    """
    from gevent.pywsgi import WSGIServer

    def serve(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if closes_silently(environ):
            start_response = saying_close(start_response)
        return app(environ, start_response)

    http = WSGIServer((host, port), serve, log=None)
    http.start()
    return Runner(http.server_port, lambda: http.stop(timeout=1),
                  lambda: http.started)

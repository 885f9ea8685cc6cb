"""What engineio_sync knows about each WSGI server, one module per server.

The WebSocket transport takes the client's socket over from whichever
server runs the application: :func:`find` recognises the server from the
WSGI environ and returns a :class:`Hijack` with the socket and the right
way to end the request afterwards. :func:`engineio_sync.listen` starts
its HTTP server through :func:`runner`.

A new server is a module with the surface described in
:mod:`engineio_sync.wsgi_servers.base` plus one entry in :data:`SERVERS`.
Nothing here imports eventlet, gevent, werkzeug or gunicorn until a
function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import eventlet_wsgi, gevent_pywsgi, gunicorn_workers, native, werkzeug
from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

    from ..drivers import Driver

__all__ = ['SERVERS', 'FALLBACK_WSGI', 'Hijack', 'Runner', 'announce_close',
           'find', 'names', 'run_later', 'runner', 'wsgi_server_for']

#: The registry, in the order :func:`find` asks. The order matters where a
#: server's environ could look like another's: the native server's key is
#: its own, and gevent's pywsgi is only recognised by SERVER_SOFTWARE, so
#: it comes last.
SERVERS: tuple[ModuleType, ...] = (
    native,
    eventlet_wsgi,
    gunicorn_workers,
    werkzeug,
    gevent_pywsgi,
)

#: The ``http_server='wsgi'`` server of a driver that names none.
FALLBACK_WSGI = werkzeug.NAME


class Hijack:
    """A client socket taken over from the WSGI server that accepted it.

    ``sock`` is the connection, ``server`` the name of the WSGI server.
    Once the application has answered on the socket itself and shut it
    down, it returns ``hijack.finish(start_response)`` to the server (or
    hands over the bound method ``hijack.finish`` where a callable taking
    ``start_response`` is expected).
    """

    # One lives as long as each WebSocket; there may be many thousands.
    __slots__ = ('sock', 'server', '_finish')

    def __init__(self, sock: Any, server: str,
                 finish: Callable[[Callable, Any], Iterable[bytes]]) -> None:
        self.sock = sock
        self.server = server
        self._finish = finish

    def finish(self, start_response: Callable) -> Iterable[bytes]:
        """The WSGI return value that ends the taken-over request."""
        return self._finish(start_response, self.sock)

    def __repr__(self) -> str:
        return f'<Hijack {self.server} {self.sock!r}>'


def find(environ: dict) -> Hijack | None:
    """The client's socket and its server, or None if no known server
    exposes the socket for this request."""
    for server in SERVERS:
        sock = server.raw_socket(environ)
        if sock is not None:
            return Hijack(sock, server.NAME, server.finish)
    return None


def run_later(environ: dict, work: Callable[[], Any]) -> bool:
    """Leave ``work()`` for the server to run in the connection's task
    once this taken-over request has returned, so that a long-lived
    WebSocket holds none of the request's frames; False (and nothing
    done) if the server cannot (only ours can)."""
    return native.run_later(environ, work)


def announce_close(environ: dict, start_response: Callable) -> Callable:
    """``start_response``, or a wrapper of it that adds ``Connection:
    close`` to the response when the server will close the connection
    after it without saying so (gevent's pywsgi after an HTTP/1.1
    ``Connection: close`` request; see
    :func:`gevent_pywsgi.closes_silently`)."""
    if gevent_pywsgi.closes_silently(environ):
        return gevent_pywsgi.saying_close(start_response)
    return start_response


def names() -> list[str]:
    """The names of the known servers, in :func:`find` order."""
    return [server.NAME for server in SERVERS]


def _module(name: str) -> ModuleType:
    for server in SERVERS:
        if server.NAME == name:
            return server
    raise ValueError(f'unknown WSGI server {name!r}; known: {names()}')


def runner(name: str) -> Callable[[str, int, Callable, Driver], Runner]:
    """The ``run(host, port, app, driver) -> Runner`` of server ``name``.

    ``run`` binds, starts serving in the background and returns a
    started :class:`Runner`. ValueError for an unknown server or one that
    cannot be started from a script (gunicorn).
    """
    server = _module(name)
    run = getattr(server, 'run', None)
    if run is None:
        raise ValueError(f'the WSGI server {name!r} cannot be started by '
                         'engineio_sync')
    return run


def wsgi_server_for(async_mode: str) -> str:
    """The name of the usual WSGI server for driver ``async_mode``."""
    for server in SERVERS:
        if async_mode in server.DRIVERS:
            return server.NAME
    return FALLBACK_WSGI

"""What every WSGI-server module of :mod:`engineio_sync.wsgi_servers` shares.

A server module provides:

``NAME``
    The server's name (``'native'``, ``'eventlet.wsgi'``...).
``raw_socket(environ) -> socket | None``
    The client's socket if ``environ`` comes from this server, else None.
``finish(start_response, sock) -> iterable``
    What the WSGI application returns once it has taken ``sock`` over
    (answered the request itself and shut the socket down).
``DRIVERS``
    The ``async_mode`` names for which this is the usual WSGI server of
    ``listen(http_server='wsgi')``; empty for none.
``run(host, port, app, driver) -> Runner`` (optional)
    Serve ``app`` on ``host:port`` in the background.
"""

from __future__ import annotations

from typing import Callable, Iterable

__all__ = ['Runner', 'empty_ok']


class Runner:
    """An HTTP server serving in the background.

    ``port`` is the bound port (useful with port 0), ``stop()`` stops
    accepting connections, ``alive()`` tells whether it still serves.
    """

    __slots__ = ('port', '_stop', '_alive')

    def __init__(self, port: int, stop: Callable[[], None],
                 alive: Callable[[], bool]) -> None:
        self.port = port
        self._stop = stop
        self._alive = alive

    def stop(self) -> None:
        """Stop serving (connections already open may live on)."""
        self._stop()

    def alive(self) -> bool:
        """True while the server still accepts connections."""
        return bool(self._alive())


def empty_ok(start_response: Callable) -> Iterable[bytes]:
    """A dummy empty 200, for servers that insist on a response.

    The socket is already shut down when this is returned, so the
    response never reaches the client; it only keeps the server from
    treating the request as failed.
    """
    start_response('200 OK', [('Content-Length', '0')])
    return []

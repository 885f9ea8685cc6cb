"""werkzeug's threaded development server, for ``async_mode='threading'``.

Unlike the standard library's ``wsgiref``, it exposes the raw socket
(``werkzeug.socket``) and keeps connections alive.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner, empty_ok

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'finish', 'run',
           'make_threaded_server']

NAME = 'werkzeug'
DRIVERS: tuple[str, ...] = ('threading',)


def raw_socket(environ: dict) -> Any | None:
    """The socket werkzeug puts in the environ."""
    return environ.get('werkzeug.socket')


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """An empty 200 that cannot reach the client: werkzeug has no way to
    be told that the request was answered."""
    return empty_ok(start_response)


def make_threaded_server(host: str, port: int, app: Callable) -> Any:
    """A werkzeug ``ThreadedWSGIServer`` bound to ``host:port``."""
    try:
        from werkzeug.serving import WSGIRequestHandler, make_server
    except ImportError:  # pragma: no cover
        raise RuntimeError('the threaded standalone server needs werkzeug: '
                           'pip install werkzeug') from None

    class Handler(WSGIRequestHandler):
        # Keep-alive needs HTTP/1.1; werkzeug's default is 1.0.
        protocol_version = 'HTTP/1.1'

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return make_server(host, port, app, threaded=True,
                       request_handler=Handler)


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with werkzeug's threaded server in a daemon thread."""
    httpd = make_threaded_server(host, port, app)
    thread = threading.Thread(target=httpd.serve_forever,
                              name='engineio_sync-http', daemon=True)
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()

    return Runner(httpd.server_port, stop, thread.is_alive)

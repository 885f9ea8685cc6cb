"""A threaded HTTP/1.1 WSGI server for ``async_mode='threading'``.

Werkzeug's server exposes the raw socket to WebSocket handlers
(``werkzeug.socket``) and keeps connections alive, which the standard
library's ``wsgiref`` does not.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ['make_threaded_server']


def make_threaded_server(host: str, port: int, app: Callable) -> Any:
    """A werkzeug ``ThreadedWSGIServer`` bound to ``host:port``."""
    try:
        from werkzeug.serving import WSGIRequestHandler, make_server
    except ImportError:  # pragma: no cover
        raise RuntimeError('the threaded standalone server needs werkzeug: '
                           'pip install werkzeug') from None

    class _Handler(WSGIRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return make_server(host, port, app, threaded=True,
                       request_handler=_Handler)

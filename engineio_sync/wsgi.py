"""WSGI middleware: serve Engine.IO on one path, pass the rest through."""

from __future__ import annotations

import mimetypes
import os
from typing import Any, Callable, Iterable

from .server import Server
from .transports.wsgi_io import Response

__all__ = ['WSGIApp']

WSGIApplication = Callable[[dict, Callable], Iterable[bytes]]


class WSGIApp:
    """Route ``/<engineio_path>/`` to ``server``; everything else to
    ``wsgi_app`` (or 404).

    :param server: the :class:`~engineio_sync.Server`.
    :param wsgi_app: the application to wrap, e.g. Flask's ``app.wsgi_app``
        or Django's ``get_wsgi_application()``.
    :param engineio_path: the mount point (Socket.IO uses
        ``'socket.io'``); by default the server's ``path`` option
        (``'/engine.io'``) with its ``add_trailing_slash`` rule.
    :param static_files: ``{'/url': 'path/to/file'}`` or
        ``{'/prefix': {'filename': 'dir', 'content_type': ...}}``: files
        served before the wrapped app.
    """

    def __init__(self, server: Server, wsgi_app: WSGIApplication | None = None,
                 engineio_path: str | None = None,
                 static_files: dict[str, Any] | None = None) -> None:
        if not isinstance(server, Server):
            raise TypeError('server must be an engineio_sync.Server')
        if wsgi_app is not None and not callable(wsgi_app):
            raise TypeError('wsgi_app must be a WSGI callable')
        self.engineio_server = server
        self.wsgi_app = wsgi_app
        if engineio_path is None:
            # The server's own path option decides (add_trailing_slash).
            self.engineio_path = server.config.path
            self._matches: Callable[[str], bool] = server.matches_path
        else:
            path = '/' + engineio_path.strip('/')
            self.engineio_path = path
            # Both '/engine.io' and '/engine.io/' (and anything below it).
            prefix = path + '/'
            self._matches = (lambda p: p == path or p.startswith(prefix))
        self.static_files = dict(static_files or {})

    def __call__(self, environ: dict,
                 start_response: Callable) -> Iterable[bytes]:
        path = environ.get('PATH_INFO') or '/'
        if self._matches(path):
            return self.engineio_server.handle_request(environ,
                                                       start_response)
        if self.static_files:
            response = self._static(path)
            if response is not None:
                return response(start_response)
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        return Response(404, b'Not Found',
                        [('Content-Type', 'text/plain')])(start_response)

    def _static(self, path: str) -> Response | None:
        for prefix in sorted(self.static_files, key=len, reverse=True):
            spec = self.static_files[prefix]
            if isinstance(spec, str):
                spec = {'filename': spec}
            target = spec['filename']
            if path == prefix:
                filename = target
                if os.path.isdir(filename):
                    filename = os.path.join(filename, 'index.html')
            elif prefix.endswith('/') and path.startswith(prefix) and \
                    os.path.isdir(target):
                rest = path[len(prefix):]
                filename = os.path.normpath(os.path.join(target, rest))
                root = os.path.abspath(target)
                if not os.path.abspath(filename).startswith(root + os.sep):
                    return Response(404, b'Not Found',
                                    [('Content-Type', 'text/plain')])
            else:
                continue
            if not os.path.isfile(filename):
                return Response(404, b'Not Found',
                                [('Content-Type', 'text/plain')])
            ctype = spec.get('content_type') or mimetypes.guess_type(
                filename)[0] or 'application/octet-stream'
            with open(filename, 'rb') as f:
                body = f.read()
            return Response(200, body, [('Content-Type', ctype)])
        return None

"""Serve a Server (and optionally a WSGI app) from a script."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ['listen']


def listen(port: int, host: str = '127.0.0.1', *,
           wsgi_app: Callable | None = None, engineio_path: str = 'engine.io',
           server: Any = None, ready: Callable[[Any], None] | None = None,
           **options: Any) -> Any:
    """Run an Engine.IO server on ``host:port`` until interrupted.

    Serves with ``eventlet.wsgi`` when eventlet is installed (or the
    threaded ``wsgiref`` server with ``async_mode='threading'``). Pass an
    existing ``server`` or keyword options for a new one. ``ready(server)``
    is called once the socket listens. Returns the server after shutdown.
    """
    from .server import Server
    from .wsgi import WSGIApp
    async_mode = options.pop('async_mode', None)
    if async_mode is None and server is None:
        try:
            import eventlet  # noqa: F401
            async_mode = 'eventlet'
        except ImportError:
            async_mode = 'threading'
    if server is None:
        server = Server(async_mode=async_mode, **options)
    elif options:
        raise TypeError('pass either server= or server options, not both')
    app = WSGIApp(server, wsgi_app, engineio_path=engineio_path)
    if server.async_mode == 'eventlet':
        import eventlet
        import eventlet.wsgi
        sock = eventlet.listen((host, port), backlog=1024)
        if ready is not None:
            ready(server)
        try:
            eventlet.wsgi.server(sock, app, log_output=False, max_size=20000)
        finally:
            server.shutdown()
        return server
    if server.async_mode == 'gevent':
        from gevent.pywsgi import WSGIServer
        http = WSGIServer((host, port), app, log=None)
        http.start()
        if ready is not None:
            ready(server)
        try:
            http.serve_forever()
        finally:
            server.shutdown()
        return server
    from .threaded_server import make_threaded_server
    httpd = make_threaded_server(host, port, app)
    if ready is not None:
        ready(server)
    try:
        httpd.serve_forever()
    finally:
        server.shutdown()
        httpd.server_close()
    return server

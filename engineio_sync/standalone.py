"""Serve a Server (and optionally a WSGI app) from a script.

:func:`listen` runs the HTTP server in the background and waits for a stop
request (SIGTERM, SIGINT / Ctrl-C) in the calling thread. A stop is
graceful: every session gets its close packet (parked long-polls are
answered, WebSockets get the close packet and a close frame), the
``disconnect`` handlers run with reason ``'server shutting down'``, and
the function returns once the sessions are gone or ``shutdown_timeout``
seconds have passed, whichever comes first. A second signal during that
time stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Callable

__all__ = ['listen', 'graceful_shutdown']

logger = logging.getLogger('engineio_sync')

_STOP_SIGNALS = ('SIGTERM', 'SIGINT')


def graceful_shutdown(server: Any, timeout: float = 5.0,
                      abort: Callable[[], bool] | None = None) -> bool:
    """Close every session of ``server`` and wait for them to finish.

    Calls ``server.shutdown()`` (close packets, answered GETs, WebSocket
    close frames, ``disconnect`` handlers with ``'server shutting
    down'``), then waits, using the server's own driver, until no session
    needs a transport any more, ``timeout`` seconds pass, or ``abort()``
    returns True. Returns True if every session finished in time.
    """
    import time
    server.shutdown()
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        if not _pending_sessions(server):
            return True
        if time.monotonic() >= deadline or (abort is not None and abort()):
            logger.info('shutdown: %d session(s) still closing after '
                        '%.1fs; stopping anyway',
                        _pending_sessions(server), timeout)
            return False
        server.sleep(0.05)


def _pending_sessions(server: Any) -> int:
    # Sessions that still need a transport: closing ones are waiting for
    # their close packet to be collected or their close frame answered.
    return server.pending_sessions()


class _StopRequest:
    """A stop flag set by signal handlers (which only set flags)."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self.forced = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested is None:
            self.requested = name
        else:
            self.forced = True

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        for name in _STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is None:  # pragma: no cover
                continue
            self._previous[signum] = signal.signal(signum, self._handler)
        return True

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous)
            except (ValueError, TypeError):  # pragma: no cover
                pass
        self._previous.clear()


class _Runner:
    """An HTTP server running in the background."""

    def __init__(self, start: Callable[[], None], stop: Callable[[], None],
                 alive: Callable[[], bool]) -> None:
        self.stop = stop
        self.alive = alive
        start()


def _eventlet_runner(host: str, port: int, app: Callable,
                     bound: list, driver: Any) -> _Runner:
    import eventlet
    import eventlet.wsgi
    sock = eventlet.listen((host, port), backlog=1024)
    bound.append(sock.getsockname()[1])
    box: dict = {}

    def start() -> None:
        box['gt'] = eventlet.spawn(eventlet.wsgi.server, sock, app,
                                   log_output=False, max_size=20000)

    def stop() -> None:
        # Killing the accept loop leaves live connections alone; the
        # process is about to end anyway.
        box['gt'].kill()
        try:
            sock.close()
        except OSError:  # pragma: no cover
            pass

    return _Runner(start, stop, lambda: not box['gt'].dead)


def _gevent_runner(host: str, port: int, app: Callable,
                   bound: list, driver: Any) -> _Runner:
    from gevent.pywsgi import WSGIServer
    http = WSGIServer((host, port), app, log=None)

    def start() -> None:
        http.start()
        bound.append(http.server_port)

    return _Runner(start, lambda: http.stop(timeout=1),
                   lambda: http.started)


def _threading_runner(host: str, port: int, app: Callable,
                      bound: list, driver: Any) -> _Runner:
    from .threaded_server import make_threaded_server
    httpd = make_threaded_server(host, port, app)
    bound.append(httpd.server_port)
    thread = threading.Thread(target=httpd.serve_forever,
                              name='engineio_sync-http', daemon=True)

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()

    return _Runner(thread.start, stop, thread.is_alive)


def _native_runner(host: str, port: int, app: Callable, bound: list,
                   driver: Any) -> _Runner:
    from .http_server import HTTPServer
    http = HTTPServer(app, host, port, driver=driver)
    bound.append(http.port)
    state = {'done': False}

    def run() -> None:
        try:
            http.serve_forever()
        finally:
            state['done'] = True

    return _Runner(lambda: driver.spawn(run), http.stop,
                   lambda: not state['done'])


_RUNNERS = {'eventlet': _eventlet_runner, 'gevent': _gevent_runner,
            'threading': _threading_runner}


def listen(port: int, host: str = '127.0.0.1', *,
           wsgi_app: Callable | None = None,
           engineio_path: str | None = None,
           server: Any = None, ready: Callable[[Any], None] | None = None,
           static_files: dict[str, Any] | None = None,
           shutdown_timeout: float = 5.0, handle_signals: bool = True,
           http_server: str = 'native', **options: Any) -> Any:
    """Run an Engine.IO server on ``host:port`` until stopped.

    ``async_mode`` defaults to eventlet when it is installed, else threads.
    ``http_server='native'`` (the default) serves with engineio_sync's own
    HTTP/1.1 server (:mod:`engineio_sync.http_server`) on the server's
    driver: the fastest and leanest choice. ``http_server='wsgi'`` uses the
    driver's usual WSGI server instead: ``eventlet.wsgi``, gevent's
    ``WSGIServer`` or werkzeug's threaded server. Pass an existing
    ``server`` or keyword options for a new one; ``wsgi_app``,
    ``engineio_path`` (default: the server's ``path``) and
    ``static_files`` go to :class:`~engineio_sync.WSGIApp`.
    ``ready(server)`` is called once the socket listens (``port=0`` picks
    a free port, readable as ``server.listening_port`` in ``ready``).

    SIGTERM and SIGINT (when called from the main thread and
    ``handle_signals`` is true) or KeyboardInterrupt stop the server
    gracefully; see :func:`graceful_shutdown`. Returns the server.
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
    app = WSGIApp(server, wsgi_app, engineio_path=engineio_path,
                  static_files=static_files)
    bound: list = []
    if http_server == 'native':
        make_runner = _native_runner
    elif http_server == 'wsgi':
        make_runner = _RUNNERS.get(server.async_mode, _threading_runner)
    else:
        raise ValueError("http_server must be 'native' or 'wsgi'")
    runner = make_runner(host, port, app, bound, server.driver)
    try:
        server.listening_port = bound[0] if bound else port
    except AttributeError:  # pragma: no cover - a Server with __slots__
        pass
    stop = _StopRequest()
    installed = handle_signals and stop.install()
    try:
        if ready is not None:
            ready(server)
        try:
            # Signal handlers only set a flag; this loop notices it. The
            # sleep goes through the driver, so the event loop keeps
            # serving meanwhile.
            while stop.requested is None and runner.alive():
                server.sleep(0.25)
        except KeyboardInterrupt:
            stop.requested = 'KeyboardInterrupt'
        logger.info('stopping (%s): closing %d session(s)',
                    stop.requested or 'server ended',
                    _pending_sessions(server))
        try:
            graceful_shutdown(server, shutdown_timeout,
                              abort=lambda: stop.forced)
        except KeyboardInterrupt:  # pragma: no cover - handlers not ours
            pass
        runner.stop()
    finally:
        if installed:
            stop.restore()
    logger.info('stopped')
    return server

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
from typing import Any, Callable

from .wsgi_servers import native, runner, wsgi_server_for

__all__ = ['listen', 'graceful_shutdown', 'wait_for_sessions']

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
    server.shutdown()
    return wait_for_sessions([server], timeout, abort)


def wait_for_sessions(servers: list[Any], timeout: float,
                      abort: Callable[[], bool] | None = None) -> bool:
    """Wait, using the first server's driver, until no session of
    ``servers`` needs a transport any more (after ``shutdown()``: the
    close packets collected, the close frames answered), ``timeout``
    seconds pass, or ``abort()`` returns True. True if every session
    finished in time."""
    import time
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    while True:
        # Closing sessions count: their close packet is still to be
        # collected or their close frame answered.
        pending = sum(server.pending_sessions() for server in servers)
        if not pending:
            return True
        aborted = abort is not None and abort()
        if aborted or time.monotonic() >= deadline:
            logger.info('shutdown: %d session(s) still closing after '
                        '%.1fs; stopping anyway%s', pending,
                        time.monotonic() - started,
                        ' (asked to stop at once)' if aborted else '')
            return False
        servers[0].sleep(0.05)


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
        """Install the handlers; False where Python cannot (any thread but
        the main thread of the main interpreter), leaving them alone."""
        # signal.signal() itself decides which thread may: it asks the
        # interpreter, not the threading module, whose current_thread()
        # eventlet's monkey-patching replaces with a green thread that is
        # never main_thread(), even in the main thread.
        try:
            for name in _STOP_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is None:  # pragma: no cover
                    continue
                self._previous[signum] = signal.signal(signum,
                                                       self._handler)
        except ValueError:
            self.restore()
            return False
        return True

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous)
            except (ValueError, TypeError):  # pragma: no cover
                pass
        self._previous.clear()


def listen(port: int, host: str = '127.0.0.1', *,
           wsgi_app: Callable | None = None,
           engineio_path: str | None = None,
           server: Any = None, ready: Callable[[Any], None] | None = None,
           static_files: dict[str, Any] | None = None,
           shutdown_timeout: float = 5.0, handle_signals: bool = True,
           http_server: str = 'native', metrics: bool | str = False,
           **options: Any) -> Any:
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
    ``metrics=True`` (or a path) instruments the server with
    :func:`engineio_sync.metrics.instrument`, unless it already is, and
    serves its Prometheus metrics on ``/metrics`` (or that path); it
    needs ``prometheus_client`` (the ``metrics`` extra).

    SIGTERM and SIGINT (when called from the process's main thread, also
    under eventlet's or gevent's monkey-patching, and ``handle_signals``
    is true) or KeyboardInterrupt stop the server gracefully; see
    :func:`graceful_shutdown`. Returns the server.
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
    app: Any = WSGIApp(server, wsgi_app, engineio_path=engineio_path,
                       static_files=static_files)
    if metrics:
        from .metrics import MetricsApp, instrument
        if server.metrics is None:
            instrument(server)
        app = MetricsApp(app, path=metrics if isinstance(metrics, str)
                         else '/metrics')
    if http_server == 'native':
        name = native.NAME
    elif http_server == 'wsgi':
        name = wsgi_server_for(server.async_mode)
    else:
        raise ValueError("http_server must be 'native' or 'wsgi'")
    http = runner(name)(host, port, app, server.driver)
    try:
        server.listening_port = http.port
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
            while stop.requested is None and http.alive():
                server.sleep(0.25)
        except KeyboardInterrupt:
            stop.requested = 'KeyboardInterrupt'
        logger.info('stopping (%s): closing %d session(s)',
                    stop.requested or 'server ended',
                    server.pending_sessions())
        try:
            graceful_shutdown(server, shutdown_timeout,
                              abort=lambda: stop.forced)
        except KeyboardInterrupt:  # pragma: no cover - handlers not ours
            pass
        http.stop()
        cluster = getattr(server, 'cluster', None)
        if cluster is not None:
            cluster.stop()
    finally:
        if installed:
            stop.restore()
    logger.info('stopped')
    return server

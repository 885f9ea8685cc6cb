"""eventlet's WSGI server, ``eventlet.wsgi.server``."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..http_server import ACCEPT_TRANSIENT, AcceptBackoff
from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'finish', 'run']

NAME = 'eventlet.wsgi'
DRIVERS: tuple[str, ...] = ('eventlet',)

#: eventlet.wsgi's ``socket_timeout``, in seconds
SOCKET_TIMEOUT = 75.0


def raw_socket(environ: dict) -> Any | None:
    """The green socket behind ``eventlet.input``."""
    stream = environ.get('eventlet.input')
    if stream is None:
        return None
    return stream.get_socket()


def finish(start_response: Callable, sock: Any) -> Iterable[bytes]:
    """Tell eventlet the request is handled, so it writes nothing (and
    logs no made-up response) on the socket that is gone."""
    import eventlet.wsgi
    eventlet.wsgi.WSGI_LOCAL.already_handled = True
    return []


class _PatientListener:
    """The listening socket as eventlet.wsgi sees it: ``accept()`` waits
    out failures that would end ``eventlet.wsgi.server`` (EMFILE at the
    descriptor limit, ENOBUFS...) instead of raising them, pausing and
    logging as :class:`~engineio_sync.http_server.AcceptBackoff` says.
    Connections already open go on being served meanwhile, and accepting
    resumes by itself.
    """

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.stopped = False
        self.backoff = AcceptBackoff()

    def accept(self) -> tuple[Any, Any]:
        """The next connection; only raises once :meth:`stop` was called."""
        import eventlet
        while True:
            if self.stopped:
                raise OSError(errno.ESHUTDOWN, 'server stopped')
            try:
                conn = self.sock.accept()
            except OSError as exc:
                if self.stopped:
                    raise OSError(errno.ESHUTDOWN, 'server stopped') \
                        from None
                if exc.errno in ACCEPT_TRANSIENT:
                    continue
                eventlet.sleep(self.backoff.failed(exc))
                continue
            if self.backoff.failures:
                self.backoff.succeeded()
            return conn

    def stop(self) -> None:
        """Make accept() raise (eventlet.wsgi then returns)."""
        self.stopped = True

    def close(self) -> None:
        """Close the listening socket."""
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        # getsockname(), family... for eventlet.wsgi's log lines
        return getattr(self.sock, name)


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with ``eventlet.wsgi.server`` in a green thread.

    ``debug=False``: an application error is an empty 500, never a
    traceback sent to the client. ``socket_timeout`` (75 s, the native
    server's keep-alive timeout) ends connections whose client stalls
    mid-request or idles between requests; WebSockets set their own.
    """
    import eventlet
    import eventlet.wsgi
    sock = eventlet.listen((host, port), backlog=1024)
    bound = sock.getsockname()[1]
    listener = _PatientListener(sock)
    thread = eventlet.spawn(eventlet.wsgi.server, listener, app,
                            log_output=False, max_size=20000, debug=False,
                            socket_timeout=SOCKET_TIMEOUT)

    def stop() -> None:
        # Killing the accept loop leaves live connections alone; the
        # process is about to end anyway.
        listener.stop()
        thread.kill()
        try:
            sock.close()
        except OSError:  # pragma: no cover
            pass

    return Runner(bound, stop, lambda: not thread.dead)

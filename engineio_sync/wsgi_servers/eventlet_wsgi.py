"""eventlet's WSGI server, ``eventlet.wsgi.server``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from .base import Runner

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['NAME', 'DRIVERS', 'raw_socket', 'finish', 'run']

NAME = 'eventlet.wsgi'
DRIVERS: tuple[str, ...] = ('eventlet',)


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


def run(host: str, port: int, app: Callable, driver: Driver) -> Runner:
    """Serve ``app`` with ``eventlet.wsgi.server`` in a green thread."""
    import eventlet
    import eventlet.wsgi
    sock = eventlet.listen((host, port), backlog=1024)
    bound = sock.getsockname()[1]
    thread = eventlet.spawn(eventlet.wsgi.server, sock, app,
                            log_output=False, max_size=20000)

    def stop() -> None:
        # Killing the accept loop leaves live connections alone; the
        # process is about to end anyway.
        thread.kill()
        try:
            sock.close()
        except OSError:  # pragma: no cover
            pass

    return Runner(bound, stop, lambda: not thread.dead)

"""Flask-SocketIO on engineio_sync: change one import line.

::

    from engineio_sync.flask import SocketIO   # was: flask_socketio
    from flask_socketio import emit, join_room  # the helpers keep working

    socketio = SocketIO(app, async_mode='threading', cors_allowed_origins='*')

    @socketio.on('chat')
    def chat(data):
        emit('chat', data, to=data['room'])
        return 'ok'                              # the client's ack

    if __name__ == '__main__':
        socketio.run(app, host='127.0.0.1', port=5000)

:class:`SocketIO` is a ``flask_socketio.SocketIO``: the constructor,
``init_app``, the decorators, namespaces, ``emit``/``send``, rooms,
``message_queue=``, ``on_error`` and ``test_client()`` are Flask-SocketIO's
own. What changes is underneath: the python-socketio server it builds is
:class:`engineio_sync.socketio_compat.SocketIOServer`, whose Engine.IO layer
is an :class:`engineio_sync.Server`, and :meth:`SocketIO.run` serves with
:func:`engineio_sync.listen` (engineio_sync's own HTTP server, on any
driver) instead of eventlet.wsgi, gevent's pywsgi or werkzeug.

Options keep the meaning Flask-SocketIO documents: ``cors_credentials``
defaults to True, ``cors_allowed_origins=[]`` turns the origin check and
the CORS headers off, python-engineio's cookie dictionaries are
translated, and ``async_mode=None`` takes the first of eventlet, gevent and
threading that is installed (unless the process is monkey-patched by one of
them, which then wins). engineio_sync's own options (``upgrade_timeout``,
``per_message_deflate``, ``allow_eio3``, ``headers`` ...) are accepted as
well; any other name is refused with :class:`~engineio_sync.ConfigError`.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import signal
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator

try:
    import flask
    import flask_socketio
    import socketio
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('engineio_sync.flask needs Flask-SocketIO: pip install '
                      '"engineio_sync[flask-socketio]"') from exc
from flask_socketio import (ConnectionRefusedError, Namespace,
                            SocketIOTestClient, call, close_room, disconnect,
                            emit, join_room, leave_room, rooms, send)

from .core.config import OPTIONS
from .core.cors import CorsPolicy
from .drivers import detect_async_mode
from .exceptions import ConfigError
from .socketio_compat import EngineIOServer, SocketIOServer, WSGIApp
from .standalone import listen

__all__ = ['SocketIO', 'FlaskSocketIOServer', 'emit', 'send', 'call',
           'join_room', 'leave_room', 'close_room', 'rooms', 'disconnect',
           'Namespace', 'ConnectionRefusedError', 'SocketIOTestClient']

#: Options Flask-SocketIO itself consumes.
FLASK_SOCKETIO_OPTIONS = frozenset({'manage_session', 'message_queue',
                                    'channel', 'path', 'resource'})
#: Options of python-socketio's ``socketio.Server``.
SOCKETIO_OPTIONS = frozenset({'client_manager', 'logger', 'serializer',
                              'json', 'async_handlers', 'always_connect',
                              'namespaces'})
#: Options for the Engine.IO server: every engineio_sync option except the
#: ones python-socketio sets itself (``logger``, ``json``,
#: ``async_handlers``) and the endpoint (``path`` is Flask-SocketIO's
#: Socket.IO path, served by the middleware).
ENGINEIO_OPTIONS = frozenset(
    o.name for o in OPTIONS
    if o.name not in SOCKETIO_OPTIONS | {'path', 'add_trailing_slash'})

_KNOWN = FLASK_SOCKETIO_OPTIONS | SOCKETIO_OPTIONS | ENGINEIO_OPTIONS

#: URL prefix of ``message_queue`` -> python-socketio manager; any other
#: URL goes to kombu (AMQP and the other kombu transports).
_QUEUE_MANAGERS = (
    (('redis://', 'rediss://'), 'RedisManager'),
    (('kafka://',), 'KafkaManager'),
    (('zmq',), 'ZmqManager'),
)

#: Keyword arguments of Flask-SocketIO's ``run()`` that only mean
#: something to the servers it would have started.
_TLS_ARGUMENTS = frozenset({'keyfile', 'certfile', 'server_side', 'cert_reqs',
                            'ssl_version', 'ca_certs', 'ssl_context',
                            'do_handshake_on_connect', 'suppress_ragged_eofs',
                            'ciphers'})
_LISTEN_ARGUMENTS = frozenset({'shutdown_timeout', 'handle_signals',
                               'http_server', 'ready', 'metrics'})


def check_option_names(names: Iterable[str]) -> None:
    """Raise :class:`ConfigError` naming every option that neither
    Flask-SocketIO, python-socketio nor engineio_sync knows."""
    unknown = sorted(set(names) - _KNOWN)
    if not unknown:
        return
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, _KNOWN, n=1)
        described.append(repr(name) + (f' (did you mean {close[0]!r}?)'
                                       if close else ''))
    raise ConfigError(
        'engineio_sync.flask.SocketIO: unknown option'
        f'{"s" if len(unknown) > 1 else ""} {", ".join(described)}; see '
        'the Flask-SocketIO options and the engineio_sync Server options')


def default_async_mode() -> str:
    """Flask-SocketIO's ``async_mode=None``: the first of eventlet, gevent
    and threading that is installed, except that a process monkey-patched
    by eventlet or gevent (or serving with eventlet already imported) keeps
    the library it is set up for."""
    detected = detect_async_mode()
    if detected != 'threading':
        return detected
    for name in ('eventlet', 'gevent'):
        if importlib.util.find_spec(name) is not None:
            return name
    return 'threading'


class _AnyOriginNoHeaders(CorsPolicy):
    """``cors_allowed_origins=[]``: no origin check and no CORS headers
    (for a proxy in front that does CORS itself)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__('*')

    def headers(self, origin: str | None, *, preflight: bool = False,
                request_headers: str | None = None) -> list[tuple[str, str]]:
        return []


def _cookie(value: Any) -> Any:
    """python-engineio's cookie dict (attribute names as they appear in the
    header) as an engineio_sync cookie dict."""
    if not isinstance(value, Mapping):
        return value
    # python-engineio sends only the attributes it is given.
    out: dict[str, Any] = {'path': None, 'httponly': False, 'samesite': None}
    for key, item in value.items():
        if callable(item):
            raise ConfigError(f'cookie attribute {key!r}: values computed '
                              'per handshake (callables) are not supported')
        attr = str(key).lower().replace('-', '_')
        if attr in ('name', 'path', 'domain', 'samesite'):
            out[attr] = item
        elif attr in ('secure', 'httponly'):
            out[attr] = bool(item)
        elif attr in ('max_age', 'maxage'):
            try:
                out['max_age'] = int(item)
            except (TypeError, ValueError):
                raise ConfigError(f'cookie {key!r} must be a number of '
                                  f'seconds, not {item!r}') from None
        else:
            raise ConfigError(f'cookie attribute {key!r} is not supported '
                              '(name, path, domain, SameSite, Secure, '
                              'HttpOnly, Max-Age are)')
    return out


def engineio_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Flask-SocketIO's Engine.IO options as :class:`engineio_sync.Server`
    options, with the meaning Flask-SocketIO documents."""
    out = dict(options)
    mode = out.get('async_mode')
    if mode == 'gevent_uwsgi':
        raise ConfigError("async_mode 'gevent_uwsgi' (uWSGI's gevent loop) "
                          "is not supported; use 'gevent', 'eventlet' or "
                          "'threading'")
    if mode is None:
        out['async_mode'] = default_async_mode()
    if 'cors' not in out:
        origins = out.get('cors_allowed_origins')
        if isinstance(origins, (list, tuple, set, frozenset)):
            if not origins:
                del out['cors_allowed_origins']
                out['cors'] = _AnyOriginNoHeaders()
            elif '*' in origins:
                out['cors_allowed_origins'] = '*'
        # Flask-SocketIO (python-engineio) allows credentials by default.
        out.setdefault('cors_credentials', True)
    if 'cookie' in out:
        out['cookie'] = _cookie(out['cookie'])
    return out


def _queue_manager(url: str, channel: str, write_only: bool) -> Any:
    for prefixes, name in _QUEUE_MANAGERS:
        if url.startswith(prefixes):
            break
    else:
        name = 'KombuManager'
    return getattr(socketio, name)(url, channel=channel,
                                   write_only=write_only)


def _app_context_json(app: flask.Flask) -> Any:
    """Flask's json module, always called inside ``app``'s context (its
    output depends on the app's JSON provider)."""

    class AppJSON:
        @staticmethod
        def dumps(*args: Any, **kwargs: Any) -> str:
            with app.app_context():
                return flask.json.dumps(*args, **kwargs)

        @staticmethod
        def loads(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return flask.json.loads(*args, **kwargs)

    return AppJSON


class _Started:
    """A WSGI response whose first chunk has already been taken."""

    def __init__(self, body: Iterable[bytes]) -> None:
        self.body = body
        self.chunks = iter(body)
        self.first = next(self.chunks, None)

    def __iter__(self) -> Iterator[bytes]:
        if self.first is not None:
            yield self.first
        yield from self.chunks

    def close(self) -> None:
        """Close the wrapped response (Flask's teardown runs there)."""
        close = getattr(self.body, 'close', None)
        if close is not None:
            close()


def _start_eagerly(app: Callable[[dict, Callable], Iterable[bytes]]
                   ) -> Callable[[dict, Callable], Iterable[bytes]]:
    """``app`` with its response started before it is returned.

    werkzeug's debugger answers with a generator that calls
    ``start_response`` only once iterated; engineio_sync's HTTP server
    takes a response whose ``start_response`` has not been called yet for
    a connection a WebSocket took over, and sends nothing.
    """
    def started(environ: dict, start_response: Callable) -> _Started:
        return _Started(app(environ, start_response))
    return started


class FlaskEngineIOServer(EngineIOServer):
    """The Engine.IO server under a Flask-SocketIO app.

    When :meth:`route_through` names the Flask app, a request that reaches
    :meth:`handle_request` without having passed through that app (as
    :func:`engineio_sync.listen`'s router sends it) is handed to the app
    instead, so that the app's WSGI middlewares (``ProxyFix``, the
    debugger ...) see Socket.IO requests too, as they do under any other
    server; the app's :class:`FlaskMiddleware` brings it back here.
    """

    _VIA_APP = 'engineio_sync.flask.via_app'

    flask_wsgi_app: Callable[[dict, Callable], Iterable[bytes]] | None = None

    def route_through(self, wsgi_app: Callable[[dict, Callable],
                                               Iterable[bytes]]) -> None:
        """Send requests that did not come through ``wsgi_app`` (the
        Flask app) through it."""
        self.flask_wsgi_app = wsgi_app

    def handle_request(self, environ: dict,
                       start_response: Callable) -> Iterable[bytes]:
        """Serve one Engine.IO HTTP request (WSGI)."""
        app = self.flask_wsgi_app
        if app is not None and 'flask.app' not in environ \
                and self._VIA_APP not in environ:
            environ[self._VIA_APP] = True
            return app(environ, start_response)
        return super().handle_request(environ, start_response)


class FlaskSocketIOServer(SocketIOServer):
    """The python-socketio server of :class:`SocketIO`."""

    def _engineio_server_class(self) -> type:
        return FlaskEngineIOServer


class FlaskMiddleware(WSGIApp):
    """Serves Socket.IO on its path, with the Flask app in the environ
    (``environ['flask.app']``, where Flask-SocketIO's handlers find it)."""

    #: the Flask app's WSGI callable (or what run() wraps it in): never None
    wsgi_app: Callable[[dict, Callable], Iterable[bytes]]

    def __init__(self, socketio_app: FlaskSocketIOServer, flask_app: Any,
                 socketio_path: str = 'socket.io') -> None:
        super().__init__(socketio_app, flask_app.wsgi_app,
                         socketio_path=socketio_path)
        self.flask_app = flask_app

    def __call__(self, environ: dict,
                 start_response: Callable) -> Iterable[bytes]:
        environ = dict(environ)
        environ['flask.app'] = self.flask_app
        return super().__call__(environ, start_response)


class SocketIO(flask_socketio.SocketIO):
    """``flask_socketio.SocketIO`` running on engineio_sync.

    Takes Flask-SocketIO's arguments (``app``, ``manage_session``,
    ``message_queue``, ``channel``, ``path``/``resource``, the
    python-socketio and Engine.IO options) and engineio_sync's own Server
    options. ``socketio.server`` is a :class:`FlaskSocketIOServer` and
    ``socketio.server.eio`` the :class:`engineio_sync.Server`.
    """

    #: Flask-SocketIO's option (its __init__ sets it; init_app may change it)
    manage_session: bool

    def __init__(self, app: flask.Flask | None = None,
                 **kwargs: Any) -> None:
        check_option_names(kwargs)
        #: the path Socket.IO is served on, without slashes
        self.socketio_path = 'socket.io'
        self._serving = False
        super().__init__(app, **kwargs)

    def init_app(self, app: flask.Flask | None, **kwargs: Any) -> None:
        """Build the Socket.IO server for ``app`` (or, with ``app=None``
        and a ``message_queue``, a write-only emitter)."""
        check_option_names(kwargs)
        if app is not None:
            if not hasattr(app, 'extensions'):  # pragma: no cover
                app.extensions = {}
            app.extensions['socketio'] = self
        self.server_options.update(kwargs)
        self.manage_session = self.server_options.pop('manage_session',
                                                      self.manage_session)
        options = dict(self.server_options)
        url = options.pop('message_queue', None)
        channel = options.pop('channel', 'flask-socketio')
        if url and 'client_manager' not in options:
            options['client_manager'] = _queue_manager(
                url, channel, write_only=app is None)
        if app is not None and options.get('json') is flask.json:
            options['json'] = _app_context_json(app)
        path = options.pop('path', None)
        resource = options.pop('resource', None)
        self.socketio_path = (path or resource or 'socket.io').strip('/')
        if os.environ.get('FLASK_RUN_FROM_CLI') and \
                options.get('async_mode') is None:
            # `flask run` serves with werkzeug's threads.
            options['async_mode'] = 'threading'
        engine = {k: options.pop(k) for k in list(options)
                  if k in ENGINEIO_OPTIONS}
        self.server = FlaskSocketIOServer(**options,
                                          **engineio_options(engine))
        self.async_mode = self.server.async_mode
        for message, handler, namespace in self.handlers:
            self.server.on(message, handler, namespace=namespace)
        for namespace_handler in self.namespace_handlers:
            self.server.register_namespace(namespace_handler)
        if app is not None:
            self.sockio_mw = FlaskMiddleware(self.server, app,
                                             socketio_path=self.socketio_path)
            app.wsgi_app = self.sockio_mw  # type: ignore[method-assign]

    def run(self, app: flask.Flask, host: str | None = None,
            port: int | None = None, **kwargs: Any) -> None:
        """Serve ``app`` with :func:`engineio_sync.listen` until SIGTERM,
        SIGINT (Ctrl-C) or :meth:`stop`; the stop is graceful.

        Takes Flask-SocketIO's ``debug``, ``use_reloader``,
        ``reloader_options``, ``extra_files``, ``log_output`` and
        ``allow_unsafe_werkzeug`` (no effect: werkzeug's server is not
        used), and :func:`~engineio_sync.listen`'s ``shutdown_timeout``,
        ``handle_signals``, ``http_server``, ``ready`` and ``metrics``
        (Prometheus metrics on ``/metrics``). ``port=0`` picks
        a free port (``ready(server)`` sees it as
        ``server.listening_port``).
        """
        if host is None:
            host = '127.0.0.1'
        if port is None:
            server_name = app.config.get('SERVER_NAME') or ''
            port = int(server_name.rsplit(':', 1)[1]) \
                if ':' in server_name else 5000
        debug = kwargs.pop('debug', app.debug)
        use_reloader = kwargs.pop('use_reloader', debug)
        reloader_options = dict(kwargs.pop('reloader_options', None) or {})
        extra_files = kwargs.pop('extra_files', None)
        if extra_files:
            reloader_options['extra_files'] = extra_files
        # No access log: engineio_sync logs sessions ('engineio_sync'
        # logger), not requests; werkzeug's server is never started.
        kwargs.pop('log_output', None)
        kwargs.pop('allow_unsafe_werkzeug', None)
        options = {k: kwargs.pop(k) for k in list(kwargs)
                   if k in _LISTEN_ARGUMENTS}
        if kwargs:
            tls = sorted(set(kwargs) & _TLS_ARGUMENTS)
            hint = ('; TLS is not served by engineio_sync: put a TLS proxy '
                    'in front' if tls else '')
            raise TypeError(f'run() got unsupported arguments '
                            f'{sorted(kwargs)}{hint}')
        app.debug = debug
        if debug:
            # Between the Socket.IO middleware and the app, as
            # Flask-SocketIO puts it.
            from werkzeug.debug import DebuggedApplication
            self.sockio_mw.wsgi_app = _start_eagerly(DebuggedApplication(
                self.sockio_mw.wsgi_app, evalex=True))
        eio = self.server.eio
        eio.route_through(app)

        def serve() -> None:
            self._serving = True
            try:
                listen(port, host, wsgi_app=app, server=eio,
                       engineio_path=self.socketio_path, **options)
            finally:
                self._serving = False

        if use_reloader:
            # Flask-SocketIO's reloader: werkzeug's, restarting the process
            # when a source file changes.
            from werkzeug._reloader import run_with_reloader
            run_with_reloader(serve, **reloader_options)
        else:
            serve()

    def stop(self) -> None:
        """Stop :meth:`run` gracefully (from a handler, like
        Flask-SocketIO's ``stop()``): the same as Ctrl-C."""
        if not self._serving:
            raise RuntimeError('Cannot stop unknown web server')

        def interrupt() -> None:
            # From a task of its own, a moment later: the handler that
            # called stop() gets to send its answer first (under eventlet
            # the interrupt is raised in whichever green thread runs).
            self.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

        self.start_background_task(interrupt)

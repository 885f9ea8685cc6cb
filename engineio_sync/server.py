"""The Engine.IO server: session table, request routing, events, timers."""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

from .admission import Admission
from .app_socket import Socket
from .core.config import ServerConfig, options_doc, server_signature
from .core.handshake import (RequestInfo, classify_request, generate_sid,
                             parse_query, poll_limit_for)
from .core.packets import Packet
from .core.session import CloseReason, ReadyState, SessionSettings
from .directory import LocalDirectory, SessionDirectory
from .drivers import get_driver
from .engine import EngineContext, SessionEngine
from .events import EventEmitter
from .exceptions import (BAD_REQUEST, FORBIDDEN, ConfigError,
                         RemoteProtocolError)
from .port import SessionPort
from .hub import want_pool_size
from .timers import TimerService
from .transports.polling import PollingTransport
from .transports.websocket import WebSocketTransport
from .transports.wsgi_io import Response, error_response
from .wsgi_servers import announce_close

if TYPE_CHECKING:  # importing it needs redis-py, loaded with the option
    from .cluster.directory import ClusterDirectory

__all__ = ['Server']

_SERVER_EVENTS = frozenset({
    'connect', 'message', 'disconnect',                 # sid facade
    'connection', 'connection_error', 'flush', 'drain',  # reference API
})

AllowRequest = Callable[[dict], Any]


class SessionCounter(Protocol):
    """What counts a server's sessions (see :mod:`engineio_sync.metrics`)."""

    def opened(self, engine: SessionEngine) -> None:
        """A session was accepted: give it its counters."""

    def refused(self, code: int) -> None:
        """A request was refused with the protocol's error ``code``."""


class Server(EventEmitter):
    """An Engine.IO server for WSGI applications.

    Construct it with keyword options (all validated here; see README.rst
    for the full reference), register handlers with :meth:`on`, and serve
    it with :class:`~engineio_sync.WSGIApp` or :meth:`handle_request`.

    Every option is listed below (and in README.rst's table); both come
    from one registry, :data:`engineio_sync.core.config.OPTIONS`.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__()
        #: The validated options (:class:`~engineio_sync.core.config.ServerConfig`).
        self.config = config = ServerConfig.from_options(**options)
        try:
            self.driver = get_driver(config.async_mode)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        except ImportError as exc:
            raise ConfigError(f'async_mode {config.async_mode!r} needs a '
                              f'package that is not installed: {exc}'
                              ) from None
        #: The name of the concurrency driver in use.
        self.async_mode: str = self.driver.name
        self.logger = self._make_logger(config.logger)
        self.allow_request = config.allow_request
        self._generate_id = config.generate_id
        self._generate_id_takes_environ = (
            config.generate_id is not None
            and _accepts_args(config.generate_id, 1))
        self.async_handlers = config.async_handlers
        self._clock: Callable[[], float] = time.monotonic
        #: Every open session, sid -> :class:`Socket`.
        self.clients: dict[str, Socket] = {}
        #: Where sessions are: those of this process, and with the
        #: ``cluster`` option those of the other processes of the cluster
        #: (:mod:`engineio_sync.directory`).
        self.directory: SessionDirectory
        #: This process in a cluster
        #: (:class:`~engineio_sync.cluster.directory.ClusterDirectory`,
        #: also :attr:`directory`) when the ``cluster`` option is set,
        #: else None; it joins on first use.
        self.cluster: ClusterDirectory | None = None
        if config.cluster is None:
            self.directory = LocalDirectory(self.logger)
        else:
            # Imported here: without the option nothing of Redis loads.
            from .cluster import join
            self.cluster = join(
                config.cluster, host=self, driver=self.driver,
                logger=self.logger, config=config)
            self.directory = self.cluster
        # Sessions that still need a transport (open or closing): the
        # directory's table, read on every request.
        self._sessions: dict[str, SessionEngine] = self.directory.engines
        self._disconnect_takes_reason: dict[Callable, bool] = {}
        self._admission = Admission(config, self.logger)
        self._shutting_down = False
        self._timers = TimerService(self.driver, self._clock, _fire_timer)
        hub = self.driver.io_hub()
        self._engines = EngineContext(
            driver=self.driver, clock=self._clock, logger=self.logger,
            settings=SessionSettings.from_config(self.config),
            schedule=self._timers.schedule, deliver=self._deliver,
            closed=self._on_session_closed, forget=self.directory.forget,
            events=self, new_socket=Socket,
            # The hub stays the same object in a forked child (it starts
            # afresh there), so its method serves servers made before
            # gunicorn forks too.
            run_app=None if hub is None else hub.run_app)
        if self._engines.run_app is not None:
            want_pool_size(config.app_threads)
        self._polling = PollingTransport(self.config, self.logger,
                                         self.driver)
        self._websocket = WebSocketTransport(self.config, self.driver,
                                             self.logger)
        #: What counts this server's sessions for Prometheus, or None
        #: (see :meth:`report_to`).
        self.metrics: SessionCounter | None = None
        #: The port :func:`~engineio_sync.listen` serves this server on,
        #: once it listens (None before, and under another WSGI server).
        self.listening_port: int | None = None

    @staticmethod
    def _make_logger(logger: bool | logging.Logger) -> logging.Logger:
        if isinstance(logger, logging.Logger):
            return logger
        log = logging.getLogger('engineio_sync')
        if logger:
            if log.level == logging.NOTSET:
                log.setLevel(logging.INFO)
            if not any(not isinstance(h, logging.NullHandler)
                       for h in log.handlers):
                log.addHandler(logging.StreamHandler())
        return log

    # -- events ---------------------------------------------------------------

    def on(self, event: str, handler: Callable | None = None) -> Any:
        """Register a handler; usable as ``@server.on('message')``.

        Events: ``connect(sid, environ)`` (return False to refuse),
        ``message(sid, data)``, ``disconnect(sid, reason)`` (or
        ``disconnect(sid)``), ``connection(socket)``,
        ``connection_error(error)``, ``flush(socket, packets)``,
        ``drain(socket)``.
        """
        if event not in _SERVER_EVENTS:
            raise ValueError(f'unknown event {event!r}; known events: '
                             f'{sorted(_SERVER_EVENTS)}')
        if handler is None:
            def decorator(fn: Callable) -> Callable:
                self.on(event, fn)
                return fn
            return decorator
        if event == 'disconnect':
            self._disconnect_takes_reason[handler] = _accepts_args(handler, 2)
        return super().on(event, handler)

    def report_to(self, metrics: SessionCounter) -> None:
        """Tell ``metrics`` of each session accepted from now on
        (``opened(engine)``, which gives the engine its counters) and of
        each refused request (``refused(code)``); see
        :func:`engineio_sync.metrics.instrument`, which calls this."""
        self.metrics = metrics

    def use(self, middleware: Callable[[dict], Any]) -> None:
        """Add ``f(environ)`` run before handshakes and upgrades; it refuses
        the request (403) by returning False, a message string, or a
        ``(False, message)`` pair."""
        if not callable(middleware):
            raise TypeError('middleware must be callable')
        self._admission.middlewares.append(middleware)

    @property
    def path(self) -> str:
        """The endpoint: ``'/engine.io/'``, or ``'/engine.io'`` with
        ``add_trailing_slash=False``."""
        config = self.config
        return config.path + '/' if config.add_trailing_slash else config.path

    def matches_path(self, path_info: str) -> bool:
        """True when a request for ``path_info`` belongs to this server
        (per the ``path`` and ``add_trailing_slash`` options)."""
        base = self.config.path
        if path_info == base:
            return True
        return self.config.add_trailing_slash and \
            path_info.startswith(base + '/')

    def _log_handler_error(self, event: str) -> None:
        self.logger.exception('%s handler raised', event)

    # -- sid facade -----------------------------------------------------------

    @property
    def clients_count(self) -> int:
        """How many sessions are open."""
        return len(self.clients)

    def send(self, sid: str, data: str | bytes | bytearray | memoryview
             ) -> bool:
        """Send a message to one client; False if the sid is not open."""
        socket = self.clients.get(sid)
        if socket is None:
            return self.directory.send_message(sid, data)
        return socket.send(data)

    def send_packet(self, sid: str, packet: Packet) -> bool:
        """Send a raw :class:`Packet`; False if the sid is not open."""
        socket = self.clients.get(sid)
        if socket is None:
            return self.directory.send_packets(sid, [packet])
        return socket.send_packet(packet)

    def disconnect(self, sid: str | None = None) -> None:
        """Close one session (or all); never blocks the caller."""
        if sid is None:
            for each in list(self.clients.values()):
                each.close()
            return
        socket = self.clients.get(sid)
        if socket is not None:
            socket.close()
        else:
            self.directory.disconnect(sid)

    def transport(self, sid: str) -> str:
        """The transport of a session: 'polling' or 'websocket'."""
        return self._known(sid).session.transport

    def get_session(self, sid: str) -> dict:
        """The user session dict of a client (KeyError if unknown; in a
        cluster, :class:`~engineio_sync.cluster.SessionElsewhere`, a
        KeyError, if another process owns it)."""
        return self._known(sid).socket.data

    def save_session(self, sid: str, session: dict) -> None:
        """Replace the user session dict of a client."""
        self._known(sid).socket.data = session

    def _known(self, sid: str) -> SessionEngine:
        engine = self._sessions.get(sid)
        if engine is None:
            # In a cluster, owned by another process: say which, never a
            # new dict.
            self.directory.session_missing(sid)
        return engine

    def pending_sessions(self) -> int:
        """How many sessions still need a transport: open ones, and closing
        ones whose close packet is not yet delivered."""
        return sum(1 for engine in list(self._sessions.values())
                   if engine.session.ready_state is not ReadyState.CLOSED)

    @contextlib.contextmanager
    def session(self, sid: str) -> Iterator[dict]:
        """``with server.session(sid) as s:`` edits the user session."""
        data = self.get_session(sid)
        yield data
        self.save_session(sid, data)

    def start_background_task(self, target: Callable, *args: Any,
                              **kwargs: Any) -> Any:
        """Run ``target`` in a task of the server's driver; returns it
        (it has ``join()``)."""
        return self.driver.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking other tasks of the driver."""
        self.driver.sleep(seconds)

    def create_event(self) -> Any:
        """An Event of the server's driver."""
        return self.driver.event()

    def create_queue(self) -> Any:
        """A Queue of the server's driver."""
        return self.driver.queue()

    def shutdown(self, reason: str = CloseReason.SERVER_SHUTDOWN) -> None:
        """Close every session (queued messages go first); refuse new ones.

        Parked GETs are answered with the close packet and WebSockets get
        a close frame; ``disconnect`` handlers run with ``reason``. From
        now on handshakes get 503. The timer task keeps running so that
        sessions whose client vanished still finish at ``close_timeout``.
        """
        self._shutting_down = True
        for engine in list(self._sessions.values()):
            engine.close(reason, None, graceful=True)

    # -- WSGI entry -------------------------------------------------------------

    def handle_request(self, environ: dict,
                       start_response: Callable) -> Iterable[bytes]:
        """Serve one Engine.IO HTTP request (WSGI)."""
        if 'HTTP_CONNECTION' in environ:
            # Some servers close after 'Connection: close' without saying so.
            start_response = announce_close(environ, start_response)
        return self._handle(environ)(start_response)

    def _refuse(self, error: RemoteProtocolError, environ: dict,
                headers: list[tuple[str, str]]) -> Response:
        if self.metrics is not None:
            self.metrics.refused(error.code)
        if self.handlers.get('connection_error'):
            self.emit('connection_error', _ConnectionError(error, environ))
        self.logger.info('refused %s %s: %s', environ.get('REQUEST_METHOD'),
                         environ.get('QUERY_STRING', ''), error)
        if 'websocket' in environ.get('HTTP_UPGRADE', '').lower():
            # As the reference server does: a refused WebSocket handshake
            # ends the connection; the client may already be sending frames
            # that the WSGI server would otherwise parse as a request.
            headers.append(('Connection', 'close'))
        return error_response(error, headers)

    def _handle(self, environ: dict) -> Any:
        method = environ.get('REQUEST_METHOD', 'GET')
        admission = self._admission
        if method == 'OPTIONS':
            return Response(204, b'', admission.response_headers(
                environ, preflight=True))
        headers = admission.response_headers(environ)
        try:
            return self._route(method, environ, headers)
        except RemoteProtocolError as error:
            # Every refusal of a request is raised where it is decided and
            # answered here.
            return self._refuse(error, environ, headers)

    def _route(self, method: str, environ: dict,
               headers: list[tuple[str, str]]) -> Any:
        if not self._admission.origin_allowed(environ):
            raise RemoteProtocolError(FORBIDDEN, 'Origin not allowed')
        query = parse_query(environ.get('QUERY_STRING', ''))
        upgrade_header = environ.get('HTTP_UPGRADE')
        upgrade = upgrade_header is not None and \
            'websocket' in upgrade_header.lower()
        info = classify_request(
            method, query, transports=self.config.transports,
            allow_eio3=self.config.allow_eio3, websocket_upgrade=upgrade)
        if info.sid is None:
            return self._handshake(info, environ, headers)
        engine: SessionPort | None = self._sessions.get(info.sid)
        if engine is None:
            # Owned by another process (a stand-in with the same port), or
            # refused as unknown.
            engine = self.directory.elsewhere(info.sid)
        if info.transport == 'websocket':
            if not upgrade:
                raise RemoteProtocolError(BAD_REQUEST)
            # In a cluster, a session whose connect is deferred settles
            # here, or moves here from its owner (cluster.handover).
            engine = self.directory.upgrading(engine, environ)
            engine.request_upgrade()
            return self._upgrade(engine, environ, headers)
        if method == 'GET' or method == 'POST':
            return self._polling.handle(engine, info, environ, headers)
        raise RemoteProtocolError(BAD_REQUEST)

    def _upgrade(self, engine: SessionPort, environ: dict,
                 headers: list[tuple[str, str]]) -> Any:
        hijack = self._websocket.accept(environ)
        self._admission.check(environ, self.allow_request)
        return self._websocket.serve(engine, hijack, environ, headers,
                                     new_session=False)

    def _new_sid(self, environ: dict) -> str:
        if self._generate_id is None:
            return generate_sid()
        sid = (self._generate_id(environ) if self._generate_id_takes_environ
               else self._generate_id())
        if not isinstance(sid, str) or not sid:
            raise ValueError('generate_id must return a non-empty string')
        return sid

    def _handshake(self, info: RequestInfo, environ: dict,
                   headers: list[tuple[str, str]]) -> Any:
        if self._shutting_down:
            headers.append(('Retry-After', '5'))
            raise RemoteProtocolError(BAD_REQUEST, 'Server shutting down',
                                      http_status=503)
        self._admission.check(environ, self.allow_request)
        try:
            sid = self._new_sid(environ)
        except Exception:
            self.logger.exception('generate_id failed')
            raise RemoteProtocolError(BAD_REQUEST) from None
        if sid in self._sessions:
            self.logger.error('generate_id returned a sid in use')
            raise RemoteProtocolError(BAD_REQUEST)
        directory = self.directory
        try:
            directory.register(sid, info.protocol, info.b64)
        except RemoteProtocolError:
            headers.append(('Retry-After', '5'))
            raise
        hijack = None
        if info.transport == 'websocket':
            try:
                hijack = self._websocket.accept(environ)
            except RemoteProtocolError:
                directory.unregister(sid)
                raise
        engine = self._open_session(
            sid, info, environ,
            defer=hijack is None and directory.defers_connect)
        if engine is None:
            raise RemoteProtocolError(FORBIDDEN)
        cookie = self.config.cookie
        if hijack is not None:
            headers += self._admission.initial_headers(environ)
            if cookie is not None:
                headers.append(cookie.header(sid))
            return self._websocket.serve(engine, hijack, environ, headers,
                                         new_session=True)
        if cookie is not None:
            headers.append(cookie.header(sid))
        headers += self._admission.initial_headers(environ)
        # Never parked: the open packet is queued.
        packets = engine.poll() or []
        return self._polling.encode(
            engine.session.protocol, packets, info, environ, headers,
            lambda delivered: engine.poll_answered(packets, delivered),
            b64=engine.b64)

    def _open_session(self, sid: str, info: RequestInfo, environ: dict,
                      defer: bool = False) -> SessionEngine | None:
        """Create a session, queue its open packet, run connect handlers.

        Returns None (and forgets the session) if a handler refused it.
        With ``defer`` the cluster runs the connect handlers later, here
        or in the process the session moves to (see
        :mod:`engineio_sync.cluster.handover`).
        """
        engine = self._new_engine(sid, info.transport, info.protocol,
                                  info.b64, environ, announced=not defer)
        engine.open()
        self.logger.info('%s: session opened (%s, EIO=%d)', sid,
                         info.transport, info.protocol)
        if defer:
            self.directory.defer(engine, environ)
            return engine
        if not self._accept(engine, environ):
            self._sessions.pop(sid, None)
            engine.refuse()
            return None
        return engine

    def _new_engine(self, sid: str, transport: str, protocol: int,
                    b64: bool, environ: dict, *, announced: bool = True,
                    intake: Callable[[list[Packet]], bool] | None = None
                    ) -> SessionEngine:
        engine = SessionEngine.create(
            self._engines, sid, transport=transport, protocol=protocol,
            environ=environ, b64=b64, announced=announced, intake=intake,
            poll_limit=poll_limit_for(environ.get('HTTP_USER_AGENT')))
        self._sessions[sid] = engine
        return engine

    def _accept(self, engine: SessionEngine, environ: dict) -> bool:
        """Run a session's connect handlers. True: the application has it
        (counted, ``connection`` emitted); False: a handler refused it and
        the caller ends it."""
        sid = engine.sid
        socket = engine.socket
        self.clients[sid] = socket
        engine.announce()
        handlers = self.handlers
        if 'connect' in handlers:
            for handler in tuple(handlers['connect']):
                try:
                    verdict = handler(sid, environ)
                except Exception:
                    self.logger.exception('%s: connect handler raised; '
                                          'refusing the session', sid)
                    verdict = False
                if verdict is False:
                    self.clients.pop(sid, None)
                    self.logger.info('%s: refused by the connect handler',
                                     sid)
                    return False
        if self.metrics is not None:
            self.metrics.opened(engine)
        if 'connection' in handlers:
            self.emit('connection', socket)
        return True

    # -- what the session directory asks (SessionHost, see cluster.handover) --

    def adopt_session(self, sid: str, protocol: int, b64: bool,
                      environ: dict, intake: Callable[[list[Packet]], bool]
                      ) -> SessionEngine:
        """A polling session moved here from the process that answered its
        handshake (in a cluster): open it without an open packet, connect
        not run yet, the client's packets going to ``intake`` from the
        start. Called by the session directory, not by applications."""
        engine = self._new_engine(sid, 'polling', protocol, b64, environ,
                                  announced=False, intake=intake)
        engine.open(announce=False)
        return engine

    def connect_deferred(self, engine: SessionEngine, environ: dict
                         ) -> bool:
        """Run the deferred connect handlers of a session whose handshake
        was answered already (in a cluster): a refusal closes it (the
        client gets a close packet, not a 403). Called by the session
        directory, not by applications."""
        if self._accept(engine, environ):
            return True
        if self.metrics is not None:
            self.metrics.refused(FORBIDDEN)
        engine.refuse('refused by the connect handler', graceful=True)
        return False

    # -- what the session engines report ------------------------------------------

    def _deliver(self, sid: str, data: str | bytes) -> None:
        handlers = self.handlers.get('message')
        if not handlers:
            return
        if self.async_handlers:
            self.driver.spawn(self.emit, 'message', sid, data)
            return
        for handler in handlers:
            try:
                handler(sid, data)
            except Exception:
                self.logger.exception('%s: message handler raised', sid)

    def _on_session_closed(self, engine: SessionEngine, reason: str) -> None:
        sid = engine.sid
        if self.clients.get(sid) is engine.socket:
            del self.clients[sid]
        self.logger.info('%s: session closed (%s)', sid, reason)
        handlers = self.handlers.get('disconnect')
        if handlers:
            for handler in tuple(handlers):
                try:
                    if self._disconnect_takes_reason.get(handler, True):
                        handler(sid, reason)
                    else:
                        handler(sid)
                except Exception:
                    self.logger.exception('%s: disconnect handler raised',
                                          sid)


def _fire_timer(engine: SessionEngine, now: float) -> None:
    engine.on_timer(now)


# The signature and the option docs come from the registry, written once.
Server.__init__.__signature__ = server_signature(  # type: ignore[attr-defined]
    with_self=True)
if Server.__doc__:  # None under python -OO
    Server.__doc__ = Server.__doc__.rstrip() + '\n\n' + options_doc(
        indent='    ') + '\n    '


class _ConnectionError:
    """What ``connection_error`` handlers receive: code, message, context."""

    __slots__ = ('code', 'message', 'context', 'req')

    def __init__(self, error: RemoteProtocolError, environ: dict) -> None:
        self.code = error.code
        self.message = error.message
        self.req = environ
        self.context = {'method': environ.get('REQUEST_METHOD'),
                        'query': environ.get('QUERY_STRING', ''),
                        'http_status': error.http_status}

    def __repr__(self) -> str:
        return f'<connection_error {self.code}: {self.message}>'


def _accepts_args(fn: Callable, count: int) -> bool:
    """True if ``fn`` can be called with ``count`` positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        sig.bind(*([None] * count))
    except TypeError:
        return False
    return True


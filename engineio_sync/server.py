"""The Engine.IO server: session table, request routing, events, timers."""

from __future__ import annotations

import contextlib
import inspect
import json as _stdlib_json
import logging
import secrets
import time
from typing import Any, Callable, Iterable, Iterator

from .core.config import ServerConfig
from .core.cors import same_origin
from .core.handshake import RequestInfo, classify_request, parse_query
from .core.packets import Packet, PacketType
from .core.session import CloseReason, Received, Session
from .drivers import get_driver
from .events import EventEmitter
from .exceptions import (BAD_REQUEST, FORBIDDEN, UNKNOWN_SID, ConfigError,
                         ProtocolError)
from .socket import Socket, _describe
from .transports.http import Response, error_response
from .transports.polling import PollingTransport

__all__ = ['Server']

_SERVER_EVENTS = frozenset({
    'connect', 'message', 'disconnect',                 # sid facade
    'connection', 'connection_error', 'flush', 'drain',  # reference API
})

AllowRequest = Callable[[dict], Any]


def _default_generate_id() -> str:
    # 120 bits from the OS CSPRNG, URL-safe: unguessable, 20 characters.
    return secrets.token_urlsafe(15)


class Server(EventEmitter):
    """An Engine.IO server for WSGI applications.

    Construct it with keyword options (all validated here; see README.rst
    for the full reference), register handlers with :meth:`on`, and serve
    it with :class:`~engineio_sync.WSGIApp` or :meth:`handle_request`.

    :param async_mode: ``'eventlet'``, ``'gevent'``, ``'threading'`` or None
        to detect from the process (monkey-patching or an imported eventlet).
    :param ping_interval: seconds between server pings (or an
        ``(interval, grace)`` pair; the grace extends the pong deadline).
    :param ping_timeout: seconds to wait for a pong before closing.
    :param max_http_buffer_size: largest message or POST body, in bytes.
    :param transports: allowed transports, ``['polling', 'websocket']``.
    :param allow_upgrades: allow polling sessions to move to WebSocket.
    :param upgrade_timeout: seconds an upgrade may take before it is cancelled.
    :param allow_request: ``f(environ)`` called for handshakes and upgrades;
        return True to accept, or False / ``(False, message)`` to refuse
        with 403.
    :param generate_id: ``f(environ) -> str`` (or ``f()``) making session ids.
    :param cors: None (no CORS headers), ``'*'``, an origin, a list, a
        callable, or a dict with ``origin``, ``credentials``, ``methods``,
        ``allowed_headers``, ``exposed_headers``, ``max_age``.
    :param cors_allowed_origins: python-engineio spelling of ``cors``.
    :param cookie: False, True (``io``), a name, or a dict of cookie options.
    :param http_compression: gzip/deflate polling responses over
        ``compression_threshold`` bytes when the client accepts it.
    :param logger: False (leave the ``engineio_sync`` logger alone), True
        (log INFO to stderr) or a :class:`logging.Logger`.
    :param json: a module with ``dumps``/``loads`` for the handshake.
    :param async_handlers: run each ``message`` handler in its own task.
    :param initial_packet: a message sent right after the open packet.
    :param monitor_clients: accepted for python-engineio compatibility and
        ignored: heartbeats always run, from one timer task per server.
    :param path: where :class:`~engineio_sync.WSGIApp` serves the server
        when it is not given ``engineio_path`` (default ``'/engine.io'``).
    :param add_trailing_slash: True: the endpoint is ``/engine.io/`` (and
        ``/engine.io`` is accepted too); False: exactly ``/engine.io``.
    :param headers: extra headers for every HTTP response of the endpoint:
        a dict, a list of pairs, or ``f(environ)`` returning one.
    :param initial_headers: the same, for the handshake response only.
    """

    def __init__(self, *, async_mode: str | None = None,
                 ping_interval: float | tuple = 25, ping_timeout: float = 20,
                 max_http_buffer_size: int = 1_000_000,
                 transports: Iterable[str] | None = None,
                 allow_upgrades: bool = True, upgrade_timeout: float = 10,
                 allow_request: AllowRequest | None = None,
                 generate_id: Callable[..., str] | None = None,
                 cors: Any = None, cors_allowed_origins: Any = None,
                 cors_credentials: bool = False, cookie: Any = None,
                 http_compression: bool = True,
                 compression_threshold: int = 1024,
                 per_message_deflate: bool = False,
                 logger: bool | logging.Logger = False,
                 engineio_logger: bool | logging.Logger | None = None,
                 json: Any = None, async_handlers: bool = False,
                 initial_packet: str | bytes | None = None,
                 allow_eio3: bool = False, close_timeout: float = 30,
                 monitor_clients: bool | None = None,
                 path: str = '/engine.io', add_trailing_slash: bool = True,
                 headers: Any = None, initial_headers: Any = None) -> None:
        super().__init__()
        self.config = ServerConfig.from_options(
            ping_interval=ping_interval, ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports, allow_upgrades=allow_upgrades,
            allow_eio3=allow_eio3, http_compression=http_compression,
            compression_threshold=compression_threshold,
            per_message_deflate=per_message_deflate, cookie=cookie,
            cors=cors, cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials, json=json,
            initial_packet=initial_packet, close_timeout=close_timeout,
            path=path, add_trailing_slash=add_trailing_slash,
            headers=headers, initial_headers=initial_headers)
        if allow_request is not None and not callable(allow_request):
            raise ConfigError('allow_request must be callable')
        if generate_id is not None and not callable(generate_id):
            raise ConfigError('generate_id must be callable')
        try:
            self.driver = get_driver(async_mode)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        except ImportError as exc:
            raise ConfigError(f'async_mode {async_mode!r} needs a package '
                              f'that is not installed: {exc}') from None
        #: The name of the concurrency driver in use.
        self.async_mode: str = self.driver.name
        if engineio_logger is not None:
            logger = engineio_logger
        self.logger = self._make_logger(logger)
        self.allow_request = allow_request
        self._generate_id = generate_id
        self._generate_id_takes_environ = (
            generate_id is not None and _accepts_args(generate_id, 1))
        self.async_handlers = bool(async_handlers)
        self._clock: Callable[[], float] = time.monotonic
        #: Every open session, sid -> :class:`Socket`.
        self.clients: dict[str, Socket] = {}
        # Sessions that still need a transport (open or closing).
        self._sockets: dict[str, Socket] = {}
        self._disconnect_takes_reason: dict[Callable, bool] = {}
        self._polling = PollingTransport(self)
        self._websocket: Any = None
        self._middlewares: list[Callable] = []
        self._shutting_down = False
        from .timers import TimerService
        self._timers = TimerService(self.driver, self._clock, self._on_timer)
        if self.config.json is _stdlib_json:
            self._handshake_json = _compact_json
        else:
            self._handshake_json = self.config.json.dumps

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

    def use(self, middleware: Callable[[dict], Any]) -> None:
        """Add ``f(environ)`` run before handshakes and upgrades; it refuses
        the request (403) by returning False, a message string, or a
        ``(False, message)`` pair."""
        if not callable(middleware):
            raise TypeError('middleware must be callable')
        self._middlewares.append(middleware)

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

    def _extra_headers(self, spec: Any, environ: dict
                       ) -> list[tuple[str, str]]:
        """The ``headers`` / ``initial_headers`` option for a request."""
        if not callable(spec):
            return list(spec)
        from .core.config import header_pairs
        try:
            value = spec(environ)
            return header_pairs('headers hook', value) if value else []
        except Exception:
            self.logger.exception('headers / initial_headers hook failed')
            return []

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
            self.logger.warning('send to unknown or closed session %s', sid)
            return False
        return socket.send(data)

    def send_packet(self, sid: str, packet: Packet) -> bool:
        """Send a raw :class:`Packet`; False if the sid is not open."""
        socket = self.clients.get(sid)
        if socket is None:
            return False
        return socket._send_packet(packet)

    def disconnect(self, sid: str | None = None) -> None:
        """Close one session (or all); never blocks the caller."""
        if sid is None:
            for socket in list(self.clients.values()):
                socket.close()
            return
        socket = self.clients.get(sid)
        if socket is not None:
            socket.close()

    def transport(self, sid: str) -> str:
        """The transport of a session: 'polling' or 'websocket'."""
        socket = self._sockets.get(sid)
        if socket is None:
            raise KeyError(f'session {sid} is not known')
        return socket.transport

    def get_session(self, sid: str) -> dict:
        """The user session dict of a client."""
        socket = self._sockets.get(sid)
        if socket is None:
            raise KeyError(f'session {sid} is not known')
        return socket.data

    def save_session(self, sid: str, session: dict) -> None:
        """Replace the user session dict of a client."""
        socket = self._sockets.get(sid)
        if socket is None:
            raise KeyError(f'session {sid} is not known')
        socket.data = session

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
        for socket in list(self._sockets.values()):
            socket._close(reason, None, graceful=True)

    # -- WSGI entry -------------------------------------------------------------

    def handle_request(self, environ: dict,
                       start_response: Callable) -> Iterable[bytes]:
        """Serve one Engine.IO HTTP request (WSGI)."""
        return self._handle(environ)(start_response)

    def _cors_headers(self, environ: dict, preflight: bool = False
                      ) -> list[tuple[str, str]]:
        cors = self.config.cors
        if cors is None:
            return []
        return cors.headers(
            environ.get('HTTP_ORIGIN'), preflight=preflight,
            request_headers=environ.get(
                'HTTP_ACCESS_CONTROL_REQUEST_HEADERS'))

    def _refuse(self, error: ProtocolError, environ: dict,
                headers: list[tuple[str, str]]) -> Response:
        if self._handlers.get('connection_error'):
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
        extra = self.config.headers
        if method == 'OPTIONS':
            headers = self._cors_headers(environ, True)
            if extra is not None:
                headers += self._extra_headers(extra, environ)
            return Response(204, b'', headers)
        headers = self._cors_headers(environ)
        if extra is not None:
            headers += self._extra_headers(extra, environ)
        origin = environ.get('HTTP_ORIGIN')
        if origin is not None and not self._origin_allowed(origin, environ):
            return self._refuse(ProtocolError(FORBIDDEN, 'Origin not allowed'),
                                environ, headers)
        query = parse_query(environ.get('QUERY_STRING', ''))
        upgrade = 'websocket' in environ.get('HTTP_UPGRADE', '').lower()
        try:
            info = classify_request(
                method, query, transports=self.config.transports,
                allow_eio3=self.config.allow_eio3, websocket_upgrade=upgrade)
        except ProtocolError as error:
            return self._refuse(error, environ, headers)
        if info.sid is None:
            return self._handshake(info, environ, headers)
        socket = self._sockets.get(info.sid)
        if socket is None:
            return self._refuse(ProtocolError(UNKNOWN_SID), environ, headers)
        if info.transport == 'websocket':
            if not upgrade:
                return self._refuse(ProtocolError(BAD_REQUEST), environ,
                                    headers)
            if not self.config.allow_upgrades and \
                    socket.session.transport == 'polling':
                return self._refuse(ProtocolError(
                    BAD_REQUEST, 'Upgrades are not allowed'), environ,
                    headers)
            return self._websocket_request(socket, info, environ, headers)
        if socket.session.transport != 'polling':
            return self._refuse(ProtocolError(BAD_REQUEST), environ, headers)
        if method == 'GET':
            return self._polling.handle_get(socket, info, environ, headers)
        if method == 'POST':
            return self._polling.handle_post(socket, info, environ, headers)
        return self._refuse(ProtocolError(BAD_REQUEST), environ, headers)

    def _origin_allowed(self, origin: str, environ: dict) -> bool:
        # Without a CORS policy only same-origin pages may connect: this
        # also stops cross-site WebSocket hijacking.
        cors = self.config.cors
        if cors is not None:
            return cors.allows(origin)
        return same_origin(origin, environ.get('HTTP_HOST'),
                           environ.get('HTTP_X_FORWARDED_HOST'))

    def _check_allowed(self, environ: dict) -> ProtocolError | None:
        checks = list(self._middlewares)
        if self.allow_request is not None:
            checks.append(self.allow_request)
        for check in checks:
            try:
                verdict = check(environ)
            except Exception:
                self.logger.exception('allow_request / middleware raised')
                return ProtocolError(FORBIDDEN)
            message = None
            if isinstance(verdict, tuple):
                verdict, message = (verdict + (None,))[:2]
            elif isinstance(verdict, str):
                verdict, message = False, verdict
            if verdict is None or verdict is True:
                continue
            if not verdict:
                return ProtocolError(FORBIDDEN, message if isinstance(
                    message, str) and message else None)
        return None

    def _new_sid(self, environ: dict) -> str:
        if self._generate_id is None:
            return _default_generate_id()
        sid = (self._generate_id(environ) if self._generate_id_takes_environ
               else self._generate_id())
        if not isinstance(sid, str) or not sid:
            raise ValueError('generate_id must return a non-empty string')
        return sid

    def _handshake(self, info: RequestInfo, environ: dict,
                   headers: list[tuple[str, str]]) -> Any:
        if self._shutting_down:
            headers.append(('Retry-After', '5'))
            return self._refuse(ProtocolError(
                BAD_REQUEST, 'Server shutting down', http_status=503),
                environ, headers)
        refusal = self._check_allowed(environ)
        if refusal is not None:
            return self._refuse(refusal, environ, headers)
        try:
            sid = self._new_sid(environ)
        except Exception:
            self.logger.exception('generate_id failed')
            return self._refuse(ProtocolError(BAD_REQUEST), environ, headers)
        if sid in self._sockets:
            self.logger.error('generate_id returned a sid in use')
            return self._refuse(ProtocolError(BAD_REQUEST), environ, headers)
        if info.transport == 'websocket':
            return self._websocket_request(None, info, environ, headers,
                                           sid=sid)
        socket = self._open_session(sid, info, environ)
        if socket is None:
            return self._refuse(ProtocolError(FORBIDDEN), environ, headers)
        if self.config.cookie is not None:
            headers.append(self.config.cookie.header(sid))
        if self.config.initial_headers is not None:
            headers += self._extra_headers(self.config.initial_headers,
                                           environ)
        with socket._lock:
            packets = socket.session.take_buffer()
        return self._polling._respond(socket, packets, info, environ,
                                      headers)

    def _open_session(self, sid: str, info: RequestInfo,
                      environ: dict) -> Socket | None:
        """Create a session, queue its open packet, run connect handlers.

        Returns None (and forgets the session) if a handler refused it.
        """
        config = self.config
        now = self._clock()
        session = Session(
            sid, transport=info.transport, protocol=info.protocol, now=now,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout + config.ping_interval_grace,
            upgrade_timeout=config.upgrade_timeout,
            close_timeout=config.close_timeout)
        upgrades = (['websocket'] if info.transport == 'polling'
                    and config.allow_upgrades
                    and 'websocket' in config.transports else [])
        handshake = {
            'sid': sid,
            'upgrades': upgrades,
            'pingInterval': config.ping_interval_ms,
            'pingTimeout': config.ping_timeout_ms,
            'maxPayload': config.max_http_buffer_size,
        }
        session.send(Packet(PacketType.OPEN, self._handshake_json(handshake)))
        session.open()
        socket = Socket(self, session, environ)
        self._sockets[sid] = socket
        self.clients[sid] = socket
        if config.initial_packet is not None:
            session.send(Packet(PacketType.MESSAGE, config.initial_packet))
        self.logger.info('%s: session opened (%s, EIO=%d)', sid,
                         info.transport, info.protocol)
        handlers = self._handlers
        accepted = True
        if 'connect' in handlers:
            for handler in tuple(handlers['connect']):
                try:
                    verdict = handler(sid, environ)
                except Exception:
                    self.logger.exception('%s: connect handler raised; '
                                          'refusing the session', sid)
                    verdict = False
                if verdict is False:
                    accepted = False
                    break
        if not accepted:
            self._sockets.pop(sid, None)
            self.clients.pop(sid, None)
            socket._close_notified = True
            session.close(CloseReason.SERVER_DISCONNECT, 'refused')
            self.logger.info('%s: refused by the connect handler', sid)
            return None
        if 'connection' in handlers:
            self.emit('connection', socket)
        self._session_changed(socket)
        return socket

    def _websocket_request(self, socket: Socket | None, info: RequestInfo,
                           environ: dict, headers: list[tuple[str, str]],
                           sid: str | None = None) -> Any:
        if self._websocket is None:
            from .transports.websocket import WebSocketTransport
            self._websocket = WebSocketTransport(self)
        return self._websocket.handle(socket, info, environ, headers, sid)

    # -- packets in -------------------------------------------------------------

    def _receive_packets(self, socket: Socket, packets: list[Packet]) -> None:
        """Feed packets from the client to the session, in order."""
        now = self._clock()
        receive_one = self._receive_one
        for packet in packets:
            if not receive_one(socket, packet, now):
                break

    def _receive_one(self, socket: Socket, packet: Packet,
                     now: float) -> bool:
        """Feed one packet to the session; False once the session ended."""
        with socket._lock:
            result = socket.session.receive(packet, now)
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug('%s: received %s', socket.id,
                              _describe([packet]))
        if socket._handlers:
            socket.emit('packet', packet)
            if packet.type is PacketType.PONG or \
                    packet.type is PacketType.PING:
                socket.emit('heartbeat')
        if result is Received.DELIVER:
            socket._deliver(packet.data)
        elif result is Received.NOTHING:
            if packet.type is PacketType.PONG:
                # The next ping is due ping_interval from now, which may be
                # before the pong deadline the timer is waiting for.
                self._session_changed(socket)
        elif result is Received.FLUSH:
            socket._flush()
        else:
            if result is Received.INVALID:
                self.logger.info('%s: invalid packet type %d; closing',
                                 socket.id, packet.type)
            socket._after_close()
            return False
        return True

    def _deliver(self, sid: str, data: str | bytes) -> None:
        handlers = self._handlers.get('message')
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

    @property
    def _flush_listeners(self) -> bool:
        handlers = self._handlers
        return 'flush' in handlers or 'drain' in handlers

    # -- session life -------------------------------------------------------------

    def _on_socket_closed(self, socket: Socket, reason: str) -> None:
        sid = socket.id
        if self.clients.get(sid) is socket:
            del self.clients[sid]
        self.logger.info('%s: session closed (%s)', sid, reason)
        handlers = self._handlers.get('disconnect')
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

    def _session_changed(self, socket: Socket) -> None:
        """Forget a finished session, or make sure its timer is scheduled."""
        session = socket.session
        if session.ready_state.value == 'closed':
            if self._sockets.get(socket.id) is socket:
                del self._sockets[socket.id]
            if not socket._close_notified:
                socket._notify_closed()
            return
        deadline = session.deadline
        if deadline is not None:
            self._timers.schedule(deadline, socket)

    def _on_timer(self, socket: Socket, now: float) -> None:
        session = socket.session
        if session.ready_state.value == 'closed':
            return
        deadline = session.deadline
        if deadline is None or deadline > now:
            # A stale entry: the session moved its deadline.
            if deadline is not None and deadline - now > 1e-3:
                self._timers.schedule(deadline, socket)
                return
        with socket._lock:
            action = session.on_timer(now)
            deadline = session.deadline
        if action == 'ping':
            if socket._handlers:
                socket.emit('heartbeat')
                socket.emit('packet_create', Packet(PacketType.PING))
            socket._flush()
        elif action == 'timeout':
            self.logger.info('%s: ping timeout', socket.id)
            socket._after_close()
        elif action == 'upgrade_timeout':
            self.logger.info('%s: upgrade timed out; staying on polling',
                             socket.id)
            if socket._upgrade_ws is not None:
                socket._upgrade_ws.on_upgrade_cancelled()
        elif action == 'close_timeout':
            if socket._ws is not None:
                socket._ws.on_session_closed()
            self._session_changed(socket)
            return
        if deadline is not None and session.ready_state.value != 'closed':
            self._timers.schedule(deadline, socket)


class _ConnectionError:
    """What ``connection_error`` handlers receive: code, message, context."""

    __slots__ = ('code', 'message', 'context', 'req')

    def __init__(self, error: ProtocolError, environ: dict) -> None:
        self.code = error.code
        self.message = error.message
        self.req = environ
        self.context = {'method': environ.get('REQUEST_METHOD'),
                        'query': environ.get('QUERY_STRING', ''),
                        'http_status': error.http_status}

    def __repr__(self) -> str:
        return f'<connection_error {self.code}: {self.message}>'


def _compact_json(value: Any) -> str:
    return _stdlib_json.dumps(value, separators=(',', ':'))


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


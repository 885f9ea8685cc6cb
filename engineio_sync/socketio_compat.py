"""Run a python-socketio ``socketio.Server`` on top of engineio_sync.

python-socketio builds its Engine.IO server with
``socketio.Server._engineio_server_class()`` and then talks to it through a
small API: ``on``, ``send``, ``send_packet``, ``generate_id``,
``handle_request``, ``get_session``/``save_session``, ``transport``,
``start_background_task``, ``sleep``, ``create_event``, ``shutdown`` and
``async_mode``. :class:`EngineIOServer` is an :class:`engineio_sync.Server`
that adds the pieces engineio_sync does not spell the python-engineio
way (``generate_id()``, ``send_packet()`` with a python-engineio packet, and
the socket table the admin instrumentation reads), and
:class:`SocketIOServer` is a ``socketio.Server`` that uses it::

    from engineio_sync.socketio_compat import SocketIOServer, WSGIApp

    sio = SocketIOServer(async_mode='eventlet', cors_allowed_origins='*')

    @sio.event
    def chat(sid, data):
        sio.emit('chat', data, room='lobby')
        return 'ok'                       # the client's ack

    app = WSGIApp(sio, flask_app.wsgi_app)   # serves /socket.io/

Engine.IO keyword options (``ping_interval``, ``cors``, ``cookie`` ...)
are passed through to :class:`engineio_sync.Server`.

The Socket.IO Admin UI
----------------------
``sio.instrument(auth=...)`` (python-socketio's ``InstrumentedServer``)
works. Its Socket.IO side (connects, disconnects, rooms, events) is
python-socketio's own. Its Engine.IO side was written against
python-engineio's internals: it reads ``eio.sockets`` and
``eio._get_socket(sid).upgraded``, and counts traffic by wrapping
``eio._ok`` and methods of python-engineio's ``Socket`` class, which
engineio_sync never calls. :class:`EngineIOServer` provides the first two
as views of :attr:`~engineio_sync.Server.clients`, and
:meth:`SocketIOServer.instrument` feeds the rest from engineio_sync's
public socket events (:class:`AdminFeed`): ``packet`` and
``packet_create`` for the traffic counts, ``upgrade`` for an immediate
``socket_updated``, and a ping sent for the periodic ``socket_connected``
refresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Iterable, Iterator

try:
    import socketio as _socketio
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('engineio_sync.socketio_compat needs python-socketio '
                      '(pip install python-socketio)') from exc

from .app_socket import Socket
from .core.packets import Packet, PacketType
from .core.payload import encode_payload
from .core.session import CloseReason
from .core.handshake import generate_sid
from .server import Server
from .wsgi import WSGIApp as _EngineIOWSGIApp

__all__ = ['EngineIOServer', 'SocketIOServer', 'WSGIApp', 'SocketView',
           'AdminFeed']

_TYPES = tuple(PacketType)
_PING = PacketType.PING


def _as_packet(packet: Any) -> Packet:
    """An engineio_sync :class:`Packet` for ours or a python-engineio
    ``engineio.packet.Packet`` (``packet_type`` and ``data``)."""
    if isinstance(packet, Packet):
        return packet
    ptype = getattr(packet, 'packet_type', None)
    if not isinstance(ptype, int) or not 0 <= ptype < len(_TYPES):
        raise TypeError(f'cannot send {packet!r} as a packet')
    data = packet.data
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(',', ':'))
    elif isinstance(data, bytearray):
        data = bytes(data)
    elif data is not None and not isinstance(data, (str, bytes)):
        data = str(data)
    return Packet(_TYPES[ptype], data)


class SocketView:
    """One session as python-engineio's ``Socket`` shows it to
    python-socketio: ``sid``, ``upgraded``, ``upgrading`` and ``closed``.

    ``upgraded`` is True whenever a WebSocket carries the session, also for
    a session that began on WebSocket (python-engineio's meaning; an
    engineio_sync :attr:`Socket.upgraded` is True only after an upgrade
    from polling). ``socket`` is the engineio_sync :class:`Socket`.
    """

    __slots__ = ('socket',)

    def __init__(self, socket: Socket) -> None:
        self.socket = socket

    @property
    def sid(self) -> str:
        """The Engine.IO session id."""
        return self.socket.id

    @property
    def upgraded(self) -> bool:
        """True while a WebSocket carries the session."""
        return self.socket.transport == 'websocket'

    @property
    def upgrading(self) -> bool:
        """True while an upgrade to WebSocket is under way."""
        return self.socket.upgrading

    @property
    def closed(self) -> bool:
        """True once the session is over."""
        return self.socket.ready_state == 'closed'

    def __repr__(self) -> str:
        return f'<SocketView {self.socket!r}>'


class _SocketViews(Mapping):
    """``sid -> SocketView`` over a server's open sessions, read live.

    Iteration works on a snapshot, so that a session opening or closing in
    another thread meanwhile cannot break a loop over it.
    """

    __slots__ = ('clients',)

    def __init__(self, clients: dict[str, Socket]) -> None:
        self.clients = clients

    def __getitem__(self, sid: str) -> SocketView:
        return SocketView(self.clients[sid])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.clients))

    def __len__(self) -> int:
        return len(self.clients)

    def __contains__(self, sid: object) -> bool:
        return sid in self.clients

    def values(self) -> list[SocketView]:  # type: ignore[override]
        return [SocketView(s) for s in list(self.clients.values())]

    def items(self) -> list[tuple[str, SocketView]]:  # type: ignore[override]
        return [(s.id, SocketView(s)) for s in list(self.clients.values())]


class EngineIOServer(Server):
    """An engineio_sync :class:`~engineio_sync.Server` with the extra
    python-engineio spellings that python-socketio uses."""

    #: python-engineio's disconnect reasons (the same strings).
    reason = CloseReason

    def generate_id(self) -> str:
        """A new random id (python-socketio uses it for namespace sids)."""
        return generate_sid()

    def send_packet(self, sid: str, packet: Any) -> bool:
        """Send an engineio_sync :class:`Packet` or a python-engineio
        ``engineio.packet.Packet`` (``packet_type`` and ``data``)."""
        return super().send_packet(sid, _as_packet(packet))

    @property
    def sockets(self) -> Mapping[str, SocketView]:
        """The open sessions as python-engineio's ``sockets`` dict shows
        them: ``sid -> SocketView`` (read-only, always current)."""
        return _SocketViews(self.clients)

    # The two names below are python-engineio internals, spelled here
    # because python-socketio's admin instrumentation uses them.

    def _get_socket(self, sid: str) -> SocketView:
        """The open session ``sid``; KeyError if it is unknown or over (as
        in python-engineio)."""
        socket = self.clients.get(sid)
        if socket is None:
            raise KeyError('Session not found')
        return SocketView(socket)

    def _ok(self, packets: Iterable[Any] | None = None,
            headers: list[tuple[str, str]] | None = None,
            jsonp_index: Any = None) -> dict:
        """python-engineio's answer to a long-poll, as a dict.

        The admin instrumentation wraps it to count polling traffic, but
        engineio_sync answers polls in its transports and never calls it:
        :class:`AdminFeed` counts traffic instead. It builds the same
        answer as python-engineio (v4 payload) for whoever calls it.
        """
        if jsonp_index is not None:
            raise ValueError('JSONP answers are built by the polling '
                             'transport')
        if packets is None:
            return {'status': '200 OK',
                    'headers': [('Content-Type', 'text/plain')],
                    'response': b'OK'}
        headers = list(headers or [])
        headers.append(('Content-Type', 'text/plain; charset=UTF-8'))
        body = encode_payload([_as_packet(p) for p in packets])
        return {'status': '200 OK', 'headers': headers,
                'response': body.encode('utf-8')}


def _size(packet: Packet) -> int:
    """The bytes of a packet's payload (UTF-8 for text)."""
    data = packet.data
    if data is None:
        return 0
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode('utf-8'))
    return len(data)


class AdminFeed:
    """What python-socketio's admin instrumentation learns from
    python-engineio internals, fed from engineio_sync's public events.

    ``admin`` is the ``socketio.admin.InstrumentedServer`` that
    ``sio.instrument()`` returned. For every session (those open now and
    each new ``connection``) it listens to the socket's ``packet``
    (``packetsIn``/``bytesIn``), ``packet_create`` (``packetsOut``/
    ``bytesOut``) and, in development mode, ``upgrade``
    (``socket_updated`` with the new transport at once); in that mode
    each ping sent also reports the session again with
    ``socket_connected``, as python-socketio does on python-engineio.
    Packets are Engine.IO packets (messages and heartbeats); bytes are
    their payload sizes.
    """

    def __init__(self, sio: _socketio.Server, admin: Any) -> None:
        self.sio = sio
        self.admin = admin
        self.namespace: str = admin.admin_namespace
        self.development: bool = admin.mode == 'development'

    def attach(self) -> None:
        """Start listening: to open sessions and to new ones."""
        eio = self.sio.eio
        eio.on('connection', self.watch)
        for socket in list(eio.clients.values()):
            self.watch(socket)

    def watch(self, socket: Socket) -> None:
        """Listen to one session's events (once, however often called)."""
        if self.packet_in in socket.handlers.get('packet', ()):
            return
        socket.on('packet', self.packet_in)
        socket.on('packet_create', partial(self.packet_out, socket.id))
        if self.development:
            socket.on('upgrade', partial(self.upgraded, socket.id))

    def packet_in(self, packet: Packet) -> None:
        """A packet from the client."""
        events = self.admin.event_buffer
        events.push('packetsIn')
        events.push('bytesIn', _size(packet))

    def packet_out(self, eio_sid: str, packet: Packet) -> None:
        """A packet queued for the client."""
        events = self.admin.event_buffer
        events.push('packetsOut')
        events.push('bytesOut', _size(packet))
        if self.development and packet.type is _PING:
            self.report(eio_sid)

    def _sids(self, eio_sid: str) -> list[tuple[str, str]]:
        """(namespace, Socket.IO sid) of each namespace the session joined."""
        manager = self.sio.manager
        found = []
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None:
                found.append((namespace, sid))
        return found

    def upgraded(self, eio_sid: str, transport: str) -> None:
        """The session moved to ``transport``: tell the admins now
        (python-socketio alone would notice within 5 s, by polling)."""
        for namespace, sid in self._sids(eio_sid):
            self.sio.emit('socket_updated', {
                'id': sid, 'nsp': namespace, 'transport': transport,
            }, namespace=self.namespace)

    def report(self, eio_sid: str) -> None:
        """Send the admins the current details of a session's sockets."""
        now = datetime.now(timezone.utc).isoformat()
        for namespace, sid in self._sids(eio_sid):
            try:
                details = self.admin.serialize_socket(sid, namespace, eio_sid)
            except KeyError:  # the session closed meanwhile
                return
            self.sio.emit('socket_connected', (details, now),
                          namespace=self.namespace)


class SocketIOServer(_socketio.Server):
    """A ``socketio.Server`` whose Engine.IO layer is engineio_sync.

    Takes every argument of ``socketio.Server``; Engine.IO options go to
    :class:`EngineIOServer`. ``sio.eio`` is the engineio_sync server.
    """

    def _engineio_server_class(self) -> type:
        return EngineIOServer

    def instrument(self, auth: Any = None, mode: str = 'development',
                   read_only: bool = False, server_id: str | None = None,
                   namespace: str = '/admin',
                   server_stats_interval: float = 2) -> Any:
        """Serve the `Socket.IO Admin UI
        <https://socket.io/docs/v4/admin-ui/>`_ on ``namespace``.

        The arguments are python-socketio's (``auth`` is required: a dict
        of expected credentials, a list of them, a callable, or False).
        Returns python-socketio's ``InstrumentedServer``.
        """
        admin = super().instrument(
            auth=auth, mode=mode, read_only=read_only, server_id=server_id,
            namespace=namespace, server_stats_interval=server_stats_interval)
        # python-engineio keeps one handler per event, so the admin's
        # connect and disconnect handlers replace python-socketio's (and
        # call them). engineio_sync runs every handler registered, so
        # python-socketio's own would run twice.
        self.eio.off('connect', self._handle_eio_connect)
        self.eio.off('disconnect', self._handle_eio_disconnect)
        AdminFeed(self, admin).attach()
        return admin


class WSGIApp(_EngineIOWSGIApp):
    """WSGI middleware serving a :class:`SocketIOServer` on
    ``/socket.io/`` and passing other paths to ``wsgi_app``."""

    def __init__(self, socketio_app: SocketIOServer,
                 wsgi_app: Callable[[dict, Callable], Iterable[bytes]]
                 | None = None,
                 static_files: dict[str, Any] | None = None,
                 socketio_path: str = 'socket.io') -> None:
        eio = getattr(socketio_app, 'eio', None)
        if not isinstance(eio, Server):
            raise TypeError('socketio_app must be a SocketIOServer (a '
                            'socketio.Server running on engineio_sync)')
        super().__init__(eio, wsgi_app, engineio_path=socketio_path,
                         static_files=static_files)
        self.socketio_app = socketio_app

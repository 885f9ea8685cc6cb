"""Run a python-socketio ``socketio.Server`` on top of engineio_sync.

python-socketio builds its Engine.IO server with
``socketio.Server._engineio_server_class()`` and then talks to it through a
small API: ``on``, ``send``, ``send_packet``, ``generate_id``,
``handle_request``, ``get_session``/``save_session``, ``transport``,
``start_background_task``, ``sleep``, ``create_event``, ``shutdown`` and
``async_mode``. :class:`EngineIOServer` is an :class:`engineio_sync.Server`
that adds the two pieces engineio_sync does not spell the python-engineio
way (``generate_id()`` and ``send_packet()`` with a python-engineio
packet), and :class:`SocketIOServer` is a ``socketio.Server`` that uses it::

    from engineio_sync.socketio_compat import SocketIOServer, WSGIApp

    sio = SocketIOServer(async_mode='eventlet', cors_allowed_origins='*')

    @sio.event
    def chat(sid, data):
        sio.emit('chat', data, room='lobby')
        return 'ok'                       # the client's ack

    app = WSGIApp(sio, flask_app.wsgi_app)   # serves /socket.io/

Engine.IO keyword options (``ping_interval``, ``cors``, ``cookie`` ...)
are passed through to :class:`engineio_sync.Server`. python-socketio's
admin instrumentation (``sio.instrument()``) reaches into python-engineio
internals and is not supported.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

try:
    import socketio as _socketio
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('engineio_sync.socketio_compat needs python-socketio '
                      '(pip install python-socketio)') from exc

from .core.packets import Packet, PacketType
from .core.session import CloseReason
from .core.handshake import generate_sid
from .server import Server
from .wsgi import WSGIApp as _EngineIOWSGIApp

__all__ = ['EngineIOServer', 'SocketIOServer', 'WSGIApp']

_TYPES = tuple(PacketType)


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
        if not isinstance(packet, Packet):
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
            packet = Packet(_TYPES[ptype], data)
        return super().send_packet(sid, packet)


class SocketIOServer(_socketio.Server):
    """A ``socketio.Server`` whose Engine.IO layer is engineio_sync.

    Takes every argument of ``socketio.Server``; Engine.IO options go to
    :class:`EngineIOServer`. ``sio.eio`` is the engineio_sync server.
    """

    def _engineio_server_class(self) -> type:
        return EngineIOServer


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

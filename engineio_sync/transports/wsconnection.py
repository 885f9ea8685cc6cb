"""A thin WebSocket (RFC 6455) connection over a raw socket.

Framing is wsproto's (sans-IO); this module only moves bytes between it
and the socket taken from the WSGI server, in the request's own task: no
extra reader thread per connection.
"""

from __future__ import annotations

import base64
import hashlib
import socket as _socket
import zlib
from collections import deque
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (BytesMessage, CloseConnection, Message, Ping,
                            TextMessage)
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits
from wsproto.utilities import LocalProtocolError

__all__ = ['WebSocketConnection', 'MessageTooBig', 'accept_token',
           'negotiate_deflate', 'raw_socket', 'handshake_error']

_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class MessageTooBig(Exception):
    """A message from the peer exceeds the configured limit."""


def accept_token(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.encode('ascii') + _GUID).digest()
    return base64.b64encode(digest).decode('ascii')


def handshake_error(environ: dict) -> str | None:
    """Why this request is not a valid WebSocket handshake, or None."""
    if 'websocket' not in environ.get('HTTP_UPGRADE', '').lower():
        return 'missing Upgrade: websocket'
    if 'upgrade' not in environ.get('HTTP_CONNECTION', '').lower():
        return 'missing Connection: Upgrade'
    if environ.get('REQUEST_METHOD') != 'GET':
        return 'WebSocket handshakes must be GET'
    if environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip() != '13':
        return 'unsupported Sec-WebSocket-Version'
    key = environ.get('HTTP_SEC_WEBSOCKET_KEY', '').strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return 'invalid Sec-WebSocket-Key'
    except (ValueError, TypeError):
        return 'invalid Sec-WebSocket-Key'
    return None


def raw_socket(environ: dict) -> tuple[Any, str] | tuple[None, None]:
    """The client's socket as the WSGI server exposes it, and its name."""
    if 'eventlet.input' in environ:
        return environ['eventlet.input'].get_socket(), 'eventlet'
    if 'gunicorn.socket' in environ:
        return environ['gunicorn.socket'], 'gunicorn'
    if 'werkzeug.socket' in environ:
        return environ['werkzeug.socket'], 'werkzeug'
    if environ.get('SERVER_SOFTWARE', '').startswith('gevent'):
        stream = environ.get('wsgi.input')
        rfile = getattr(stream, 'rfile', stream)
        raw = getattr(rfile, 'raw', None)
        sock = getattr(raw, '_sock', None)
        if sock is not None:
            return sock, 'gevent'
    return None, None


class _Deflate(PerMessageDeflate):
    """permessage-deflate that skips small messages and bounds inflation."""

    def __init__(self, threshold: int, max_size: int) -> None:
        super().__init__()
        self._threshold = threshold
        self._max_size = max_size
        self._skip = False

    def frame_outbound(self, proto: Any, opcode: Opcode, rsv: RsvBits,
                       data: bytes, fin: bool) -> tuple[RsvBits, bytes]:
        # Messages are always sent whole, so the choice holds per frame.
        if opcode is not Opcode.CONTINUATION:
            self._skip = len(data) < self._threshold
        if self._skip:
            return rsv, data
        return super().frame_outbound(proto, opcode, rsv, data, fin)

    def frame_inbound_payload_data(self, proto: Any,
                                   data: bytes) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        try:
            out = self._decompressor.decompress(bytes(data),
                                                self._max_size + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        if len(out) > self._max_size or self._decompressor.unconsumed_tail:
            # A small frame inflating past the limit: a compression bomb.
            return CloseReason.MESSAGE_TOO_BIG
        return out


def negotiate_deflate(environ: dict, threshold: int, max_size: int
                      ) -> tuple[_Deflate | None, str | None]:
    """Accept a permessage-deflate offer: (extension, response header)."""
    offers = environ.get('HTTP_SEC_WEBSOCKET_EXTENSIONS', '')
    for offer in offers.split(','):
        name = offer.split(';', 1)[0].strip()
        if name != 'permessage-deflate':
            continue
        ext = _Deflate(threshold, max_size)
        try:
            accepted = ext.accept(offer.strip())
        except Exception:  # a malformed offer: just decline it
            accepted = None
        if accepted is None or accepted is False:
            continue
        header = 'permessage-deflate' if accepted is True or not accepted \
            else f'permessage-deflate; {accepted}'
        return ext, header
    return None, None


class WebSocketConnection:
    """Send and receive whole messages on an accepted WebSocket.

    ``receive()`` is called by one task only (the reader); ``send_many`` and
    ``close`` may be called from any task but must be serialised by the
    caller (the session's write lock).
    """

    __slots__ = ('sock', '_ws', '_pending', '_parts', '_size', '_max_size',
                 'closed', 'close_code', '_recv_size')

    def __init__(self, sock: Any, *, extensions: list | None = None,
                 max_message_size: int = 1_000_000) -> None:
        self.sock = sock
        self._ws = Connection(ConnectionType.SERVER, extensions or None)
        self._pending: deque = deque()
        self._parts: list | None = None
        self._size = 0
        self._max_size = max_message_size
        self._recv_size = 65536
        #: True once a close frame was sent or received, or the socket died.
        self.closed = False
        self.close_code: int | None = None

    # -- output -----------------------------------------------------------

    def send_many(self, messages: list[str | bytes]) -> None:
        """Frame and write several messages with a single ``sendall``."""
        ws = self._ws
        if ws.state is not ConnectionState.OPEN:
            raise ConnectionError('WebSocket is closed')
        frames = []
        for data in messages:
            if isinstance(data, str):
                frames.append(ws.send(TextMessage(data=data)))
            else:
                frames.append(ws.send(Message(data=data)))
        self.sock.sendall(frames[0] if len(frames) == 1 else b''.join(frames))

    def send(self, data: str | bytes) -> None:
        """Frame and write one message."""
        self.send_many([data])

    def close(self, code: int = 1000, reason: str = '') -> None:
        """Send a close frame (once); errors on a dead socket are ignored."""
        if self.closed and self._ws.state not in (
                ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            return
        self.closed = True
        try:
            data = self._ws.send(CloseConnection(code=code, reason=reason))
        except LocalProtocolError:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def shutdown(self) -> None:
        """Cut the TCP connection, waking a reader blocked on it."""
        self.closed = True
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    # -- input --------------------------------------------------------------

    def receive(self) -> str | bytes | None:
        """The next whole message, or None once the connection is over.

        Raises :class:`MessageTooBig` (after sending close code 1009) when
        a message passes ``max_message_size``.
        """
        pending = self._pending
        while not pending:
            if self.close_code is not None:
                return None
            try:
                data = self.sock.recv(self._recv_size)
            except OSError:
                data = b''
            if not data:
                self.close_code = 1006
                self.closed = True
                return None
            self._ws.receive_data(data)
            self._process_events()
        return pending.popleft()

    def _process_events(self) -> None:
        ws = self._ws
        for event in ws.events():
            cls = type(event)
            if cls is TextMessage or cls is BytesMessage:
                size = self._size + len(event.data)
                if size > self._max_size:
                    self._too_big()
                    return
                if event.message_finished and self._parts is None:
                    self._pending.append(event.data)
                    continue
                if self._parts is None:
                    self._parts = []
                self._parts.append(event.data)
                self._size = size
                if event.message_finished:
                    parts, self._parts, self._size = self._parts, None, 0
                    if cls is TextMessage:
                        self._pending.append(''.join(parts))
                    else:
                        self._pending.append(b''.join(parts))
            elif cls is Ping:
                try:
                    self.sock.sendall(ws.send(event.response()))
                except (OSError, LocalProtocolError):
                    pass
            elif cls is CloseConnection:
                self.close_code = event.code
                if ws.state is ConnectionState.REMOTE_CLOSING:
                    self.closed = True
                    try:
                        self.sock.sendall(ws.send(event.response()))
                    except (OSError, LocalProtocolError):
                        pass
                elif ws.state is ConnectionState.OPEN:
                    # A framing error: wsproto reports it as a close event
                    # while the connection is still open; answer with it.
                    self.close(event.code or 1002, (event.reason or '')[:100])
                return

    def _too_big(self) -> None:
        self._parts = None
        self._size = 0
        self.close(1009, 'message too big')
        self.close_code = 1009
        raise MessageTooBig()

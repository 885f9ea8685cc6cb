"""What processes of a cluster tell each other through Redis, as bytes.

Two kinds of message travel:

*Requests* go to the inbox of a session's owner::

    kind (1 byte) | sid | NUL | reply-to process id | NUL | token | NUL | body

``reply-to`` and ``token`` are empty when nobody waits for an answer (a
send from a job, a disconnect). *Replies* go to the wake list of the
process that asked::

    token | NUL | status (1 byte) | body

Bodies carrying packets hold each packet as ``type (1 byte) | data kind
(1 byte: 0 none, 1 text, 2 binary) | length (4 bytes, big-endian) |
data``. Session ids, process ids and tokens never contain NUL: the
server makes them (and checks ids it is given).
"""

from __future__ import annotations

import json
import struct
from typing import NamedTuple, NoReturn

from ..core.packets import Packet, PacketType
from ..exceptions import EngineIOError, RemoteProtocolError

__all__ = ['POST', 'POLL', 'SEND', 'CLOSE', 'INVALID', 'OVERFLOW', 'BROADCAST',
           'ABANDON', 'ANSWERED', 'ABANDONED', 'OK', 'PACKETS', 'ERROR',
           'UPGRADE', 'ATTACH', 'WS_PACKET', 'WS_INVALID', 'WS_ENDED', 'WRITE',
           'CLOSE_FRAME', 'CUT', 'HANDOVER', 'MOVED', 'Request', 'Reply', 'encode_request',
           'decode_request', 'encode_reply', 'decode_reply', 'encode_packets',
           'decode_packets', 'encode_error', 'raise_error', 'message_packet',
           'WireError']

#: Request kinds: the packets of a POST; a GET waiting for packets; packets
#: the application sends from another process; close the session; the
#: client sent something unreadable; the owner's inbox overflowed;
#: packets for every session of the process (no sid).
POST, POLL, SEND, CLOSE, INVALID, OVERFLOW = b'P', b'G', b'S', b'D', b'I', b'F'
BROADCAST = b'B'
#: The client of a GET carried to the owner went away (token: the GET's).
ABANDON = b'Q'
#: The answer of a GET carried to the owner was written (body ``1``) or
#: could not be (``0``) (token: the GET's).
ANSWERED = b'N'
#: Request kinds of a WebSocket held by another process than the owner:
#: it asks to upgrade; it was accepted (body: nothing, reply: the
#: engine's verdict); a packet it read; something unreadable it read; its
#: end (body: reason and description).
UPGRADE, ATTACH, WS_PACKET, WS_INVALID, WS_ENDED = (b'U', b'A', b'W', b'V',
                                                    b'X')
#: A WebSocket for the session arrived at the asking process: move the
#: session there if its connect handlers have not run yet (reply
#: :data:`MOVED` with its state), else :data:`OK` (see
#: :mod:`engineio_sync.cluster.handover`).
HANDOVER = b'H'
#: Reply statuses: done; packets for the client; a protocol error; the
#: session is now the asker's (body: its state).
OK, PACKETS, ERROR, MOVED = b'O', b'K', b'E', b'M'
#: What an owner tells the holder of a WebSocket (on its reply list, the
#: token naming the connection): write packets; send the close frame;
#: cut the connection.
WRITE, CLOSE_FRAME, CUT = b'W', b'C', b'X'

_HEAD = struct.Struct('>BBI')
_NONE, _TEXT, _BINARY = 0, 1, 2
_SEP = b'\x00'


class WireError(EngineIOError, ValueError):
    """Bytes that are not a message of this module (a bug or a foreign
    writer on our keys); logged and dropped by whoever reads them."""


class Request(NamedTuple):
    """A request for a session's owner."""

    kind: bytes
    sid: str
    reply_to: str
    token: str
    body: bytes


class Reply(NamedTuple):
    """An owner's answer to a request."""

    token: str
    status: bytes
    body: bytes


#: What a wait for a reply ends with when its client went away.
ABANDONED = Reply('', b'', b'')


def encode_request(kind: bytes, sid: str, body: bytes = b'',
                   reply_to: str = '', token: str = '') -> bytes:
    """The bytes of a request."""
    return b''.join((kind, sid.encode(), _SEP, reply_to.encode(), _SEP,
                     token.encode(), _SEP, body))


def decode_request(raw: bytes) -> Request:
    """Parse :func:`encode_request`'s bytes."""
    parts = raw[1:].split(_SEP, 3)
    if len(parts) != 4 or not raw[:1]:
        raise WireError('malformed request')
    sid, reply_to, token, body = parts
    try:
        return Request(raw[:1], sid.decode(), reply_to.decode(),
                       token.decode(), body)
    except UnicodeDecodeError:
        raise WireError('malformed request') from None


def encode_reply(token: str, status: bytes, body: bytes = b'') -> bytes:
    """The bytes of a reply."""
    return b''.join((token.encode(), _SEP, status, body))


def decode_reply(raw: bytes) -> Reply:
    """Parse :func:`encode_reply`'s bytes."""
    token, sep, rest = raw.partition(_SEP)
    if not sep or not rest:
        raise WireError('malformed reply')
    try:
        return Reply(token.decode(), rest[:1], rest[1:])
    except UnicodeDecodeError:
        raise WireError('malformed reply') from None


def message_packet(data: str | bytes | bytearray | memoryview) -> Packet:
    """The MESSAGE packet carrying ``data`` (TypeError for other types)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif not isinstance(data, (str, bytes)):
        raise TypeError('data must be str, bytes, bytearray or memoryview, '
                        f'not {type(data).__name__}')
    return Packet(PacketType.MESSAGE, data)


def encode_packets(packets: list[Packet]) -> bytes:
    """Packets as bytes, in order."""
    out = []
    for packet in packets:
        data = packet.data
        if data is None:
            out.append(_HEAD.pack(packet.type, _NONE, 0))
            continue
        if isinstance(data, str):
            raw, kind = data.encode('utf-8', 'surrogatepass'), _TEXT
        else:
            raw, kind = bytes(data), _BINARY
        out.append(_HEAD.pack(packet.type, kind, len(raw)))
        out.append(raw)
    return b''.join(out)


def decode_packets(raw: bytes) -> list[Packet]:
    """Parse :func:`encode_packets`'s bytes."""
    packets = []
    view = memoryview(raw)
    at, end = 0, len(raw)
    try:
        while at < end:
            type_, kind, length = _HEAD.unpack_from(view, at)
            at += _HEAD.size
            if at + length > end:
                raise WireError('packet cut short')
            chunk = bytes(view[at:at + length])
            at += length
            data: str | bytes | None
            if kind == _NONE:
                data = None
            elif kind == _TEXT:
                data = chunk.decode('utf-8', 'surrogatepass')
            elif kind == _BINARY:
                data = chunk
            else:
                raise WireError('unknown data kind')
            packets.append(Packet(PacketType(type_), data))
    except (struct.error, ValueError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f'malformed packets: {exc}') from None
    return packets


def encode_error(error: RemoteProtocolError) -> bytes:
    """A protocol error as a reply body."""
    return json.dumps([error.code, error.message, error.http_status]).encode()


def raise_error(raw: bytes) -> NoReturn:
    """Raise the protocol error that :func:`encode_error`'s bytes carry
    (:class:`WireError` if they are malformed)."""
    try:
        code, message, status = json.loads(raw)
        error = RemoteProtocolError(int(code), str(message), int(status))
    except (ValueError, TypeError):
        raise WireError('malformed error') from None
    raise error

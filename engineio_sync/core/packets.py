"""Sans-IO codecs for single Engine.IO packets (protocol v4 and v3).

A packet is a type (0-6) plus optional data.  Text data is a ``str``; binary
data is ``bytes``.  The functions here only translate between :class:`Packet`
values and their wire representations; they never touch sockets or clocks.

Wire formats
------------
v4, WebSocket frame (:func:`encode_packet` / :func:`decode_packet`)
    text:   ``<type digit><data>`` e.g. ``'4hello'``, ``'2probe'``, ``'6'``
    binary: the raw message bytes, no type byte (only MESSAGE can be binary)

v4, inside an HTTP long-polling payload (:func:`encode_packet_b64`)
    text as above; binary: ``'b' + base64(data)`` (no type digit)

v3 (:func:`encode_packet_v3` / :func:`decode_packet_v3`)
    text as above; binary frame: ``bytes([type]) + data``;
    base64 form: ``'b' + <type digit> + base64(data)``
"""

from __future__ import annotations

import binascii
import enum
import sys
from typing import Literal, NamedTuple, overload

from ..exceptions import BAD_REQUEST, RemoteProtocolError

__all__ = [
    'PacketType',
    'Packet',
    'DecodeError',
    'data_size',
    'encode_packet',
    'encode_packet_b64',
    'decode_packet',
    'encode_packet_v3',
    'decode_packet_v3',
]


class PacketType(enum.IntEnum):
    """Engine.IO packet types; the value is the digit used on the wire."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


class Packet(NamedTuple):
    """One Engine.IO packet.

    ``data`` is ``None`` (no payload), a ``str`` (text) or ``bytes``
    (binary payload).
    """

    type: PacketType
    data: str | bytes | None = None


def data_size(packets: list[Packet]) -> int:
    """The length of ``packets``' data (characters of text, bytes of
    binary): what they count for in a session's ``buffered_bytes``."""
    return sum(0 if p.data is None else len(p.data) for p in packets)


class DecodeError(RemoteProtocolError, ValueError):
    """Raised for any malformed packet or payload received from a peer.

    A :class:`~engineio_sync.exceptions.RemoteProtocolError` (the peer is
    at fault; the request is answered with 400 "Bad request") and a
    ``ValueError``, so callers can treat it like any bad input. ``str()``
    gives what was wrong.
    """

    def __init__(self, detail: str = 'undecodable input') -> None:
        super().__init__(BAD_REQUEST)
        self.detail = detail
        self.args = (detail,)

    def __str__(self) -> str:
        return self.detail


_MESSAGE = PacketType.MESSAGE

# Lookup tables built once so the hot paths are a single dict/tuple access
# instead of enum construction (PacketType(x) is comparatively slow).
_TYPE_BY_CHAR: dict[str, PacketType] = {str(int(t)): t for t in PacketType}
_TYPE_BY_BYTE: tuple[PacketType, ...] = tuple(PacketType)
# Keyed by int so plain ints work as well as PacketType members (equal hash).
_CHAR_BY_TYPE: dict[int, str] = {int(t): str(int(t)) for t in PacketType}
_BYTE_BY_TYPE: dict[int, bytes] = {int(t): bytes((int(t),)) for t in PacketType}

_BINARY_TYPES = (bytes, bytearray, memoryview)

# Packet is a NamedTuple; calling tuple.__new__ directly skips the generated
# __new__ wrapper, which is measurable when decoding many small packets.
_tuple_new = tuple.__new__

_b2a_base64 = binascii.b2a_base64

if sys.version_info >= (3, 11):
    _a2b_base64 = binascii.a2b_base64

    def _b64decode(text: str) -> bytes:
        # strict_mode rejects non-alphabet characters, bad or misplaced
        # padding and trailing garbage; a peer sending any of those is broken.
        return _a2b_base64(text, strict_mode=True)

else:  # pragma: no cover - exercised only on Python 3.10
    import base64 as _base64

    def _b64decode(text: str) -> bytes:
        return _base64.b64decode(text, validate=True)


def _bad_type(ptype: object) -> ValueError:
    return ValueError(f'invalid packet type: {ptype!r}')


def _type_char(ptype: int) -> str:
    try:
        return _CHAR_BY_TYPE[ptype]
    except (KeyError, TypeError):
        raise _bad_type(ptype) from None


def _type_byte(ptype: int) -> bytes:
    try:
        return _BYTE_BY_TYPE[ptype]
    except (KeyError, TypeError):
        raise _bad_type(ptype) from None


def _base64_text(data: bytes | bytearray | memoryview) -> str:
    return _b2a_base64(data, newline=False).decode('ascii')


def _bad_data(data: object) -> TypeError:
    return TypeError(
        f'packet data must be str, bytes or None, not {type(data).__name__}')


def _decode_base64(text: str) -> bytes:
    try:
        return _b64decode(text)
    except ValueError:  # binascii.Error, or non-ASCII characters in a str
        raise DecodeError('invalid base64 in binary packet') from None


def _decode_text(data: str) -> Packet:
    """Decode ``<type digit><data>``."""
    ptype = _TYPE_BY_CHAR.get(data[:1])
    if ptype is None:
        if not data:
            raise DecodeError('empty packet')
        raise DecodeError(f'unknown packet type {data[0]!r}')
    if len(data) == 1:
        # A bare MESSAGE digit is an empty message, but a bare PING etc.
        # carries no data at all.
        return _tuple_new(Packet, (ptype, '' if ptype is _MESSAGE else None))
    return _tuple_new(Packet, (ptype, data[1:]))


# --------------------------------------------------------------------------
# protocol v4
# --------------------------------------------------------------------------

def encode_packet(packet: Packet) -> str | bytes:
    """Encode a packet as a v4 WebSocket frame.

    Text packets become ``str`` (``'4hello'``; data ``None`` gives just the
    type digit).  A binary MESSAGE becomes its raw ``bytes`` with no type
    prefix, because v4 implies MESSAGE for every binary frame.

    Raises ``ValueError`` for binary data on a non-MESSAGE packet or an
    invalid type, ``TypeError`` for data that is not str/bytes/None.
    """
    ptype, data = packet
    if isinstance(data, str):
        try:
            return _CHAR_BY_TYPE[ptype] + data
        except (KeyError, TypeError):
            raise _bad_type(ptype) from None
    if data is None:
        return _type_char(ptype)
    if isinstance(data, _BINARY_TYPES):
        if ptype != _MESSAGE:
            raise ValueError('only MESSAGE packets may carry binary data')
        # bytes() of a bytes object returns the same object: no copy.
        return bytes(data)
    raise _bad_data(data)


def encode_packet_b64(packet: Packet) -> str:
    """Encode a packet for a v4 long-polling payload.

    Text is encoded as by :func:`encode_packet`; binary MESSAGE data becomes
    ``'b' + base64(data)`` (v4 omits the type digit for binary packets).
    """
    ptype, data = packet
    if isinstance(data, str):
        try:
            return _CHAR_BY_TYPE[ptype] + data
        except (KeyError, TypeError):
            raise _bad_type(ptype) from None
    if data is None:
        return _type_char(ptype)
    if isinstance(data, _BINARY_TYPES):
        if ptype != _MESSAGE:
            raise ValueError('only MESSAGE packets may carry binary data')
        return 'b' + _base64_text(data)
    raise _bad_data(data)


def decode_packet(data: str | bytes) -> Packet:
    """Decode a v4 packet from a WebSocket frame or a payload segment.

    ``bytes``/``bytearray``/``memoryview`` input is a binary MESSAGE.  A
    ``str`` is ``<type digit><data>``, or ``'b' + base64`` for a binary
    MESSAGE.  Malformed input raises :class:`DecodeError`.
    """
    if isinstance(data, str):
        # Same logic as _decode_text, inlined: this is the hottest decoder.
        ptype = _TYPE_BY_CHAR.get(data[:1])
        if ptype is not None:
            if len(data) > 1:
                return _tuple_new(Packet, (ptype, data[1:]))
            return _tuple_new(Packet, (ptype, '' if ptype is _MESSAGE else None))
        if data[:1] == 'b':
            return _tuple_new(Packet, (_MESSAGE, _decode_base64(data[1:])))
        return _decode_text(data)  # raises the appropriate DecodeError
    if isinstance(data, _BINARY_TYPES):
        return _tuple_new(Packet, (_MESSAGE, bytes(data)))
    raise TypeError(f'cannot decode packet from {type(data).__name__}')


# --------------------------------------------------------------------------
# protocol v3
# --------------------------------------------------------------------------

@overload
def encode_packet_v3(packet: Packet, *, b64: Literal[True]) -> str: ...


@overload
def encode_packet_v3(packet: Packet, *, b64: bool = False) -> str | bytes: ...


def encode_packet_v3(packet: Packet, *, b64: bool = False) -> str | bytes:
    """Encode a packet using protocol v3 rules.

    Text packets become ``str`` exactly as in v4.  Binary packets become
    ``bytes([type]) + data``, or with ``b64=True`` the string
    ``'b' + <type digit> + base64(data)``.  v3 allows binary data on any
    packet type, so no type restriction is applied.
    """
    ptype, data = packet
    if isinstance(data, str):
        try:
            return _CHAR_BY_TYPE[ptype] + data
        except (KeyError, TypeError):
            raise _bad_type(ptype) from None
    if data is None:
        return _type_char(ptype)
    if isinstance(data, _BINARY_TYPES):
        if b64:
            return 'b' + _type_char(ptype) + _base64_text(data)
        # bytes + any buffer object yields bytes, so no bytes(data) copy first.
        return _type_byte(ptype) + data
    raise _bad_data(data)


def decode_packet_v3(data: str | bytes) -> Packet:
    """Decode a packet using protocol v3 rules.

    Binary input is ``<type byte><data>`` and yields ``bytes`` data.  A
    ``str`` starting with ``'b'`` is ``'b' + <type digit> + base64``; any
    other ``str`` is ``<type digit><data>`` as in v4.  Malformed input
    raises :class:`DecodeError`.
    """
    if isinstance(data, str):
        if data[:1] == 'b':
            ptype = _TYPE_BY_CHAR.get(data[1:2])
            if ptype is None:
                raise DecodeError('invalid type in base64 packet')
            return _tuple_new(Packet, (ptype, _decode_base64(data[2:])))
        return _decode_text(data)
    if isinstance(data, _BINARY_TYPES):
        if not data:
            raise DecodeError('empty binary packet')
        code = data[0]
        if code > 6:
            raise DecodeError(f'unknown binary packet type {code}')
        return _tuple_new(Packet, (_TYPE_BY_BYTE[code], bytes(data[1:])))
    raise TypeError(f'cannot decode packet from {type(data).__name__}')

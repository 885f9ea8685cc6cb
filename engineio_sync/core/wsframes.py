"""Sans-IO WebSocket (RFC 6455) framing for the server side.

:class:`FrameReader` turns bytes from a client into messages and control
events; the ``encode_*`` functions build server frames. permessage-deflate
(RFC 7692) is :class:`Deflate`, negotiated by :func:`negotiate_deflate`.
Nothing here touches a socket.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import TYPE_CHECKING, Any

from ..exceptions import EngineIOError

if TYPE_CHECKING:
    # What zlib.compressobj() and decompressobj() return: typeshed's names,
    # not importable at run time.
    from zlib import _Compress, _Decompress

__all__ = ['FrameError', 'FrameReader', 'Deflate', 'encode_text',
           'encode_binary', 'encode_close', 'encode_pong', 'accept_token',
           'negotiate_deflate', 'TEXT', 'BINARY', 'CLOSE', 'PING', 'PONG']

CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA

_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
_DEFLATE_TAIL = b'\x00\x00\xff\xff'
# Close codes a peer may send (RFC 6455 7.4.1, plus the 3000-4999 range).
_VALID_CLOSE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                          1011, 1012, 1013, 1014})


class FrameError(EngineIOError):
    """The peer broke the WebSocket protocol; close with ``code`` (1002,
    1007, 1009). ``code`` is a WebSocket close code, not an Engine.IO
    error code, hence not a :class:`RemoteProtocolError`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_token(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key.encode('ascii') + _GUID).digest()
    return base64.b64encode(digest).decode('ascii')


def _header(first: int, length: int) -> bytes:
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, 'big')
    return bytes((first, 127)) + length.to_bytes(8, 'big')


# The 2-byte headers of the short text frames, built once.
_SHORT_TEXT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def encode_text(text: str, deflate: Deflate | None = None) -> bytes:
    """One unmasked, unfragmented text frame."""
    data = text.encode('utf-8')
    if deflate is not None and len(data) >= deflate.threshold:
        data = deflate.compress(data)
        return _header(0xC1, len(data)) + data
    n = len(data)
    if n < 126:
        return _SHORT_TEXT_HEADERS[n] + data
    return _header(0x81, n) + data


def encode_binary(data: bytes, deflate: Deflate | None = None) -> bytes:
    """One unmasked, unfragmented binary frame."""
    if deflate is not None and len(data) >= deflate.threshold:
        data = deflate.compress(data)
        return _header(0xC2, len(data)) + data
    return _header(0x82, len(data)) + data


def encode_close(code: int = 1000, reason: str = '') -> bytes:
    """A close frame (the reason is cut to fit a control frame)."""
    payload = code.to_bytes(2, 'big') + reason.encode('utf-8')[:123]
    return bytes((0x88, len(payload))) + payload


def encode_pong(payload: bytes) -> bytes:
    """The answer to a ping."""
    return bytes((0x8A, len(payload))) + payload


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if not n:
        return b''
    key = int.from_bytes((mask * ((n >> 2) + 1))[:n], 'little')
    return (int.from_bytes(data, 'little') ^ key).to_bytes(n, 'little')


class FrameReader:
    """Reassembles client frames into events.

    ``feed(data)`` returns a list of events: ``(TEXT, str)``,
    ``(BINARY, bytes)``, ``(PING, bytes)``, ``(PONG, bytes)`` and
    ``(CLOSE, (code, reason))``. It raises :class:`FrameError` when the
    client breaks the protocol, including a message that would exceed
    ``max_message_size`` (code 1009, refused from the frame header, before
    the payload is buffered).
    """

    __slots__ = ('_buf', '_max', '_parts', '_part_opcode', '_part_size',
                 '_compressed', 'deflate', 'closed')

    def __init__(self, max_message_size: int = 1_000_000,
                 deflate: Deflate | None = None) -> None:
        self._buf = bytearray()
        self._max = max_message_size
        self._parts: list[bytes] = []
        self._part_opcode = 0
        self._part_size = 0
        self._compressed = False
        self.deflate = deflate
        self.closed = False

    def feed(self, data: bytes) -> list[tuple[int, Any]]:
        """Add bytes from the client; return the complete events."""
        buf = self._buf
        if buf:
            buf += data
        else:
            n = len(data)
            if n >= 6 and data[0] == 0x81 and data[1] < 0xFE and \
                    n == data[1] - 0x7A and not self._part_opcode and \
                    not self.closed and n - 6 <= self._max:
                # One read, one whole, masked, uncompressed text message
                # under 126 bytes, outside a fragmented one: what a client
                # sends most. Every check of the loop below holds for it.
                return [(TEXT, _finish(TEXT, _unmask(data[6:], data[2:6])))]
            buf = bytearray(data)
            self._buf = buf
        events: list[tuple[int, object]] = []
        pos = 0
        end = len(buf)
        while end - pos >= 2 and not self.closed:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 == 0x81 and 0x80 <= b1 < 0xFE and not self._part_opcode \
                    and b1 - 0x80 <= self._max:
                # The commonest frame by far: a whole, masked, uncompressed
                # text message under 126 bytes, outside a fragmented one.
                # Every check below holds for it; only the data is read.
                need = b1 - 0x7A  # 2 header + 4 mask + length
                if end - pos < need:
                    break
                payload = _unmask(bytes(buf[pos + 6:pos + need]),
                                  bytes(buf[pos + 2:pos + 6]))
                pos += need
                events.append((TEXT, _finish(TEXT, payload)))
                continue
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], 'big')
                head = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], 'big')
                head = 10
            self._check_header(b0, b1, opcode, length)
            need = head + 4 + length
            if end - pos < need:
                break
            mask = bytes(buf[pos + head:pos + head + 4])
            payload = _unmask(bytes(buf[pos + head + 4:pos + need]), mask)
            pos += need
            event = self._frame(b0, opcode, payload)
            if event is not None:
                events.append(event)
        if pos:
            del buf[:pos]
        return events

    def _check_header(self, b0: int, b1: int, opcode: int,
                      length: int) -> None:
        if not b1 & 0x80:
            raise FrameError(1002, 'client frames must be masked')
        rsv = b0 & 0x70
        if opcode & 0x08:
            if opcode not in (CLOSE, PING, PONG):
                raise FrameError(1002, f'unknown opcode {opcode}')
            if not b0 & 0x80 or length > 125:
                raise FrameError(1002, 'invalid control frame')
            if rsv:
                raise FrameError(1002, 'reserved bits set')
            return
        if opcode == CONTINUATION:
            if not self._part_opcode:
                raise FrameError(1002, 'continuation without a message')
            if rsv:
                raise FrameError(1002, 'reserved bits set')
        elif opcode in (TEXT, BINARY):
            if self._part_opcode:
                raise FrameError(1002, 'new message inside a fragmented one')
            if rsv and (rsv != 0x40 or self.deflate is None):
                raise FrameError(1002, 'reserved bits set')
        else:
            raise FrameError(1002, f'unknown opcode {opcode}')
        if self._part_size + length > self._max:
            raise FrameError(1009, 'message too big')

    def _frame(self, b0: int, opcode: int,
               payload: bytes) -> tuple[int, object] | None:
        if opcode & 0x08:
            if opcode == CLOSE:
                self.closed = True
                return CLOSE, _parse_close(payload)
            return opcode, payload
        fin = b0 & 0x80
        if opcode != CONTINUATION:
            if fin:
                if b0 & 0x40:
                    payload = self._inflate(payload)
                return opcode, _finish(opcode, payload)
            self._part_opcode = opcode
            self._compressed = bool(b0 & 0x40)
        self._parts.append(payload)
        self._part_size += len(payload)
        if not fin:
            return None
        data = b''.join(self._parts)
        opcode = self._part_opcode
        compressed = self._compressed
        self._parts = []
        self._part_opcode = 0
        self._part_size = 0
        self._compressed = False
        if compressed:
            data = self._inflate(data)
        return opcode, _finish(opcode, data)

    def _inflate(self, data: bytes) -> bytes:
        deflate = self.deflate
        if deflate is None:  # _check_header lets RSV1 through only with it
            raise FrameError(1002, 'reserved bits set')
        try:
            return deflate.decompress(data, self._max)
        except zlib.error:
            raise FrameError(1007, 'invalid compressed data') from None


def _finish(opcode: int, data: bytes) -> str | bytes:
    if opcode == TEXT:
        try:
            return data.decode('utf-8')
        except UnicodeDecodeError:
            raise FrameError(1007, 'invalid UTF-8 in a text message') \
                from None
    return data


def _parse_close(payload: bytes) -> tuple[int, str]:
    if not payload:
        return 1005, ''
    if len(payload) == 1:
        raise FrameError(1002, 'invalid close frame')
    code = int.from_bytes(payload[:2], 'big')
    if code not in _VALID_CLOSE and not 3000 <= code <= 4999:
        raise FrameError(1002, f'invalid close code {code}')
    try:
        reason = payload[2:].decode('utf-8')
    except UnicodeDecodeError:
        raise FrameError(1007, 'invalid UTF-8 in close reason') from None
    return code, reason


class Deflate:
    """permessage-deflate state for one connection (RFC 7692).

    Outgoing messages shorter than ``threshold`` bytes are sent as they
    are; incoming ones are inflated to at most the reader's limit, so a
    small compressed frame cannot blow up into a huge message.
    """

    __slots__ = ('threshold', 'server_no_context_takeover',
                 'client_no_context_takeover', 'server_bits', 'client_bits',
                 '_compressor', '_decompressor')

    def __init__(self, threshold: int = 1024, *,
                 server_no_context_takeover: bool = False,
                 client_no_context_takeover: bool = False,
                 server_bits: int = 15, client_bits: int = 15) -> None:
        self.threshold = threshold
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_bits = server_bits
        self.client_bits = client_bits
        self._compressor: _Compress | None = None
        self._decompressor: _Decompress | None = None

    def compress(self, data: bytes) -> bytes:
        """Compress one whole message."""
        comp = self._compressor
        if comp is None:
            comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED,
                                    -self.server_bits)
        out = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
        self._compressor = None if self.server_no_context_takeover else comp
        return out[:-4] if out.endswith(_DEFLATE_TAIL) else out

    def decompress(self, data: bytes, limit: int) -> bytes:
        """Inflate one whole message; FrameError(1009) past ``limit``."""
        dec = self._decompressor
        if dec is None:
            dec = zlib.decompressobj(-self.client_bits)
        out = dec.decompress(data + _DEFLATE_TAIL, limit + 1)
        if len(out) > limit or dec.unconsumed_tail:
            raise FrameError(1009, 'message too big once inflated')
        self._decompressor = None if self.client_no_context_takeover else dec
        return out

    def response_header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` value accepting the offer."""
        parts = ['permessage-deflate']
        if self.server_no_context_takeover:
            parts.append('server_no_context_takeover')
        if self.client_no_context_takeover:
            parts.append('client_no_context_takeover')
        if self.server_bits != 15:
            parts.append(f'server_max_window_bits={self.server_bits}')
        return '; '.join(parts)


def _window_bits(value: str | None, low: int) -> int | None:
    """A ``*_max_window_bits`` value (RFC 7692 §7.1.2): 1-2 ASCII digits
    in ``low``..15, else None. ``str.isdigit`` alone would let ``'²'``
    through to ``int()``, which refuses it."""
    if value is None or not 1 <= len(value) <= 2 or not value.isascii() \
            or not value.isdigit():
        return None
    bits = int(value)
    return bits if low <= bits <= 15 else None


def negotiate_deflate(offers: str, threshold: int = 1024) -> Deflate | None:
    """Accept the first acceptable permessage-deflate offer, or None.

    ``offers`` is the ``Sec-WebSocket-Extensions`` request header. A
    malformed offer (a bad or repeated parameter, a value where none is
    allowed, an unknown parameter) is declined, never an error: the
    connection then goes on without compression.
    """
    for offer in offers.split(','):
        params = [p.strip(' \t') for p in offer.split(';')]
        if params[0].lower() != 'permessage-deflate':
            continue
        options: dict[str, str | None] = {}
        valid = True
        for param in params[1:]:
            if not param:
                continue
            name, eq, value = param.partition('=')
            name = name.strip(' \t').lower()
            if eq:
                value = value.strip(' \t')
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
            if name in options:
                valid = False
                break
            options[name] = value if eq else None
        if not valid:
            continue
        server_bits = 15
        if 'server_max_window_bits' in options:
            # zlib cannot make raw deflate streams with an 8-bit window.
            bits = _window_bits(options.pop('server_max_window_bits'), 9)
            if bits is None:
                continue
            server_bits = bits
        client_bits = 15
        if 'client_max_window_bits' in options:
            requested = options.pop('client_max_window_bits')
            # Inflating with a larger window than the client's is fine, so
            # the value is only checked.
            if requested is not None and _window_bits(requested, 8) is None:
                continue
        flags_ok = True
        for flag in ('server_no_context_takeover',
                     'client_no_context_takeover'):
            if flag in options and options[flag] is not None:
                flags_ok = False  # these take no value
        if not flags_ok:
            continue
        server_nct = 'server_no_context_takeover' in options
        client_nct = 'client_no_context_takeover' in options
        options.pop('server_no_context_takeover', None)
        options.pop('client_no_context_takeover', None)
        if options:  # unknown parameters: decline this offer
            continue
        return Deflate(threshold, server_no_context_takeover=server_nct,
                       client_no_context_takeover=client_nct,
                       server_bits=server_bits, client_bits=client_bits)
    return None

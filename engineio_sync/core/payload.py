"""Sans-IO codecs for Engine.IO long-polling payloads (protocol v4 and v3).

A payload is the body of one HTTP long-polling request or response and
carries several packets.

v4
    Packets encoded with :func:`encode_packet_b64`, joined by the record
    separator ``'\\x1e'``: ``'4hello\\x1e2\\x1ebAQIDBA=='``.

v3, string payload
    ``<length>:<packet>`` repeated, where ``<length>`` is the packet's
    JavaScript ``String.length`` (UTF-16 code units) and binary packets use
    the ``'b<type><base64>'`` form: ``'6:4hello2:4€10:b4AQIDBA=='``.

v3, XHR2 binary payload
    Per packet: a flag byte (0 = string packet, 1 = binary packet), the
    length as one byte per decimal digit (values 0-9), the byte 255, then
    the packet.  String packets are UTF-8 and their length counts UTF-8
    *bytes*; binary packets are ``<type byte><data>`` and their length
    counts bytes including the type byte.  (The length unit differs from
    the string payload because engine.io-parser 2.x's
    ``encodePayloadAsBinary`` UTF-8-encodes string packets before measuring
    them; the v3 spec's example ``00 04 ff 34 e2 82 ac`` for ``'4€'`` agrees.)

JSONP (v3 only)
    Responses wrap a string payload in ``___eio[<j>]("...");`` and POST
    bodies are form-encoded ``d=<payload>`` with newlines escaped by the
    client; see :func:`encode_jsonp` and :func:`decode_jsonp_post`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qs

from .packets import (
    DecodeError,
    Packet,
    decode_packet,
    decode_packet_v3,
    encode_packet_b64,
    encode_packet_v3,
)

__all__ = [
    'RECORD_SEPARATOR',
    'encode_payload',
    'decode_payload',
    'iter_payload',
    'encode_payload_v3',
    'decode_payload_v3',
    'utf16_length',
    'encode_jsonp',
    'decode_jsonp_post',
]

RECORD_SEPARATOR = '\x1e'

_BINARY_TYPES = (bytes, bytearray, memoryview)

# Lengths in v3 payloads are attacker-controlled digit strings; capping them
# keeps int() cheap.  20 digits already exceeds any body we could hold.
_MAX_LENGTH_DIGITS = 20

# A native-order UTF-16 codec lets memoryview.cast('H') read code units
# directly from the encoded bytes.
_UTF16 = 'utf-16-le' if sys.byteorder == 'little' else 'utf-16-be'

# XHR2 binary payload lengths are written one byte per decimal digit
# (b'\x01\x02' for 12); these tables convert to and from ASCII digits in C.
_ASCII_TO_DIGIT_BYTES = bytes.maketrans(b'0123456789', bytes(range(10)))
# Bytes that are not 0-9 map to '-' so the isdigit() check rejects them.
_DIGIT_BYTES_TO_ASCII = bytes(48 + i if i < 10 else 0x2D for i in range(256))

_COLON = 0x3A
_ZERO = 0x30
_NINE = 0x39

# Maximum number of form fields accepted in a JSONP POST body.  Node's
# querystring module caps keys at 1000 for the same DoS reason.
_MAX_FORM_FIELDS = 1000


def _to_text(body: str | bytes | bytearray | memoryview) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, _BINARY_TYPES):
        try:
            return str(body, 'utf-8')
        except UnicodeDecodeError:
            raise DecodeError('payload is not valid UTF-8') from None
    raise TypeError(f'cannot decode payload from {type(body).__name__}')


def utf16_length(s: str) -> int:
    """Return ``s.length`` as JavaScript would compute it.

    JavaScript strings are UTF-16, so characters outside the BMP (e.g.
    ``'😀'``) count as 2 while ``'€'`` counts as 1.
    """
    if s.isascii():
        return len(s)
    # surrogatepass keeps lone surrogates countable (one unit each, as in JS).
    return len(s.encode(_UTF16, 'surrogatepass')) >> 1


# --------------------------------------------------------------------------
# protocol v4
# --------------------------------------------------------------------------

def encode_payload(packets: Sequence[Packet]) -> str:
    """Encode packets as a v4 long-polling payload.

    Raises ``ValueError`` if a text packet contains the record separator
    ``'\\x1e'``: v4 has no escaping, so the client would split it into
    bogus extra packets (which a malicious message could use to forge, say,
    a CLOSE).
    """
    body = RECORD_SEPARATOR.join([encode_packet_b64(p) for p in packets])
    # One C-level count over the result instead of a check per packet;
    # base64 and type digits never contain the separator.
    if body.count(RECORD_SEPARATOR) != max(len(packets) - 1, 0):
        raise ValueError(
            'text packet data must not contain the record separator \\x1e')
    return body


def decode_payload(body: str | bytes, *,
                   max_packets: int | None = None) -> list[Packet]:
    """Decode a v4 long-polling payload into packets.

    ``bytes`` bodies are decoded as UTF-8.  An empty body, invalid UTF-8, an
    empty or malformed packet, or more than ``max_packets`` packets raise
    :class:`DecodeError`.
    """
    text = _to_text(body)
    if not text:
        raise DecodeError('empty payload')
    if max_packets is None:
        parts = text.split(RECORD_SEPARATOR)
    else:
        # maxsplit bounds the work an oversized payload can cause.
        parts = text.split(RECORD_SEPARATOR, max_packets)
        if len(parts) > max_packets:
            raise DecodeError(f'payload has more than {max_packets} packets')
    return [decode_packet(part) for part in parts]


def iter_payload(body: str | bytes) -> Iterator[Packet]:
    """Decode a v4 long-polling payload one packet at a time.

    The body is checked (UTF-8, not empty) and split at once; each packet
    is decoded only when the iterator reaches it, so a consumer that
    pauses between packets also spreads the decoding of a huge payload.
    A malformed packet raises :class:`DecodeError` when it is reached,
    after the packets before it, as the reference server delivers them.
    """
    text = _to_text(body)
    if not text:
        raise DecodeError('empty payload')
    return map(decode_packet, text.split(RECORD_SEPARATOR))


# --------------------------------------------------------------------------
# protocol v3
# --------------------------------------------------------------------------

def encode_payload_v3(packets: Sequence[Packet], *,
                      b64: bool = False) -> str | bytes:
    """Encode packets as a v3 long-polling payload.

    Returns a string payload (``'<len>:<packet>...'``, binary data as base64)
    if ``b64`` is true or no packet is binary; otherwise an XHR2 binary
    payload (``bytes``).  An empty packet list encodes as ``'0:'``, which is
    what engine.io-parser 2.x produces and what decoders skip.
    """
    if not b64:
        for packet in packets:
            if isinstance(packet[1], _BINARY_TYPES):
                return _encode_binary_payload_v3(packets)
    if not packets:
        return '0:'
    parts = []
    for packet in packets:
        encoded = encode_packet_v3(packet, b64=True)
        parts.append(f'{utf16_length(encoded)}:{encoded}')
    return ''.join(parts)


def _length_header(flag: bytes, length: int) -> bytes:
    return (flag + str(length).encode('ascii').translate(_ASCII_TO_DIGIT_BYTES)
            + b'\xff')


def _encode_binary_payload_v3(packets: Sequence[Packet]) -> bytes:
    parts: list[bytes] = []
    for packet in packets:
        encoded = encode_packet_v3(packet)
        if isinstance(encoded, str):
            # engine.io-parser 2.x UTF-8-encodes string packets and then
            # measures the encoded form, so the length is in bytes here.
            data = encoded.encode('utf-8')
            parts.append(_length_header(b'\x00', len(data)))
        else:
            data = encoded
            parts.append(_length_header(b'\x01', len(data)))
        parts.append(data)
    return b''.join(parts)


def decode_payload_v3(body: str | bytes, *,
                      max_packets: int | None = None) -> list[Packet]:
    """Decode a v3 long-polling payload into packets.

    A ``str`` is a string payload.  ``bytes`` starting with byte 0 or 1 is an
    XHR2 binary payload; other ``bytes`` are UTF-8 decoded and parsed as a
    string payload (a string payload always starts with an ASCII digit).
    Zero-length entries (``'0:'``) are skipped, as engine.io-parser does.
    An empty body, bad or oversized lengths, lengths running past the end,
    malformed packets, invalid UTF-8 or more than ``max_packets`` packets
    raise :class:`DecodeError`.
    """
    if isinstance(body, _BINARY_TYPES):
        if not body:
            raise DecodeError('empty payload')
        if body[0] <= 1:
            return _decode_binary_payload_v3(bytes(body), max_packets)
    text = _to_text(body)
    if not text:
        raise DecodeError('empty payload')
    if text.isascii():
        # Code points and UTF-16 units coincide, so plain str slicing works.
        return _decode_ascii_payload_v3(text, max_packets)
    return _decode_utf16_payload_v3(text, max_packets)


def _check_count(packets: list[Packet], max_packets: int | None) -> None:
    if max_packets is not None and len(packets) > max_packets:
        raise DecodeError(f'payload has more than {max_packets} packets')


def _decode_ascii_payload_v3(text: str,
                             max_packets: int | None) -> list[Packet]:
    packets: list[Packet] = []
    total = len(text)
    pos = 0
    while pos < total:
        colon = text.find(':', pos)
        if colon < 0:
            raise DecodeError('missing length separator')
        digits = text[pos:colon]
        if (not digits or len(digits) > _MAX_LENGTH_DIGITS
                or not digits.isdigit()):
            raise DecodeError('invalid packet length')
        start = colon + 1
        end = start + int(digits)
        if end > total:
            raise DecodeError('packet length beyond end of payload')
        if end > start:
            packets.append(decode_packet_v3(text[start:end]))
            _check_count(packets, max_packets)
        pos = end
    return packets


def _decode_utf16_payload_v3(text: str,
                             max_packets: int | None) -> list[Packet]:
    # Lengths count UTF-16 code units, so walk the UTF-16 form of the body.
    # surrogatepass mirrors JS, where lone surrogates are ordinary units.
    raw = text.encode(_UTF16, 'surrogatepass')
    units = memoryview(raw).cast('H')
    packets: list[Packet] = []
    total = len(units)
    pos = 0
    while pos < total:
        length = 0
        cursor = pos
        while True:
            if cursor >= total:
                raise DecodeError('missing length separator')
            unit = units[cursor]
            if unit == _COLON:
                break
            if not _ZERO <= unit <= _NINE:
                raise DecodeError('invalid packet length')
            length = length * 10 + (unit - _ZERO)
            cursor += 1
            if cursor - pos > _MAX_LENGTH_DIGITS:
                raise DecodeError('invalid packet length')
        if cursor == pos:
            raise DecodeError('invalid packet length')
        start = cursor + 1
        end = start + length
        if end > total:
            raise DecodeError('packet length beyond end of payload')
        if end > start:
            # A length that splits a surrogate pair leaves a low surrogate
            # where the next length digit should be, so it fails above on
            # the next iteration rather than passing silently.
            packet_text = raw[start * 2:end * 2].decode(_UTF16, 'surrogatepass')
            packets.append(decode_packet_v3(packet_text))
            _check_count(packets, max_packets)
        pos = end
    return packets


def _decode_binary_payload_v3(data: bytes,
                              max_packets: int | None) -> list[Packet]:
    packets: list[Packet] = []
    total = len(data)
    pos = 0
    while pos < total:
        flag = data[pos]
        if flag > 1:
            raise DecodeError(f'invalid binary payload packet flag {flag}')
        sep = data.find(0xFF, pos + 1, pos + 2 + _MAX_LENGTH_DIGITS)
        if sep < 0:
            raise DecodeError('missing or oversized length in binary payload')
        digits = data[pos + 1:sep].translate(_DIGIT_BYTES_TO_ASCII)
        if not digits or not digits.isdigit():
            raise DecodeError('invalid length in binary payload')
        start = sep + 1
        end = start + int(digits)
        if end > total:
            raise DecodeError('packet length beyond end of payload')
        chunk = data[start:end]
        if flag == 0:
            try:
                packet_data: str | bytes = chunk.decode('utf-8')
            except UnicodeDecodeError:
                raise DecodeError('string packet is not valid UTF-8') from None
        else:
            packet_data = chunk
        # decode_packet_v3 rejects empty chunks, matching engine.io-parser,
        # which reports a parser error for a zero-length packet here.
        packets.append(decode_packet_v3(packet_data))
        _check_count(packets, max_packets)
        pos = end
    return packets


# --------------------------------------------------------------------------
# JSONP (v3)
# --------------------------------------------------------------------------

# Characters that are legal in JSON strings but unsafe in the JSONP response:
# U+2028/U+2029 end a JS string literal in pre-ES2019 engines, and < > &
# could close the <script> element or start an HTML comment/entity.
_JSONP_ESCAPES = (
    ('<', '\\u003c'),
    ('>', '\\u003e'),
    ('&', '\\u0026'),
    ('\u2028', '\\u2028'),
    ('\u2029', '\\u2029'),
)


def encode_jsonp(payload: str, index: str) -> str:
    """Wrap a string payload in a JSONP response: ``___eio[<index>]("...");``.

    The payload is emitted as a JS string literal that is also safe inside an
    HTML ``<script>`` element.  ``index`` is the client's ``j`` query value
    and must be ASCII digits only (``ValueError`` otherwise), since it is
    written into the script verbatim.
    """
    if not isinstance(index, str) or not (index.isascii() and index.isdigit()):
        raise ValueError(f'invalid JSONP index: {index!r}')
    literal = json.dumps(payload, ensure_ascii=False)
    for char, escape in _JSONP_ESCAPES:
        # Membership test first: most payloads contain none of these, and
        # `in` avoids building a new string.
        if char in literal:
            literal = literal.replace(char, escape)
    return f'___eio[{index}]({literal});'


def _unescape_jsonp_newlines(data: str) -> str:
    # The engine.io 3.x client writes every backslash-n in the payload as
    # backslash-newline and then every newline as backslash-n, so a newline
    # arrives as `\n` and a literal backslash-n as `\\n`.  The engine.io 3.x
    # server undoes this in two passes, reproduced here exactly:
    #   1. `\n` not preceded by a backslash becomes a newline;
    #   2. `\\n` becomes `\n`.
    # (An original backslash followed by a newline therefore decodes as
    # backslash-n; the JS server has the same loss, so we keep it.)
    if '\\n' not in data:
        return data
    parts = data.split('\\n')
    out = [parts[0]]
    previous = parts[0]
    for part in parts[1:]:
        # `previous` is the text just before this `\n`; an empty previous
        # means the preceding character was the `n` of another `\n` (or the
        # start of the string), neither of which is a backslash.
        out.append('\\n' if previous.endswith('\\') else '\n')
        out.append(part)
        previous = part
    return ''.join(out).replace('\\\\n', '\\n')


def decode_jsonp_post(body: bytes) -> str:
    """Extract the payload from a JSONP POST body (``d=<payload>``).

    The body is ``application/x-www-form-urlencoded``; the ``d`` field holds
    the v3 string payload with newlines escaped by the client, which is
    undone the way the engine.io 3.x server does it.  A missing or repeated
    ``d`` field, too many fields, or invalid UTF-8 raise
    :class:`DecodeError`.
    """
    text = _to_text(body)
    try:
        fields = parse_qs(text, keep_blank_values=True, errors='strict',
                          max_num_fields=_MAX_FORM_FIELDS)
    except ValueError:  # too many fields, or bad UTF-8 after %-decoding
        raise DecodeError('invalid JSONP POST body') from None
    values = fields.get('d')
    if values is None:
        raise DecodeError('JSONP POST body has no "d" field')
    if len(values) != 1:
        raise DecodeError('JSONP POST body has several "d" fields')
    return _unescape_jsonp_newlines(values[0])

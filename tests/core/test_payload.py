"""Tests for engineio_sync.core.payload (long-polling payloads and JSONP)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.packets import DecodeError, Packet, PacketType
from engineio_sync.core.payload import (
    RECORD_SEPARATOR,
    decode_jsonp_post,
    decode_payload,
    iter_payload,
    decode_payload_v3,
    encode_jsonp,
    encode_payload,
    encode_payload_v3,
    utf16_length,
)

BOUNDED = settings(max_examples=200, deadline=None)

MSG = PacketType.MESSAGE
BIN = b'\x01\x02\x03\x04'

packet_types = st.sampled_from(list(PacketType))


@st.composite
def text_packets(draw: st.DrawFn, text: st.SearchStrategy[str] = st.text()
                 ) -> Packet:
    """Text packets in the canonical form decoders produce (see test_packets)."""
    ptype = draw(packet_types)
    data = draw(text)
    if ptype is MSG:
        return Packet(ptype, data)
    return Packet(ptype, data or None)


binary_messages = st.binary().map(lambda b: Packet(MSG, b))
binary_packets_any_type = st.builds(Packet, packet_types, st.binary())


def _bytes(*parts: int | bytes) -> bytes:
    """Build a byte string from ints (single bytes) and bytes chunks."""
    out = bytearray()
    for part in parts:
        if isinstance(part, int):
            out.append(part)
        else:
            out += part
    return bytes(out)


# --------------------------------------------------------------------------
# v4
# --------------------------------------------------------------------------

def test_record_separator() -> None:
    assert RECORD_SEPARATOR == '\x1e'


def test_encode_payload_v4() -> None:
    packets = [Packet(MSG, 'hello'), Packet(PacketType.PING), Packet(MSG, 'world')]
    assert encode_payload(packets) == '4hello\x1e2\x1e4world'


def test_encode_payload_v4_spec_binary_example() -> None:
    packets = [Packet(MSG, '€'), Packet(MSG, BIN)]
    assert encode_payload(packets) == '4€\x1ebAQIDBA=='


def test_encode_payload_v4_single_and_empty() -> None:
    assert encode_payload([Packet(PacketType.NOOP)]) == '6'
    assert encode_payload([]) == ''


def test_encode_payload_v4_rejects_record_separator_in_text() -> None:
    # Otherwise a message could smuggle extra packets (e.g. a CLOSE) to the
    # client, since v4 payloads have no escaping.
    with pytest.raises(ValueError):
        encode_payload([Packet(MSG, 'a\x1e1')])
    with pytest.raises(ValueError):
        encode_payload([Packet(MSG, 'ok'), Packet(MSG, '\x1e')])


def test_encode_payload_v4_rejects_binary_non_message() -> None:
    with pytest.raises(ValueError):
        encode_payload([Packet(PacketType.PING, b'x')])


@pytest.mark.parametrize('body', [
    '4hello\x1e2\x1e4world', b'4hello\x1e2\x1e4world',
    bytearray(b'4hello\x1e2\x1e4world'), memoryview(b'4hello\x1e2\x1e4world')])
def test_decode_payload_v4(body: str | bytes) -> None:
    assert decode_payload(body) == [
        Packet(MSG, 'hello'), Packet(PacketType.PING), Packet(MSG, 'world')]


def test_decode_payload_v4_binary_and_utf8() -> None:
    body = '4€\x1ebAQIDBA=='.encode()
    assert decode_payload(body) == [Packet(MSG, '€'), Packet(MSG, BIN)]


def test_decode_payload_v4_single_packet() -> None:
    assert decode_payload('2probe') == [Packet(PacketType.PING, 'probe')]
    assert decode_payload('4') == [Packet(MSG, '')]


def test_decode_payload_v4_many_packets() -> None:
    packets = [Packet(MSG, f'message {i}') for i in range(1000)]
    assert decode_payload(encode_payload(packets)) == packets
    assert decode_payload(encode_payload(packets), max_packets=1000) == packets


def test_decode_payload_v4_max_packets() -> None:
    assert len(decode_payload('4a\x1e4b', max_packets=2)) == 2
    with pytest.raises(DecodeError):
        decode_payload('4a\x1e4b\x1e4c', max_packets=2)
    with pytest.raises(DecodeError):
        decode_payload('4a', max_packets=0)


@pytest.mark.parametrize('body', [
    '', b'', '\x1e', '\x1e\x1e', '4a\x1e', '\x1e4a', '4a\x1e\x1e4b', '7x',
    '4a\x1e7', 'bnot-base64!', '4a\x1ebAQIDBA', b'4\xff', b'4\xe2\x82',
    b'\xed\xa0\x80',  # UTF-8-encoded lone surrogate
])
def test_decode_payload_v4_malformed(body: str | bytes) -> None:
    with pytest.raises(DecodeError):
        decode_payload(body)


def test_decode_payload_v4_wrong_input_type() -> None:
    with pytest.raises(TypeError):
        decode_payload(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# utf16_length
# --------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('', 0), ('hello', 5), ('€', 1), ('4€', 2), ('é', 1), ('中文', 2),
    ('😀', 2), ('4😀', 3), ('𝄞a😀', 5), ('\ud800', 1), ('\uffff', 1),
    ('\U00010000', 2),
])
def test_utf16_length(text: str, expected: int) -> None:
    assert utf16_length(text) == expected


@BOUNDED
@given(st.text())
def test_utf16_length_matches_utf16_encoding(text: str) -> None:
    assert utf16_length(text) == len(text.encode('utf-16-le')) // 2
    assert utf16_length(text) == len(text) + sum(c > '\uffff' for c in text)


# --------------------------------------------------------------------------
# v3 string payloads
# --------------------------------------------------------------------------

def test_encode_payload_v3_string() -> None:
    packets = [Packet(MSG, 'hello'), Packet(MSG, 'world')]
    encoded = encode_payload_v3(packets)
    assert encoded == '6:4hello6:4world'
    assert encode_payload_v3(packets, b64=True) == encoded


def test_encode_payload_v3_counts_utf16_units() -> None:
    assert encode_payload_v3([Packet(MSG, '€')]) == '2:4€'
    assert encode_payload_v3([Packet(MSG, '😀')]) == '3:4😀'
    assert encode_payload_v3([Packet(MSG, 'a😀€')]) == '5:4a😀€'


def test_encode_payload_v3_spec_b64_example() -> None:
    packets = [Packet(MSG, '€'), Packet(MSG, BIN)]
    assert encode_payload_v3(packets, b64=True) == '2:4€10:b4AQIDBA=='
    assert encode_payload_v3([Packet(MSG, BIN)], b64=True) == '10:b4AQIDBA=='


def test_encode_payload_v3_no_data_packets() -> None:
    packets = [Packet(PacketType.NOOP), Packet(PacketType.PING, 'probe')]
    assert encode_payload_v3(packets) == '1:66:2probe'


def test_encode_payload_v3_empty_list() -> None:
    # engine.io-parser 2.x encodes an empty packet list as '0:'
    assert encode_payload_v3([]) == '0:'
    assert encode_payload_v3([], b64=True) == '0:'
    assert decode_payload_v3('0:') == []


@pytest.mark.parametrize('body, expected', [
    ('6:4hello6:4world', [Packet(MSG, 'hello'), Packet(MSG, 'world')]),
    ('2:4€', [Packet(MSG, '€')]),
    ('3:4😀', [Packet(MSG, '😀')]),
    ('3:4😀2:4€', [Packet(MSG, '😀'), Packet(MSG, '€')]),
    ('2:4€10:b4AQIDBA==', [Packet(MSG, '€'), Packet(MSG, BIN)]),
    ('10:b4AQIDBA==', [Packet(MSG, BIN)]),
    ('1:66:2probe', [Packet(PacketType.NOOP), Packet(PacketType.PING, 'probe')]),
    ('1:4', [Packet(MSG, '')]),
    ('0:1:6', [Packet(PacketType.NOOP)]),  # empty entries are skipped
    ('06:4hello', [Packet(MSG, 'hello')]),  # leading zeros are harmless
    ('7:4a:b:c2', [Packet(MSG, 'a:b:c2')]),  # colons inside packet data
    (b'6:4hello', [Packet(MSG, 'hello')]),
    ('2:4€'.encode(), [Packet(MSG, '€')]),
    ('3:4😀'.encode(), [Packet(MSG, '😀')]),
])
def test_decode_payload_v3_string(body: str | bytes,
                                  expected: list[Packet]) -> None:
    assert decode_payload_v3(body) == expected


def test_decode_payload_v3_string_many_packets() -> None:
    packets = [Packet(MSG, f'message {i} €😀') for i in range(1000)]
    assert decode_payload_v3(encode_payload_v3(packets)) == packets
    packets = [Packet(MSG, f'message {i}') for i in range(1000)]
    assert decode_payload_v3(encode_payload_v3(packets)) == packets


@pytest.mark.parametrize('body', [
    '', b'',
    '5:4hi',            # length beyond end
    'x:4hi',            # non-digit length
    ':4hi',             # empty length
    '4hi',              # no length at all
    '2:4hi',            # trailing data that is not a length
    '1:x',              # bad packet type
    '1:7',
    '-1:4',
    '+2:4h',
    ' 2:4h',
    '1.0:4',
    '2',                # unterminated length
    '2:4h2',
    '٢:4h',             # non-ASCII digit (Arabic-Indic two)
    '²:4h',             # superscript two: str.isdigit() but not a digit
    '2:4😀',            # length splits a surrogate pair
    '3:4😀😀',
    '12345678901234567890123:4',  # absurdly long length
    '9:b4AQIDBA',       # bad base64
    '2:4€3:4',
    b'6:4\xffello',     # invalid UTF-8
    b'2:4\xe2\x82',     # truncated UTF-8
])
def test_decode_payload_v3_string_malformed(body: str | bytes) -> None:
    with pytest.raises(DecodeError):
        decode_payload_v3(body)


def test_decode_payload_v3_max_packets() -> None:
    assert len(decode_payload_v3('2:4a2:4b', max_packets=2)) == 2
    with pytest.raises(DecodeError):
        decode_payload_v3('2:4a2:4b2:4c', max_packets=2)
    with pytest.raises(DecodeError):
        decode_payload_v3('2:4€2:4b2:4c', max_packets=2)
    with pytest.raises(DecodeError):
        decode_payload_v3(_bytes(0, 2, 255, b'4a', 0, 2, 255, b'4b'),
                          max_packets=1)


# --------------------------------------------------------------------------
# v3 XHR2 binary payloads
# --------------------------------------------------------------------------

XHR2_EXAMPLE = _bytes(0, 6, 255, b'4hello', 1, 5, 255, 4, 1, 2, 3, 4)


def test_encode_payload_v3_binary() -> None:
    packets = [Packet(MSG, 'hello'), Packet(MSG, BIN)]
    encoded = encode_payload_v3(packets)
    assert type(encoded) is bytes
    assert encoded == XHR2_EXAMPLE


def test_encode_payload_v3_binary_string_length_counts_utf8_bytes() -> None:
    # Spec (v3) example: '4€' is sent as 00 04 ff 34 e2 82 ac
    encoded = encode_payload_v3([Packet(MSG, '€'), Packet(MSG, BIN)])
    assert encoded == _bytes(0, 4, 255, 0x34, 0xE2, 0x82, 0xAC,
                             1, 5, 255, 4, 1, 2, 3, 4)
    encoded = encode_payload_v3([Packet(MSG, '😀'), Packet(MSG, b'')])
    assert encoded == _bytes(0, 5, 255, '4😀'.encode(), 1, 1, 255, 4)


def test_encode_payload_v3_binary_multi_digit_length() -> None:
    encoded = encode_payload_v3([Packet(MSG, b'x' * 11)])
    assert encoded == _bytes(1, 1, 2, 255, 4, b'x' * 11)
    encoded = encode_payload_v3([Packet(MSG, b'x' * 99)])
    assert encoded == _bytes(1, 1, 0, 0, 255, 4, b'x' * 99)


def test_encode_payload_v3_binary_keeps_packet_type() -> None:
    encoded = encode_payload_v3([Packet(PacketType.PING, b'\xff'),
                                 Packet(PacketType.NOOP)])
    assert encoded == _bytes(1, 2, 255, 2, 255, 0, 1, 255, b'6')


def test_encode_payload_v3_b64_forces_string_payload() -> None:
    packets = [Packet(MSG, 'hello'), Packet(MSG, BIN)]
    assert encode_payload_v3(packets, b64=True) == '6:4hello10:b4AQIDBA=='


@pytest.mark.parametrize('body, expected', [
    (XHR2_EXAMPLE, [Packet(MSG, 'hello'), Packet(MSG, BIN)]),
    (bytearray(XHR2_EXAMPLE), [Packet(MSG, 'hello'), Packet(MSG, BIN)]),
    (memoryview(XHR2_EXAMPLE), [Packet(MSG, 'hello'), Packet(MSG, BIN)]),
    (_bytes(0, 4, 255, 0x34, 0xE2, 0x82, 0xAC), [Packet(MSG, '€')]),
    (_bytes(1, 1, 2, 255, 4, b'x' * 11), [Packet(MSG, b'x' * 11)]),
    (_bytes(1, 1, 255, 4), [Packet(MSG, b'')]),
    (_bytes(1, 2, 255, 2, 255), [Packet(PacketType.PING, b'\xff')]),
    (_bytes(0, 1, 255, b'6', 0, 6, 255, b'2probe'),
     [Packet(PacketType.NOOP), Packet(PacketType.PING, 'probe')]),
    (_bytes(0, 0, 6, 255, b'4hello'), [Packet(MSG, 'hello')]),
    (_bytes(0, 1, 0, 255, b'b4AQIDBA=='), [Packet(MSG, BIN)]),
])
def test_decode_payload_v3_binary(body: bytes, expected: list[Packet]) -> None:
    decoded = decode_payload_v3(body)
    assert decoded == expected
    for packet in decoded:
        assert type(packet.type) is PacketType


@pytest.mark.parametrize('body', [
    _bytes(0),                                  # flag only
    _bytes(1, 5),                               # no 255 separator
    _bytes(1, 5, 255),                          # no packet data
    _bytes(1, 5, 255, 4, 1, 2, 3),              # truncated packet
    XHR2_EXAMPLE[:-1],                          # truncated last packet
    XHR2_EXAMPLE[:7],                           # truncated first packet
    XHR2_EXAMPLE + b'\x01',                     # dangling flag
    XHR2_EXAMPLE + b'\x02\x01\xff\x04',         # bad flag
    _bytes(1, 255, 4),                          # empty length
    _bytes(1, 10, 255, 4, b'x' * 9),            # length "digit" 10
    _bytes(1, 0x31, 255, 4),                    # ASCII '1' is not a digit byte
    _bytes(1, 0, 255),                          # zero-length binary packet
    _bytes(0, 0, 255),                          # zero-length string packet
    _bytes(1, 2, 255, 7, 0),                    # bad binary packet type
    _bytes(0, 2, 255, b'7x'),                   # bad string packet type
    _bytes(0, 2, 255, 0x34, 0xFF),              # invalid UTF-8
    _bytes(0, 3, 255, 0x34, 0xE2, 0x82),        # truncated UTF-8 sequence
    _bytes(1, *([9] * 30), 255, 4),             # absurdly long length
])
def test_decode_payload_v3_binary_malformed(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_payload_v3(body)


def test_decode_payload_v3_binary_every_truncation_fails() -> None:
    boundaries = {0, 9, len(XHR2_EXAMPLE)}  # lengths that end on a packet
    for cut in range(1, len(XHR2_EXAMPLE)):
        if cut in boundaries:
            continue
        with pytest.raises(DecodeError):
            decode_payload_v3(XHR2_EXAMPLE[:cut])
    assert decode_payload_v3(XHR2_EXAMPLE[:9]) == [Packet(MSG, 'hello')]


def test_decode_payload_v3_binary_many_packets() -> None:
    packets = [Packet(MSG, bytes([i % 256]) * (i % 17)) if i % 2 else
               Packet(MSG, f'msg {i} €') for i in range(1000)]
    encoded = encode_payload_v3(packets)
    assert isinstance(encoded, bytes)
    assert decode_payload_v3(encoded) == packets


# --------------------------------------------------------------------------
# payload properties
# --------------------------------------------------------------------------

v4_packets = st.lists(
    text_packets(st.text().filter(lambda s: RECORD_SEPARATOR not in s))
    | binary_messages,
    min_size=1, max_size=8)

v3_packets = st.lists(text_packets() | binary_packets_any_type, max_size=8)


@BOUNDED
@given(v4_packets)
def test_v4_payload_round_trip(packets: list[Packet]) -> None:
    body = encode_payload(packets)
    assert decode_payload(body) == packets
    assert decode_payload(body.encode('utf-8')) == packets


@BOUNDED
@given(v3_packets)
def test_v3_string_payload_round_trip(packets: list[Packet]) -> None:
    body = encode_payload_v3(packets, b64=True)
    assert isinstance(body, str)
    assert decode_payload_v3(body) == packets
    assert decode_payload_v3(body.encode('utf-8')) == packets


@BOUNDED
@given(st.lists(text_packets(), max_size=8))
def test_v3_text_only_payload_is_string(packets: list[Packet]) -> None:
    body = encode_payload_v3(packets)
    assert isinstance(body, str)
    assert decode_payload_v3(body) == packets


@BOUNDED
@given(v3_packets, binary_packets_any_type, st.integers(0, 8))
def test_v3_binary_payload_round_trip(packets: list[Packet], binary: Packet,
                                      where: int) -> None:
    packets.insert(where, binary)
    body = encode_payload_v3(packets)
    assert isinstance(body, bytes)
    assert decode_payload_v3(body) == packets


# Alphabets biased towards the syntax of each format, so the fuzzers reach
# the length/separator logic rather than failing on the first character.
_v3_text_soup = st.text(alphabet='0123456789:4b6€😀AQ=\x1e', max_size=30)
_v3_binary_soup = st.lists(
    st.sampled_from([0, 1, 2, 3, 4, 5, 9, 10, 0x34, 0x62, 0xE2, 0x82, 0xAC,
                     0xF0, 0xFF]),
    max_size=30).map(bytes)
_v4_text_soup = st.text(alphabet='0123456b4\x1eAQ=€😀x', max_size=30)


def _returns_or_decode_error(decoder, body) -> None:
    try:
        result = decoder(body)
    except DecodeError:
        return
    assert isinstance(result, list)
    assert all(isinstance(p, Packet) and isinstance(p.type, PacketType)
               for p in result)


@BOUNDED
@given(st.text() | st.binary() | _v4_text_soup)
def test_decode_payload_v4_fuzz(body: str | bytes) -> None:
    _returns_or_decode_error(decode_payload, body)
    _returns_or_decode_error(lambda b: decode_payload(b, max_packets=2), body)


@BOUNDED
@given(st.text() | st.binary() | _v3_text_soup | _v3_binary_soup
       | _v3_text_soup.map(lambda s: s.encode('utf-8')))
def test_decode_payload_v3_fuzz(body: str | bytes) -> None:
    _returns_or_decode_error(decode_payload_v3, body)


# --------------------------------------------------------------------------
# JSONP
# --------------------------------------------------------------------------

def _jsonp_literal(response: str, index: str) -> str:
    head, foot = f'___eio[{index}](', ');'
    assert response.startswith(head) and response.endswith(foot)
    return response[len(head):-len(foot)]


def test_encode_jsonp_simple() -> None:
    assert encode_jsonp('6:4hello', '0') == '___eio[0]("6:4hello");'
    assert encode_jsonp('', '12') == '___eio[12]("");'


def test_encode_jsonp_escapes_json_specials() -> None:
    response = encode_jsonp('a"b\\c\nd\x1e', '3')
    assert response == '___eio[3]("a\\"b\\\\c\\nd\\u001e");'


def test_encode_jsonp_script_breakout() -> None:
    response = encode_jsonp('9:4</script>', '1')
    assert '</script>' not in response
    assert response == '___eio[1]("9:4\\u003c/script\\u003e");'
    response = encode_jsonp('<!-- & -->', '1')
    assert response == '___eio[1]("\\u003c!-- \\u0026 --\\u003e");'


def test_encode_jsonp_line_separators() -> None:
    response = encode_jsonp('2:4\u2028\u2029', '5')
    assert '\u2028' not in response and '\u2029' not in response
    assert response == '___eio[5]("2:4\\u2028\\u2029");'


def test_encode_jsonp_keeps_other_unicode() -> None:
    assert encode_jsonp('2:4€', '0') == '___eio[0]("2:4€");'


@pytest.mark.parametrize('index', ['', 'a', '1a', '1 ', '-1', '1);alert(1',
                                   '١', '²', 1])
def test_encode_jsonp_rejects_bad_index(index) -> None:
    with pytest.raises(ValueError):
        encode_jsonp('6:4hello', index)


@BOUNDED
@given(st.text(), st.from_regex(r'\A[0-9]{1,4}\Z'))
def test_encode_jsonp_round_trip(payload: str, index: str) -> None:
    response = encode_jsonp(payload, index)
    literal = _jsonp_literal(response, index)
    for unsafe in '<>&\u2028\u2029':
        assert unsafe not in literal
    # The literal is valid JSON (hence a valid JS string) for the payload.
    assert json.loads(literal) == payload


def _client_escape(payload: str) -> str:
    """What the engine.io 3.x JSONP client puts in the form's 'd' field.

    It first turns each backslash-n into backslash-newline, then each newline
    into backslash-n (to stop browsers rewriting newlines as CRLF).
    """
    return payload.replace('\\n', '\\\n').replace('\n', '\\n')


def _post_body(payload: str) -> bytes:
    return urlencode({'d': _client_escape(payload)}).encode('ascii')


@pytest.mark.parametrize('payload', [
    '6:4hello',
    '',
    '7:4a\nb\nc',             # real newlines
    '6:4a\\nb',               # literal backslash-n
    '9:4\\n\n\\n\n',          # both, interleaved
    '8:4\\\\nx',              # backslash before a literal backslash-n
    '5:4a+b&c=d%',            # form-encoding specials
    '2:4€3:4😀',
])
def test_decode_jsonp_post_round_trip(payload: str) -> None:
    assert decode_jsonp_post(_post_body(payload)) == payload


@pytest.mark.parametrize('field, expected', [
    ('\\n', '\n'),            # client-escaped newline
    ('\\\\n', '\\n'),         # client-escaped literal backslash-n
    ('a\\nb', 'a\nb'),
    ('\\n\\n', '\n\n'),
    ('\\\\\\n', '\\\\n'),     # three backslashes + n, as the JS server does
    ('\\x', '\\x'),           # other backslashes untouched
    ('n\\', 'n\\'),
])
def test_decode_jsonp_post_unescaping_matches_engine_io(field: str,
                                                        expected: str) -> None:
    body = urlencode({'d': field}).encode('ascii')
    assert decode_jsonp_post(body) == expected


def test_decode_jsonp_post_backslash_newline_is_lossy_like_engine_io() -> None:
    # The client encodes backslash+newline as \\n, which the engine.io 3.x
    # server (and therefore we) decode as backslash+n.
    assert decode_jsonp_post(_post_body('a\\\nb')) == 'a\\nb'


def test_decode_jsonp_post_form_decoding() -> None:
    assert decode_jsonp_post(b'd=6%3A4hello') == '6:4hello'
    assert decode_jsonp_post(b'd=4a+b') == '4a b'
    assert decode_jsonp_post(b'd=') == ''
    assert decode_jsonp_post(b'x=1&d=1%3A6&y=') == '1:6'
    assert decode_jsonp_post(b'd=' + quote('2:4€').encode()) == '2:4€'
    assert decode_jsonp_post('d=2:4€'.encode()) == '2:4€'


@pytest.mark.parametrize('body', [
    b'', b'x=1', b'dd=1', b'D=1', b'd=1&d=2',
    b'd=%FF', b'd=4\xff', b'&' * 2000 + b'd=1',
])
def test_decode_jsonp_post_malformed(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_jsonp_post(body)


@BOUNDED
@given(st.text().filter(lambda s: '\\\n' not in s))
def test_decode_jsonp_post_round_trip_property(payload: str) -> None:
    # Backslash directly before a newline is the one lossy case (see above).
    assert decode_jsonp_post(_post_body(payload)) == payload


@BOUNDED
@given(st.binary() | st.text(alphabet='d=&%\\n\n+').map(str.encode))
def test_decode_jsonp_post_fuzz(body: bytes) -> None:
    try:
        result = decode_jsonp_post(body)
    except DecodeError:
        return
    assert isinstance(result, str)


def test_iter_payload_decodes_lazily_and_fails_at_the_bad_packet():
    packets = iter_payload('4a\x1e4b\x1eZ\x1e4d')
    assert next(packets) == Packet(MSG, 'a')
    assert next(packets) == Packet(MSG, 'b')
    with pytest.raises(DecodeError):
        next(packets)


@pytest.mark.parametrize('body', ['', b'', b'4ok\xc3'])
def test_iter_payload_refuses_an_empty_or_non_utf8_body_at_once(body):
    with pytest.raises(DecodeError):
        iter_payload(body)


def test_iter_payload_agrees_with_decode_payload():
    body = '4one\x1ebAQIDBA==\x1e2probe\x1e4'
    assert list(iter_payload(body)) == decode_payload(body)
    assert list(iter_payload(body.encode())) == decode_payload(body)

"""Tests for engineio_sync.core.packets (single-packet codecs, v4 and v3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.packets import (
    DecodeError,
    Packet,
    PacketType,
    decode_packet,
    decode_packet_v3,
    encode_packet,
    encode_packet_b64,
    encode_packet_v3,
)

BOUNDED = settings(max_examples=200, deadline=None)

packet_types = st.sampled_from(list(PacketType))


@st.composite
def text_packets(draw: st.DrawFn) -> Packet:
    """Text packets in the canonical form decoders produce.

    A non-MESSAGE packet with empty text decodes back as data None, and a
    MESSAGE with no data decodes back as '', so those forms are excluded.
    """
    ptype = draw(packet_types)
    if ptype is PacketType.MESSAGE:
        return Packet(ptype, draw(st.text()))
    return Packet(ptype, draw(st.none() | st.text(min_size=1)))


binary_messages = st.binary().map(lambda b: Packet(PacketType.MESSAGE, b))


# --------------------------------------------------------------------------
# types
# --------------------------------------------------------------------------

def test_packet_type_values() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ('OPEN', 0), ('CLOSE', 1), ('PING', 2), ('PONG', 3),
        ('MESSAGE', 4), ('UPGRADE', 5), ('NOOP', 6)]


def test_packet_defaults_to_no_data() -> None:
    assert Packet(PacketType.NOOP) == (PacketType.NOOP, None)


def test_decode_error_is_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


# --------------------------------------------------------------------------
# v4 encode
# --------------------------------------------------------------------------

@pytest.mark.parametrize('packet, expected', [
    (Packet(PacketType.MESSAGE, 'hello'), '4hello'),
    (Packet(PacketType.PING, 'probe'), '2probe'),
    (Packet(PacketType.PONG, 'probe'), '3probe'),
    (Packet(PacketType.NOOP), '6'),
    (Packet(PacketType.UPGRADE), '5'),
    (Packet(PacketType.MESSAGE, ''), '4'),
    (Packet(PacketType.OPEN, '{"sid":"abc"}'), '0{"sid":"abc"}'),
    (Packet(PacketType.MESSAGE, '€😀'), '4€😀'),
    (Packet(4, 'plain int type'), '4plain int type'),
])
def test_encode_packet_text(packet: Packet, expected: str) -> None:
    assert encode_packet(packet) == expected
    assert encode_packet_b64(packet) == expected


def test_encode_packet_binary_is_raw_bytes() -> None:
    encoded = encode_packet(Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04'))
    assert type(encoded) is bytes
    assert encoded == b'\x01\x02\x03\x04'


@pytest.mark.parametrize('data', [
    bytearray(b'\x01\x02'), memoryview(b'\x01\x02')])
def test_encode_packet_binary_accepts_buffers(data: bytes) -> None:
    encoded = encode_packet(Packet(PacketType.MESSAGE, data))
    assert type(encoded) is bytes and encoded == b'\x01\x02'
    assert encode_packet_b64(Packet(PacketType.MESSAGE, data)) == 'bAQI='


def test_encode_packet_b64_binary() -> None:
    packet = Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')
    assert encode_packet_b64(packet) == 'bAQIDBA=='
    assert encode_packet_b64(Packet(PacketType.MESSAGE, b'')) == 'b'


@pytest.mark.parametrize('encoder', [encode_packet, encode_packet_b64])
def test_encode_binary_on_non_message_rejected(encoder) -> None:
    with pytest.raises(ValueError):
        encoder(Packet(PacketType.PING, b'probe'))


@pytest.mark.parametrize('encoder', [
    encode_packet, encode_packet_b64, encode_packet_v3])
@pytest.mark.parametrize('ptype', [7, -1, 'x'])
def test_encode_invalid_type_rejected(encoder, ptype) -> None:
    with pytest.raises(ValueError):
        encoder(Packet(ptype, 'data'))
    with pytest.raises(ValueError):
        encoder(Packet(ptype))


@pytest.mark.parametrize('encoder', [
    encode_packet, encode_packet_b64, encode_packet_v3])
def test_encode_invalid_data_type_rejected(encoder) -> None:
    with pytest.raises(TypeError):
        encoder(Packet(PacketType.MESSAGE, 42))


# --------------------------------------------------------------------------
# v4 decode
# --------------------------------------------------------------------------

@pytest.mark.parametrize('data, expected', [
    ('4hello', Packet(PacketType.MESSAGE, 'hello')),
    ('2probe', Packet(PacketType.PING, 'probe')),
    ('3probe', Packet(PacketType.PONG, 'probe')),
    ('6', Packet(PacketType.NOOP, None)),
    ('2', Packet(PacketType.PING, None)),
    ('1', Packet(PacketType.CLOSE, None)),
    ('5', Packet(PacketType.UPGRADE, None)),
    ('4', Packet(PacketType.MESSAGE, '')),
    ('0{"sid":"x"}', Packet(PacketType.OPEN, '{"sid":"x"}')),
    ('44', Packet(PacketType.MESSAGE, '4')),
    ('4b', Packet(PacketType.MESSAGE, 'b')),
    ('4€😀', Packet(PacketType.MESSAGE, '€😀')),
    ('bAQIDBA==', Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')),
    ('b', Packet(PacketType.MESSAGE, b'')),
])
def test_decode_packet_text(data: str, expected: Packet) -> None:
    decoded = decode_packet(data)
    assert decoded == expected
    assert type(decoded.type) is PacketType
    assert type(decoded.data) is type(expected.data)


@pytest.mark.parametrize('data', [
    b'\x01\x02\x03\x04', bytearray(b'\x01\x02\x03\x04'),
    memoryview(b'\x01\x02\x03\x04')])
def test_decode_packet_binary_frame(data: bytes) -> None:
    decoded = decode_packet(data)
    assert decoded == Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')
    assert type(decoded.data) is bytes


def test_decode_packet_empty_binary_frame_is_empty_message() -> None:
    assert decode_packet(b'') == Packet(PacketType.MESSAGE, b'')


@pytest.mark.parametrize('data', [
    '', '7x', '7', '9', 'x', ' 4', '-1', '٤hello',  # Arabic-Indic digit four
    'bnot-base64!', 'bAQIDBA', 'bAQIDBA==\n', 'b AQIDBA==', 'bAQ==AQ==',
    'bA===', 'b€€€€',
])
def test_decode_packet_malformed(data: str) -> None:
    with pytest.raises(DecodeError):
        decode_packet(data)


def test_decode_packet_wrong_input_type() -> None:
    with pytest.raises(TypeError):
        decode_packet(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# v3
# --------------------------------------------------------------------------

@pytest.mark.parametrize('packet, expected', [
    (Packet(PacketType.MESSAGE, 'hello'), '4hello'),
    (Packet(PacketType.PING, 'probe'), '2probe'),
    (Packet(PacketType.NOOP), '6'),
    (Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04'), b'\x04\x01\x02\x03\x04'),
    (Packet(PacketType.PING, b'\xff'), b'\x02\xff'),
    (Packet(PacketType.MESSAGE, b''), b'\x04'),
])
def test_encode_packet_v3(packet: Packet, expected: str | bytes) -> None:
    encoded = encode_packet_v3(packet)
    assert encoded == expected
    assert type(encoded) is type(expected)


def test_encode_packet_v3_b64() -> None:
    binary = Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')
    assert encode_packet_v3(binary, b64=True) == 'b4AQIDBA=='
    # b64 only affects binary packets
    text = Packet(PacketType.MESSAGE, 'hello')
    assert encode_packet_v3(text, b64=True) == '4hello'


def test_encode_packet_v3_binary_accepts_buffers() -> None:
    packet = Packet(PacketType.MESSAGE, memoryview(b'\x01\x02'))
    encoded = encode_packet_v3(packet)
    assert type(encoded) is bytes and encoded == b'\x04\x01\x02'


@pytest.mark.parametrize('data, expected', [
    ('4hello', Packet(PacketType.MESSAGE, 'hello')),
    ('2probe', Packet(PacketType.PING, 'probe')),
    ('6', Packet(PacketType.NOOP, None)),
    ('4', Packet(PacketType.MESSAGE, '')),
    ('b4AQIDBA==', Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')),
    ('b2AQ==', Packet(PacketType.PING, b'\x01')),
    ('b4', Packet(PacketType.MESSAGE, b'')),
    (b'\x04\x01\x02\x03\x04', Packet(PacketType.MESSAGE, b'\x01\x02\x03\x04')),
    (bytearray(b'\x04hi'), Packet(PacketType.MESSAGE, b'hi')),
    (memoryview(b'\x02'), Packet(PacketType.PING, b'')),
])
def test_decode_packet_v3(data: str | bytes, expected: Packet) -> None:
    decoded = decode_packet_v3(data)
    assert decoded == expected
    assert type(decoded.type) is PacketType
    assert type(decoded.data) is type(expected.data)


@pytest.mark.parametrize('data', [
    '', '7x', 'x', 'b', 'b7AQ==', 'bxAQ==', 'bAQIDBA==', 'b4not-base64!',
    'b4AQIDBA', b'', b'\x07abc', b'\xff', bytearray(b''),
])
def test_decode_packet_v3_malformed(data: str | bytes) -> None:
    with pytest.raises(DecodeError):
        decode_packet_v3(data)


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------

@BOUNDED
@given(text_packets())
def test_v4_text_round_trip(packet: Packet) -> None:
    assert decode_packet(encode_packet(packet)) == packet
    assert decode_packet(encode_packet_b64(packet)) == packet


@BOUNDED
@given(binary_messages)
def test_v4_binary_round_trip(packet: Packet) -> None:
    assert decode_packet(encode_packet(packet)) == packet
    assert decode_packet(encode_packet_b64(packet)) == packet


@BOUNDED
@given(text_packets() | st.builds(Packet, packet_types, st.binary()),
       st.booleans())
def test_v3_round_trip(packet: Packet, b64: bool) -> None:
    assert decode_packet_v3(encode_packet_v3(packet, b64=b64)) == packet


@BOUNDED
@given(st.text() | st.binary())
def test_decode_packet_fuzz(data: str | bytes) -> None:
    for decoder in (decode_packet, decode_packet_v3):
        try:
            packet = decoder(data)
        except DecodeError:
            continue
        assert isinstance(packet, Packet)
        assert isinstance(packet.type, PacketType)


@BOUNDED
@given(st.text(alphabet='b0123456789AQIDBa+/=!- \n', max_size=12))
def test_decode_packet_fuzz_base64_like(data: str) -> None:
    # Biased towards strings that look like base64 packets, where a stray
    # binascii.Error would most likely leak.
    for decoder in (decode_packet, decode_packet_v3):
        try:
            decoder(data)
        except DecodeError:
            pass

"""The sans-IO WebSocket frame codec, without sockets."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.wsframes import (BINARY, CLOSE, PING, PONG, TEXT,
                                         Deflate, FrameError, FrameReader,
                                         accept_token, encode_binary,
                                         encode_close, encode_pong,
                                         encode_text, negotiate_deflate)

from support.frames import client_frame, parse_server_frame


def test_accept_token_matches_rfc6455_example():
    assert accept_token('dGhlIHNhbXBsZSBub25jZQ==') == \
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='


@pytest.mark.parametrize('size', [0, 1, 125, 126, 65535, 65536, 100_000])
def test_server_frames_use_the_shortest_length_encoding(size):
    first, opcode, payload = parse_server_frame(encode_binary(b'x' * size))
    assert (first, opcode, payload) == (0x82, BINARY, b'x' * size)
    first, opcode, payload = parse_server_frame(encode_text('é' * size))
    assert (first, opcode) == (0x81, TEXT)
    assert payload.decode() == 'é' * size


def test_close_and_pong_frames():
    assert parse_server_frame(encode_close(1009, 'too big'))[1:] == \
        (CLOSE, b'\x03\xf1too big')
    assert parse_server_frame(encode_pong(b'hi'))[1:] == (PONG, b'hi')
    # A long reason is cut to fit a control frame.
    assert len(parse_server_frame(encode_close(1000, 'r' * 500))[2]) == 125


def test_reader_reassembles_fragments_around_control_frames():
    reader = FrameReader()
    data = (client_frame(b'hel', TEXT, fin=False)
            + client_frame(b'ping!', PING)
            + client_frame(b'lo', 0, fin=True)
            + client_frame(b'\x00\xff', BINARY))
    assert reader.feed(data) == [(PING, b'ping!'), (TEXT, 'hello'),
                                 (BINARY, b'\x00\xff')]


def test_reader_waits_for_whole_frames_byte_by_byte():
    reader = FrameReader()
    data = client_frame('ünïcode'.encode()) + client_frame(b'x' * 70000,
                                                          BINARY)
    events = []
    for i in range(0, len(data), 997):
        events += reader.feed(data[i:i + 997])
    assert events == [(TEXT, 'ünïcode'), (BINARY, b'x' * 70000)]


def test_close_frame_parsed_and_rest_ignored():
    reader = FrameReader()
    events = reader.feed(client_frame(b'\x03\xe8bye', CLOSE)
                         + client_frame(b'late'))
    assert events == [(CLOSE, (1000, 'bye'))]
    assert reader.feed(client_frame(b'later')) == []
    assert FrameReader().feed(client_frame(b'', CLOSE)) == \
        [(CLOSE, (1005, ''))]


@pytest.mark.parametrize('data, code', [
    (client_frame(b'x', masked=False), 1002),          # unmasked
    (client_frame(b'x', rsv1=True), 1002),             # RSV1 w/o deflate
    (client_frame(b'x', opcode=3), 1002),              # reserved opcode
    (client_frame(b'x', opcode=0xB), 1002),            # reserved control
    (client_frame(b'x' * 126, PING), 1002),            # control too long
    (client_frame(b'x', PING, fin=False), 1002),       # fragmented control
    (client_frame(b'x', 0), 1002),                     # stray continuation
    (client_frame(b'\xff\xfe'), 1007),                 # invalid UTF-8
    (client_frame(b'\x03', CLOSE), 1002),              # 1-byte close
    (client_frame(b'\x03\xed', CLOSE), 1002),          # close code 1005
    (client_frame(b'\x03\xe8\xff', CLOSE), 1007),      # bad close reason
    (client_frame(b'a', TEXT, fin=False) + client_frame(b'b'), 1002),
])
def test_protocol_errors(data, code):
    with pytest.raises(FrameError) as info:
        FrameReader().feed(data)
    assert info.value.code == code


def test_oversized_message_refused_from_the_header():
    reader = FrameReader(max_message_size=1000)
    header_only = client_frame(b'x' * 5000, BINARY)[:14]
    with pytest.raises(FrameError) as info:
        reader.feed(header_only)
    assert info.value.code == 1009
    fragments = FrameReader(max_message_size=1000)
    fragments.feed(client_frame(b'x' * 600, BINARY, fin=False))
    with pytest.raises(FrameError):
        fragments.feed(client_frame(b'x' * 600, 0))
    assert FrameReader(1000).feed(client_frame(b'x' * 1000, BINARY)) == \
        [(BINARY, b'x' * 1000)]


def client_compress(messages, nct=False):
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = []
    for m in messages:
        data = comp.compress(m) + comp.flush(zlib.Z_SYNC_FLUSH)
        out.append(data[:-4])
        if nct:
            comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION,
                                    zlib.DEFLATED, -15)
    return out


def test_deflate_inbound_with_context_takeover_and_fragments():
    reader = FrameReader(deflate=Deflate())
    first, second = client_compress([b'hello hello hello', b'hello again'])
    events = reader.feed(client_frame(first, TEXT, rsv1=True))
    half = len(second) // 2
    events += reader.feed(client_frame(second[:half], TEXT, fin=False,
                                       rsv1=True)
                          + client_frame(second[half:], 0))
    events += reader.feed(client_frame(b'plain'))
    assert events == [(TEXT, 'hello hello hello'), (TEXT, 'hello again'),
                      (TEXT, 'plain')]


def test_deflate_bomb_is_refused():
    bomb = client_compress([b'\0' * 5_000_000])[0]
    assert len(bomb) < 10_000
    reader = FrameReader(max_message_size=100_000, deflate=Deflate())
    with pytest.raises(FrameError) as info:
        reader.feed(client_frame(bomb, BINARY, rsv1=True))
    assert info.value.code == 1009


def test_deflate_outbound_threshold_and_round_trip():
    deflate = Deflate(threshold=100)
    small = encode_text('tiny', deflate)
    assert parse_server_frame(small)[0] == 0x81, 'below threshold: plain'
    big = 'abc' * 1000
    frames = [encode_text(big, deflate) for _ in range(2)]
    dec = zlib.decompressobj(-15)
    for frame in frames:
        first, _, payload = parse_server_frame(frame)
        assert first == 0xC1, 'RSV1 set on compressed messages'
        assert dec.decompress(payload + b'\x00\x00\xff\xff').decode() == big
    assert len(parse_server_frame(frames[1])[2]) < \
        len(parse_server_frame(frames[0])[2]), 'context kept between messages'


def test_server_no_context_takeover_resets_the_compressor():
    deflate = negotiate_deflate(
        'permessage-deflate; server_no_context_takeover', threshold=0)
    assert 'server_no_context_takeover' in deflate.response_header()
    a = parse_server_frame(encode_binary(b'z' * 500, deflate))[2]
    b = parse_server_frame(encode_binary(b'z' * 500, deflate))[2]
    assert a == b
    assert zlib.decompressobj(-15).decompress(b + b'\x00\x00\xff\xff') == \
        b'z' * 500


@pytest.mark.parametrize('offer, accepted', [
    ('permessage-deflate', 'permessage-deflate'),
    ('permessage-deflate; client_max_window_bits', 'permessage-deflate'),
    ('permessage-deflate; server_max_window_bits=10',
     'permessage-deflate; server_max_window_bits=10'),
    ('x-webkit-deflate-frame, permessage-deflate', 'permessage-deflate'),
    ('permessage-deflate; server_max_window_bits=8', None),
    ('permessage-deflate; bogus=1', None),
    ('permessage-deflate; server_no_context_takeover; '
     'server_no_context_takeover', None),
    ('', None),
])
def test_negotiation(offer, accepted):
    deflate = negotiate_deflate(offer)
    if accepted is None:
        assert deflate is None
    else:
        assert deflate.response_header() == accepted


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=300),
                          st.binary(max_size=300)), min_size=1, max_size=8),
       st.integers(1, 50), st.integers(1, 4))
def test_any_messages_any_fragments_any_chunks(messages, chunk, pieces):
    stream = b''
    for m in messages:
        opcode = TEXT if isinstance(m, str) else BINARY
        data = m.encode() if isinstance(m, str) else m
        step = max(1, len(data) // pieces)
        parts = [data[i:i + step] for i in range(0, len(data), step)] or [b'']
        for i, part in enumerate(parts):
            stream += client_frame(part, opcode if i == 0 else 0,
                                   fin=i == len(parts) - 1)
    reader = FrameReader()
    events = []
    for i in range(0, len(stream), chunk):
        events += reader.feed(stream[i:i + chunk])
    assert [payload for _, payload in events] == messages


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_only_raises_frame_error(data):
    try:
        FrameReader(max_message_size=10_000).feed(data)
    except FrameError:
        pass

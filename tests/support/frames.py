"""WebSocket frames as a client writes them and as a server's look, for
tests that feed or read bytes without a socket."""

from __future__ import annotations

import os
import struct

__all__ = ['client_frame', 'parse_server_frame', 'split_server_frames']


def client_frame(payload: bytes, opcode: int = 1, fin: bool = True,
                 rsv1: bool = False, masked: bool = True) -> bytes:
    """A frame as a browser would send it (masked)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((first, (0x80 if masked else 0) | n))
    elif n < 65536:
        head = bytes((first, (0x80 if masked else 0) | 126)) + \
            struct.pack('!H', n)
    else:
        head = bytes((first, (0x80 if masked else 0) | 127)) + \
            struct.pack('!Q', n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def _server_frame_at(data: bytes, pos: int) -> tuple[int, int, bytes, int]:
    """(first byte, opcode, payload, end) of the unmasked server frame
    that starts at ``pos``."""
    first, second = data[pos], data[pos + 1]
    assert not second & 0x80, 'server frames are not masked'
    n, offset = second & 0x7F, pos + 2
    if n == 126:
        n, offset = struct.unpack('!H', data[pos + 2:pos + 4])[0], pos + 4
    elif n == 127:
        n, offset = struct.unpack('!Q', data[pos + 2:pos + 10])[0], pos + 10
    assert len(data) >= offset + n, 'a truncated frame'
    return first, first & 0x0F, data[offset:offset + n], offset + n


def parse_server_frame(data: bytes) -> tuple[int, int, bytes]:
    """(first byte, opcode, payload) of one unmasked server frame, which
    must be all of ``data``."""
    first, opcode, payload, end = _server_frame_at(data, 0)
    assert end == len(data), 'more than one frame'
    return first, opcode, payload


def split_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each whole server frame in ``data``."""
    frames = []
    pos = 0
    while pos < len(data):
        _, opcode, payload, pos = _server_frame_at(data, pos)
        frames.append((opcode, payload))
    return frames

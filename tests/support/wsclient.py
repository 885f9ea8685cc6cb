"""A byte-level WebSocket client for the tests: it shows exactly what the
server puts on the wire and never drops a frame that shares a read with
the 101 response."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time


class ConnectionClosed(Exception):
    """The server closed the WebSocket."""


def connect(port: int, query: str, headers: dict | None = None
            ) -> 'RawWebSocket':
    """A WebSocket client (raises if the handshake is refused)."""
    ws = RawWebSocket(port, query, headers=headers)
    assert ws.status == 101, ws.head
    return ws


def receive(ws: 'RawWebSocket', timeout: float = 5.0):
    """The next message; AssertionError if none comes in time."""
    data = ws.receive(timeout=timeout)
    assert data is not None, f'no WebSocket message within {timeout}s'
    return data


def receive_until_closed(ws: 'RawWebSocket', timeout: float = 5.0) -> list:
    """Every message until the server closes; fails if it does not."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return out
        if data is not None:
            out.append(data)
    raise AssertionError(f'server did not close within {timeout}s: {out}')


class RawWebSocket:
    """A byte-level client: handshake, masked frames, raw reads."""

    def __init__(self, port: int, query: str,
                 headers: dict | None = None,
                 extensions: str | None = None) -> None:
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f'GET /engine.io/?{query} HTTP/1.1',
                 f'Host: 127.0.0.1:{port}', 'Upgrade: websocket',
                 'Connection: Upgrade', f'Sec-WebSocket-Key: {key}',
                 'Sec-WebSocket-Version: 13']
        if extensions:
            lines.append(f'Sec-WebSocket-Extensions: {extensions}')
        for name, value in (headers or {}).items():
            lines.append(f'{name}: {value}')
        self.sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        self.buffer = b''
        self.closed_by_peer = False
        self.last_fin = True
        self.close_payload = b''
        while b'\r\n\r\n' not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b'\r\n\r\n')
        self.head = head.decode('latin-1')
        self.status = int(self.head.split(' ', 2)[1]) if self.head else 0
        self.headers = {}
        for line in self.head.split('\r\n')[1:]:
            name, _, value = line.partition(':')
            self.headers[name.strip().lower()] = value.strip()

    def send_frame(self, payload: bytes, opcode: int = 1,
                   fin: bool = True) -> None:
        mask = os.urandom(4)
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack('!H', n)
        else:
            header += bytes([0x80 | 127]) + struct.pack('!Q', n)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], 'little')
        masked = (int.from_bytes(payload, 'little') ^ key).to_bytes(
            n, 'little')
        self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self.send_frame(text.encode(), 1)

    def send_close(self, code: int = 1000) -> None:
        self.send_frame(struct.pack('!H', code), 8)

    def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """(opcode, payload) of the next unmasked server frame, or None."""
        self.sock.settimeout(timeout)
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                self.closed_by_peer = True
                return None
            if not chunk:
                self.closed_by_peer = True
                return None
            self.buffer += chunk

    def read_available(self) -> list[tuple[int, bytes]] | None:
        """The frames that arrived, without waiting (for a non-blocking
        socket); None once the peer closed."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            chunk = None
        if chunk == b'':
            self.closed_by_peer = True
            return None
        if chunk:
            self.buffer += chunk
        frames = []
        while True:
            frame = self._parse()
            if frame is None:
                return frames
            frames.append(frame)

    def _parse(self) -> tuple[int, bytes] | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        opcode = buf[0] & 0x0F
        n = buf[1] & 0x7F
        offset = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack('!H', buf[2:4])[0]
            offset = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack('!Q', buf[2:10])[0]
            offset = 10
        if len(buf) < offset + n:
            return None
        payload = buf[offset:offset + n]
        self.buffer = buf[offset + n:]
        self.last_fin = bool(buf[0] & 0x80)
        return opcode, payload

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.send_frame(data.encode(), 1)
        else:
            self.send_frame(data, 2)

    def receive(self, timeout: float = 5.0) -> str | bytes | None:
        """The next message (None on timeout); ConnectionClosed at close."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        kind = None
        while True:
            frame = self.read_frame(max(0.01, deadline - time.monotonic()))
            if frame is None:
                if self.closed_by_peer:
                    raise ConnectionClosed()
                return None
            opcode, payload = frame
            if opcode == 8:
                self.close_payload = payload
                raise ConnectionClosed()
            if opcode == 9:
                self.send_frame(payload, 10)
                continue
            if opcode in (1, 2):
                kind = opcode
            parts.append(payload)
            if self.last_fin:
                data = b''.join(parts)
                return data.decode() if kind == 1 else data

    def read_to_eof(self, timeout: float = 5.0) -> bytes:
        """Everything the server sends until it closes the connection."""
        self.sock.settimeout(timeout)
        data = self.buffer
        self.buffer = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError('server kept the connection open')
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def close(self) -> None:
        """Send a close frame (if we can) and drop the connection."""
        try:
            self.send_close(1000)
        except OSError:
            pass
        self.sock.close()

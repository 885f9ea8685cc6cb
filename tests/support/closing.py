"""One request per connection, saying ``Connection: close``, on a raw
socket: what the response says of the connection, and whether the server
closes it afterwards."""

from __future__ import annotations

import socket

__all__ = ['PATH', 'exchange', 'connection_headers', 'closed_by_server',
           'request', 'one_closing_request']

#: a polling handshake's target
PATH = '/engine.io/?EIO=4&transport=polling'


def exchange(sock: socket.socket, request: bytes
             ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request and read its response (Content-Length framed)."""
    sock.sendall(request)
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        assert chunk, f'connection closed before a response: {data!r}'
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = [tuple(part.strip() for part in line.split(':', 1))
               for line in lines[1:]]
    length = int(next(v for k, v in headers if k.lower() == 'content-length'))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, 'connection closed inside the body'
        body += chunk
    assert len(body) == length, 'bytes after the response'
    return int(lines[0].split()[1]), headers, body


def connection_headers(headers: list[tuple[str, str]]) -> list[str]:
    return [v.lower() for k, v in headers if k.lower() == 'connection']


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b''
    except ConnectionResetError:
        return True


def request(method: str, target: str, *, body: bytes = b'',
            connection: str | None = None, version: str = '1.1') -> bytes:
    head = f'{method} {target} HTTP/{version}\r\nHost: 127.0.0.1\r\n'
    if connection is not None:
        head += f'Connection: {connection}\r\n'
    if method == 'POST':
        head += ('Content-Type: text/plain;charset=UTF-8\r\n'
                 f'Content-Length: {len(body)}\r\n')
    return head.encode() + b'\r\n' + body


def one_closing_request(port: int, method: str, target: str,
                        body: bytes = b'', connection: str = 'close'
                        ) -> tuple[int, bytes]:
    """A request saying ``Connection: close`` on a connection of its own:
    the response must say ``Connection: close`` too, once, and the server
    must then close."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        status, headers, data = exchange(
            sock, request(method, target, body=body, connection=connection))
        assert connection_headers(headers) == ['close'], headers
        assert closed_by_server(sock)
    return status, data

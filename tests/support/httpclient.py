"""Plain HTTP requests against an Engine.IO endpoint: :class:`RawClient`,
raw bytes on a connection (:func:`raw_exchange`), and long-polls that run
in the background (:class:`BackgroundGet`)."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from typing import Any

from .tcpstate import peer_queues, unread_by_peer
from .waiting import wait_until

__all__ = ['RawClient', 'BackgroundGet', 'raw_exchange', 'reset_get']


class RawClient:
    """Plain HTTP requests against an Engine.IO endpoint."""

    def __init__(self, port: int, path: str = '/engine.io/') -> None:
        self.port = port
        self.path = path

    def request(self, method: str = 'GET', query: str = '',
                body: bytes | str | None = None,
                headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, f'{self.path}?{query}', body=body,
                         headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, data
        finally:
            conn.close()

    def handshake(self, extra: str = '') -> tuple[str, dict]:
        status, _, body = self.request(
            'GET', 'EIO=4&transport=polling' + extra)
        assert status == 200, body
        text = body.decode()
        assert text[0] == '0', text
        first = text.split('\x1e')[0]
        info = json.loads(first[1:])
        return info['sid'], info

    def get(self, sid: str, timeout: float = 10.0) -> tuple[int, bytes]:
        status, _, body = self.request(
            'GET', f'EIO=4&transport=polling&sid={sid}', timeout=timeout)
        return status, body

    def post(self, sid: str, body: str | bytes,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        status, _, data = self.request(
            'POST', f'EIO=4&transport=polling&sid={sid}', body=body,
            headers=headers)
        return status, data


class BackgroundGet:
    """A GET (a long-poll, usually) sent now and answered in a thread.

    The request is on the wire when the constructor returns;
    :meth:`wait_taken` waits until the server has read all of it, and
    :meth:`result` gives the answer, ``(status, body)``.
    """

    def __init__(self, port: int, query: str, *,
                 headers: dict[str, str] | None = None,
                 path: str = '/engine.io/', timeout: float = 30.0) -> None:
        self._conn = http.client.HTTPConnection('127.0.0.1', port,
                                                timeout=timeout)
        self._conn.request('GET', f'{path}?{query}', headers=headers or {})
        self._outcome: list[tuple[str, Any]] = []
        self._thread = threading.Thread(target=self._answer, daemon=True)
        self._thread.start()

    def _answer(self) -> None:
        try:
            resp = self._conn.getresponse()
            self._outcome.append(('ok', (resp.status, resp.read())))
        except BaseException as exc:  # reported by result()
            self._outcome.append(('error', exc))
        finally:
            self._conn.close()

    def done(self) -> bool:
        """True once the answer (or an error) came."""
        return bool(self._outcome)

    def wait_taken(self, timeout: float = 10.0) -> None:
        """Wait until the server has read the whole request and not
        answered it yet (AssertionError if it answered first)."""
        sock = self._conn.sock

        def taken() -> bool:
            assert not self.done(), \
                f'the GET was answered at once: {self.result(0)}'
            return sock is not None and unread_by_peer(sock) == 0
        wait_until(taken, timeout, what='the server reading the GET')

    def result(self, timeout: float = 10.0) -> tuple[int, bytes]:
        """``(status, body)``; AssertionError if none within ``timeout``,
        the error if the request failed."""
        self._thread.join(timeout)
        assert self._outcome, f'no answer within {timeout}s'
        kind, value = self._outcome[0]
        if kind == 'error':
            raise value
        return value


def raw_exchange(port: int, data: bytes, timeout: float = 5.0,
                 until_close: bool = True) -> bytes:
    """Send raw bytes on a new connection; what the server answers until
    it closes (or, without ``until_close``, up to the end of a head)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        sock.sendall(data)
        out = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not until_close and b'\r\n\r\n' in out:
                break
        return out
    finally:
        sock.close()


def reset_get(port: int, sid: str, query: str = 'EIO=4&transport=polling'
              ) -> None:
    """A long-poll GET whose client reads only the start of a big answer,
    then resets the connection while the server is still writing it (the
    answer must be larger than the kernel buffers hold)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(('127.0.0.1', port))
    sock.sendall(f'GET /engine.io/?{query}&sid={sid} HTTP/1.1\r\n'
                 f'Host: 127.0.0.1:{port}\r\n\r\n'.encode())
    assert sock.recv(4096).startswith(b'HTTP/1.1 200')
    # The server is stuck in its write: its end holds bytes it cannot send.
    wait_until(lambda: (peer_queues(sock) or (0, 0))[0] > 0,
               what='the server blocked writing the answer')
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack('ii', 1, 0))
    sock.close()

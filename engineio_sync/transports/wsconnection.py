"""A thin WebSocket connection over the raw socket of a WSGI request.

Framing is :mod:`engineio_sync.core.wsframes` (sans-IO); this module only
moves bytes between it and the socket, in the request's own task: there is
no extra reader thread per connection.
"""

from __future__ import annotations

import base64
import socket as _socket
from collections import deque
from typing import Any, Callable

from ..core.wsframes import (BINARY, CLOSE, PING, TEXT, Deflate, FrameError,
                             FrameReader, encode_binary, encode_close,
                             encode_pong, encode_text)
from ..drivers.base import Driver

__all__ = ['WebSocketConnection', 'handshake_error']

# How many bytes of small backlogged frames one send hands over at most.
_WRITE_CHUNK = 65536
_DONTWAIT = _socket.MSG_DONTWAIT


def handshake_error(environ: dict[str, Any]) -> str | None:
    """Why this request is not a valid WebSocket handshake, or None."""
    if 'websocket' not in environ.get('HTTP_UPGRADE', '').lower():
        return 'missing Upgrade: websocket'
    if 'upgrade' not in environ.get('HTTP_CONNECTION', '').lower():
        return 'missing Connection: Upgrade'
    if environ.get('REQUEST_METHOD') != 'GET':
        return 'WebSocket handshakes must be GET'
    if environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip() != '13':
        return 'unsupported Sec-WebSocket-Version'
    key = environ.get('HTTP_SEC_WEBSOCKET_KEY', '').strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return 'invalid Sec-WebSocket-Key'
    except (ValueError, TypeError):
        return 'invalid Sec-WebSocket-Key'
    return None


class WebSocketConnection:
    """Send and receive whole messages on an accepted WebSocket.

    ``receive()`` runs in one task (the reader). Writes must be serialised
    with ``write_lock``: ``send_many`` and ``close`` expect the caller to
    hold it; the reader takes it itself for pongs and close replies.

    Writes never wait for the peer: what the socket does not take at once
    is kept, in order, in :attr:`backlog`, ``on_blocked()`` is called (with
    the write lock held) when it begins, and :meth:`write_backlog` hands
    more of it to the socket once :meth:`wait_writable` says there is room.
    So a peer that stops reading holds up nobody but itself.
    """

    __slots__ = ('sock', 'write_lock', 'deflate', '_reader', '_pending',
                 'close_sent', 'close_code', 'error', '_recv', '_driver',
                 '_send', '_backlog', 'backlog_size', 'on_blocked')

    RECV_SIZE = 65536

    def __init__(self, sock: Any, write_lock: Any, *, driver: Driver,
                 recv: Any = None,
                 deflate: Deflate | None = None,
                 max_message_size: int = 1_000_000) -> None:
        self.sock = sock
        self.write_lock = write_lock
        # The driver may hand a faster recv than the socket's own; its
        # send never waits (with MSG_DONTWAIT), nor does wait_writable
        # hold up anyone but the drain task.
        self._recv = recv or sock.recv
        self._driver = driver
        self._send = driver.nonblocking_send(sock)
        # Bytes written but not yet taken by the socket (None while there
        # are none: idle connections hold no list).
        self._backlog: deque[bytes | memoryview] | None = None
        #: how many bytes wait in the backlog
        self.backlog_size = 0
        #: called, write lock held, when bytes start waiting in the backlog
        self.on_blocked: Callable[[], None] | None = None
        self.deflate = deflate
        self._reader = FrameReader(max_message_size, deflate)
        # A list, not a deque: thousands of idle connections each hold one.
        self._pending: list[str | bytes] = []
        self.close_sent = False
        #: the peer's close code (1006 when the connection just dropped)
        self.close_code: int | None = None
        #: the :class:`FrameError` that ended the connection, if any
        self.error: FrameError | None = None

    # -- output (caller holds write_lock) ---------------------------------

    def send_many(self, messages: list[str | bytes]) -> None:
        """Frame and write several messages with a single write."""
        if self.close_sent:
            raise ConnectionError('WebSocket is closing')
        deflate = self.deflate
        if len(messages) == 1:
            data = messages[0]
            frame = (encode_text(data, deflate) if isinstance(data, str)
                     else encode_binary(data, deflate))
        else:
            frame = b''.join(
                encode_text(m, deflate) if isinstance(m, str)
                else encode_binary(m, deflate) for m in messages)
        self._write(frame)

    def send_one(self, message: str | bytes) -> None:
        """Frame and write one message (caller holds the write lock)."""
        if self.close_sent:
            raise ConnectionError('WebSocket is closing')
        frame = (encode_text(message, self.deflate)
                 if isinstance(message, str)
                 else encode_binary(message, self.deflate))
        # _write() inlined for the commonest case: nothing waiting and
        # the socket takes the whole frame.
        if self._backlog is None:
            try:
                sent = self._send(frame, _DONTWAIT)
            except BlockingIOError:
                sent = 0
            if sent < len(frame):
                self._keep(frame, sent)
        else:
            self._write(frame)

    def _write(self, data: bytes) -> None:
        """Hand bytes to the socket without waiting; OSError if the
        connection failed. What it does not take waits in the backlog."""
        backlog = self._backlog
        if backlog:
            backlog.append(data)
            self.backlog_size += len(data)
            return
        try:
            sent = self._send(data, _DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._keep(data, sent)

    def _keep(self, data: bytes, sent: int) -> None:
        """The socket took only ``sent`` bytes of ``data``: the rest starts
        the backlog."""
        rest = memoryview(data)[sent:]
        self._backlog = deque[bytes | memoryview]((rest,))
        self.backlog_size = len(rest)
        if self.on_blocked is not None:
            self.on_blocked()

    def write_backlog(self) -> None:
        """Hand the socket as much of the backlog as it takes now (caller
        holds the write lock); OSError if the connection failed."""
        backlog = self._backlog
        if not backlog:
            return
        send = self._send
        while backlog:
            data: bytes | memoryview = backlog.popleft()
            if backlog and len(data) < _WRITE_CHUNK:
                # Small frames: one send for up to _WRITE_CHUNK bytes of
                # them instead of one each.
                parts = [data]
                size = len(data)
                while backlog and size < _WRITE_CHUNK:
                    part = backlog.popleft()
                    parts.append(part)
                    size += len(part)
                data = b''.join(parts)
            try:
                sent = send(data, _DONTWAIT)
            except BlockingIOError:
                sent = 0
            self.backlog_size -= sent
            if sent < len(data):
                backlog.appendleft(memoryview(data)[sent:])
                return
        self._backlog = None

    def wait_writable(self, timeout: float) -> bool:
        """Wait (without the write lock) until the socket has room;
        False after ``timeout`` seconds."""
        writable: bool = self._driver.wait_writable(self.sock, timeout)
        return writable

    def close(self, code: int = 1000, reason: str = '') -> None:
        """Send a close frame (once); errors on a dead socket are ignored."""
        if self.close_sent:
            return
        self.close_sent = True
        try:
            self._write(encode_close(code, reason))
        except OSError:
            pass

    def locked_close(self, code: int = 1000, reason: str = '',
                     timeout: float = 3.0) -> None:
        """:meth:`close` taking the write lock (bounded wait)."""
        if self.close_sent:
            return
        if self.write_lock.acquire(True, timeout):
            try:
                self.close(code, reason)
            finally:
                self.write_lock.release()

    def shutdown(self) -> None:
        """Cut the TCP connection, waking a reader blocked on it."""
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass

    # -- input --------------------------------------------------------------

    def receive(self) -> str | bytes | None:
        """The next whole message, or None once the connection is over
        (reads the socket, waiting; :meth:`take` is the same without).

        A protocol error (see :attr:`error`) is answered with a close frame
        carrying its code (1002, 1007, or 1009 for an oversized message).
        """
        pending = self._pending
        if pending:
            return pending.pop(0)
        reader = self._reader
        recv = self._recv
        while self.close_code is None:
            try:
                data = recv(self.RECV_SIZE)
            except OSError:
                data = b''
            if not data:
                self.close_code = 1006
                return None
            try:
                events = reader.feed(data)
            except FrameError as exc:
                self._failed(exc)
                break
            if len(events) == 1 and events[0][0] == TEXT:
                # One text message per read: the usual case.
                message: str | bytes = events[0][1]
                return message
            self._sort(events, pending)
            if pending:
                return pending.pop(0)
        return pending.pop(0) if pending else None

    def take(self, data: bytes) -> list[str | bytes]:
        """The whole messages completed by ``data`` (bytes just read; b''
        when the peer closed), answering pings and the peer's close frame
        as :meth:`receive` does; :attr:`close_code` is set once the
        connection is over."""
        if not data:
            if self.close_code is None:
                self.close_code = 1006
            return []
        try:
            events = self._reader.feed(data)
        except FrameError as exc:
            self._failed(exc)
            return []
        if len(events) == 1 and events[0][0] == TEXT:
            return [events[0][1]]
        messages: list[str | bytes] = []
        self._sort(events, messages)
        return messages

    def _failed(self, exc: FrameError) -> None:
        self.error = exc
        self.close_code = exc.code
        self.locked_close(exc.code, exc.reason)

    def _sort(self, events: list[tuple[int, Any]],
              messages: list[str | bytes]) -> None:
        """Messages go to ``messages``; control frames are answered."""
        for opcode, payload in events:
            if opcode == TEXT or opcode == BINARY:
                messages.append(payload)
            elif opcode == PING:
                self._control(encode_pong(payload))
            elif opcode == CLOSE:
                code: int = payload[0]
                self.close_code = code
                self.locked_close(1000 if code == 1005 else code)
                # Nothing after a close frame counts.
                return

    def _control(self, frame: bytes) -> None:
        with self.write_lock:
            if not self.close_sent:
                try:
                    self._write(frame)
                except OSError:
                    pass

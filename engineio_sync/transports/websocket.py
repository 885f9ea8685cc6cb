"""The WebSocket transport: accepts WebSocket requests and moves their
messages between the connection and the session engine.

Nothing here decides anything about the session: whether a WebSocket
carries the session, is probed for an upgrade or is turned away is the
session's answer to :meth:`~engineio_sync.port.SessionPort.attach_websocket`;
every packet read goes to the engine, and the engine writes through the
:class:`WebSocketBinding` (its WebSocket sink).
"""

from __future__ import annotations

import logging
import socket as _socket
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from ..core.packets import (DecodeError, Packet, decode_packet,
                            decode_packet_v3, encode_packet, encode_packet_v3)
from ..core.session import CloseReason
from ..core.wsframes import accept_token, negotiate_deflate
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from ..port import CLOSE_GRACE, REJECT_LINGER, SessionPort
from ..wsgi_servers import Hijack, find, run_later
from .wsconnection import WebSocketConnection, handshake_error

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver

__all__ = ['WebSocketTransport', 'WebSocketBinding']

# The most a rejected WebSocket's client may still send before we close.
_REJECT_DRAIN = 1 << 16
# How many times (50 ms apart) a finished WebSocket waits for its drain
# task to notice that the socket is shut down.
_DRAIN_END_CHECKS = 60


class _Flag:
    """A one-shot event that allocates a driver Event only if waited on.

    Thousands of idle WebSockets each hold two of these; most are set
    without anyone ever waiting.
    """

    __slots__ = ('_driver', '_set', '_event')

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._set = False
        self._event: Any = None

    def set(self) -> None:
        self._set = True
        event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float) -> bool:
        if self._set:
            return True
        if self._event is None:
            self._event = self._driver.event()
        # Re-check: set() may have run before the event existed.
        if self._set:
            return True
        woken: bool = self._event.wait(timeout)
        return woken


class WebSocketBinding:
    """One accepted WebSocket: the sink the session engine writes on."""

    __slots__ = ('conn', 'done', 'finished', 'closing', 'draining',
                 '_encode')

    def __init__(self, conn: WebSocketConnection, driver: Driver,
                 protocol: int) -> None:
        self.conn = conn
        #: set when the reader is over; ``finished`` when the engine's
        #: closing of this WebSocket is
        self.done = _Flag(driver)
        self.finished = _Flag(driver)
        self.closing = False
        #: the engine runs a task draining the backlog
        self.draining = False
        self._encode = encode_packet_v3 if protocol == 3 else encode_packet

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return self.conn.backlog_size

    def write_backlog(self) -> bool:
        """Hand the socket what it takes of the backlog now (the caller
        holds the write lock); False if the connection failed."""
        try:
            self.conn.write_backlog()
        except OSError:
            return False
        return True

    def wait_writable(self, timeout: float) -> bool:
        """Wait until the socket has room (or failed); False on timeout."""
        return self.conn.wait_writable(timeout)

    def write_packet(self, packet: Packet) -> bool:
        """Write one packet (the caller holds the write lock); False if the
        connection failed."""
        try:
            self.conn.send_one(self._encode(packet))
        except (OSError, ConnectionError):
            return False
        return True

    def write_packets(self, packets: list[Packet]) -> bool:
        """Write packets (the caller holds the write lock); False if the
        connection failed."""
        encode = self._encode
        try:
            if len(packets) == 1:
                self.conn.send_one(encode(packets[0]))
            else:
                self.conn.send_many([encode(p) for p in packets])
        except (OSError, ConnectionError):
            return False
        return True

    def send_close(self) -> None:
        """Send the close frame (the caller holds the write lock)."""
        self.conn.close(1000)

    def wait_ended(self, timeout: float) -> bool:
        """Wait until the reader has seen the connection end."""
        return self.done.wait(timeout)

    def shutdown(self) -> None:
        """Cut the TCP connection."""
        self.conn.shutdown()

    def mark_closing(self) -> bool:
        """The engine starts closing it; False if it already had."""
        if self.closing:
            return False
        self.closing = True
        return True

    def mark_closed(self) -> None:
        """The engine's closing is over."""
        self.finished.set()


class WebSocketTransport:
    """Accepts WebSocket requests and runs their read loops."""

    name = 'websocket'

    def __init__(self, config: Any, driver: Driver,
                 logger: logging.Logger) -> None:
        self.driver = driver
        self.logger = logger
        self.per_message_deflate = config.per_message_deflate
        self.threshold = config.compression_threshold
        self.max_size = config.max_http_buffer_size

    def accept(self, environ: dict[str, Any]) -> Hijack:
        """Check the WebSocket handshake and take the request's socket;
        raises :class:`RemoteProtocolError` to refuse it."""
        problem = handshake_error(environ)
        if problem is not None:
            raise RemoteProtocolError(BAD_REQUEST, problem)
        hijack = find(environ)
        if hijack is None:
            raise RemoteProtocolError(
                BAD_REQUEST, 'this WSGI server does not expose its socket '
                'for WebSocket')
        return hijack

    def serve(self, engine: SessionPort, hijack: Hijack, environ: dict[str, Any],
              headers: list[tuple[str, str]], *, new_session: bool) -> Any:
        """Answer 101 and run the WebSocket until it is over; return what
        the WSGI application returns."""
        deflate = None
        if self.per_message_deflate:
            deflate = negotiate_deflate(
                environ.get('HTTP_SEC_WEBSOCKET_EXTENSIONS', ''),
                self.threshold)
        lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket',
                 'Connection: Upgrade',
                 'Sec-WebSocket-Accept: ' + accept_token(
                     environ['HTTP_SEC_WEBSOCKET_KEY'].strip())]
        if deflate is not None:
            lines.append('Sec-WebSocket-Extensions: ' +
                         deflate.response_header())
        # The headers / initial_headers options (and CORS headers, which
        # do no harm) go on the 101 as on any other response.
        lines.extend(f'{name}: {value}' for name, value in headers)
        sock = hijack.sock
        try:
            # Liveness is the heartbeat's job from here on, not a timeout's.
            sock.settimeout(None)
            sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))
        except OSError:
            if new_session:
                engine.close(CloseReason.TRANSPORT_ERROR, 'handshake failed')
            return hijack.finish
        recv, release = self.driver.stream_reader(sock)
        conn = WebSocketConnection(sock, engine.write_lock, deflate=deflate,
                                   driver=self.driver, recv=recv,
                                   max_message_size=self.max_size)
        binding = WebSocketBinding(conn, self.driver, engine.protocol)
        conn.on_blocked = partial(engine.websocket_blocked, binding)
        if not run_later(environ, partial(self._run, engine, binding,
                                          release)):
            self._run(engine, binding, release)
        return hijack.finish

    def _run(self, engine: SessionPort, binding: WebSocketBinding,
             release: Callable[[], None]) -> None:
        """Attach the WebSocket to its session and read it until it is
        over; ``release()`` the reader then."""
        conn = binding.conn
        try:
            if engine.attach_websocket(binding) == 'rejected':
                conn.locked_close(1000)
                self._end_rejected(conn.sock)
            else:
                self._read_loop(engine, binding)
        except Exception:
            self.logger.exception('%s: WebSocket handler failed', engine.sid)
            conn.locked_close(1011, 'internal error')
            engine.websocket_ended(binding, CloseReason.TRANSPORT_ERROR,
                                   'internal error')
        finally:
            release()
            binding.done.set()
            if binding.closing:
                # The engine is writing the last packets and the close
                # frame; the WSGI server must not close the socket first.
                binding.finished.wait(3 * CLOSE_GRACE)
            conn.locked_close(1000)
            conn.shutdown()
            # A drain task may still wait for room on this socket: the WSGI
            # server must not close the descriptor under it (gevent's
            # libev aborts the process on a watcher with a closed fd). On
            # a shut-down socket its wait ends at once.
            for _ in range(_DRAIN_END_CHECKS):
                if not binding.draining:
                    break
                self.driver.sleep(0.05)

    @staticmethod
    def _end_rejected(sock: Any) -> None:
        """End a WebSocket that has no place in its session at once, as
        the reference server does: its close frame is followed by our FIN
        straight away. Then the client's leftovers are read (bounded in
        time and bytes) until it closes too, so that closing the socket
        does not turn into a reset that could destroy the close frame."""
        try:
            sock.shutdown(_socket.SHUT_WR)
            sock.settimeout(REJECT_LINGER)
            total = 0
            while total < _REJECT_DRAIN:
                data = sock.recv(65536)
                if not data:
                    return
                total += len(data)
        except OSError:
            pass

    def _read_loop(self, engine: SessionPort,
                   binding: WebSocketBinding) -> None:
        conn = binding.conn
        decode = decode_packet if engine.protocol == 4 else decode_packet_v3
        websocket_packet = engine.websocket_packet
        while True:
            message = conn.receive()
            if message is None:
                break
            try:
                packet = decode(message)
            except DecodeError as exc:
                self.logger.info('%s: undecodable WebSocket message',
                                 engine.sid)
                engine.websocket_invalid(binding, f'parse error: {exc}')
                return
            if not websocket_packet(binding, packet):
                return
        reason = CloseReason.TRANSPORT_CLOSE
        description = None
        error = conn.error
        if error is not None:
            reason = CloseReason.TRANSPORT_ERROR
            description = ('message larger than max_http_buffer_size'
                           if error.code == 1009
                           else f'protocol error: {error}')
            self.logger.info('%s: %s', engine.sid, description)
        elif conn.close_code not in (1000, 1001, 1005, 1006):
            reason = CloseReason.TRANSPORT_ERROR
            description = f'close code {conn.close_code}'
        engine.websocket_ended(binding, reason, description)

"""The WebSocket transport: accepts WebSocket requests and moves their
messages between the connection and the session engine.

Nothing here decides anything about the session: whether a WebSocket
carries the session, is probed for an upgrade or is turned away is the
session's answer to :meth:`~engineio_sync.port.SessionPort.attach_websocket`;
every packet read goes to the engine, and the engine writes through the
sink it is given: a :class:`~engineio_sync.transports.loop_websocket.
LoopWebSocket` read by the driver's socket loop once the connection has
left the WSGI server (every driver has one), or a
:class:`~engineio_sync.transports.wsbinding.WebSocketBinding` read by the
request's own task for a driver without one.
"""

from __future__ import annotations

import logging
import socket as _socket
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from ..core.session import CloseReason
from ..core.wsframes import Deflate, accept_token, negotiate_deflate
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from ..port import CLOSE_GRACE, REJECT_LINGER, SessionPort
from ..wsgi_servers import Hijack, find, run_later
from .loop_websocket import LoopWebSocket, detach_socket
from .wsbinding import WebSocketBinding
from .wsconnection import WebSocketConnection, handshake_error

if TYPE_CHECKING:  # pragma: no cover
    from ..drivers import Driver, SocketLoop

__all__ = ['WebSocketTransport']

# The most a rejected WebSocket's client may still send before we close.
_REJECT_DRAIN = 1 << 16
# How many times (50 ms apart) a finished WebSocket waits for its drain
# task to notice that the socket is shut down.
_DRAIN_END_CHECKS = 60


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
        loop = self.driver.socket_loop()
        if loop is not None:
            self._serve_in_loop(engine, loop, sock, deflate)
            return hijack.finish
        recv, release = self.driver.stream_reader(sock)
        conn = WebSocketConnection(sock, engine.write_lock, deflate=deflate,
                                   driver=self.driver, recv=recv,
                                   max_message_size=self.max_size)
        binding = WebSocketBinding(conn, self.driver, engine.protocol,
                                   self.logger)
        conn.on_blocked = partial(engine.websocket_blocked, binding)
        if not run_later(environ, partial(self._run, engine, binding,
                                          release)):
            self._run(engine, binding, release)
        return hijack.finish

    def _serve_in_loop(self, engine: SessionPort, loop: SocketLoop,
                       sock: _socket.socket, deflate: Deflate | None
                       ) -> None:
        """Attach the WebSocket and leave it to the socket loop; the
        WSGI server's task returns at once."""
        ours = detach_socket(sock, loop)
        conn = WebSocketConnection(ours, engine.write_lock, deflate=deflate,
                                   driver=self.driver,
                                   max_message_size=self.max_size)
        binding = LoopWebSocket(conn, self.driver, engine, loop, self.logger)
        conn.on_blocked = partial(engine.websocket_blocked, binding)
        try:
            verdict = engine.attach_websocket(binding)
        except Exception:
            self.logger.exception('%s: WebSocket handler failed', engine.sid)
            verdict = 'rejected'
        if verdict != 'rejected':
            binding.start()
            return
        conn.locked_close(1000)
        self._end_rejected(ours)
        ours.close()

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

    @staticmethod
    def _read_loop(engine: SessionPort, binding: WebSocketBinding) -> None:
        receive = binding.conn.receive
        pass_message = binding.pass_message
        while True:
            message = receive()
            if message is None:
                break
            if not pass_message(engine, message):
                return
        binding.report_end(engine)

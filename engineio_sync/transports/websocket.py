"""The WebSocket transport: direct sessions and the upgrade from polling."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from ..core.packets import DecodeError, Packet, PacketType, decode_packet, \
    decode_packet_v3, encode_packet, encode_packet_v3
from ..core.session import CloseReason, ReadyState, Upgrade, UpgradeRefused
from ..exceptions import BAD_REQUEST, FORBIDDEN, ProtocolError
from ..core.wsframes import accept_token, negotiate_deflate
from .wsconnection import WebSocketConnection, handshake_error, raw_socket

if TYPE_CHECKING:  # pragma: no cover
    from ..core.handshake import RequestInfo
    from ..server import Server
    from ..socket import Socket

__all__ = ['WebSocketTransport']

# How long a closing WebSocket waits for the peer's close frame before the
# TCP connection is cut.
CLOSE_GRACE = 3.0


class _Finished:
    """The WSGI return value once a WebSocket is over.

    The socket is already shut down, so nothing the WSGI server writes
    afterwards can reach the client; eventlet is told not to try at all.
    """

    __slots__ = ('mode',)

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, start_response: Callable) -> list[bytes]:
        if self.mode in ('engineio_sync', 'gevent'):
            # Without start_response these servers write nothing at all.
            return []
        if self.mode == 'eventlet':
            import eventlet.wsgi
            eventlet.wsgi.WSGI_LOCAL.already_handled = True
            return []
        if self.mode == 'gunicorn-async':
            # gunicorn's gevent/eventlet workers write nothing (and log no
            # bogus 200) for this sentinel, and close the connection.
            try:
                from gunicorn.workers.base_async import ALREADY_HANDLED
            except ImportError:  # pragma: no cover - moved in a new gunicorn
                pass
            else:
                return ALREADY_HANDLED
        # Other servers (gunicorn gthread/sync, werkzeug, gevent pywsgi):
        # the socket is shut down, so this response cannot reach the client.
        start_response('200 OK', [('Content-Length', '0')])
        return []


class _Flag:
    """A one-shot event that allocates a driver Event only if waited on.

    Thousands of idle WebSockets each hold two of these; most are set
    without anyone ever waiting.
    """

    __slots__ = ('_driver', '_set', '_event')

    def __init__(self, driver: Any) -> None:
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
        return self._event.wait(timeout)


class WebSocketBinding:
    """One accepted WebSocket tied to a session (active or probing)."""

    __slots__ = ('conn', 'socket', 'server', 'done', 'finished', '_encode',
                 '_closing', '_v3')

    def __init__(self, server: Server, socket: Socket,
                 conn: WebSocketConnection) -> None:
        self.server = server
        self.socket = socket
        self.conn = conn
        #: set when the reader task is over; ``finished`` when the closer is
        self.done = _Flag(server.driver)
        self.finished = _Flag(server.driver)
        self._v3 = socket.session.protocol == 3
        self._encode = encode_packet_v3 if self._v3 else encode_packet
        self._closing = False

    def write_packets(self, packets: list[Packet]) -> bool:
        """Write packets (caller holds the write lock); False if it failed."""
        encode = self._encode
        try:
            self.conn.send_many([encode(p) for p in packets])
        except (OSError, ConnectionError):
            return False
        return True

    def send_now(self, data: str | bytes) -> bool:
        """Write one message at once if nothing is queued before it.

        The common case of an open WebSocket session with an empty buffer
        skips the buffer; False means the caller must queue it instead.
        """
        socket = self.socket
        session = socket.session
        if self._v3:
            return False
        with socket._write_lock:
            with socket._lock:
                if socket._ws is not self or session.buffer or \
                        session.ready_state is not ReadyState.OPEN:
                    return False
                session.queued_count += 1
                session.sent_count += 1
            try:
                if type(data) is str:
                    self.conn.send_text('4' + data)
                else:
                    self.conn.send_binary(data)
            except (OSError, ConnectionError):
                pass
            else:
                return True
        self._write_failed()
        return True

    def _write_failed(self) -> None:
        self.server.logger.info('%s: WebSocket write failed', self.socket.id)
        self.socket._close(CloseReason.TRANSPORT_ERROR, 'write failed')

    def flush(self) -> None:
        """Write everything the session has queued, in order."""
        socket = self.socket
        session = socket.session
        with socket._write_lock:
            with socket._lock:
                if socket._ws is not self:
                    return
                packets = session.take_buffer()
            if not packets:
                return
            socket._packets_flushing(packets)
            if not self.write_packets(packets):
                self._write_failed()
                return
        socket._packets_written(packets)
        if session.ready_state.value == 'closing' and \
                packets[-1].type is PacketType.CLOSE:
            self.on_session_closed()

    def on_session_closed(self) -> None:
        """The session ended: send what is left, close, never block."""
        if self._closing:
            return
        self._closing = True
        self.server.driver.spawn(self._close_task)

    def on_upgrade_cancelled(self) -> None:
        """The upgrade timed out: drop this WebSocket, keep polling."""
        self.on_session_closed()

    def _close_task(self) -> None:
        socket = self.socket
        session = socket.session

        def send_rest_and_close() -> None:
            try:
                with socket._write_lock:
                    packets = []
                    if socket._ws is self:
                        with socket._lock:
                            packets = session.take_buffer()
                    if packets:
                        self.write_packets(packets)
                    self.conn.close(1000)
            except Exception:  # never let a closing socket raise
                self.server.logger.debug('closing WebSocket failed',
                                         exc_info=True)
            if packets:
                socket._packets_written(packets)

        try:
            writer = self.server.driver.spawn(send_rest_and_close)
            writer.join(CLOSE_GRACE)
            # Wait for the peer's close frame (the reader ends), then cut
            # the TCP connection; a dead peer cannot hold us longer.
            self.done.wait(CLOSE_GRACE)
            self.conn.shutdown()
            if socket._ws is self and session.ready_state.value == 'closing':
                with socket._lock:
                    session.finish_close()
                self.server._session_changed(socket)
        finally:
            self.finished.set()


class WebSocketTransport:
    """Accepts WebSocket requests and runs their read loops."""

    name = 'websocket'

    def __init__(self, server: Server) -> None:
        self.server = server
        config = server.config
        self.per_message_deflate = config.per_message_deflate
        self.threshold = config.compression_threshold
        self.max_size = config.max_http_buffer_size

    def handle(self, socket: Socket | None, info: RequestInfo, environ: dict,
               headers: list[tuple[str, str]], sid: str | None = None
               ) -> Any:
        """Serve a WebSocket request: a new session (``sid`` given) or an
        upgrade of ``socket``."""
        server = self.server
        problem = handshake_error(environ)
        if problem is not None:
            return server._refuse(ProtocolError(BAD_REQUEST, problem),
                                  environ, headers)
        sock, mode = raw_socket(environ)
        if sock is None:
            return server._refuse(ProtocolError(
                BAD_REQUEST, 'this WSGI server does not expose its socket '
                'for WebSocket'), environ, headers)
        new_session = socket is None
        if new_session:
            socket = server._open_session(sid, info, environ)
            if socket is None:
                return server._refuse(ProtocolError(FORBIDDEN), environ,
                                      headers)
        else:
            refusal = server._check_allowed(environ)
            if refusal is not None:
                return server._refuse(refusal, environ, headers)
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
        extra = list(headers)
        if new_session:
            if server.config.initial_headers is not None:
                extra += server._extra_headers(server.config.initial_headers,
                                               environ)
            if server.config.cookie is not None:
                extra.append(server.config.cookie.header(socket.id))
        lines.extend(f'{name}: {value}' for name, value in extra)
        try:
            # Liveness is the heartbeat's job from here on, not a timeout's.
            sock.settimeout(None)
            sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))
        except OSError:
            if new_session:
                socket._close(CloseReason.TRANSPORT_ERROR, 'handshake failed')
            return _Finished(mode)
        conn = WebSocketConnection(sock, socket._write_lock, deflate=deflate,
                                   io=server.driver.socket_io(sock),
                                   max_message_size=self.max_size)
        binding = WebSocketBinding(server, socket, conn)
        try:
            if new_session:
                with socket._lock:
                    socket._ws = binding
                binding.flush()
                self._read_loop(binding)
            else:
                self._upgrade(binding)
        except Exception:
            server.logger.exception('%s: WebSocket handler failed',
                                    socket.id)
            conn.locked_close(1011, 'internal error')
            if socket._ws is binding:
                socket._close(CloseReason.TRANSPORT_ERROR, 'internal error')
        finally:
            binding.done.set()
            if binding._closing:
                # The closer is writing the last packets and the close
                # frame; the WSGI server must not close the socket first.
                binding.finished.wait(3 * CLOSE_GRACE)
            conn.locked_close(1000)
            conn.shutdown()
        return _Finished(mode)

    # -- upgrade ---------------------------------------------------------------

    def _upgrade(self, binding: WebSocketBinding) -> None:
        server = self.server
        socket = binding.socket
        session = socket.session
        conn = binding.conn
        with socket._lock:
            try:
                session.begin_upgrade(server._clock())
            except UpgradeRefused:
                refused = True
            else:
                refused = False
                socket._upgrade_ws = binding
        if refused:
            # Already upgraded, upgrading, or closed: accept and close
            # cleanly; an HTTP error here makes node clients throw.
            server.logger.debug('%s: extra WebSocket closed', socket.id)
            conn.locked_close(1000)
            binding.done.wait(0.5)
            return
        server._session_changed(socket)
        decode = decode_packet if session.protocol == 4 else decode_packet_v3
        try:
            while True:
                message = conn.receive()
                if message is None or not session.upgrading:
                    break
                try:
                    packet = decode(message)
                except DecodeError:
                    break
                ptype = packet.type
                if ptype is PacketType.PING and packet.data == 'probe':
                    with socket._lock:
                        reply = session.on_probe()
                        wake = session.poll_ready
                    with socket._write_lock:
                        if not binding.write_packets([reply]):
                            break
                    if wake:
                        socket._poll_event.set()
                    if socket._handlers:
                        socket.emit('upgrading', 'websocket')
                elif ptype is PacketType.UPGRADE and \
                        session.upgrade is Upgrade.UPGRADING:
                    with socket._lock:
                        session.complete_upgrade()
                        socket._ws = binding
                        socket._upgrade_ws = None
                        wake = session.poll_ready
                    if wake:
                        socket._poll_event.set()
                    server.logger.info('%s: upgraded to websocket',
                                       socket.id)
                    if socket._handlers:
                        socket.emit('upgrade', 'websocket')
                    server._session_changed(socket)
                    binding.flush()
                    self._read_loop(binding)
                    return
                elif ptype is PacketType.NOOP:
                    continue
                else:
                    break
        finally:
            if socket._upgrade_ws is binding:
                with socket._lock:
                    socket._upgrade_ws = None
                    session.cancel_upgrade()
                server.logger.info('%s: upgrade abandoned', socket.id)
                conn.locked_close(1000)

    # -- established ------------------------------------------------------------

    def _read_loop(self, binding: WebSocketBinding) -> None:
        server = self.server
        socket = binding.socket
        session = socket.session
        conn = binding.conn
        decode = decode_packet if session.protocol == 4 else decode_packet_v3
        receive_one = server._receive_one
        clock = server._clock
        reason = CloseReason.TRANSPORT_CLOSE
        description = None
        logger = server.logger
        deliver = server._deliver
        sid = socket.id
        fast = session.protocol == 4
        OPEN = ReadyState.OPEN
        while True:
            message = conn.receive()
            # The common case, a message on an open v4 session with nobody
            # listening to per-packet events, goes straight to the handlers.
            if fast and session.ready_state is OPEN and \
                    not socket._handlers and \
                    not logger.isEnabledFor(logging.DEBUG):
                if type(message) is str:
                    if message[:1] == '4':
                        deliver(sid, message[1:])
                        continue
                elif message is not None:
                    deliver(sid, message)
                    continue
            if message is None:
                error = conn.error
                if error is not None:
                    reason = CloseReason.TRANSPORT_ERROR
                    description = (
                        'message larger than max_http_buffer_size'
                        if error.code == 1009 else f'protocol error: {error}')
                    server.logger.info('%s: %s', socket.id, description)
                elif conn.close_code not in (1000, 1001, 1005, 1006):
                    reason = CloseReason.TRANSPORT_ERROR
                    description = f'close code {conn.close_code}'
                break
            try:
                packet = decode(message)
            except DecodeError as exc:
                reason = CloseReason.TRANSPORT_ERROR
                description = f'parse error: {exc}'
                server.logger.info('%s: undecodable WebSocket message; '
                                   'closing', socket.id)
                break
            if not receive_one(socket, packet, clock()):
                return
        if session.ready_state.value == 'open':
            socket._close(reason, description)

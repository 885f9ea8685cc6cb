"""HTTP long-polling: GET parks until there is something to send, POST
carries packets from the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.packets import DecodeError, Packet
from ..core.payload import (decode_jsonp_post, decode_payload,
                            decode_payload_v3, encode_jsonp, encode_payload,
                            encode_payload_v3)
from ..core.session import CloseReason, PollConflict
from ..exceptions import BAD_REQUEST, ProtocolError
from .http import (TEXT_PLAIN, BadBody, BodyTooLarge, Response,
                   compress_body, error_response, read_body)

if TYPE_CHECKING:  # pragma: no cover
    from ..core.handshake import RequestInfo
    from ..server import Server
    from ..socket import Socket

__all__ = ['PollingTransport']

_BINARY = ('Content-Type', 'application/octet-stream')
_JAVASCRIPT = ('Content-Type', 'text/javascript; charset=UTF-8')
_OK = b'ok'


class PollingTransport:
    """Serves the GET and POST requests of polling sessions."""

    name = 'polling'

    def __init__(self, server: Server) -> None:
        self.server = server
        config = server.config
        # A parked GET is normally woken by the next ping (v4) or by the
        # pong for the client's ping (v3), both within ping_interval; the
        # wait limit only guards against a lost wake-up.
        self.poll_timeout = config.ping_interval + config.ping_timeout + 5
        self.max_body = config.max_http_buffer_size
        self.compression = config.http_compression
        self.compression_threshold = config.compression_threshold

    # -- responses ------------------------------------------------------------

    def encode(self, socket: Socket, packets: list[Packet],
               info: RequestInfo | None, environ: dict,
               headers: list[tuple[str, str]],
               on_close=None) -> Response:
        """Build the response carrying ``packets`` for this request."""
        jsonp = info.jsonp_index if info is not None else None
        if socket.session.protocol == 4:
            text = encode_payload(packets)
            if jsonp is not None:
                body = encode_jsonp(text, jsonp).encode()
                headers.append(_JAVASCRIPT)
            else:
                body = text.encode()
                headers.append(TEXT_PLAIN)
        else:
            b64 = jsonp is not None or (info is not None and info.b64)
            payload = encode_payload_v3(packets, b64=b64)
            if isinstance(payload, bytes):
                body = payload
                headers.append(_BINARY)
            elif jsonp is not None:
                body = encode_jsonp(payload, jsonp).encode()
                headers.append(_JAVASCRIPT)
            else:
                body = payload.encode()
                headers.append(TEXT_PLAIN)
        if self.compression and len(body) >= self.compression_threshold:
            accept = environ.get('HTTP_ACCEPT_ENCODING')
            if accept:
                body, encoding = compress_body(body, accept)
                if encoding:
                    headers.append(('Content-Encoding', encoding))
        return Response(200, body, headers, on_close)

    # -- GET ----------------------------------------------------------------

    def handle_get(self, socket: Socket, info: RequestInfo, environ: dict,
                   headers: list[tuple[str, str]]) -> Response:
        """Answer at once if packets are queued, else park until some are."""
        session = socket.session
        conflict = False
        with socket._lock:
            # The event exists before poll_waiting can be seen as True.
            if socket._poll_event is None:
                socket._poll_event = self.server.driver.event()
            try:
                packets = session.poll()
            except PollConflict:
                conflict = True
                packets = None
            else:
                if packets is None:
                    socket._poll_event.clear()
        if conflict:
            socket._after_close()
            return error_response(ProtocolError(BAD_REQUEST), headers)
        if packets is None:
            socket._poll_event.wait(self.poll_timeout)
            with socket._lock:
                packets = session.end_poll()
        return self._respond(socket, packets, info, environ, headers)

    def _respond(self, socket: Socket, packets: list[Packet],
                 info: RequestInfo, environ: dict,
                 headers: list[tuple[str, str]]) -> Response:
        session = socket.session
        if session.ready_state.value == 'closed':
            self.server._session_changed(socket)
        socket._packets_flushing(packets)
        return self.encode(socket, packets, info, environ, headers,
                           lambda: socket._packets_written(packets))

    # -- POST ---------------------------------------------------------------

    def handle_post(self, socket: Socket, info: RequestInfo, environ: dict,
                    headers: list[tuple[str, str]]) -> Response:
        """Decode the client's payload and hand its packets on."""
        session = socket.session
        # Register the POST before reading its body, so that a second POST
        # arriving while a slow body streams in is caught as overlapping.
        with socket._lock:
            try:
                session.begin_post()
            except PollConflict:
                conflict = True
            else:
                conflict = False
        if conflict:
            socket._after_close()
            return error_response(ProtocolError(BAD_REQUEST), headers)
        try:
            return self._read_and_receive(socket, info, environ, headers)
        finally:
            with socket._lock:
                session.end_post()

    def _read_and_receive(self, socket: Socket, info: RequestInfo,
                          environ: dict, headers: list[tuple[str, str]]
                          ) -> Response:
        server = self.server
        try:
            body = read_body(environ, self.max_body)
        except BodyTooLarge:
            server.logger.info('%s: POST body over max_http_buffer_size '
                               '(%d bytes); closing', socket.id,
                               self.max_body)
            socket._close(CloseReason.TRANSPORT_ERROR, 'payload too large')
            headers.append(('Connection', 'close'))
            return error_response(
                ProtocolError(BAD_REQUEST, 'Payload too large',
                              http_status=413), headers)
        except BadBody as exc:
            socket._close(CloseReason.TRANSPORT_ERROR, str(exc))
            return error_response(ProtocolError(BAD_REQUEST), headers)
        try:
            packets = self._decode(socket.session.protocol, body, info)
        except DecodeError as exc:
            server.logger.info('%s: undecodable POST (%s); closing',
                               socket.id, exc)
            socket._close(CloseReason.TRANSPORT_ERROR, f'parse error: {exc}')
            return error_response(ProtocolError(BAD_REQUEST), headers)
        server._receive_packets(socket, packets)
        headers.append(TEXT_PLAIN)
        return Response(200, _OK, headers)

    @staticmethod
    def _decode(protocol: int, body: bytes, info: RequestInfo
                ) -> list[Packet]:
        if info.jsonp_index is not None:
            text = decode_jsonp_post(body)
            return (decode_payload(text) if protocol == 4
                    else decode_payload_v3(text))
        if protocol == 4:
            return decode_payload(body)
        return decode_payload_v3(body)


"""HTTP long-polling: GET parks until there is something to send, POST
carries packets from the client.

Only bytes are handled here: request bodies are decoded into packets and
packets encoded into response bodies; the session engine decides what a
GET is answered with and what a POST's packets do.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Iterable

from ..core.packets import DecodeError, Packet
from ..core.payload import (decode_jsonp_post, iter_payload,
                            decode_payload_v3, encode_jsonp, encode_payload,
                            encode_payload_v3)
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from ..wsgi_servers import find
from .wsgi_io import (DEFER_KEY, TEXT_PLAIN, BadBody,
                      BodyTooLarge, Cancellable, Deferred, LaterResponse,
                      Response, compress_body, error_response, read_body)

if TYPE_CHECKING:  # pragma: no cover
    from ..core.handshake import RequestInfo
    from ..drivers import Driver
    from ..port import SessionPort

__all__ = ['PollingTransport']

_BINARY = ('Content-Type', 'application/octet-stream')
_JAVASCRIPT = ('Content-Type', 'text/javascript; charset=UTF-8')
_OK = b'ok'
# A parked GET's environ when the answer needs nothing of it (never
# written to).
_NOTHING_KEPT: dict[str, Any] = {}


class PollingTransport:
    """Serves the GET and POST requests of polling sessions."""

    name = 'polling'

    def __init__(self, config: Any, logger: logging.Logger,
                 driver: Driver) -> None:
        self.logger = logger
        self.driver = driver
        self.max_body = config.max_http_buffer_size
        self.compression = config.http_compression
        self.compression_threshold = config.compression_threshold

    # -- responses ------------------------------------------------------------

    def encode(self, protocol: int, packets: list[Packet],
               info: RequestInfo | None, environ: dict[str, Any],
               headers: list[tuple[str, str]],
               on_close: Any = None, *, b64: bool = False) -> Response:
        """Build the response carrying ``packets`` for this request;
        ``b64``: the v3 session asked for base64 binary (at its handshake,
        which decides for the whole session, as the reference does)."""
        jsonp = info.jsonp_index if info is not None else None
        if protocol == 4:
            text = encode_payload(packets)
            if jsonp is not None:
                body = encode_jsonp(text, jsonp).encode()
                headers.append(_JAVASCRIPT)
            else:
                body = text.encode()
                headers.append(TEXT_PLAIN)
        else:
            b64 = b64 or jsonp is not None
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

    # -- requests -----------------------------------------------------------

    def handle(self, engine: SessionPort, info: RequestInfo,
               environ: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
        """Serve a GET or a POST of a session.

        The engine refuses a request by raising
        :class:`~engineio_sync.exceptions.RemoteProtocolError`, and so does
        a payload that does not decode: it is answered here. These are
        refusals within a session, not refused connections: they are not
        counted or reported as ``connection_error`` (as in the reference
        server, whose transports answer them).
        """
        try:
            if environ['REQUEST_METHOD'] == 'GET':
                return self._get(engine, info, environ, headers)
            return self._post(engine, info, environ, headers)
        except RemoteProtocolError as error:
            return error_response(error, headers)

    def _get(self, engine: SessionPort, info: RequestInfo,
             environ: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
        """Answer with what the engine has, waiting while it has nothing
        (without a task where the WSGI server can answer later)."""
        defer = environ.get(DEFER_KEY)
        if defer is not None:
            parked = _ParkedGet(self, engine, info, environ, headers)
            outcome = engine.park_poll(parked.wake)
            if isinstance(outcome, list):
                return self.answer(engine, outcome, info, environ, headers)
            if outcome is not None:
                handle: Deferred = defer()
                parked.start(handle, outcome)
                return LaterResponse(handle)
        packets = engine.poll(lambda: self._connected(environ))
        if packets is None:
            # The client is gone; this answer reaches nobody.
            return Response(200, b'', headers)
        # eventlet.wsgi writes small bodies only after the iteration ends;
        # with no minimum it writes as it iterates, so the body can tell
        # a failed write (see Response).
        environ['eventlet.minimum_write_chunk_size'] = 0
        return self.answer(engine, packets, info, environ, headers)

    def answer(self, engine: SessionPort, packets: list[Packet],
               info: RequestInfo, environ: dict[str, Any],
               headers: list[tuple[str, str]]) -> Response:
        """The response carrying a GET's ``packets``; the engine hears
        whether it was written."""
        return self.encode(engine.protocol, packets, info, environ,
                           headers,
                           lambda delivered: engine.poll_answered(packets,
                                                                  delivered),
                           b64=engine.b64)

    def _connected(self, environ: dict[str, Any]) -> bool:
        """False once the request's client has closed its connection (when
        the WSGI server lets us see its socket)."""
        hijack = find(environ)
        return hijack is None or not self.driver.peer_closed(hijack.sock)

    def _post(self, engine: SessionPort, info: RequestInfo,
              environ: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
        """Decode the client's payload and hand its packets on."""
        # Register the POST before reading its body, so that a second POST
        # arriving while a slow body streams in is caught as overlapping.
        engine.begin_post()
        try:
            return self._read_and_receive(engine, info, environ, headers)
        finally:
            engine.end_post()

    def _read_and_receive(self, engine: SessionPort, info: RequestInfo,
                          environ: dict[str, Any], headers: list[tuple[str, str]]
                          ) -> Response:
        try:
            body = read_body(environ, self.max_body)
        except BodyTooLarge:
            self.logger.info('%s: POST body over max_http_buffer_size '
                             '(%d bytes)', engine.sid, self.max_body)
            engine.invalid_input('payload too large')
            headers.append(('Connection', 'close'))
            raise RemoteProtocolError(BAD_REQUEST, 'Payload too large',
                                      http_status=413) from None
        except BadBody as exc:
            engine.invalid_input(str(exc))
            raise RemoteProtocolError(BAD_REQUEST) from None
        try:
            # v4 packets are decoded as the engine takes them, so that its
            # pauses in a huge payload spread the decoding as well.
            engine.receive(self._decode(engine.protocol, body, info))
        except DecodeError as exc:
            engine.invalid_input(f'parse error: {exc}')
            raise
        headers.append(TEXT_PLAIN)
        return Response(200, _OK, headers)

    @staticmethod
    def _decode(protocol: int, body: bytes, info: RequestInfo
                ) -> Iterable[Packet]:
        if info.jsonp_index is not None:
            text = decode_jsonp_post(body)
            return (iter_payload(text) if protocol == 4
                    else decode_payload_v3(text))
        if protocol == 4:
            return iter_payload(body)
        return decode_payload_v3(body)


class _ParkedGet:
    """A GET parked without a task: answered through the WSGI server's
    :class:`~engineio_sync.transports.wsgi_io.Deferred` when the engine
    wakes it, when its time is up, or dropped if its client leaves;
    whichever comes first, once."""

    __slots__ = ('transport', 'engine', 'info', 'environ', 'headers',
                 'handle', 'timer', 'state', 'lock')

    # What happened so far: parked before the handle is known, woken then,
    # parked with the handle, over.
    _NEW, _WOKEN, _PARKED, _OVER = range(4)

    def __init__(self, transport: PollingTransport, engine: SessionPort,
                 info: RequestInfo, environ: dict[str, Any],
                 headers: list[tuple[str, str]]) -> None:
        self.transport = transport
        self.engine = engine
        self.info = info
        # Of the request, only what the answer reads (the compression the
        # client accepts, see PollingTransport.encode): the rest of the
        # environ, about a KiB, is not kept while the GET waits.
        accept = environ.get('HTTP_ACCEPT_ENCODING')
        self.environ = _NOTHING_KEPT if accept is None else \
            {'HTTP_ACCEPT_ENCODING': accept}
        self.headers = headers
        self.handle: Deferred | None = None
        self.timer: Cancellable | None = None
        self.state = self._NEW
        self.lock = threading.Lock()

    def start(self, handle: Deferred, timeout: float) -> None:
        """The WSGI server holds the request: wait for the wake-up."""
        with self.lock:
            self.handle = handle
            woken = self.state == self._WOKEN
            self.state = self._OVER if woken else self._PARKED
        if woken:
            self._answer()
            return
        self.timer = handle.call_later(timeout, self.wake)
        handle.on_gone(self._gone)

    def wake(self) -> None:
        """The engine has an answer (or the time is up): any thread."""
        with self.lock:
            state = self.state
            if state == self._NEW:
                self.state = self._WOKEN
                return
            if state != self._PARKED:
                return
            self.state = self._OVER
        self._answer()

    def _gone(self) -> None:
        with self.lock:
            if self.state != self._PARKED:
                return
            self.state = self._OVER
        self._stop_timer()
        self.engine.abandon_poll()

    def _stop_timer(self) -> None:
        timer, self.timer = self.timer, None
        if timer is not None:
            timer.cancel()

    def _answer(self) -> None:
        self._stop_timer()
        handle = self.handle
        assert handle is not None
        engine = self.engine
        try:
            packets = engine.resume_poll()
        except RemoteProtocolError as error:
            response = error_response(error, self.headers)
        else:
            response = self.transport.answer(engine, packets, self.info,
                                              self.environ, self.headers)
        response.send_to(handle)

"""WSGI plumbing shared by the transports: responses, bodies, compression."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from typing import Any, Callable, Iterable, Iterator, Protocol

from ..exceptions import EngineIOError, RemoteProtocolError

__all__ = ['Response', 'BodyTooLarge', 'BadBody', 'read_body',
           'error_response', 'compress_body', 'STATUS_TEXT', 'DEFER_KEY',
           'Deferred', 'Cancellable', 'LaterResponse']

#: Where a WSGI server that can answer a request later, from any thread,
#: without a thread waiting for it, puts its ``defer()`` (engineio_sync's
#: own server on the threading driver's I/O loop).
DEFER_KEY = 'engineio_sync.defer'

STATUS_TEXT = {
    200: '200 OK',
    204: '204 No Content',
    400: '400 Bad Request',
    403: '403 Forbidden',
    404: '404 Not Found',
    413: '413 Payload Too Large',
    500: '500 Internal Server Error',
    503: '503 Service Unavailable',
}

TEXT_PLAIN = ('Content-Type', 'text/plain; charset=UTF-8')
JSON_TYPE = ('Content-Type', 'application/json')


class Cancellable(Protocol):
    """A timer that can be called off."""

    def cancel(self) -> None: ...


class Deferred(Protocol):
    """What ``environ[DEFER_KEY]()`` returns: a request to answer later.
    The application returns it as its WSGI result without calling
    ``start_response``; the connection then waits without a thread."""

    def respond(self, status: str, headers: list[tuple[str, str]],
                body: bytes, done: Callable[[bool], Any] | None) -> None:
        """Answer now (any thread, once); ``done(delivered)`` once the
        bytes were handed to the connection, or could not be."""

    def on_gone(self, callback: Callable[[], Any]) -> None:
        """Have ``callback()`` run if the client leaves before the
        answer."""

    def call_later(self, delay: float, fn: Callable[[], Any]
                   ) -> Cancellable:
        """Run ``fn()`` in ``delay`` seconds (it must not block)."""

    def __iter__(self) -> Iterator[bytes]: ...


class BodyTooLarge(EngineIOError):
    """The request body exceeds the configured limit."""


class BadBody(EngineIOError, ValueError):
    """The request body cannot be read (bad Content-Length, broken stream)."""


class Response:
    """A complete HTTP response.

    ``on_close(delivered)`` runs once the WSGI server is done with it;
    ``delivered`` is False when writing it failed.
    """

    __slots__ = ('status', 'headers', 'body', 'on_close')

    def __init__(self, status: int, body: bytes = b'',
                 headers: list[tuple[str, str]] | None = None,
                 on_close: Callable[[bool], Any] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers if headers is not None else []
        self.on_close = on_close

    def __call__(self, start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        start_response(*self._head())
        if self.on_close is None:
            return [self.body]
        return _ClosingBody(self.body, self.on_close)

    def send_to(self, handle: Deferred) -> None:
        """Answer a deferred request with this response (see
        :class:`Deferred`); ``on_close`` hears whether it was written."""
        handle.respond(*self._head(), self.body, self.on_close)

    def _head(self) -> tuple[str, list[tuple[str, str]]]:
        headers = self.headers
        headers.append(('Content-Length', str(len(self.body))))
        return STATUS_TEXT.get(self.status, str(self.status)), headers


class LaterResponse(Response):
    """A response that ``handle`` will carry later (see
    :class:`Deferred`)."""

    __slots__ = ('handle',)

    def __init__(self, handle: Deferred) -> None:
        super().__init__(200)
        self.handle = handle

    def __call__(self, start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        return self.handle


class _ClosingBody(list[bytes]):
    """A one-chunk WSGI body whose ``close()`` reports whether it was
    written.

    A list, so that servers see a complete response they can send at once.
    A failed write shows in one of two ways: the server closes the body
    while the error unwinds (``sys.exc_info()``: PEP 3333 servers close in
    a ``finally``), or the server iterated, writing as it went, and closed
    before asking for the end of the iteration (it caught the error
    first).
    """

    __slots__ = ('_on_close', '_iterating')

    def __init__(self, body: bytes, on_close: Callable[[bool], Any]) -> None:
        super().__init__((body,))
        self._on_close: Callable[[bool], Any] | None = on_close
        self._iterating = False

    def __iter__(self) -> Iterator[bytes]:
        self._iterating = True
        yield from list.__iter__(self)
        # The server asked for more: what it was handed is written.
        self._iterating = False

    def close(self) -> None:
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback(not self._iterating and sys.exc_info()[0] is None)


def error_response(error: RemoteProtocolError,
                   headers: list[tuple[str, str]] | None = None) -> Response:
    """The reference server's JSON error response."""
    body = json.dumps(error.to_dict(), separators=(',', ':')).encode()
    out = [JSON_TYPE]
    if headers:
        out.extend(headers)
    return Response(error.http_status, body, out)


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read the request body, refusing to hold more than ``limit`` bytes.

    A declared ``Content-Length`` above the limit is refused before any
    byte is read; a chunked (or undeclared) body is read in pieces and
    refused as soon as it passes the limit. A ``Content-Length`` that is
    not 1 to 18 ASCII digits, a body that ends early and a stream that
    fails (the server's ``wsgi.input`` raising OSError or ValueError) are
    :class:`BadBody`.
    """
    stream = environ.get('wsgi.input')
    declared = environ.get('CONTENT_LENGTH')
    length: int | None = None
    if declared:
        # 1 to 18 ASCII digits: int() would also take signs, spaces,
        # underscores and other scripts' digits, and spend time on (or
        # refuse with a different error) thousands of digits.
        if len(declared) > 18 or not declared.isascii() or \
                not declared.isdigit():
            raise BadBody('invalid Content-Length')
        length = int(declared)
        if length > limit:
            raise BodyTooLarge()
    if stream is None:
        return b''
    chunks = []
    total = 0
    try:
        if length is not None:
            if length:
                # Usually the whole body is there in one read.
                chunk = stream.read(length)
                if len(chunk) == length and type(chunk) is bytes:
                    return chunk
                if not chunk:
                    raise BadBody('request body cut short')
                chunks.append(chunk)
                total = len(chunk)
            while total < length:
                chunk = stream.read(min(length - total, 65536))
                if not chunk:
                    raise BadBody('request body cut short')
                chunks.append(chunk)
                total += len(chunk)
        elif 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower() \
                or environ.get('wsgi.input_terminated'):
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise BodyTooLarge()
                chunks.append(chunk)
        else:
            return b''
    except (OSError, ValueError) as exc:
        raise BadBody(str(exc)) from None
    return b''.join(chunks)


def compress_body(body: bytes, accept_encoding: str
                  ) -> tuple[bytes, str | None]:
    """Compress with gzip or deflate if the client accepts one."""
    accepted = [part.split(';', 1)[0].strip().lower()
                for part in accept_encoding.split(',')]
    if 'gzip' in accepted:
        return gzip.compress(body, compresslevel=6, mtime=0), 'gzip'
    if 'deflate' in accepted:
        return zlib.compress(body, 6), 'deflate'
    return body, None

"""Exceptions raised by engineio_sync."""

from __future__ import annotations

__all__ = [
    'EngineIOError',
    'LocalProtocolError',
    'SendBufferFull',
    'RemoteProtocolError',
    'ConfigError',
    'ProtocolError',
    'TRANSPORT_UNKNOWN',
    'UNKNOWN_SID',
    'BAD_HANDSHAKE_METHOD',
    'BAD_REQUEST',
    'FORBIDDEN',
    'UNSUPPORTED_PROTOCOL_VERSION',
]

#: Error codes of the Engine.IO protocol, as the reference server sends them.
TRANSPORT_UNKNOWN = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5

_MESSAGES = {
    TRANSPORT_UNKNOWN: 'Transport unknown',
    UNKNOWN_SID: 'Session ID unknown',
    BAD_HANDSHAKE_METHOD: 'Bad handshake method',
    BAD_REQUEST: 'Bad request',
    FORBIDDEN: 'Forbidden',
    UNSUPPORTED_PROTOCOL_VERSION: 'Unsupported protocol version',
}


class EngineIOError(Exception):
    """Base class of every exception raised by engineio_sync.

    Where callers rely on a standard class, an exception derives from that
    too (``ValueError`` for bad arguments and unreadable bytes, ``KeyError``
    for unknown sessions).
    """


class LocalProtocolError(EngineIOError, ValueError):
    """The application asked for something the server cannot do.

    Raised to the caller at once (an option out of range, text that the
    session's transport cannot carry); nothing went on the wire. It is a
    ``ValueError``, like other bad arguments.
    """



class SendBufferFull(EngineIOError):
    """A send would take a session's queue past ``max_buffered_bytes`` and
    the server's ``on_buffer_full`` policy is ``'fail'`` (or ``'wait'``,
    and no room came within ``write_timeout``): the message was not
    queued. The session stays open; send again once it has drained
    (``socket.buffered_amount`` says how much waits, the ``drain`` event
    when it is below the limit again)."""

class ConfigError(EngineIOError, ValueError):
    """An option given to :class:`~engineio_sync.Server` is invalid (a
    ``ValueError``, like other bad arguments). Raised at construction,
    before anything runs; not a protocol error."""


class RemoteProtocolError(EngineIOError):
    """A request from a client that the protocol refuses.

    ``code`` is one of the protocol's error codes (0-5), ``message`` the text
    sent to the client and ``http_status`` the HTTP status of the response
    (400, or 403 for :data:`FORBIDDEN`). Whatever decides a refusal raises
    it; the server catches it where the request entered and answers with
    it. The application sees it in ``connection_error`` handlers.
    """

    def __init__(self, code: int, message: str | None = None,
                 http_status: int | None = None) -> None:
        self.code = code
        self.message = message if message is not None else _MESSAGES[code]
        if http_status is None:
            http_status = 403 if code == FORBIDDEN else 400
        self.http_status = http_status
        super().__init__(f'{self.code}: {self.message}')

    def to_dict(self) -> dict:
        """The JSON body the reference server sends for this error."""
        return {'code': self.code, 'message': self.message}


#: The name used before the local/remote split; the same class.
ProtocolError = RemoteProtocolError

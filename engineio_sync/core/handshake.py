"""Parse and validate the query of an Engine.IO request.

Pure functions: given the method, the query string and a couple of header
facts, decide what kind of request this is or raise :class:`ProtocolError`
with the code the reference server would send.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from urllib.parse import unquote_plus

from ..exceptions import (BAD_HANDSHAKE_METHOD, BAD_REQUEST,
                          TRANSPORT_UNKNOWN, UNSUPPORTED_PROTOCOL_VERSION,
                          ProtocolError)

__all__ = ['RequestInfo', 'parse_query', 'classify_request', 'generate_sid',
           'poll_limit_for', 'PYTHON_CLIENT_POLL_LIMIT']


class RequestInfo:
    """What an Engine.IO request asks for.

    ``sid`` is ``None`` for a handshake. ``protocol`` is 4 or 3.
    ``jsonp_index`` is the ``j`` parameter (JSONP polling) or ``None``.
    """

    __slots__ = ('method', 'transport', 'sid', 'protocol', 'jsonp_index',
                 'b64')

    def __init__(self, method: str, transport: str, sid: str | None,
                 protocol: int, jsonp_index: str | None = None,
                 b64: bool = False) -> None:
        self.method = method
        self.transport = transport
        self.sid = sid
        self.protocol = protocol
        self.jsonp_index = jsonp_index
        self.b64 = b64

    @property
    def is_handshake(self) -> bool:
        """True when the request opens a new session."""
        return self.sid is None

    def __repr__(self) -> str:
        return (f'RequestInfo({self.method} transport={self.transport} '
                f'sid={self.sid} EIO={self.protocol})')


def parse_query(query_string: str) -> dict[str, str]:
    """Split a query string into a dict; the first value of a key wins."""
    out: dict[str, str] = {}
    if not query_string:
        return out
    if '%' not in query_string and '+' not in query_string:
        # Nothing to unquote (the usual Engine.IO query).
        for part in query_string.split('&'):
            key, _, value = part.partition('=')
            if key not in out and part:
                out[key] = value
        return out
    for part in query_string.split('&'):
        if not part:
            continue
        key, _, value = part.partition('=')
        if '%' in key or '+' in key:
            key = unquote_plus(key)
        if '%' in value or '+' in value:
            value = unquote_plus(value)
        if key not in out:
            out[key] = value
    return out


def classify_request(method: str, query: dict[str, str], *,
                     transports: Collection[str], allow_eio3: bool = False,
                     websocket_upgrade: bool = False) -> RequestInfo:
    """Validate an Engine.IO request; raise :class:`ProtocolError` if bad.

    The checks and their order follow the reference server: transport
    first (code 0), then for a handshake the method (code 2), the Upgrade
    header of a WebSocket handshake (code 3) and the protocol version
    (code 5). Whether ``sid`` names a live session is the caller's question.
    """
    transport = query.get('transport')
    if transport is None or transport not in transports:
        raise ProtocolError(TRANSPORT_UNKNOWN)
    eio = query.get('EIO')
    protocol = 4 if eio == '4' else 3
    jsonp_index = query.get('j')
    if jsonp_index is not None and (
            not jsonp_index.isdigit() or not jsonp_index.isascii()
            or len(jsonp_index) > 9 or transport != 'polling'):
        raise ProtocolError(BAD_REQUEST, 'Invalid JSONP index number')
    b64 = query.get('b64', '') not in ('', '0', 'false')
    sid = query.get('sid') or None
    if sid is None:
        if method != 'GET':
            raise ProtocolError(BAD_HANDSHAKE_METHOD)
        if transport == 'websocket' and not websocket_upgrade:
            raise ProtocolError(BAD_REQUEST)
        if protocol == 3 and not allow_eio3:
            raise ProtocolError(UNSUPPORTED_PROTOCOL_VERSION)
    return RequestInfo(method, transport, sid, protocol, jsonp_index, b64)


#: python-engineio's Client (and so python-socketio's) refuses a polling
#: payload of more than 16 packets (its ``max_decode_packets``).
PYTHON_CLIENT_POLL_LIMIT = 16


def poll_limit_for(user_agent: str | None) -> int | None:
    """How many packets one polling response may carry for this client.

    python-engineio's clients send requests with python-requests or
    aiohttp and refuse payloads of more than 16 packets: theirs get at
    most 16 per response (the rest goes with the next GET). Browsers and
    other clients take any number: None.
    """
    if user_agent and (user_agent.startswith('python-requests/')
                       or 'aiohttp/' in user_agent):
        return PYTHON_CLIENT_POLL_LIMIT
    return None


def generate_sid() -> str:
    """A new session id: 120 bits from the OS's CSPRNG, URL-safe, 20
    characters; unguessable, so a sid is as good as a session token."""
    return secrets.token_urlsafe(15)

"""Cross-origin resource sharing policy: which origins may talk to us."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal, Union

__all__ = ['CorsPolicy', 'same_origin']

# A serialized origin (RFC 6454 §6.2): "null" or scheme "://" host[:port],
# in visible ASCII. Only such a value may be echoed into a response header;
# a WSGI server that lets a bare CR (or worse) through in a header value
# would otherwise let the client inject response headers.
_ORIGIN = re.compile("null|[A-Za-z][-+.A-Za-z0-9]*://[!-~]+")
# Access-Control-Request-Headers: a list of field names (RFC 9110 tokens).
_TOKEN = "[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_FIELD_NAMES = re.compile(f'{_TOKEN}(?:[ \t]*,[ \t]*{_TOKEN})*')

OriginSpec = Union[str, Iterable[str], Callable[[str], bool], Literal[True]]


class CorsPolicy:
    """Decides whether an ``Origin`` is allowed and which CORS headers to send.

    ``origin`` is ``'*'`` (any origin), one origin string, a list of them, or
    a callable ``f(origin) -> bool``.
    """

    __slots__ = ('_any', '_origins', '_check', 'credentials', 'methods',
                 'allowed_headers', 'exposed_headers', 'max_age')

    def __init__(self, origin: OriginSpec = '*', *, credentials: bool = False,
                 methods: Iterable[str] = ('GET', 'POST', 'OPTIONS'),
                 allowed_headers: Iterable[str] | None = None,
                 exposed_headers: Iterable[str] | None = None,
                 max_age: int | None = None) -> None:
        self._any = False
        self._origins: frozenset[str] = frozenset()
        self._check: Callable[[str], bool] | None = None
        if origin is True or origin == '*':
            self._any = True
        elif isinstance(origin, str):
            self._origins = frozenset([origin.rstrip('/')])
        elif callable(origin):
            self._check = origin
        else:
            try:
                origins = [o.rstrip('/') for o in origin]
            except (TypeError, AttributeError):
                raise ValueError(
                    'cors origin must be "*", a string, a list of strings or '
                    f'a callable, not {origin!r}') from None
            if not all(isinstance(o, str) for o in origins):
                raise ValueError('cors origins must be strings')
            self._origins = frozenset(origins)
        self.credentials = bool(credentials)
        self.methods = ', '.join(methods)
        self.allowed_headers = (', '.join(allowed_headers)
                                if allowed_headers else None)
        self.exposed_headers = (', '.join(exposed_headers)
                                if exposed_headers else None)
        if max_age is not None and (not isinstance(max_age, int)
                                    or max_age < 0):
            raise ValueError('cors max_age must be a non-negative int')
        self.max_age = max_age

    def allows(self, origin: str | None) -> bool:
        """True when a request carrying this ``Origin`` header is allowed
        (a malformed ``Origin`` never is)."""
        if origin is None:
            return True
        if _ORIGIN.fullmatch(origin) is None:
            return False
        if self._any:
            return True
        if self._check is not None:
            return bool(self._check(origin))
        return origin.rstrip('/') in self._origins

    def headers(self, origin: str | None, *, preflight: bool = False,
                request_headers: str | None = None) -> list[tuple[str, str]]:
        """Response headers for a request from ``origin``."""
        if origin is None and not self._any:
            return []
        if not self.allows(origin):
            return []
        out: list[tuple[str, str]] = []
        if self._any and not self.credentials:
            out.append(('Access-Control-Allow-Origin', '*'))
        else:
            # Credentials forbid the wildcard, so echo the (allowed) origin.
            if origin is None:
                return []
            out.append(('Access-Control-Allow-Origin', origin))
            out.append(('Vary', 'Origin'))
        if self.credentials:
            out.append(('Access-Control-Allow-Credentials', 'true'))
        if self.exposed_headers and not preflight:
            out.append(('Access-Control-Expose-Headers', self.exposed_headers))
        if preflight:
            out.append(('Access-Control-Allow-Methods', self.methods))
            allowed = self.allowed_headers
            if not allowed and request_headers and \
                    _FIELD_NAMES.fullmatch(request_headers) is not None:
                allowed = request_headers
            if allowed:
                out.append(('Access-Control-Allow-Headers', allowed))
            if self.max_age is not None:
                out.append(('Access-Control-Max-Age', str(self.max_age)))
        return out


def same_origin(origin: str, host: str | None,
                forwarded_host: str | None = None) -> bool:
    """True when ``origin`` names the host the request was sent to.

    The scheme is ignored so that TLS-terminating proxies still match;
    ``X-Forwarded-Host`` is honoured for proxies that rewrite ``Host``.
    A malformed ``origin`` matches nothing.
    """
    if _ORIGIN.fullmatch(origin) is None:
        return False
    _, sep, rest = origin.partition('://')
    if not sep:
        return False
    origin_host = rest.split('/', 1)[0].lower()
    for candidate in (host, forwarded_host):
        if candidate:
            for name in candidate.split(','):
                if name.strip().lower() == origin_host:
                    return True
    return False

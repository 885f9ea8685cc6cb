"""Validated, immutable server options."""

from __future__ import annotations

import json as _stdlib_json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigError
from .cors import CorsPolicy

__all__ = ['ServerConfig', 'CookieConfig', 'KNOWN_TRANSPORTS']

KNOWN_TRANSPORTS = ('polling', 'websocket')


@dataclass(frozen=True)
class CookieConfig:
    """The cookie set on the handshake response, for sticky load balancers."""

    name: str = 'io'
    path: str | None = '/'
    httponly: bool = True
    samesite: str | None = 'Lax'
    secure: bool = False
    max_age: int | None = None
    domain: str | None = None

    def header(self, value: str) -> tuple[str, str]:
        """The ``Set-Cookie`` header carrying ``value``."""
        parts = [f'{self.name}={value}']
        if self.path:
            parts.append(f'Path={self.path}')
        if self.domain:
            parts.append(f'Domain={self.domain}')
        if self.max_age is not None:
            parts.append(f'Max-Age={self.max_age}')
        if self.httponly:
            parts.append('HttpOnly')
        if self.secure:
            parts.append('Secure')
        if self.samesite:
            parts.append(f'SameSite={self.samesite}')
        return ('Set-Cookie', '; '.join(parts))


def _number(name: str, value: Any, *, minimum: float = 0,
            allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f'{name} must be a number of seconds, '
                          f'not {value!r}')
    if value < minimum or (value == 0 and not allow_zero):
        raise ConfigError(f'{name} must be greater than 0, not {value!r}')
    return float(value)


def _cookie(value: Any) -> CookieConfig | None:
    if value is None or value is False:
        return None
    if value is True:
        return CookieConfig()
    if isinstance(value, str):
        return CookieConfig(name=value)
    if isinstance(value, Mapping):
        options = dict(value)
        if 'max_age' not in options and 'maxAge' in options:
            options['max_age'] = options.pop('maxAge')
        try:
            cookie = CookieConfig(**options)
        except TypeError as exc:
            raise ConfigError(f'cookie: {exc}') from None
        if not cookie.name or any(c in cookie.name for c in ';=, \t'):
            raise ConfigError(f'cookie name {cookie.name!r} is not valid')
        if cookie.samesite not in (None, 'Lax', 'Strict', 'None', 'lax',
                                   'strict', 'none'):
            raise ConfigError('cookie samesite must be Lax, Strict or None')
        return cookie
    raise ConfigError('cookie must be False, True, a cookie name or a dict, '
                      f'not {value!r}')


def header_pairs(name: str, value: Any) -> list[tuple[str, str]]:
    """Check extra response headers (a dict or a list of pairs) and return
    them as a list of ``(name, value)`` strings; ValueError if bad."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(k, v) for k, v in items]
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a dict or a list of (name, value) '
                         f'pairs, not {value!r}') from None
    out = []
    for key, val in pairs:
        if isinstance(val, (int, float)) and not isinstance(val, bool):
            val = str(val)
        if not isinstance(key, str) or not isinstance(val, str) or not key \
                or any(c in key for c in ':\r\n \t') \
                or '\r' in val or '\n' in val:
            raise ValueError(f'{name}: invalid header {key!r}: {val!r}')
        out.append((key, val))
    return out


def _headers_option(name: str, value: Any) -> Any:
    if value is None or callable(value):
        return value
    try:
        return tuple(header_pairs(name, value))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip('/') or any(
            c in value for c in '?#\r\n '):
        raise ConfigError(f'path must be a URL path such as "/engine.io", '
                          f'not {value!r}')
    return '/' + value.strip('/')


def _cors(cors: Any, allowed_origins: Any, credentials: Any
          ) -> CorsPolicy | None:
    if cors is None and allowed_origins is not None:
        cors = {'origin': allowed_origins,
                'credentials': bool(credentials)}
    if cors is None or cors is False:
        return None
    if isinstance(cors, CorsPolicy):
        return cors
    if cors is True or isinstance(cors, str) or callable(cors) or (
            isinstance(cors, (list, tuple, set, frozenset))):
        cors = {'origin': cors}
    if not isinstance(cors, Mapping):
        raise ConfigError(f'cors must be a dict of options, not {cors!r}')
    options = dict(cors)
    for js, py in (('allowedHeaders', 'allowed_headers'),
                   ('exposedHeaders', 'exposed_headers'),
                   ('maxAge', 'max_age')):
        if js in options:
            options[py] = options.pop(js)
    if isinstance(options.get('methods'), str):
        options['methods'] = [m.strip() for m in options['methods'].split(',')]
    try:
        return CorsPolicy(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f'cors: {exc}') from None


@dataclass(frozen=True)
class ServerConfig:
    """Every protocol-level option of a server, checked once at construction.

    Build it with :meth:`from_options`, which accepts the keyword arguments
    of :class:`engineio_sync.Server`.
    """

    ping_interval: float = 25.0
    ping_interval_grace: float = 0.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    max_http_buffer_size: int = 1_000_000
    transports: tuple[str, ...] = KNOWN_TRANSPORTS
    allow_upgrades: bool = True
    allow_eio3: bool = False
    http_compression: bool = True
    compression_threshold: int = 1024
    per_message_deflate: bool = False
    cookie: CookieConfig | None = None
    cors: CorsPolicy | None = None
    json: Any = field(default=_stdlib_json)
    initial_packet: str | bytes | None = None
    close_timeout: float = 30.0
    #: the endpoint, normalised without a trailing slash: '/engine.io'
    path: str = '/engine.io'
    add_trailing_slash: bool = True
    #: extra response headers: None, a tuple of pairs, or f(environ)
    headers: Any = None
    initial_headers: Any = None

    @property
    def ping_interval_ms(self) -> int:
        """The ping interval as advertised in the handshake."""
        return round(self.ping_interval * 1000)

    @property
    def ping_timeout_ms(self) -> int:
        """The ping timeout as advertised in the handshake."""
        return round(self.ping_timeout * 1000)

    @classmethod
    def from_options(cls, *, ping_interval: Any = 25, ping_timeout: Any = 20,
                     upgrade_timeout: Any = 10,
                     max_http_buffer_size: Any = 1_000_000,
                     transports: Iterable[str] | None = None,
                     allow_upgrades: bool = True, allow_eio3: bool = False,
                     http_compression: bool = True,
                     compression_threshold: int = 1024,
                     per_message_deflate: bool = False,
                     cookie: Any = None, cors: Any = None,
                     cors_allowed_origins: Any = None,
                     cors_credentials: bool = False,
                     json: Any = None, initial_packet: Any = None,
                     close_timeout: Any = 30, path: Any = '/engine.io',
                     add_trailing_slash: Any = True, headers: Any = None,
                     initial_headers: Any = None) -> ServerConfig:
        """Validate keyword options and return a frozen config."""
        grace = 0.0
        if isinstance(ping_interval, (tuple, list)):
            if len(ping_interval) != 2:
                raise ConfigError('ping_interval must be a number or an '
                                  '(interval, grace) pair')
            ping_interval, grace = ping_interval
            grace = _number('ping_interval grace', grace, allow_zero=True)
        interval = _number('ping_interval', ping_interval)
        timeout = _number('ping_timeout', ping_timeout)
        upgrade = _number('upgrade_timeout', upgrade_timeout)
        closing = _number('close_timeout', close_timeout)
        if (isinstance(max_http_buffer_size, bool)
                or not isinstance(max_http_buffer_size, (int, float))
                or max_http_buffer_size < 1):
            raise ConfigError('max_http_buffer_size must be a positive number '
                              f'of bytes, not {max_http_buffer_size!r}')
        if transports is None:
            names: tuple[str, ...] = KNOWN_TRANSPORTS
        else:
            if isinstance(transports, str):
                transports = [transports]
            names = tuple(transports)
            unknown = [t for t in names if t not in KNOWN_TRANSPORTS]
            if unknown or not names:
                raise ConfigError(
                    f'transports must be a non-empty list drawn from '
                    f'{list(KNOWN_TRANSPORTS)}, not {list(names)!r}')
        if (isinstance(compression_threshold, bool)
                or not isinstance(compression_threshold, int)
                or compression_threshold < 0):
            raise ConfigError('compression_threshold must be a non-negative '
                              'int')
        if json is None:
            json = _stdlib_json
        elif not (callable(getattr(json, 'dumps', None))
                  and callable(getattr(json, 'loads', None))):
            raise ConfigError('json must be a module or object with dumps() '
                              'and loads()')
        if initial_packet is not None and not isinstance(
                initial_packet, (str, bytes, bytearray, memoryview)):
            raise ConfigError('initial_packet must be str or bytes')
        if isinstance(initial_packet, str) and '\x1e' in initial_packet:
            raise ConfigError('initial_packet may not contain U+001E, the '
                              'v4 polling record separator')
        if isinstance(initial_packet, (bytearray, memoryview)):
            initial_packet = bytes(initial_packet)
        if not isinstance(add_trailing_slash, bool):
            raise ConfigError('add_trailing_slash must be True or False')
        for flag, value in (('allow_upgrades', allow_upgrades),
                            ('allow_eio3', allow_eio3),
                            ('http_compression', http_compression),
                            ('per_message_deflate', per_message_deflate)):
            if not isinstance(value, bool):
                raise ConfigError(f'{flag} must be True or False, '
                                  f'not {value!r}')
        return cls(
            ping_interval=interval, ping_interval_grace=grace,
            ping_timeout=timeout, upgrade_timeout=upgrade,
            max_http_buffer_size=int(max_http_buffer_size),
            transports=names, allow_upgrades=bool(allow_upgrades),
            allow_eio3=bool(allow_eio3),
            http_compression=bool(http_compression),
            compression_threshold=compression_threshold,
            per_message_deflate=bool(per_message_deflate),
            cookie=_cookie(cookie),
            cors=_cors(cors, cors_allowed_origins, cors_credentials),
            json=json, initial_packet=initial_packet,
            close_timeout=closing, path=_path(path),
            add_trailing_slash=add_trailing_slash,
            headers=_headers_option('headers', headers),
            initial_headers=_headers_option('initial_headers',
                                            initial_headers))

"""Server options: one registry, validated into an immutable config.

Each keyword option of :class:`engineio_sync.Server` is described once, by
an :class:`Option` in :data:`OPTIONS` (name, default, type annotation,
one-line doc and normaliser). Everything else is derived from that tuple:
the checks of :meth:`ServerConfig.from_options`, the defaults of
:class:`ServerConfig`, the ``Server`` signature (:func:`server_signature`),
its docstring (:func:`options_doc`) and the README's options table
(``tools/options_table.py``).
"""

from __future__ import annotations

import difflib
import inspect
import json as _stdlib_json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..exceptions import ConfigError
from .cors import CorsPolicy

__all__ = ['ServerConfig', 'CookieConfig', 'KNOWN_TRANSPORTS', 'Option',
           'OPTIONS', 'server_signature', 'options_doc', 'header_pairs']

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


# -- per-option normalisers ---------------------------------------------------
#
# Each takes the value a caller passed (or the option's default) and returns
# what the config stores, raising ConfigError for a bad value.

def _unchanged(value: Any) -> Any:
    return value


def _seconds(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        return _number(name, value)
    return check


def _flag(name: str) -> Callable[[Any], bool]:
    # Strict on purpose: 'no' or 0 for a switch is more likely a mistake
    # than a request for False.
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f'{name} must be True or False, not {value!r}')
        return value
    return check


def _callable_or_none(name: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is not None and not callable(value):
            raise ConfigError(f'{name} must be callable')
        return value
    return check


def _async_mode(value: Any) -> str | None:
    # Only the type is checked here; which names exist is the drivers'
    # business, and importing them would make this module impure.
    if value is not None and not isinstance(value, str):
        raise ConfigError(f'async_mode must be a driver name or None, '
                          f'not {value!r}')
    return value


def _ping_interval(value: Any) -> tuple[float, float]:
    """``(interval, grace)``; a plain number has no grace."""
    grace = 0.0
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError('ping_interval must be a number or an '
                              '(interval, grace) pair')
        value, grace = value
        grace = _number('ping_interval grace', grace, allow_zero=True)
    return _number('ping_interval', value), grace


def _buffer_size(value: Any) -> int:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or value < 1):
        raise ConfigError('max_http_buffer_size must be a positive number '
                          f'of bytes, not {value!r}')
    return int(value)


def _buffered_bytes(value: Any) -> int | None:
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or value < 1):
        raise ConfigError('max_buffered_bytes must be a positive number of '
                          f'bytes or None, not {value!r}')
    return int(value)


def _app_threads(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 1 <= value <= 1024:
        raise ConfigError('app_threads must be a whole number from 1 to '
                          f'1024, not {value!r}')
    return value


def _buffer_full(value: Any) -> str:
    if not isinstance(value, str) or value not in ('close', 'fail', 'wait'):
        raise ConfigError("on_buffer_full must be 'close', 'fail' or "
                          f"'wait', not {value!r}")
    return value


def _transports(value: Any) -> tuple[str, ...]:
    if value is None:
        return KNOWN_TRANSPORTS
    if isinstance(value, str):
        value = [value]
    try:
        names = tuple(value)
    except TypeError:
        names = (value,)
    unknown = [t for t in names if t not in KNOWN_TRANSPORTS]
    if unknown or not names:
        raise ConfigError(
            f'transports must be a non-empty list drawn from '
            f'{list(KNOWN_TRANSPORTS)}, not {list(names)!r}')
    return names


def _compression_threshold(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError('compression_threshold must be a non-negative int')
    return value


def _json(value: Any) -> Any:
    if value is None:
        return _stdlib_json
    if not (callable(getattr(value, 'dumps', None))
            and callable(getattr(value, 'loads', None))):
        raise ConfigError('json must be a module or object with dumps() '
                          'and loads()')
    return value


def _initial_packet(value: Any) -> str | bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        if '\x1e' in value:
            raise ConfigError('initial_packet may not contain U+001E, the '
                              'v4 polling record separator')
        return value
    if isinstance(value, (bytearray, memoryview)):
        # A caller's buffer could change after validation; keep a copy.
        return bytes(value)
    raise ConfigError('initial_packet must be str or bytes')


def _cluster(value: Any) -> Any:
    """What the ``cluster`` option is made of is checked by
    :mod:`engineio_sync.cluster` (its URL schemes, its objects) when the
    server joins: only that package knows Redis, and nothing of it loads
    without the option."""
    if isinstance(value, (bool, int, float, bytes)):
        raise ConfigError('cluster must be a Redis URL, a redis-py client '
                          f'or a ClusterOptions, not {value!r}')
    return value


def _headers(name: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        return _headers_option(name, value)
    return check


# -- the registry -------------------------------------------------------------

# A ``literal`` (which may contain spaces) or a run of other non-blanks; the
# doc wrapper never breaks inside one, so literals stay readable as text.
_DOC_WORD = re.compile(r'(?:``.+?``|\S)+')


@dataclass(frozen=True)
class Option:
    """One keyword option of :class:`engineio_sync.Server`.

    ``normalise`` checks a value (raising :class:`ConfigError`) and returns
    what :class:`ServerConfig` stores. ``into`` names the config field an
    alternative spelling is folded into (it then has no field of its own).
    ``shown_default`` replaces ``repr(default)`` in the README table where
    the repr is harder to read (``1000000``).
    """

    name: str
    default: Any
    annotation: str
    doc: str
    normalise: Callable[[Any], Any] = _unchanged
    into: str | None = None
    shown_default: str | None = None

    def __post_init__(self) -> None:
        if not self.doc or '\n' in self.doc or not self.annotation:
            raise ValueError(f'option {self.name!r} needs a one-line doc '
                             'and an annotation')

    @property
    def default_text(self) -> str:
        """The default as the README shows it (RST)."""
        if self.shown_default is not None:
            return self.shown_default
        return f'``{self.default!r}``'

    def doc_lines(self, width: int, first: int | None = None) -> list[str]:
        """:attr:`doc` wrapped to ``width`` columns (``first`` for the first
        line, when a prefix shortens it), never inside a ``literal``; a
        longer word gets a line of its own."""
        lines: list[str] = []
        line = ''
        limit = width if first is None else first
        for word in _DOC_WORD.findall(self.doc):
            if line and len(line) + 1 + len(word) > limit:
                lines.append(line)
                line = word
                limit = width
            else:
                line = f'{line} {word}' if line else word
        lines.append(line)
        return lines


_HEADERS_ANNOTATION = ('Mapping[str, str] | Iterable[tuple[str, str]] '
                       '| Callable[[dict], Any] | None')

#: Every option of :class:`engineio_sync.Server`, in signature order.
OPTIONS: tuple[Option, ...] = (
    Option('async_mode', None, 'str | None',
           "``'eventlet'``, ``'gevent'``, ``'threading'``, or ``None`` to "
           'detect it from the process (monkey-patching or an imported '
           'eventlet)', _async_mode),
    Option('ping_interval', 25, 'float | tuple[float, float]',
           "seconds between the server's pings; also ``(interval, grace)``: "
           'the grace is added to the pong deadline (python-engineio '
           'spelling)', _ping_interval),
    Option('ping_timeout', 20, 'float',
           'seconds to wait for the pong; then the session closes with '
           "reason ``'ping timeout'``", _seconds('ping_timeout')),
    Option('max_http_buffer_size', 1_000_000, 'int',
           'largest POST body or WebSocket message, bytes; advertised to '
           'clients as ``maxPayload``', _buffer_size,
           shown_default='``1_000_000``'),
    Option('transports', None, 'Iterable[str] | None',
           "``['polling', 'websocket']`` or a subset; ``None``: both",
           _transports),
    Option('allow_upgrades', True, 'bool',
           'let polling sessions move to WebSocket; with ``False`` the '
           'handshake offers no upgrades and a WebSocket for a polling '
           'session gets 400', _flag('allow_upgrades')),
    Option('upgrade_timeout', 10, 'float',
           'seconds an upgrade may take before it is cancelled (the session '
           'keeps polling)', _seconds('upgrade_timeout')),
    Option('allow_request', None, 'Callable[[dict], Any] | None',
           '``f(environ)`` run on handshakes and upgrades; return True, or '
           'False / a message / ``(False, message)`` to refuse with 403, '
           'code 4 and that message. ``server.use(f)`` adds more such checks '
           "(the reference's middlewares), run first, in order",
           _callable_or_none('allow_request')),
    Option('generate_id', None, 'Callable[..., str] | None',
           '``f(environ)`` or ``f()`` returning session ids; the default is '
           '120 random bits from ``secrets`` (20 URL-safe characters)',
           _callable_or_none('generate_id')),
    # cors and its two python-engineio spellings are checked together, by
    # _server_fields, because which one applies depends on the others.
    Option('cors', None,
           'bool | str | Iterable[str] | Callable[[str], bool] '
           '| Mapping[str, Any] | CorsPolicy | None',
           '``None``: no CORS headers and only same-origin browsers may '
           "connect. ``'*'``, an origin, a list, a callable, or a dict with "
           '``origin``, ``credentials``, ``methods``, ``allowed_headers``, '
           '``exposed_headers``, ``max_age``. Preflight ``OPTIONS`` gets '
           '204; the WebSocket ``Origin`` is checked too'),
    Option('cors_allowed_origins', None,
           'str | Iterable[str] | Callable[[str], bool] | None',
           'python-engineio spelling of ``cors``, used when ``cors`` is '
           '``None``', into='cors'),
    Option('cors_credentials', False, 'bool',
           'with ``cors_allowed_origins``: allow credentials', into='cors'),
    Option('cookie', None, 'bool | str | Mapping[str, Any] | None',
           '``True`` (``io=<sid>``), a cookie name, or a dict (``name``, '
           '``path``, ``httponly``, ``samesite``, ``secure``, ``max_age``, '
           '``domain``): for sticky load balancers', _cookie),
    Option('http_compression', True, 'bool',
           'gzip/deflate polling responses (by ``Accept-Encoding``) of at '
           'least ``compression_threshold`` bytes',
           _flag('http_compression')),
    Option('compression_threshold', 1024, 'int',
           'bytes; also the threshold of WebSocket compression',
           _compression_threshold),
    Option('per_message_deflate', False, 'bool',
           'negotiate permessage-deflate on WebSockets',
           _flag('per_message_deflate')),
    # Not checked, as before: anything that is not a Logger is taken for
    # its truth value by the server.
    Option('logger', False, 'bool | logging.Logger',
           '``False``: leave the ``engineio_sync`` logger alone; ``True``: '
           'log INFO to stderr; or a ``logging.Logger``'),
    Option('engineio_logger', None, 'bool | logging.Logger | None',
           'python-engineio spelling; overrides ``logger`` unless ``None``',
           into='logger'),
    Option('json', None, 'Any',
           'a module with ``dumps``/``loads``, used by this server only '
           "(never patched globally); ``None``: the standard library's "
           '``json``', _json),
    Option('async_handlers', False, 'bool',
           'run each ``message`` handler in its own task (order across '
           'messages is then not kept)', bool),
    Option('app_threads', 16, 'int',
           'threading driver: the threads of the process\'s worker pool, '
           'which runs every handler and send callback (a session\'s in '
           'order) while one I/O loop thread serves the sockets. A '
           'handler that blocks holds one of them; when all are busy, work '
           'waits in a bounded queue (logged once per spell). Servers of '
           'one process share the pool: the largest value counts',
           _app_threads),
    Option('initial_packet', None, 'str | bytes | None',
           'a message sent right after the open packet', _initial_packet),
    Option('allow_eio3', False, 'bool',
           'accept Engine.IO protocol v3 clients (``engine.io-client`` '
           '2.x/3.x, Socket.IO 2.x)', _flag('allow_eio3')),
    Option('close_timeout', 30, 'float',
           'seconds a server-side close waits for the client to collect its '
           'last packets', _seconds('close_timeout')),
    Option('write_timeout', 20, 'float',
           'seconds a WebSocket may hold bytes its peer does not read; then '
           "the session closes with reason ``'transport error'`` (``write "
           "timed out``). Writes never wait for the peer: a client that stops "
           'reading holds up nobody else', _seconds('write_timeout')),
    Option('max_buffered_bytes', 10_000_000, 'int | None',
           'most bytes of messages a session may hold queued for its client '
           '(text counts a byte per character); ``None``: no limit. What '
           'happens at the limit is ``on_buffer_full``', _buffered_bytes,
           shown_default='``10_000_000``'),
    Option('on_buffer_full', 'close', 'str',
           "``'close'``: the session closes with reason ``'transport "
           "error'`` (``send buffer full``) and ``send`` returns False; "
           "``'fail'``: ``send`` raises ``SendBufferFull`` and the session "
           "stays open; ``'wait'``: ``send`` waits for room (at most "
           '``write_timeout`` seconds, then raises ``SendBufferFull``). The '
           "``drain`` event fires when the queue is below the limit again",
           _buffer_full),
    Option('monitor_clients', None, 'bool | None',
           'accepted for python-engineio compatibility and ignored: '
           'heartbeats always run, from one timer task per server'),
    Option('path', '/engine.io', 'str',
           'where ``WSGIApp`` serves the server when it is given no '
           '``engineio_path``', _path),
    Option('add_trailing_slash', True, 'bool',
           '``True``: the endpoint is ``/engine.io/`` and below '
           '(``/engine.io`` is accepted too); ``False``: exactly '
           '``/engine.io``', _flag('add_trailing_slash')),
    Option('headers', None, _HEADERS_ANNOTATION,
           'extra headers for every HTTP response of the endpoint (polling, '
           'preflight, errors): a dict, a list of pairs, or ``f(environ)`` '
           'returning one (a hook that raises or returns a bad header is '
           'logged and skipped)', _headers('headers')),
    Option('initial_headers', None, _HEADERS_ANNOTATION,
           'the same as ``headers``, for the handshake response only (not '
           'the WebSocket ``101``)', _headers('initial_headers')),
    Option('cluster', None, 'str | Any | None',
           "share sessions between processes and hosts through Redis: "
           "``'redis://host:6379/0'``, a ``redis.Redis`` client, or an "
           '``engineio_sync.cluster.ClusterOptions``; ``None``: sessions '
           'live in this process only (see "Deploying on several workers '
           'and hosts")', _cluster),
)

_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def _server_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn normalised option values into :class:`ServerConfig` fields.

    Options that only mean something together are combined here, and
    nowhere else.
    """
    out = {o.name: values[o.name] for o in OPTIONS if o.into is None}
    out['ping_interval'], out['ping_interval_grace'] = values['ping_interval']
    out['cors'] = _cors(values['cors'], values['cors_allowed_origins'],
                        values['cors_credentials'])
    if values['engineio_logger'] is not None:
        out['logger'] = values['engineio_logger']
    return out


def _unknown_options(names: Iterable[str]) -> ConfigError:
    described = []
    for name in names:
        close = difflib.get_close_matches(name, _BY_NAME, n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        described.append(f'{name!r}{hint}')
    plural = 's' if len(described) > 1 else ''
    return ConfigError(f'unknown Server option{plural} '
                       f'{", ".join(described)}')


# What from_options() produces when given nothing, computed by the same
# path, so a default is written only in its Option.
_DEFAULTS: dict[str, Any] = _server_fields(
    {o.name: o.normalise(o.default) for o in OPTIONS})

_T = TypeVar('_T')


def _defaults_from_registry(cls: type[_T]) -> type[_T]:
    # Runs before @dataclass, which then takes these class attributes as
    # the field defaults. A registry value without a field is a TypeError
    # and a field without a registry value a KeyError, both at import, so
    # the class and OPTIONS cannot drift apart unnoticed.
    declared = set(cls.__annotations__)
    missing = set(_DEFAULTS) - declared
    if missing:
        raise TypeError(f'{cls.__name__} lacks fields for {sorted(missing)}')
    for name in cls.__annotations__:
        setattr(cls, name, _DEFAULTS[name])
    return cls


@dataclass(frozen=True, kw_only=True)
@_defaults_from_registry
class ServerConfig:
    """Every option of a server, checked once at construction.

    Build it with :meth:`from_options`, which accepts the keyword arguments
    of :class:`engineio_sync.Server`. Field defaults come from
    :data:`OPTIONS`, so ``ServerConfig() == ServerConfig.from_options()``.
    Alternative spellings (``cors_allowed_origins``, ``cors_credentials``,
    ``engineio_logger``) have no fields: they are folded into ``cors`` and
    ``logger``.
    """

    ping_interval: float
    #: added to the pong deadline: the second item of ping_interval's pair
    ping_interval_grace: float
    ping_timeout: float
    upgrade_timeout: float
    max_http_buffer_size: int
    transports: tuple[str, ...]
    allow_upgrades: bool
    allow_eio3: bool
    http_compression: bool
    compression_threshold: int
    per_message_deflate: bool
    cookie: CookieConfig | None
    cors: CorsPolicy | None
    json: Any
    initial_packet: str | bytes | None
    close_timeout: float
    write_timeout: float
    max_buffered_bytes: int | None
    on_buffer_full: str
    #: the endpoint, normalised without a trailing slash: '/engine.io'
    path: str
    add_trailing_slash: bool
    #: extra response headers: None, a tuple of pairs, or f(environ)
    headers: Any
    initial_headers: Any
    # Read by the server rather than the protocol core.
    #: a driver name, or None to detect one
    async_mode: str | None
    #: False, True or a logging.Logger (engineio_logger already applied)
    logger: Any
    allow_request: Callable[[dict[str, Any]], Any] | None
    generate_id: Callable[..., str] | None
    async_handlers: bool
    app_threads: int
    #: accepted for python-engineio compatibility; unused
    monitor_clients: bool | None
    #: None, a Redis URL, or an object for engineio_sync.cluster
    cluster: Any

    @property
    def ping_interval_ms(self) -> int:
        """The ping interval as advertised in the handshake."""
        return round(self.ping_interval * 1000)

    @property
    def ping_timeout_ms(self) -> int:
        """The ping timeout as advertised in the handshake."""
        return round(self.ping_timeout * 1000)

    @classmethod
    def from_options(cls, **options: Any) -> ServerConfig:
        """Validate keyword options (those of :func:`server_signature`)
        and return a frozen config; :class:`ConfigError` for an unknown
        name or a bad value."""
        unknown = [name for name in options if name not in _BY_NAME]
        if unknown:
            raise _unknown_options(unknown)
        values = {o.name: o.normalise(options.get(o.name, o.default))
                  for o in OPTIONS}
        return cls(**_server_fields(values))


def server_signature(*, with_self: bool = False) -> inspect.Signature:
    """The signature of ``Server(...)``: every option as a keyword-only
    parameter, in registry order, with its default and annotation.

    With ``with_self`` a leading ``self`` is added, as a signature set on
    ``Server.__init__`` needs one for ``inspect.signature(Server)``.
    """
    params = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY,
                                default=o.default, annotation=o.annotation)
              for o in OPTIONS]
    if with_self:
        params.insert(0, inspect.Parameter(
            'self', inspect.Parameter.POSITIONAL_OR_KEYWORD))
    return inspect.Signature(params, return_annotation='None')


def options_doc(indent: str = '', width: int = 79) -> str:
    """``:param name: doc`` lines for every option, for the ``Server``
    docstring: each line starts with ``indent``, continuation lines with
    four more spaces, and none is longer than ``width``."""
    lines = []
    for option in OPTIONS:
        prefix = f'{indent}:param {option.name}: '
        body = option.doc_lines(width - len(indent) - 4,
                                first=width - len(prefix))
        lines.append(prefix + body[0])
        lines.extend(f'{indent}    {line}' for line in body[1:])
    return '\n'.join(lines) + '\n'

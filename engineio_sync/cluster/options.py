"""How a server reaches Redis and how long what it keeps there lives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..exceptions import ConfigError

__all__ = ['ClusterOptions', 'resolve', 'make_client', 'check_url',
           'parse_sentinel_url']

_ID = re.compile(r'[A-Za-z0-9._:-]{1,100}')

#: The schemes of URLs naming one Redis server.
URL_SCHEMES = ('redis', 'rediss', 'unix')
#: The scheme of URLs naming a Sentinel service.
SENTINEL_SCHEME = 'redis+sentinel'


@dataclass(frozen=True)
class ClusterOptions:
    """The ``cluster`` option of :class:`~engineio_sync.Server` in full.

    Give ``url`` (``redis://``, ``rediss://`` or ``unix://``; or
    ``redis+sentinel://[[user]:password@]host:port[,host:port...][/db[/service]]``
    for the master of a Redis Sentinel ``service``, default ``mymaster``,
    the URL python-socketio's ``RedisManager`` takes) or ``client`` (a
    ``redis.Redis`` built as you need it: Sentinel's ``master_for()``, TLS
    settings, your own pool; its socket timeout, if any, must exceed one
    second, the longest blocking pop used here).

    ``prefix`` starts every key (run several applications on one Redis
    with different prefixes). ``process_id`` names this process in the
    cluster (default: host name, pid and a random part; it must be unique
    among live processes). A process whose liveness key is older than
    ``liveness_ttl`` seconds counts as dead: its sessions end. Session
    directory entries live ``directory_ttl`` seconds unless their owner
    renews them. At most ``inbox_limit`` requests wait in one process's
    inbox; a session whose request finds it full is closed. At most
    ``reply_limit`` replies (answers, and writes for WebSockets it holds
    for other processes) wait for one process to read them; past that
    (the process stopped or overloaded) replies to it are dropped with a
    warning: its waits time out, its WebSockets' sessions close. A request
    sent to another process waits at most ``request_timeout`` seconds
    for that process to take it (long-polls wait for the heartbeat as
    usual). ``max_connections`` bounds this process's pool of
    connections to Redis (when it makes the client).

    ``handover`` (seconds, default 0.5; ``0`` turns it off): a polling
    session whose handshake offers the upgrade may move to the process
    that receives its WebSocket, so that its messages stop crossing
    Redis. Handlers must run in one process per session, so a session
    can move only before any handler ran: its handshake is answered at
    once but its ``connect`` handlers wait until the WebSocket arrives
    (they then run in the WebSocket's process) or ``handover`` seconds
    pass (they run in the handshake's). Packets the client sends
    meanwhile wait too, and reach the handlers after ``connect``, in
    order. Two consequences: a client that never upgrades meets its
    ``connect`` up to ``handover`` seconds later, and a ``connect``
    handler that refuses such a session closes it (the client gets a
    close packet; its handshake was answered already) instead of the
    handshake's 403. A moved session's ``environ`` holds the
    handshake's CGI and ``HTTP_*`` strings and ``wsgi.url_scheme``;
    objects cannot cross processes, so those it held are taken, under
    the same names, from the WebSocket request's environ in the new
    process (an empty ``wsgi.input``); ``engineio_sync.moved_from``
    names the process that answered the handshake. The window is also kept below half the
    server's ``ping_timeout`` so that the client's heartbeat never
    notices a move.
    """

    url: str | None = None
    client: Any = None
    prefix: str = 'engineio'
    process_id: str | None = None
    liveness_ttl: float = 3.0
    directory_ttl: float = 60.0
    inbox_limit: int = 10_000
    reply_limit: int = 100_000
    request_timeout: float = 30.0
    max_connections: int = 64
    handover: float = 0.5

    def __post_init__(self) -> None:
        if (self.url is None) == (self.client is None):
            raise ConfigError('ClusterOptions needs exactly one of url and '
                              'client')
        if self.url is not None:
            check_url(self.url)
        if self.client is not None and not _is_client(self.client):
            raise ConfigError('ClusterOptions client must be a redis-py '
                              f'client (redis.Redis), not {self.client!r}')
        if not isinstance(self.prefix, str) or not _ID.fullmatch(self.prefix):
            raise ConfigError('cluster prefix must be 1-100 letters, digits '
                              f'or ._:- characters, not {self.prefix!r}')
        if self.process_id is not None and not (
                isinstance(self.process_id, str)
                and _ID.fullmatch(self.process_id)):
            raise ConfigError('cluster process_id must be 1-100 letters, '
                              'digits or ._:- characters, not '
                              f'{self.process_id!r}')
        for name in ('liveness_ttl', 'directory_ttl', 'request_timeout'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or value < 1:
                raise ConfigError(f'cluster {name} must be at least 1 '
                                  f'second, not {value!r}')
        if isinstance(self.handover, bool) or not isinstance(
                self.handover, (int, float)) or not 0 <= self.handover <= 10:
            raise ConfigError('cluster handover must be 0 (off) to 10 '
                              f'seconds, not {self.handover!r}')
        if self.directory_ttl < 3 * self.liveness_ttl:
            raise ConfigError('cluster directory_ttl must be at least three '
                              'times liveness_ttl')
        for name in ('inbox_limit', 'reply_limit', 'max_connections'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 2:
                raise ConfigError(f'cluster {name} must be an int of at '
                                  f'least 2, not {value!r}')


def check_url(url: Any) -> None:
    """Raise ConfigError unless ``url`` is a URL redis-py can connect
    to (``redis://``, ``rediss://``, ``unix://``) or a
    ``redis+sentinel://`` URL (see :func:`parse_sentinel_url`)."""
    if not isinstance(url, str):
        raise ConfigError(f'cluster URL must be a str, not {url!r}')
    if url.startswith(SENTINEL_SCHEME + '://'):
        parse_sentinel_url(url)
        return
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f'cluster URL {url!r} is malformed: '
                          f'{exc}') from None
    del port  # read only for its check (a port out of range raises)
    if parts.scheme not in URL_SCHEMES:
        raise ConfigError(
            f'cluster must be a redis://, rediss://, unix:// or '
            f'{SENTINEL_SCHEME}:// URL, not {url!r}')
    if parts.scheme == 'unix':
        if not parts.path:
            raise ConfigError(f'cluster URL {url!r} names no socket path')
        return
    if not parts.hostname:
        raise ConfigError(f'cluster URL {url!r} names no host')
    database = parts.path.strip('/')
    if database and not database.isdigit():
        raise ConfigError(f'cluster URL {url!r}: the database must be a '
                          f'number, not {database!r}')


def _is_client(value: Any) -> bool:
    return all(callable(getattr(value, name, None))
               for name in ('register_script', 'blpop', 'pipeline'))


def resolve(value: Any) -> ClusterOptions:
    """The ``cluster`` option (a URL, a client or options) as options."""
    if isinstance(value, ClusterOptions):
        return value
    if isinstance(value, str):
        return ClusterOptions(url=value)
    if _is_client(value):
        return ClusterOptions(client=value)
    raise ConfigError('cluster must be a Redis URL, a redis-py client or a '
                      f'ClusterOptions, not {value!r}')


#: The service a Sentinel URL without one names (Redis' own example name).
DEFAULT_SERVICE = 'mymaster'
_TIMEOUTS: dict[str, Any] = {'socket_timeout': 5,
                             'socket_connect_timeout': 2}


def make_client(options: ClusterOptions) -> Any:
    """The redis-py client for ``options``: the given one, or one with a
    bounded pool for the URL."""
    if options.client is not None:
        return options.client
    try:
        import redis
    except ImportError:
        raise ConfigError("the cluster option needs redis-py: pip install "
                          "'engineio_sync[redis]'") from None
    url = options.url
    if url is None:
        raise ConfigError('the cluster option needs a Redis URL or a '
                          'redis-py client')
    if url.startswith(SENTINEL_SCHEME + '://'):
        return _sentinel_client(options, url)
    try:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=options.max_connections,
            timeout=5, health_check_interval=30, **_TIMEOUTS)
    except ValueError as exc:
        raise ConfigError(f'cluster URL {options.url!r}: {exc}') from None
    return redis.Redis(connection_pool=pool)


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str,
                                          dict[str, Any]]:
    """``redis+sentinel://[[user]:password@]host:port[,host:port...]
    [/db[/service]]`` as (sentinels, service name, the master's
    connection settings); ConfigError if it is not one."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ConfigError(f'not a {SENTINEL_SCHEME}:// URL: {url!r}')
    userinfo, _, hosts = parts.netloc.rpartition('@')
    sentinels = []
    for address in hosts.split(','):
        host, _, port = address.strip().rpartition(':')
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f'cluster URL {url!r}: sentinels must be '
                              f'host:port, comma-separated, not {address!r}')
        sentinels.append((host.strip('[]'), int(port)))
    settings: dict[str, Any] = {}
    if userinfo:
        user, colon, password = userinfo.partition(':')
        if user:
            settings['username'] = unquote(user)
        if colon:
            settings['password'] = unquote(password)
    path = [part for part in parts.path.split('/') if part]
    if len(path) > 2 or (path and not path[0].isdigit()):
        raise ConfigError(f'cluster URL {url!r}: the path must be '
                          '/<db>/<service name>')
    if path:
        settings['db'] = int(path[0])
    return sentinels, path[1] if len(path) > 1 else DEFAULT_SERVICE, settings


def _sentinel_client(options: ClusterOptions, url: str) -> Any:
    from redis import BlockingConnectionPool
    from redis.sentinel import Sentinel, SentinelConnectionPool

    class BlockingSentinelPool(SentinelConnectionPool,
                               BlockingConnectionPool):
        """The master's connections, found through Sentinel, at most
        ``max_connections`` of them (a caller beyond waits for one)."""

    sentinels, service, settings = parse_sentinel_url(url)
    # The sentinels are asked for the master again whenever a connection
    # to it fails or finds it demoted (redis-py's SentinelConnectionPool).
    sentinel = Sentinel(sentinels, sentinel_kwargs=dict(_TIMEOUTS),
                        **_TIMEOUTS)
    return sentinel.master_for(
        service, connection_pool_class=BlockingSentinelPool,
        max_connections=options.max_connections, timeout=5,
        health_check_interval=30, **settings)



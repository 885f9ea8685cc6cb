"""Sessions shared by several processes and hosts through Redis.

``Server(cluster='redis://host:6379/0')`` (or a redis-py client, or a
:class:`ClusterOptions`) makes a server one process of a cluster: any
process of it serves any request of any session, and
:class:`Emitter` sends to sessions from processes that serve none (a
job, a script). Nothing here is imported unless the ``cluster`` option
is given (or this package imported); it needs redis-py
(``pip install 'engineio_sync[redis]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from ..core.packets import Packet
from ..directory import SessionHost
from ..drivers.base import Driver
from ..exceptions import ConfigError
from .errors import SessionElsewhere
from .options import ClusterOptions, make_client, resolve
from .wire import (BROADCAST, CLOSE, SEND, encode_packets, encode_request,
                   message_packet)

if TYPE_CHECKING:  # imported when used: they need redis-py
    from .directory import ClusterDirectory
    from .store import Store

__all__ = ['ClusterOptions', 'Emitter', 'SessionElsewhere', 'join']


def join(value: Any, *, host: SessionHost, driver: Driver, logger: Any,
         config: Any) -> ClusterDirectory:
    """The :class:`~engineio_sync.cluster.directory.ClusterDirectory` of
    the server ``host`` whose ``cluster`` option is ``value`` (it joins
    the cluster on first use)."""
    options = resolve(value)
    try:
        from .directory import ClusterDirectory
    except ModuleNotFoundError as exc:
        _raise_without_redis(exc)
    return ClusterDirectory(options, host=host, driver=driver,
                            logger=logger, config=config)


class Emitter:
    """Sends to the sessions of a cluster from any Python process.

    ``Emitter('redis://host:6379/0')`` (or a client, or
    :class:`ClusterOptions` with the servers' prefix). Each call is one
    Redis round trip; per emitter, messages to a session keep their
    order. Calls return False when the session is not open (or its
    owner is gone) and raise redis-py's errors when Redis is unreachable.
    """

    def __init__(self, cluster: Any) -> None:
        options = resolve(cluster)
        try:
            from .store import Store
        except ModuleNotFoundError as exc:
            _raise_without_redis(exc)
        self._owns_client = options.client is None
        self.store: Store = Store(make_client(options), options.prefix,
                           directory_ttl=options.directory_ttl,
                           inbox_limit=options.inbox_limit)

    def send(self, sid: str, data: str | bytes | bytearray | memoryview
             ) -> bool:
        """Send a message to session ``sid``."""
        return self.send_packet(sid, message_packet(data))

    def send_packet(self, sid: str, packet: Packet) -> bool:
        """Send a raw :class:`~engineio_sync.Packet` to session ``sid``."""
        return self.store.tell(sid, SEND, encode_packets([packet]))

    def broadcast(self, data: str | bytes | bytearray | memoryview) -> int:
        """Send a message to every session of every process; returns how
        many processes took it."""
        return self.store.broadcast(encode_request(
            BROADCAST, '', encode_packets([message_packet(data)])))

    def disconnect(self, sid: str) -> bool:
        """Close session ``sid`` (its queued messages go first)."""
        return self.store.tell(sid, CLOSE)

    def close(self) -> None:
        """Release the connections of an emitter built from a URL (a
        client given to it stays the caller's)."""
        if self._owns_client:
            self.store.client.close()


def _raise_without_redis(exc: ModuleNotFoundError) -> NoReturn:
    """Say what to install when redis-py is missing (``exc`` is raised
    again if something else is)."""
    if exc.name != 'redis' and not (exc.name or '').startswith('redis.'):
        raise exc
    raise ConfigError("the cluster option needs redis-py: pip install "
                      "'engineio_sync[redis]'") from None

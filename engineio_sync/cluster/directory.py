"""The session directory of a process of a cluster.

:class:`ClusterDirectory` is what a :class:`~engineio_sync.Server` with
the ``cluster`` option asks about sessions (the
:class:`~engineio_sync.directory.SessionDirectory` interface), and what
it offers as ``server.cluster``. It wraps the
:class:`~engineio_sync.directory.LocalDirectory` of the sessions this
process runs and adds the rest, each part in a module of its own:

* :mod:`.membership`: this process's name, liveness and directory
  entries in Redis, and the life of its background tasks;
* :mod:`.owner` (with :mod:`.answers`): the inbox, and other processes'
  requests run on the sessions owned here;
* :mod:`.requester`: requests for sessions owned elsewhere, carried by
  :class:`~.remote.RemoteSession` stand-ins, and their replies;
* :mod:`.handover`: sessions moving to their WebSocket's process.

The process that accepts a handshake owns the session: its engine runs
there, as without a cluster, and every handler runs there. Each process
runs three background tasks whatever its number of sessions: one keeps
it alive (and renews its sessions' directory entries), one takes its
inbox, one its replies. Parked GETs wait on local events, never on a
Redis connection.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from ..core.config import ServerConfig
from ..core.packets import Packet
from ..core.session import SessionSettings
from ..directory import LocalDirectory, SessionHost
from ..drivers import Driver, sockets_cooperate
from ..engine import SessionEngine
from ..exceptions import ConfigError
from ..port import SessionPort
from .answers import Answers
from .handover import Handover
from .membership import Membership
from .options import ClusterOptions, make_client
from .owner import Owner
from .pipelining import AutoPipeline
from .remote import RemoteSession
from .requester import Requester
from .store import Store

__all__ = ['ClusterDirectory']


class ClusterDirectory:
    """This process in the cluster (one per :class:`~engineio_sync.Server`):
    its sessions, and a way to every other process's.

    ``host`` is the server: it opens the sessions that move here and runs
    their deferred connect handlers (see :mod:`.handover`)."""

    defers_connect: bool

    def __init__(self, options: ClusterOptions, *, host: SessionHost,
                 driver: Driver, logger: logging.Logger,
                 config: ServerConfig) -> None:
        if not sockets_cooperate(driver.name):
            # redis-py blocks on the standard library's sockets: unpatched,
            # every Redis call would stall all green threads.
            patch = ('eventlet.monkey_patch()' if driver.name == 'eventlet'
                     else 'gevent.monkey.patch_all()')
            raise ConfigError(
                f'the cluster option with async_mode {driver.name!r} needs '
                f'a monkey-patched process: call {patch} first (gunicorn\'s '
                f'{driver.name} workers do)')
        self.options = options
        self.client = make_client(options)
        self.store = store = Store(
            self.client, options.prefix, directory_ttl=options.directory_ttl,
            inbox_limit=options.inbox_limit, reply_limit=options.reply_limit,
            pipeline=AutoPipeline(self.client, driver))
        self.local = LocalDirectory(logger)
        #: sid -> engine of the sessions this process runs
        self.engines = self.local.engines
        self.membership = membership = Membership(
            options, store, driver=driver, logger=logger)
        self.requester = requester = Requester(
            store, membership, driver=driver, logger=logger,
            # The longest the owner parks a GET.
            poll_wait=SessionSettings.from_config(config).poll_timeout,
            request_timeout=float(options.request_timeout),
            write_timeout=config.write_timeout,
            max_backlog=config.max_buffered_bytes)
        answers = Answers(store, membership, logger)
        #: moves sessions to their WebSocket's process (None: the
        #: ``handover`` option is off, or the server offers no upgrade)
        self.handover: Handover | None = None
        # Kept below half the ping timeout: the client's heartbeat must
        # not notice the wait.
        window = min(float(options.handover), config.ping_timeout / 2)
        if window > 0 and config.allow_upgrades and \
                'websocket' in config.transports:
            self.handover = Handover(
                window, membership=membership, requester=requester,
                answer=answers.answer, host=host, drop=self.local.forget)
        self.defers_connect = self.handover is not None
        self.owner = owner = Owner(self.engines, answers, membership,
                                   self.handover, driver=driver,
                                   logger=logger)
        membership.listen(store.inbox_key, owner.dispatch,
                          'reading the inbox')
        membership.listen(store.wake_key, requester.wake, 'reading replies')
        membership.when_forked(requester.reset)
        membership.when_forked(owner.reset)
        if self.handover is not None:
            membership.when_forked(self.handover.reset)
        membership.when_stopping(requester.release)

    def __repr__(self) -> str:
        return f'<ClusterDirectory {self.process_id}>'

    # -- this process in the cluster (also for the application) ---------------

    @property
    def process_id(self) -> str:
        """This process's name in the cluster (a forked worker takes a
        new one)."""
        return self.membership.process_id

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self.membership.running

    def start(self) -> None:
        """Join the cluster now rather than on first use. Raises
        RedisError when Redis cannot be reached."""
        self.membership.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Leave the cluster: stop the background tasks (waiting up to
        ``timeout`` seconds for them) and remove this process's keys and
        its sessions' directory entries. Sessions still open here stay
        reachable only through this process's own requests."""
        self.membership.stop(timeout)

    def owned_count(self) -> int:
        """How many sessions this process owns."""
        return self.membership.owned_count()

    def broadcast(self, data: Any) -> int:
        """Send a message (str or bytes) to every session of every process
        of the cluster, this one included; returns how many processes took
        it. Raises redis-py's errors when Redis is unreachable."""
        return self.requester.broadcast(data)

    # -- the session directory ------------------------------------------------

    def elsewhere(self, sid: str) -> RemoteSession:
        """The stand-in of a session this process does not run; raises
        the error to refuse the request with."""
        return self.requester.stand_in(sid)

    def register(self, sid: str, protocol: int, b64: bool) -> None:
        """Enter a session whose handshake is here in the directory;
        raises a 503 refusal when Redis is unreachable."""
        self.membership.register(sid, protocol, b64)

    def unregister(self, sid: str) -> None:
        """Whatever this process holds about its session ``sid`` goes:
        its directory entry, its requests from other processes (a
        registered handshake failed, or the session is over)."""
        self.owner.forget(sid)
        self.membership.unregister(sid)

    def forget(self, engine: SessionEngine) -> None:
        """A session of this process is over (or it moved away)."""
        self.unregister(engine.sid)
        self.local.forget(engine)

    def defer(self, engine: SessionEngine, environ: dict) -> None:
        """A polling handshake was answered: its connect handlers wait
        for the handover."""
        if self.handover is None:
            raise RuntimeError('the handover is off: connect is not '
                               'deferred')
        self.handover.defer(engine, environ)

    def upgrading(self, port: SessionPort, environ: dict) -> SessionPort:
        """A WebSocket request (``environ``) for ``port``'s session: the
        port to serve it with (the session may settle, or move here)."""
        if self.handover is None:
            return port
        return self.handover.upgrading(port, environ)

    def send_message(self, sid: str, data: Any) -> bool:
        """Send a message (str or bytes) to a session owned elsewhere;
        False if it is not known."""
        return self.requester.send_message(sid, data)

    def send_packets(self, sid: str, packets: list[Packet]) -> bool:
        """Send packets to a session owned elsewhere (in order); False if
        it is not known."""
        return self.requester.send(sid, packets)

    def disconnect(self, sid: str) -> bool:
        """Close a session owned elsewhere; False if it is not known."""
        return self.requester.disconnect(sid)

    def session_missing(self, sid: str) -> NoReturn:
        """Raise :class:`~.errors.SessionElsewhere` naming the owner of
        ``sid``, or a KeyError if no process has it."""
        self.requester.session_missing(sid)

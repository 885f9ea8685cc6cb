"""This process's membership of a cluster: its name and liveness key, the
directory entries of the sessions it owns, and the life of its
background tasks.

A process joins on first use (a handshake, or a request for another
process's session), afresh in a forked worker under a new name. While it
is a member one task keeps its liveness key fresh (and its sessions'
directory entries), and one task per list it listens to (its inbox, its
replies) takes what arrives there.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import time
from typing import Any, Callable

from redis.exceptions import RedisError

from ..drivers.base import Driver
from ..exceptions import BAD_REQUEST, RemoteProtocolError
from .options import ClusterOptions
from .store import Store
from .wire import WireError

__all__ = ['Membership', 'default_process_id']

# After a failed Redis call, background tasks wait this long to retry.
_RETRY = 0.5


def default_process_id() -> str:
    """Host name, pid and a random part: unique among live processes."""
    host = ''.join(c if c.isalnum() or c in '.-' else '-'
                   for c in socket.gethostname())[:40] or 'host'
    return f'{host}-{os.getpid()}-{secrets.token_hex(3)}'


class Membership:
    """One process of the cluster: ``store`` is its Redis."""

    def __init__(self, options: ClusterOptions, store: Store, *,
                 driver: Driver, logger: logging.Logger) -> None:
        self.options = options
        self.store = store
        self.driver = driver
        self.logger = logger
        #: this process's name in the cluster
        self.process_id = options.process_id or default_process_id()
        # sid -> (protocol, b64) of the sessions this process owns
        self._owned: dict[str, tuple[int, bool]] = {}
        # (key of a process id, handler, what it is doing) of each list
        # a task takes while this process is a member
        self._lists: list[tuple[Callable[[str], str],
                                Callable[[bytes], None], str]] = []
        self._forked_hooks: list[Callable[[], None]] = []
        self._stopping_hooks: list[Callable[[], None]] = []
        self._lock = driver.lock()
        self._started_in: int | None = None
        self._tasks: list[Any] = []
        self._stopping = driver.event()
        self._running = False
        self._failing = False
        # Set in a forked child, whose parent's tasks did not come along:
        # the next request starts this process afresh (checked on every
        # request, so without a system call).
        self._forked = [False]
        os.register_at_fork(
            after_in_child=lambda forked=self._forked: forked.__setitem__(
                0, True))

    def __repr__(self) -> str:
        return f'<Membership {self.process_id}>'

    # -- what the other parts of the process plug in --------------------------

    def listen(self, key: Callable[[str], str],
               handle: Callable[[bytes], None], doing: str) -> None:
        """While a member, take list ``key(process_id)`` and hand each
        item to ``handle`` (``doing`` names it in warnings)."""
        self._lists.append((key, handle, doing))

    def when_forked(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when a forked worker starts afresh: the parent's
        sessions and requests stayed there."""
        self._forked_hooks.append(hook)

    def when_stopping(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when this process leaves, before its tasks end."""
        self._stopping_hooks.append(hook)

    # -- life -----------------------------------------------------------------

    def start(self) -> None:
        """Announce this process and start its background tasks (once per
        OS process: a forked worker starts afresh under a new id).

        Raises RedisError when Redis cannot be reached."""
        if self._running and not self._forked[0]:
            return
        pid = os.getpid()
        with self._lock:
            if self._running and self._started_in == pid:
                return
            if self._started_in is not None and self._started_in != pid:
                # A fork: the parent's tasks and sessions stayed there.
                if self.options.process_id is None:
                    self.process_id = default_process_id()
                self._owned.clear()
                for hook in self._forked_hooks:
                    hook()
            self.store.keep_alive(self.process_id, self.options.liveness_ttl)
            self._started_in = pid
            self._forked[0] = False
            self._running = True
            self._stopping.clear()
        spawn = self.driver.spawn
        self._tasks = [spawn(self._keep_alive)] + [
            spawn(self._take, key, handle, doing)
            for key, handle, doing in self._lists]
        self.logger.info('cluster: process %s joined (prefix %s)',
                         self.process_id, self.options.prefix)

    def stop(self, timeout: float = 3.0) -> None:
        """Leave the cluster: stop the background tasks (waiting up to
        ``timeout`` seconds for them) and remove this process's keys and
        its sessions' directory entries."""
        if not self._running:
            return
        self._running = False
        self._stopping.set()
        for hook in self._stopping_hooks:
            hook()
        store = self.store
        try:
            # Wake the blocked pops at once rather than at their time-out.
            for key, _handle, _doing in self._lists:
                store.nudge(key(self.process_id))
        except RedisError:
            pass
        deadline = time.monotonic() + timeout
        for task in self._tasks:
            task.join(max(0.0, deadline - time.monotonic()))
        self._tasks = []
        try:
            store.leave(self.process_id, list(self._owned))
        except RedisError as exc:
            self.logger.warning('cluster: leaving failed: %s', exc)
        self.logger.info('cluster: process %s left', self.process_id)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    def failed(self, doing: str, exc: Exception) -> None:
        """Redis failed while ``doing``: warned once a spell."""
        if not self._failing:
            self._failing = True
            self.logger.warning('cluster: Redis failed while %s: %s', doing,
                                exc)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            self.logger.warning('cluster: Redis answers again')
            # Redis may have restarted empty: enter our sessions again.
            self._reregister()

    def _keep_alive(self) -> None:
        options = self.options
        interval = options.liveness_ttl / 3
        renew_every = max(1, int(options.directory_ttl / 3 / interval))
        started_in = self._started_in
        for tick in itertools.count(1):
            self._stopping.wait(interval)
            if not self._running or self._started_in != started_in:
                return
            try:
                self.store.keep_alive(self.process_id, options.liveness_ttl)
                if tick % renew_every == 0 and self._owned:
                    missing = self.store.renew(list(self._owned))
                    self._reregister(missing)
                self._recovered()
            except RedisError as exc:
                self.failed('keeping this process alive', exc)

    def _reregister(self, sids: Any = None) -> None:
        owned = self._owned
        for sid in list(owned if sids is None else sids):
            facts = owned.get(sid)
            if facts is not None:
                self.store.register(sid, self.process_id, *facts)

    def _take(self, key_of: Callable[[str], str],
              handle: Callable[[bytes], None], doing: str) -> None:
        """Pop list ``key_of(process_id)`` while running, handing each
        item on (all that wait are taken in one round trip)."""
        started_in = self._started_in
        pop, pop_ready = self.store.pop, self.store.pop_ready
        hot = False
        while self._running and self._started_in == started_in:
            key = key_of(self.process_id)
            try:
                # While items keep coming, the next ones are taken with
                # the other commands of this process (no round trip of
                # their own); once the list is empty, a blocking pop.
                items = pop_ready(key) if hot else None
                if not items:
                    items = pop(key, 1)
                hot = bool(items)
            except Exception as exc:
                if not self._running:
                    return
                if isinstance(exc, RedisError):
                    self.failed(doing, exc)
                else:
                    self.logger.exception('cluster: %s failed', doing)
                self.driver.sleep(_RETRY)
                continue
            if not self._running:
                return
            for raw in items:
                if not raw:  # stop()'s wake-up
                    continue
                try:
                    handle(raw)
                except WireError as exc:
                    self.logger.warning('cluster: dropped a malformed '
                                        'message: %s', exc)

    # -- the sessions this process owns ---------------------------------------

    def register(self, sid: str, protocol: int, b64: bool) -> None:
        """A handshake here: enter the session in the directory; raises
        the error to refuse it with (Redis unreachable: 503)."""
        try:
            self.start()
            self.store.register(sid, self.process_id, protocol, b64)
            if self._failing:
                # Redis may be another server now (a failover, a restart):
                # be alive there at once, not at the next renewal, lest
                # the session's owner look gone.
                self.store.keep_alive(self.process_id,
                                      self.options.liveness_ttl)
        except RedisError as exc:
            self.failed('registering a session', exc)
            raise RemoteProtocolError(BAD_REQUEST,
                                      'Session store unavailable',
                                      http_status=503) from None
        self._owned[sid] = (protocol, b64)

    def unregister(self, sid: str) -> None:
        """A session owned here is over: remove it from the directory."""
        if self._owned.pop(sid, None) is None:
            return
        try:
            self.store.unregister(sid)
        except RedisError as exc:
            # Its entry expires by itself.
            self.failed('removing a session', exc)

    def adopted(self, sid: str, protocol: int, b64: bool) -> None:
        """A session moved here: its directory entry names this process
        already; renew it from now on."""
        self._owned[sid] = (protocol, b64)

    def disowned(self, sid: str) -> None:
        """A session moved away: its directory entry is the new owner's."""
        self._owned.pop(sid, None)

    def owned_count(self) -> int:
        """How many sessions this process owns."""
        return len(self._owned)

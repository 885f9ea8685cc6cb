"""The asking side of a process: requests for sessions other processes
own, and the replies that come back.

A request goes to the owner's inbox in one script that checks the
session and its owner (see :class:`~.store.Store`); the asker waits on a
local event that the reply task sets when the reply arrives on this
process's wake list. That list also carries what owners write on the
WebSockets this process holds for their sessions.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from typing import Any, Callable, NoReturn

from redis.exceptions import RedisError

from ..core.packets import Packet
from ..drivers.base import Driver
from ..exceptions import BAD_REQUEST, UNKNOWN_SID, RemoteProtocolError
from .errors import SessionElsewhere
from .membership import Membership
from .remote import RemoteSession
from .store import FULL, OWNER_GONE, QUEUED, UNKNOWN, Forwarded, Store
from .wire import (ABANDON, ABANDONED, BROADCAST, CLOSE, CLOSE_FRAME, CUT,
                   OVERFLOW, SEND, WRITE, Reply, decode_packets,
                   decode_reply, encode_packets, encode_request,
                   message_packet)

__all__ = ['Requester']

# How often a requester waiting for an owner checks that it still lives.
_CHECK_EVERY = 1.0
# Sessions of other processes whose owner and protocol are remembered.
_FACTS_KEPT = 10_000


class _Waiter:
    __slots__ = ('event', 'reply')

    def __init__(self, event: Any) -> None:
        self.event = event
        self.reply: Reply | None = None


class Requester:
    """Carries this process's requests to session owners (the
    :class:`~.remote.Carrier` of its :class:`RemoteSession` stand-ins).

    ``max_backlog``: bytes a WebSocket held here for another process's
    session may leave unread before it is cut (None: no limit)."""

    def __init__(self, store: Store, membership: Membership, *,
                 driver: Driver, logger: logging.Logger, poll_wait: float,
                 request_timeout: float, write_timeout: float,
                 max_backlog: int | None) -> None:
        self.store = store
        self.membership = membership
        #: the driver of this process
        self.driver = driver
        self.logger = logger
        #: seconds a GET here waits for the owner's answer
        self.poll_wait = poll_wait
        #: seconds a POST here waits for the owner to take its packets
        self.request_timeout = request_timeout
        #: seconds a WebSocket held here may leave written bytes unread
        self.write_timeout = write_timeout
        self.max_backlog = max_backlog
        # sid -> (owner, protocol, b64) of other processes' sessions
        self._facts: OrderedDict[str, tuple[str, int, bool]] = OrderedDict()
        self._waiters: dict[str, _Waiter] = {}
        # channel -> (RemoteSession, sink): WebSockets held here for
        # sessions owned elsewhere
        self._channels: dict[str, tuple[RemoteSession, Any]] = {}
        self._tokens = itertools.count()

    def __repr__(self) -> str:
        return f'<Requester of {self.membership.process_id}>'

    def reset(self) -> None:
        """Forget every request and WebSocket (a forked worker)."""
        self._facts.clear()
        self._waiters.clear()
        self._channels.clear()

    def release(self) -> None:
        """End every wait (this process leaves): they raise
        ``Session ID unknown``."""
        for token, waiter in list(self._waiters.items()):
            self._waiters.pop(token, None)
            waiter.event.set()

    # -- replies --------------------------------------------------------------

    def wake(self, raw: bytes) -> None:
        """A message of this process's wake list: a reply to a waiting
        request, or a write for a WebSocket held here."""
        reply = decode_reply(raw)
        waiter = self._waiters.pop(reply.token, None)
        if waiter is not None:
            waiter.reply = reply
            waiter.event.set()
            return
        held = self._channels.get(reply.token)
        if held is None:
            self.logger.debug('cluster: a late reply was dropped')
            return
        remote, sink = held
        status = reply.status
        if status == WRITE:
            with remote.write_lock:
                ok = sink.write_packets(decode_packets(reply.body))
            limit = self.max_backlog
            if not ok or (limit is not None and sink.backlog > limit):
                # The reader ends and reports it to the owner.
                sink.shutdown()
        elif status == CLOSE_FRAME:
            with remote.write_lock:
                sink.send_close()
        elif status == CUT:
            sink.shutdown()

    def open_channel(self, remote: RemoteSession, sink: Any) -> str:
        """Name a WebSocket held here for a session owned elsewhere."""
        channel = f'c{next(self._tokens)}'
        self._channels[channel] = (remote, sink)
        return channel

    def close_channel(self, channel: str) -> None:
        """That WebSocket is over."""
        self._channels.pop(channel, None)

    # -- requests -------------------------------------------------------------

    def facts(self, sid: str) -> tuple[str, int, bool] | None:
        """(owner, protocol, b64) of another process's session, or None
        if the directory does not know it. Raises RedisError."""
        facts = self._facts.get(sid)
        if facts is None:
            facts = self.store.lookup(sid)
            if facts is None:
                return None
            self._facts[sid] = facts
            if len(self._facts) > _FACTS_KEPT:
                self._facts.popitem(last=False)
        return facts

    def _check_forwarded(self, sid: str, sent: Forwarded) -> None:
        """Raise the refusal for a request that could not be queued."""
        if sent.status == QUEUED:
            return
        self._facts.pop(sid, None)
        if sent.status == UNKNOWN:
            raise RemoteProtocolError(UNKNOWN_SID)
        if sent.status == OWNER_GONE:
            self.logger.info('%s: owner %s is gone', sid, sent.owner)
            raise RemoteProtocolError(UNKNOWN_SID)
        if sent.status == FULL:
            raise RemoteProtocolError(BAD_REQUEST, 'Session owner '
                                      'overloaded', http_status=503)
        raise RemoteProtocolError(BAD_REQUEST)

    def call(self, sid: str, kind: bytes, body: bytes, wait: float,
             connected: Callable[[], bool] | None = None) -> Reply | None:
        """Send a request to ``sid``'s owner and wait up to ``wait``
        seconds for its reply: the reply, or None on time-out; a refusal
        is raised. An owner that stops renewing its liveness meanwhile,
        or Redis failing, ends the wait with ``Session ID unknown``. Once
        ``connected()`` is False (the asking client went away) the owner
        is told to drop the request and :data:`ABANDONED` returned."""
        membership = self.membership
        token = str(next(self._tokens))
        waiter = _Waiter(self.driver.event())
        self._waiters[token] = waiter
        try:
            try:
                sent = self.store.forward(
                    sid, encode_request(kind, sid, body,
                                        membership.process_id, token),
                    encode_request(OVERFLOW, sid))
            except RedisError as exc:
                membership.failed('forwarding a request', exc)
                raise RemoteProtocolError(UNKNOWN_SID) from None
            self._check_forwarded(sid, sent)
            owner = sent.owner or ''
            deadline = time.monotonic() + wait
            while not waiter.event.wait(
                    min(_CHECK_EVERY, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    self.logger.warning('%s: owner %s did not answer within '
                                        '%.0fs', sid, owner, wait)
                    return None
                try:
                    alive = self.store.is_alive(owner)
                except RedisError as exc:
                    membership.failed('checking an owner', exc)
                    alive = False
                if not alive or not membership.running:
                    self._facts.pop(sid, None)
                    raise RemoteProtocolError(UNKNOWN_SID)
                if connected is not None and not connected():
                    self.tell(sid, ABANDON, b'', token)
                    return ABANDONED
            if waiter.reply is None:  # release() woke it
                raise RemoteProtocolError(UNKNOWN_SID)
            return waiter.reply
        finally:
            self._waiters.pop(token, None)

    def tell(self, sid: str, kind: bytes, body: bytes = b'',
             token: str = '') -> bool:
        """Send a request that needs no reply (``token``: which of this
        process's WebSockets it comes from); False if the session is
        unknown, its owner gone or Redis unreachable."""
        try:
            return self.store.tell(
                sid, kind, body,
                self.membership.process_id if token else '', token)
        except RedisError as exc:
            self.membership.failed('forwarding a request', exc)
            return False

    # -- what the application and the transports ask --------------------------

    def stand_in(self, sid: str) -> RemoteSession:
        """The stand-in of a session this process does not have, for its
        transports; raises the error to refuse the request with."""
        try:
            self.membership.start()
            facts = self.facts(sid)
        except RedisError as exc:
            self.membership.failed('looking a session up', exc)
            raise RemoteProtocolError(UNKNOWN_SID) from None
        if facts is None:
            raise RemoteProtocolError(UNKNOWN_SID)
        return RemoteSession(self, sid, *facts)

    def session_missing(self, sid: str) -> NoReturn:
        """Raise what the application gets when it asks this process for
        the data of session ``sid``, which it does not have: a
        :class:`SessionElsewhere` naming the owner, or a plain KeyError
        if no process has it (or the directory cannot be read)."""
        try:
            facts = self.store.lookup(sid)
        except RedisError as exc:
            self.membership.failed('looking a session up', exc)
            raise KeyError(f'session {sid} is not known here (the session '
                           f'directory is unreachable: {exc})') from None
        if facts is None or facts[0] == self.membership.process_id:
            raise KeyError(f'session {sid} is not known')
        raise SessionElsewhere(sid, facts[0])

    def send(self, sid: str, packets: list[Packet]) -> bool:
        """Send packets to a session owned elsewhere (in order); False if
        it is not known."""
        return self.tell(sid, SEND, encode_packets(packets))

    def send_message(self, sid: str, data: Any) -> bool:
        """Send a message (str or bytes) to a session owned elsewhere."""
        return self.send(sid, [message_packet(data)])

    def broadcast(self, data: Any) -> int:
        """Send a message (str or bytes) to every session of every process
        of the cluster, this one included; returns how many processes took
        it. Raises redis-py's errors when Redis is unreachable."""
        return self.store.broadcast(encode_request(
            BROADCAST, '', encode_packets([message_packet(data)])))

    def disconnect(self, sid: str) -> bool:
        """Close a session owned elsewhere; False if it is not known."""
        return self.tell(sid, CLOSE)

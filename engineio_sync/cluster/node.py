"""One process's part in a cluster: the owner's inbox, the requester's
wake list, liveness, the session directory.

The process that accepts a handshake owns the session: its engine runs
there, as without a cluster, and every handler runs there. A request for
the session that lands on another process is carried to the owner
through its inbox (a Redis list) by a :class:`RemoteSession`; the owner
answers on the asker's wake list. Each process runs three background
tasks whatever its number of sessions: one keeps it alive (and renews
its sessions' directory entries), one takes its inbox, one its replies.
Parked GETs wait on local events, never on a Redis connection.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping

from redis.exceptions import RedisError

from ..core.packets import Packet
from ..core.session import CloseReason
from ..drivers import sockets_cooperate
from ..exceptions import (BAD_REQUEST, UNKNOWN_SID, ConfigError,
                          RemoteProtocolError, SendBufferFull)
from .errors import SessionElsewhere
from .handover import Handover
from .options import ClusterOptions, make_client
from .pipelining import AutoPipeline
from .proxysink import ProxySink, decode_ending
from .remote import RemoteSession
from .serial import SerialRunner
from .store import FULL, OWNER_GONE, QUEUED, UNKNOWN, Forwarded, Store
from .wire import (ABANDON, ABANDONED, ANSWERED, ATTACH, BROADCAST, CLOSE,
                   CLOSE_FRAME, CUT, ERROR, HANDOVER, INVALID, OK, OVERFLOW,
                   PACKETS,
                   POLL, POST, SEND, UPGRADE, WRITE, WS_ENDED, WS_INVALID,
                   WS_PACKET, Reply, Request, WireError, decode_packets,
                   decode_reply, decode_request, encode_error,
                   encode_packets, encode_reply, encode_request,
                   message_packet)

__all__ = ['ClusterNode']

# How often a requester waiting for an owner checks that it still lives.
_CHECK_EVERY = 1.0
# Sessions of other processes whose owner and protocol are remembered.
_FACTS_KEPT = 10_000
# After a failed Redis call, background tasks wait this long to retry.
_RETRY = 0.5


_WEBSOCKET_KINDS = frozenset((UPGRADE, ATTACH, WS_PACKET, WS_INVALID,
                              WS_ENDED))


class _Waiter:
    __slots__ = ('event', 'reply')

    def __init__(self, event: Any) -> None:
        self.event = event
        self.reply: Reply | None = None


def default_process_id() -> str:
    """Host name, pid and a random part: unique among live processes."""
    host = ''.join(c if c.isalnum() or c in '.-' else '-'
                   for c in socket.gethostname())[:40] or 'host'
    return f'{host}-{os.getpid()}-{secrets.token_hex(3)}'


class ClusterNode:
    """This process in the cluster (one per :class:`~engineio_sync.Server`).

    ``sessions`` maps the sids of this process's sessions to their
    engines (the server's table, read only). A
    request for another process's session is served by this process's
    transports through the :class:`RemoteSession` of :meth:`session`.
    """

    def __init__(self, options: ClusterOptions, *, driver: Any,
                 logger: logging.Logger, config: Any,
                 sessions: Mapping[str, Any]) -> None:
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
        self.store = Store(self.client, options.prefix,
                           directory_ttl=options.directory_ttl,
                           inbox_limit=options.inbox_limit,
                           reply_limit=options.reply_limit,
                           pipeline=AutoPipeline(self.client, driver))
        self.driver = driver
        self.logger = logger
        self.sessions = sessions
        #: seconds a WebSocket held here may leave written bytes unread
        self.write_timeout = config.write_timeout
        # Past this many unread bytes a WebSocket held here is cut.
        self._max_backlog = config.max_buffered_bytes or 10_000_000
        #: seconds a GET here waits for the owner's answer: the owner
        #: answers a parked GET within its ping interval
        self.poll_wait = (config.ping_interval + config.ping_interval_grace
                          + config.ping_timeout + 5)
        #: seconds a POST here waits for the owner to take its packets
        self.request_timeout = float(options.request_timeout)
        #: this process's name in the cluster
        self.process_id = options.process_id or default_process_id()
        # sid -> (protocol, b64) of the sessions this process owns
        self._owned: dict[str, tuple[int, bool]] = {}
        # sid -> (owner, protocol, b64) of other processes' sessions
        self._facts: OrderedDict[str, tuple[str, int, bool]] = OrderedDict()
        self._waiters: dict[str, _Waiter] = {}
        # (asker, token) of GETs parked here for other processes, and of
        # those whose client went away
        self._parked: set[tuple[str, str]] = set()
        self._abandoned: set[tuple[str, str]] = set()
        # sid -> {(asker, token): packets}: answers of GETs of other
        # processes, until they report them written (or not)
        self._answers: dict[str, dict[tuple[str, str], list[Packet]]] = {}
        # channel -> (RemoteSession, sink): WebSockets held here for
        # sessions owned elsewhere
        self._channels: dict[str, tuple[RemoteSession, Any]] = {}
        # sid -> {(holder, channel): ProxySink}: WebSockets of sessions
        # owned here, held elsewhere
        self._proxies: dict[str, dict[tuple[str, str], ProxySink]] = {}
        self._tokens = itertools.count()
        self._lock = driver.lock()
        self._serial = SerialRunner(driver.start, driver.lock(), logger)
        self._started_in: int | None = None
        self._tasks: list[Any] = []
        self._stopping = driver.event()
        self._running = False
        self._failing = False
        # Processes whose reply list was found full (warned once a spell).
        self._full: set[str] = set()
        # Set in a forked child, whose parent's tasks did not come along:
        # the next request starts this process afresh (checked on every
        # request, so without a system call).
        self._forked = [False]
        os.register_at_fork(
            after_in_child=lambda forked=self._forked: forked.__setitem__(
                0, True))
        #: moves sessions to their WebSocket's process (None: the
        #: ``handover`` option is off, or the server offers no upgrade)
        self.handover: Handover | None = None
        # Kept below half the ping timeout: the client's heartbeat must
        # not notice the wait.
        window = min(float(options.handover), config.ping_timeout / 2)
        if window > 0 and config.allow_upgrades and \
                'websocket' in config.transports:
            self.handover = Handover(self, window)

    def __repr__(self) -> str:
        return f'<ClusterNode {self.process_id}>'

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
                self._facts.clear()
                self._waiters.clear()
                self._channels.clear()
                self._proxies.clear()
                self._answers.clear()
                if self.handover is not None:
                    self.handover.reset()
            self.store.keep_alive(self.process_id, self.options.liveness_ttl)
            self._started_in = pid
            self._forked[0] = False
            self._running = True
            self._stopping.clear()
        spawn = self.driver.spawn
        self._tasks = [spawn(self._keep_alive), spawn(self._take_inbox),
                       spawn(self._take_replies)]
        self.logger.info('cluster: process %s joined (prefix %s)',
                         self.process_id, self.options.prefix)

    def stop(self, timeout: float = 3.0) -> None:
        """Leave the cluster: stop the background tasks (waiting up to
        ``timeout`` seconds for them) and remove this process's keys and
        its sessions' directory entries. Sessions still open here stay
        reachable only through this process's own requests."""
        if not self._running:
            return
        self._running = False
        self._stopping.set()
        for token, waiter in list(self._waiters.items()):
            self._waiters.pop(token, None)
            waiter.event.set()
        store = self.store
        try:
            # Wake the blocked pops at once rather than at their time-out.
            store.reply(self.process_id, b'')
            store.push_inbox(self.process_id, b'')
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

    def _failed(self, doing: str, exc: Exception) -> None:
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
                self._failed('keeping this process alive', exc)

    def _reregister(self, sids: Any = None) -> None:
        owned = self._owned
        for sid in list(owned if sids is None else sids):
            facts = owned.get(sid)
            if facts is not None:
                self.store.register(sid, self.process_id, *facts)

    def _take(self, key: Callable[[], str], handle: Callable[[bytes], None],
              doing: str) -> None:
        """Pop list ``key()`` while running, handing each item on (all
        that wait are taken in one round trip)."""
        started_in = self._started_in
        pop, pop_ready = self.store.pop, self.store.pop_ready
        hot = False
        while self._running and self._started_in == started_in:
            try:
                # While items keep coming, the next ones are taken with
                # the other commands of this process (no round trip of
                # their own); once the list is empty, a blocking pop.
                items = pop_ready(key()) if hot else None
                if not items:
                    items = pop(key(), 1)
                hot = bool(items)
            except Exception as exc:
                if not self._running:
                    return
                if isinstance(exc, RedisError):
                    self._failed(doing, exc)
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

    def _take_inbox(self) -> None:
        self._take(lambda: self.store.inbox_key(self.process_id),
                   self._dispatch, 'reading the inbox')

    def _take_replies(self) -> None:
        self._take(lambda: self.store.wake_key(self.process_id),
                   self._wake, 'reading replies')

    # -- the owner's side -----------------------------------------------------

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
            self._failed('registering a session', exc)
            raise RemoteProtocolError(BAD_REQUEST,
                                      'Session store unavailable',
                                      http_status=503) from None
        self._owned[sid] = (protocol, b64)

    def forget(self, sid: str) -> None:
        """A session owned here is over: remove it from the directory."""
        self._proxies.pop(sid, None)
        self._answers.pop(sid, None)
        if self._owned.pop(sid, None) is None:
            return
        try:
            self.store.unregister(sid)
        except RedisError as exc:
            # Its entry expires by itself.
            self._failed('removing a session', exc)

    def lookup(self, sid: str) -> Any:
        """The engine of a session of this process (waiting for one that
        is being handed to it), or None."""
        engine = self.sessions.get(sid)
        if engine is None and self.handover is not None:
            engine = self.handover.arriving(sid, self.sessions)
        return engine

    # -- the handover (see cluster.handover) ---------------------------------

    def serve(self, **server_side: Any) -> None:
        """The server's side of the handover (see
        :meth:`~engineio_sync.cluster.handover.Handover.serve`)."""
        if self.handover is not None:
            self.handover.serve(**server_side)

    @property
    def defers(self) -> bool:
        """True if polling handshakes defer their connect handlers."""
        return self.handover is not None

    def defer(self, engine: Any, environ: dict) -> None:
        """A polling handshake was answered: its connect handlers wait
        for the handover."""
        self.handover.defer(engine, environ)

    def upgrading(self, engine: Any, environ: dict) -> Any:
        """A WebSocket request (``environ``) for ``engine``'s session: the
        engine to serve it with (the session may settle, or move here)."""
        if self.handover is None:
            return engine
        return self.handover.upgrading(engine, environ)

    def adopted(self, sid: str, protocol: int, b64: bool) -> None:
        """A session moved here: its directory entry names this process
        already; renew it from now on."""
        self._owned[sid] = (protocol, b64)

    def disowned(self, sid: str) -> None:
        """A session moved away: its directory entry is the new owner's."""
        self._owned.pop(sid, None)

    def answer(self, request: Request, status: bytes, body: bytes = b''
               ) -> None:
        """Reply to the process that sent ``request``."""
        self._answer(request, status, body)

    def owned_count(self) -> int:
        """How many sessions this process owns."""
        return len(self._owned)

    def _dispatch(self, raw: bytes) -> None:
        request = decode_request(raw)
        if request.kind == ABANDON:
            key = (request.reply_to, request.token)
            if key in self._parked:
                self._abandoned.add(key)
        elif request.kind == BROADCAST:
            # Queued behind each session's earlier requests.
            for sid in list(self.sessions):
                self._serial.submit(sid, self._run_request, Request(
                    SEND, sid, request.reply_to, request.token,
                    request.body))
        elif request.kind == POLL:
            # A parked GET must not hold up the session's POSTs.
            self.driver.start(self._answer_poll, request)
        elif request.kind == POST:
            self._arrived_post(request)
        else:
            self._serial.submit(request.sid, self._run_request, request)

    def _arrived_post(self, request: Request) -> None:
        """A POST from another process is in flight from its arrival here
        until it is answered, as a POST of this process is while it runs:
        the engine begins it now, so that one overlapping it (from any
        process, this one included) is refused as in one process."""
        # Not lookup(): this inbox must not wait for a session being
        # handed here.
        engine = self.sessions.get(request.sid)
        if engine is None:
            self._serial.submit(request.sid, self._late_post, request)
        elif engine.session.post_active:
            # The engine refuses it and closes the session; its handlers
            # must not hold up this inbox.
            self.driver.start(self._begin_post, engine, request)
        else:
            self._begin_post(engine, request)

    def _late_post(self, request: Request) -> None:
        """A POST for a session not in the table at its arrival: moved
        away, being handed here, or unknown."""
        engine = self.lookup(request.sid)
        if engine is None:
            self._run_request(request)
            return
        try:
            engine.begin_post()
        except RemoteProtocolError as refusal:
            self._refuse(request, refusal)
        else:
            self._run_request(request)

    def _begin_post(self, engine: Any, request: Request) -> None:
        try:
            engine.begin_post()
        except RemoteProtocolError as refusal:
            self.logger.info('%s: POST from %s refused: %s', request.sid,
                             request.reply_to or 'another process',
                             refusal.message)
            self._refuse(request, refusal)
        else:
            self._serial.submit(request.sid, self._run_request, request)

    def _answer(self, request: Request, status: bytes, body: bytes = b''
                ) -> bool:
        """Reply to the asker of ``request``, if it waits; False if the
        reply could not be pushed."""
        if not request.reply_to:
            return True
        return self._push(request.reply_to,
                          encode_reply(request.token, status, body))

    def _push(self, process: str, message: bytes) -> bool:
        try:
            pushed = self.store.reply(process, message)
        except RedisError as exc:
            self._failed('answering a request', exc)
            return False
        full = self._full
        if not pushed:
            if process not in full:
                full.add(process)
                self.logger.warning(
                    'cluster: the reply list of %s is full (%d replies '
                    'unread: stopped or overloaded); replies to it are '
                    'dropped, its waits time out and the sessions of its '
                    'WebSockets close', process, self.store.reply_limit)
            return False
        if process in full:
            full.discard(process)
            self.logger.warning('cluster: %s reads its replies again',
                                process)
        return True

    def _refuse(self, request: Request, error: RemoteProtocolError) -> None:
        self._answer(request, ERROR, encode_error(error))

    def _engine_for(self, request: Request) -> Any:
        """The engine ``request`` is for; None once the request went on
        to the session's new owner or was refused as unknown."""
        engine = self.lookup(request.sid)
        if engine is None and not self._moved_on(request):
            self._refuse(request, RemoteProtocolError(UNKNOWN_SID))
        return engine

    def _answer_poll(self, request: Request) -> None:
        engine = self._engine_for(request)
        if engine is None:
            return
        key = (request.reply_to, request.token)
        abandoned = self._abandoned
        self._parked.add(key)
        try:
            # Its client gone, a GET takes nothing: the packets wait for
            # the next one, as for a GET of this process.
            result = engine.poll(lambda: key not in abandoned)
        except RemoteProtocolError as refusal:
            self._refuse(request, refusal)
            return
        except Exception:
            self.logger.exception('%s: a GET from %s failed', request.sid,
                                  request.reply_to)
            self._refuse(request, RemoteProtocolError(BAD_REQUEST))
            return
        finally:
            self._parked.discard(key)
            abandoned.discard(key)
        if result is not None:
            # Kept until the asker says whether it wrote them.
            self._answers.setdefault(request.sid, {})[key] = result
            if not self._answer(request, PACKETS, encode_packets(result)):
                # Never to reach the asker: back to the session's queue
                # for the next GET, as when a GET's write fails.
                self._serial.submit(request.sid, self._run_request, Request(
                    ANSWERED, request.sid, request.reply_to, request.token,
                    b'0'))

    def _run_request(self, request: Request) -> None:
        engine = self._engine_for(request)
        if engine is None:
            return
        try:
            self._run(engine, request)
        except RemoteProtocolError as refusal:
            # The engine refused the request: the asker answers with it.
            self._refuse(request, refusal)
        except Exception:
            # The asker must not wait for an answer that never comes.
            self._refuse(request, RemoteProtocolError(BAD_REQUEST))
            raise

    def _moved_on(self, request: Request) -> bool:
        """Pass on a request for a session that moved away."""
        return self.handover is not None and \
            self.handover.reforward(request)

    def _run(self, engine: Any, request: Request) -> None:
        kind = request.kind
        if kind == POST:
            # Begun on arrival (_arrived_post).
            try:
                engine.receive(decode_packets(request.body))
            finally:
                engine.end_post()
            self._answer(request, OK)
        elif kind == SEND:
            for packet in decode_packets(request.body):
                try:
                    if not engine.send(packet):
                        break
                except SendBufferFull:
                    self.logger.info('%s: send from another process '
                                     'dropped: buffer full', request.sid)
                    break
        elif kind == CLOSE:
            engine.close(CloseReason.SERVER_DISCONNECT, None, graceful=True)
        elif kind == INVALID:
            engine.invalid_input(request.body.decode('utf-8', 'replace'))
        elif kind == ANSWERED:
            packets = self._answers.get(request.sid, {}).pop(
                (request.reply_to, request.token), None)
            if packets is not None:
                engine.poll_answered(packets, request.body == b'1')
        elif kind == OVERFLOW:
            self.logger.warning('%s: inbox of %s full; closing',
                                request.sid, self.process_id)
            engine.close(CloseReason.TRANSPORT_ERROR, 'cluster inbox full')
        elif kind in _WEBSOCKET_KINDS:
            self._run_websocket(engine, request)
        elif kind == HANDOVER:
            if self.handover is None:
                self._answer(request, OK)
            else:
                self.handover.give(engine, request)
        else:
            raise WireError(f'unknown request kind {kind!r}')

    def _run_websocket(self, engine: Any, request: Request) -> None:
        """What the holder of a WebSocket of a session owned here asks."""
        kind = request.kind
        if kind == UPGRADE:
            # A refusal is raised to _run_request, which answers with it.
            engine.request_upgrade()
            self._answer(request, OK)
            return
        sid = request.sid
        if kind == ATTACH:
            channel = request.body.decode('ascii', 'replace')
            proxy = ProxySink(request.reply_to, channel, self._push,
                              self.driver.event())
            proxies = self._proxies.setdefault(sid, {})
            proxies[(request.reply_to, channel)] = proxy
            verdict = engine.attach_websocket(proxy)
            if verdict == 'rejected':
                proxies.pop((request.reply_to, channel), None)
            self._answer(request, OK, verdict.encode())
            return
        key = (request.reply_to, request.token)
        proxy = self._proxies.get(sid, {}).get(key)
        if proxy is None:
            return
        if kind == WS_PACKET:
            for packet in decode_packets(request.body):
                if not engine.websocket_packet(proxy, packet):
                    # As a local transport stops reading and closes.
                    if proxy.mark_closing():
                        proxy.send_close()
                        proxy.shutdown()
                    break
        elif kind == WS_INVALID:
            engine.websocket_invalid(
                proxy, request.body.decode('utf-8', 'replace'))
        else:
            proxy.ended.set()
            self._proxies.get(sid, {}).pop(key, None)
            engine.websocket_ended(proxy, *decode_ending(request.body))

    # -- the requester's side -------------------------------------------------

    def _wake(self, raw: bytes) -> None:
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
            if not ok or sink.backlog > self._max_backlog:
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
        token = str(next(self._tokens))
        waiter = _Waiter(self.driver.event())
        self._waiters[token] = waiter
        try:
            try:
                sent = self.store.forward(
                    sid, encode_request(kind, sid, body, self.process_id,
                                        token),
                    encode_request(OVERFLOW, sid))
            except RedisError as exc:
                self._failed('forwarding a request', exc)
                raise RemoteProtocolError(UNKNOWN_SID) from None
            self._check_forwarded(sid, sent)
            deadline = time.monotonic() + wait
            while not waiter.event.wait(
                    min(_CHECK_EVERY, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    self.logger.warning('%s: owner %s did not answer within '
                                        '%.0fs', sid, sent.owner, wait)
                    return None
                try:
                    alive = self.store.is_alive(sent.owner)
                except RedisError as exc:
                    self._failed('checking an owner', exc)
                    alive = False
                if not alive or not self._running:
                    self._facts.pop(sid, None)
                    raise RemoteProtocolError(UNKNOWN_SID)
                if connected is not None and not connected():
                    self.tell(sid, ABANDON, b'', token)
                    return ABANDONED
            if waiter.reply is None:  # stop() woke it
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
            return self.store.tell(sid, kind, body,
                                   self.process_id if token else '', token)
        except RedisError as exc:
            self._failed('forwarding a request', exc)
            return False

    def not_here(self, sid: str) -> KeyError:
        """What to raise when the application asks this process for the
        data of session ``sid``, which it does not have: a
        :class:`SessionElsewhere` naming the owner, or a plain KeyError
        if no process has it (or the directory cannot be read)."""
        try:
            facts = self.store.lookup(sid)
        except RedisError as exc:
            self._failed('looking a session up', exc)
            return KeyError(f'session {sid} is not known here (the session '
                            f'directory is unreachable: {exc})')
        if facts is None or facts[0] == self.process_id:
            return KeyError(f'session {sid} is not known')
        return SessionElsewhere(sid, facts[0])

    def session(self, sid: str) -> RemoteSession:
        """The stand-in of a session this process does not have, for its
        transports; raises the error to refuse the request with."""
        try:
            self.start()
            facts = self.facts(sid)
        except RedisError as exc:
            self._failed('looking a session up', exc)
            raise RemoteProtocolError(UNKNOWN_SID) from None
        if facts is None:
            raise RemoteProtocolError(UNKNOWN_SID)
        return RemoteSession(self, sid, *facts)

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

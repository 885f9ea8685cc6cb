"""Moving a session to the process of its WebSocket, before any handler ran.

A session of a cluster is owned by the process that answered its
handshake; a WebSocket that reaches another process stays there and the
owner writes on it through Redis, two Redis trips per message. An
upgrading client opens its WebSocket right after the handshake, so the
owner can wait a moment (the ``handover`` option) before it runs the
session's ``connect`` handlers: handlers must run in one process per
session, and the application keeps per-session state where they ran, so
a session may move only while none has run.

While a session waits (a :class:`Deferral`), the packets the client
POSTs are held in order (bounded), and it settles in one of two ways:

* its WebSocket reaches another process: that process asks the owner
  (:data:`~engineio_sync.cluster.wire.HANDOVER`), the owner switches the
  directory entry to it in one compare-and-set script, ends a GET parked
  here with a noop (the client polls again, through Redis, to the new
  owner) and sends the session's state: protocol, the handshake's
  environ as strings, the held packets. The new owner opens the session
  without an open packet (the client has it), runs ``connect``, then the
  held packets, then serves the WebSocket as a local upgrade;
* its WebSocket reaches the owner, the window passes, the new owner's
  directory switch fails, or the client POSTs more than the bound:
  ``connect`` runs on the owner, as without the option.

Requests that were on their way to the old owner when the session moved
(its inbox) are pushed on to the new one with their reply address, in
order; a process that is handed a session holds its own requests for it
until the session is in its table.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections import OrderedDict, deque
from typing import Any, Callable

from redis.exceptions import RedisError

from ..core.packets import Packet, PacketType, data_size
from ..core.session import CloseReason
from ..directory import SessionHost
from ..exceptions import RemoteProtocolError
from .membership import Membership
from .remote import RemoteSession
from .requester import Requester
from .wire import (HANDOVER, MOVED, OK, Request, WireError,
                   decode_packets, encode_packets, encode_request)

__all__ = ['Handover', 'Deferral', 'portable_environ', 'rebuilt_environ',
           'encode_state', 'decode_state']

# A Deferral's states.
WAITING, SETTLING, MOVING, MOVED_AWAY, DONE = range(5)

# Past this many held packets (or bytes of their data) a waiting session
# settles where it is rather than hold more.
_HELD_PACKETS = 1000
_HELD_BYTES = 4 * 1024 * 1024
# Seconds a session that moved away lingers here, so that a request that
# found it just before the move still gets an answer (a late POST's
# packets go on to the new owner).
_LINGER = 5.0
# Sessions that moved away, remembered for pushing late requests on.
_MOVED_KEPT = 10_000
# The most bytes of environ strings carried to the new owner; a larger
# handshake settles where it is. The names of the environ's objects are
# carried up to so many, of at most so many characters.
_ENVIRON_BYTES = 256 * 1024
_NAMES = 100
_NAME_CHARS = 200

_NOOP = Packet(PacketType.NOOP)

# The CGI names carried (besides every HTTP_* header).
_CARRIED = frozenset((
    'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING',
    'CONTENT_TYPE', 'CONTENT_LENGTH', 'SERVER_NAME', 'SERVER_PORT',
    'SERVER_PROTOCOL', 'SERVER_SOFTWARE', 'REMOTE_ADDR', 'REMOTE_PORT',
    'REMOTE_HOST', 'REMOTE_USER', 'AUTH_TYPE', 'GATEWAY_INTERFACE',
    'HTTPS', 'REQUEST_URI', 'RAW_URI', 'wsgi.url_scheme'))

#: The environ key naming the process that answered a moved session's
#: handshake.
MOVED_FROM = 'engineio_sync.moved_from'

def portable_environ(environ: dict) -> dict[str, Any]:
    """What of a WSGI environ can go to another process: its CGI and
    ``HTTP_*`` strings and ``wsgi.url_scheme`` (``'s'``), and the names
    of the objects it holds (``'o'``: a framework's app, the WSGI
    server's keys), which the new process takes from its own request."""
    strings = {}
    objects = []
    for key, value in environ.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, str):
            if key.startswith('HTTP_') or key in _CARRIED:
                strings[key] = value
        elif key != 'wsgi.input' and len(key) <= _NAME_CHARS:
            objects.append(key)
    return {'s': strings, 'o': sorted(objects)[:_NAMES]}


def rebuilt_environ(portable: dict[str, Any], moved_from: str,
                    local: dict) -> dict:
    """A WSGI environ from :func:`portable_environ`'s part of the
    handshake's: its strings; for the objects it held, those of the same
    names in ``local`` (the WebSocket request's environ here, which the
    same WSGI stack made); an empty body; and :data:`MOVED_FROM`."""
    environ: dict[str, Any] = {
        'wsgi.version': (1, 0), 'wsgi.errors': sys.stderr,
        'wsgi.multithread': True, 'wsgi.multiprocess': True,
        'wsgi.run_once': False}
    for key in portable['o']:
        if key in local:
            environ[key] = local[key]
    environ.update(portable['s'])
    environ['wsgi.input'] = io.BytesIO()
    environ[MOVED_FROM] = moved_from
    return environ


def _size(portable: dict[str, Any]) -> int:
    return sum(len(k) + len(v) for k, v in portable['s'].items()) + \
        sum(len(k) for k in portable['o'])


def encode_state(protocol: int, b64: bool, environ: dict[str, Any],
                 moved_from: str, packets: list[Packet]) -> bytes:
    """What a session's new owner needs, as bytes (a MOVED reply's body):
    ``environ`` is :func:`portable_environ`'s."""
    head = json.dumps({'p': protocol, 'b': b64, 'e': environ,
                       'f': moved_from}).encode()
    return head + b'\x00' + encode_packets(packets)


def decode_state(raw: bytes) -> tuple[int, bool, dict[str, Any], str,
                                      list[Packet]]:
    """Parse :func:`encode_state`'s bytes: (protocol, b64, portable
    environ, moved_from, held packets)."""
    head, sep, body = raw.partition(b'\x00')
    try:
        state = json.loads(head)
        protocol, b64 = int(state['p']), bool(state['b'])
        portable = dict(state['e'])
        environ = {'s': {str(k): str(v)
                         for k, v in dict(portable['s']).items()},
                   'o': [str(k) for k in portable['o']]}
        moved_from = str(state['f'])
    except (ValueError, TypeError, KeyError):
        raise WireError('malformed session state') from None
    if not sep or protocol not in (3, 4):
        raise WireError('malformed session state')
    return protocol, b64, environ, moved_from, decode_packets(body)


class Deferral:
    """A session whose connect handlers have not run yet: its engine's
    :attr:`~engineio_sync.engine.SessionEngine.intake` holds what the
    client POSTs until it settles here or moves away."""

    __slots__ = ('handover', 'engine', 'environ', 'state', 'held',
                 'held_bytes', 'lock', 'settled')

    def __init__(self, handover: Handover, engine: Any, environ: dict,
                 held: list[Packet] | None = None) -> None:
        self.handover = handover
        self.engine = engine
        self.environ = environ
        self.state = WAITING
        self.held: list[Packet] = held or []
        self.held_bytes = data_size(self.held)
        self.lock = handover.driver.lock()
        #: set once connect and the held packets have run (or the
        #: session moved away)
        self.settled = handover.driver.event()

    def __repr__(self) -> str:
        return f'<Deferral {self.engine.sid} state {self.state}>'

    def intake(self, packets: list[Packet]) -> bool:
        """The engine's intake: True if the packets were taken care of
        (held, or sent on to the new owner), False if the caller delivers
        them itself (the session has settled here)."""
        full = False
        with self.lock:
            state = self.state
            if state == WAITING or state == MOVING:
                size = data_size(packets)
                full = state == WAITING and (
                    len(self.held) + len(packets) > _HELD_PACKETS
                    or self.held_bytes + size > _HELD_BYTES)
                if not full:
                    self.held.extend(packets)
                    self.held_bytes += size
                    return True
        if state == MOVED_AWAY:
            self.handover.pass_on(self.engine, packets)
            return True
        if full:
            self.handover.settle(self)
        elif state == SETTLING:
            # Behind the connect handlers and the held packets.
            self.settled.wait(self.handover.request_timeout)
        return False


class Handover:
    """The handover side of one process: the deferrals of its sessions,
    and the sessions moving in or having moved out. ``window``: the
    ``handover`` option.

    It moves sessions in and out of ``membership`` (this process in the
    cluster), asks owners through ``requester``, replies with
    ``answer(request, status, body)``, has ``host`` (the server) open a
    session that moved here and run deferred connect handlers, and
    ``drop(engine)`` takes a session that moved away out of the table of
    this process's sessions."""

    def __init__(self, window: float, *, membership: Membership,
                 requester: Requester,
                 answer: Callable[[Request, bytes, bytes], Any],
                 host: SessionHost, drop: Callable[[Any], None]) -> None:
        self.window = window
        self.membership = membership
        self.requester = requester
        self.answer = answer
        self.host = host
        self.drop = drop
        self.store = membership.store
        self.driver = membership.driver
        self.logger = membership.logger
        #: seconds a waiting request gives the session's move or settling
        self.request_timeout = requester.request_timeout
        self._deferrals: dict[str, Deferral] = {}
        # sid -> event set once a session handed to this process is in
        # its table
        self._arrivals: dict[str, Any] = {}
        # sid -> the process it moved to
        self._moved: OrderedDict[str, str] = OrderedDict()
        # (when, deferral) to settle and (when, engine) to retire, each
        # in time order (one delay each)
        self._expiring: deque = deque()
        self._retiring: deque = deque()
        self._lock = self.driver.lock()
        self._looping = False
        self._wake = self.driver.event()

    def reset(self) -> None:
        """Forget everything (a forked worker starts afresh)."""
        self._deferrals.clear()
        self._arrivals.clear()
        self._moved.clear()
        self._expiring.clear()
        self._retiring.clear()
        self._looping = False

    # -- the owner's side -------------------------------------------------------

    def defer(self, engine: Any, environ: dict) -> None:
        """A polling handshake offering the upgrade was answered here: hold
        its connect handlers until it settles or moves."""
        deferral = Deferral(self, engine, environ)
        self._deferrals[engine.sid] = deferral
        engine.set_intake(deferral.intake)
        self._at(self._expiring, time.monotonic() + self.window, deferral)

    def settle(self, deferral: Deferral) -> None:
        """Run the session's connect handlers here, then the packets held
        for it, in order; if another task is doing so, wait until it is
        done (nothing if the session settled or moved already)."""
        with deferral.lock:
            state = deferral.state
            if state == WAITING:
                deferral.state = SETTLING
        if state == SETTLING:
            deferral.settled.wait(self.request_timeout)
        if state != WAITING:
            return
        engine = deferral.engine
        try:
            # A session that ended meanwhile was never the application's.
            if not engine.session.closed and self.host.connect_deferred(
                    engine, deferral.environ):
                with deferral.lock:
                    held, deferral.held = deferral.held, []
                if held:
                    engine.receive_now(held)
        finally:
            with deferral.lock:
                deferral.state = DONE
                deferral.held = []
                engine.set_intake(None)
            if self._deferrals.get(engine.sid) is deferral:
                del self._deferrals[engine.sid]
            deferral.settled.set()

    def upgrading(self, engine: Any, environ: dict) -> Any:
        """A WebSocket request (``environ``) for ``engine``'s session
        reached this process: settle it here if it waits here, move it
        here if another process holds it waiting. Returns the engine to
        serve the request with."""
        if isinstance(engine, RemoteSession):
            return self._take(engine, environ) or engine
        deferral = self._deferrals.get(engine.sid)
        if deferral is not None:
            # Before the upgrade: what the WebSocket carries goes to the
            # handlers directly, so connect must be over.
            self.settle(deferral)
        return engine

    def give(self, engine: Any, request: Request) -> None:
        """Process ``request.reply_to`` has a WebSocket for this process's
        session ``engine`` and asks for it: answer MOVED with the state,
        or OK (it stays: serve it as today)."""
        sid = request.sid
        taker = request.reply_to
        membership = self.membership
        deferral = self._deferrals.get(sid)
        carried = None
        if deferral is not None and deferral.engine is engine and \
                _movable(engine):
            carried = portable_environ(deferral.environ)
            if _size(carried) > _ENVIRON_BYTES:
                carried = None
        if deferral is None or carried is None or not taker:
            # It stays; one that is settling here settles first, so that
            # nothing of its WebSocket reaches a handler before connect.
            if deferral is not None:
                self.settle(deferral)
            self.answer(request, OK, b'')
            return
        with deferral.lock:
            state = deferral.state
            if state == WAITING:
                deferral.state = MOVING
        if state != WAITING:
            self.settle(deferral)
            self.answer(request, OK, b'')
            return
        try:
            switched = self.store.switch_owner(sid, membership.process_id,
                                               taker)
        except RedisError as exc:
            self.logger.warning('%s: moving the session to %s failed: %s',
                                sid, taker, exc)
            switched = False
        if not switched:
            with deferral.lock:
                deferral.state = WAITING
            self.settle(deferral)
            self.answer(request, OK, b'')
            return
        self._deferrals.pop(sid, None)
        with deferral.lock:
            deferral.state = MOVED_AWAY
            held, deferral.held = deferral.held, []
        deferral.settled.set()
        self._moved[sid] = taker
        if len(self._moved) > _MOVED_KEPT:
            self._moved.popitem(last=False)
        membership.disowned(sid)
        self.drop(engine)
        # A GET parked here ends; the client's next one reaches the new
        # owner through Redis.
        engine.send(_NOOP)
        self._at(self._retiring, time.monotonic() + _LINGER, engine)
        self.answer(request, MOVED, encode_state(
            engine.session.protocol, engine.b64, carried,
            membership.process_id, held))
        self.logger.info('%s: session moved from %s to %s (its WebSocket '
                         'is there)', sid, membership.process_id, taker)

    def pass_on(self, engine: Any, packets: list[Packet]) -> None:
        """Packets of a POST that found the session here just before it
        moved: hand them to the new owner and wait until it took them, as
        a POST of another process's session (raises the refusal to answer
        the POST with)."""
        RemoteSession(self.requester, engine.sid, self._moved.get(engine.sid, ''),
                      engine.session.protocol, engine.b64).receive(packets)

    def reforward(self, request: Request) -> bool:
        """A request for a session that moved away from here: push it to
        the new owner's inbox as it came (its asker gets the answer from
        there). False if the session did not move from here."""
        taker = self._moved.get(request.sid)
        if taker is None:
            return False
        try:
            self.store.push_inbox(taker, encode_request(
                request.kind, request.sid, request.body, request.reply_to,
                request.token))
        except RedisError as exc:
            self.logger.warning('%s: passing a request on to %s failed: '
                                '%s', request.sid, taker, exc)
            return False
        self.logger.debug('%s: a request came after the session moved; '
                          'passed on to %s', request.sid, taker)
        return True

    # -- the new owner's side ---------------------------------------------------

    def _take(self, remote: RemoteSession, local: dict) -> Any:
        """Ask ``remote``'s owner for the session; its engine here if it
        moved, else None. ``local``: the WebSocket request's environ."""
        sid = remote.sid
        membership = self.membership
        arrival = self.driver.event()
        self._arrivals[sid] = arrival
        try:
            try:
                reply = self.requester.call(sid, HANDOVER, b'',
                                            self.request_timeout)
            except RemoteProtocolError:
                reply = None
            if reply is None or reply.status != MOVED:
                self.logger.info('%s: stays with %s (connect ran there); '
                                 'its WebSocket here is served through '
                                 'Redis', sid, remote.owner)
                return None
            protocol, b64, carried, giver, held = decode_state(reply.body)
            environ = rebuilt_environ(carried, giver, local)
            deferral = Deferral(self, None, environ, held)
            # Held from the start: requests find it as soon as it is in
            # the server's table.
            engine = deferral.engine = self.host.adopt_session(
                sid, protocol, b64, environ, deferral.intake)
            membership.adopted(sid, protocol, b64)
            self.logger.info('%s: session moved from %s to %s (its WebSocket '
                             'is here)', sid, giver, membership.process_id)
            self.settle(deferral)
            return engine
        finally:
            if self._arrivals.get(sid) is arrival:
                del self._arrivals[sid]
            arrival.set()

    def arriving(self, sid: str, sessions: Any) -> Any:
        """The engine of ``sid`` if the session is being handed to this
        process (waiting until it is in ``sessions``), else None."""
        arrival = self._arrivals.get(sid)
        if arrival is None:
            return None
        arrival.wait(self.request_timeout)
        return sessions.get(sid)

    # -- deadlines ----------------------------------------------------------------

    def _at(self, queue: deque, when: float, item: Any) -> None:
        with self._lock:
            queue.append((when, item))
            if self._looping:
                # It may sleep until a later deadline of the other queue.
                self._wake.set()
                return
            self._looping = True
        self.driver.start(self._run_deadlines)

    def _run_deadlines(self) -> None:
        """One task while anything is due later: settle expired
        deferrals, end sessions that moved away a while ago."""
        queues = (self._expiring, self._retiring)
        while True:
            now = time.monotonic()
            due = []
            with self._lock:
                self._wake.clear()
                for queue in queues:
                    while queue and queue[0][0] <= now:
                        due.append(queue.popleft()[1])
                heads = [queue[0][0] for queue in queues if queue]
                if not heads and not due:
                    self._looping = False
                    return
            for item in due:
                try:
                    if isinstance(item, Deferral):
                        if item.state == WAITING:
                            # Connect handlers may take their time.
                            self.driver.start(self.settle, item)
                    else:
                        # Unannounced: the application hears nothing.
                        item.close(CloseReason.TRANSPORT_CLOSE, 'moved away')
                except Exception:
                    # This task must go on: others wait for their deadline.
                    self.logger.exception('cluster: a handover deadline '
                                          'failed')
            if heads:
                self._wake.wait(max(0.0, min(heads) - time.monotonic()))


def _movable(engine: Any) -> bool:
    """A session can move while it polls, is open, and everything queued
    for it went out (the client has all the old owner gave it) but pings:
    the new owner starts a heartbeat of its own."""
    session = engine.session
    return (session.is_open and session.transport == 'polling'
            and not session.upgrading and not session.upgraded
            and all(packet.type is PacketType.PING
                    for packet in session.buffer)
            and engine.ws is None and engine.probe is None)

"""The owning side of a process: its inbox, and the requests of other
processes run on the engines of the sessions it owns.

Requests for one session run one after another, in the order they
arrived (a :class:`~.serial.SerialRunner` keyed by sid); a parked GET
runs beside them, as a GET of this process would. Every request that
waits is answered (see :mod:`.answers`), with the engine's refusal if it
raises one: this is where such a request entered the process.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ..core.packets import Packet
from ..core.session import CloseReason
from ..drivers.base import Driver
from ..exceptions import (BAD_REQUEST, UNKNOWN_SID, RemoteProtocolError,
                          SendBufferFull)
from .answers import Answers
from .handover import Handover
from .membership import Membership
from .proxysink import ProxySink, decode_ending
from .serial import SerialRunner
from .wire import (ABANDON, ANSWERED, ATTACH, BROADCAST, CLOSE, ERROR,
                   HANDOVER, INVALID, OK, OVERFLOW, PACKETS, POLL, POST,
                   SEND, UPGRADE, WS_ENDED, WS_INVALID, WS_PACKET, Request,
                   WireError, decode_packets, decode_request, encode_error,
                   encode_packets)

__all__ = ['Owner']

_WEBSOCKET_KINDS = frozenset((UPGRADE, ATTACH, WS_PACKET, WS_INVALID,
                              WS_ENDED))


class Owner:
    """Runs what other processes ask of the sessions in ``engines`` (the
    table of this process, read only here)."""

    def __init__(self, engines: Mapping[str, Any], answers: Answers,
                 membership: Membership, handover: Handover | None, *,
                 driver: Driver, logger: logging.Logger) -> None:
        self.engines = engines
        self.answers = answers
        self.membership = membership
        self.handover = handover
        self.driver = driver
        self.logger = logger
        # (asker, token) of GETs parked here for other processes, and of
        # those whose client went away
        self._parked: set[tuple[str, str]] = set()
        self._abandoned: set[tuple[str, str]] = set()
        # sid -> {(asker, token): packets}: answers of GETs of other
        # processes, until they report them written (or not)
        self._answers: dict[str, dict[tuple[str, str], list[Packet]]] = {}
        # sid -> {(holder, channel): ProxySink}: WebSockets of sessions
        # owned here, held elsewhere
        self._proxies: dict[str, dict[tuple[str, str], ProxySink]] = {}
        self._serial = SerialRunner(driver.start, driver.lock(), logger)

    def __repr__(self) -> str:
        return f'<Owner {self.membership.process_id}>'

    def reset(self) -> None:
        """Forget what other processes asked (a forked worker)."""
        self._proxies.clear()
        self._answers.clear()

    def forget(self, sid: str) -> None:
        """A session owned here is over."""
        self._proxies.pop(sid, None)
        self._answers.pop(sid, None)

    def lookup(self, sid: str) -> Any:
        """The engine of a session of this process (waiting for one that
        is being handed to it), or None."""
        engine = self.engines.get(sid)
        if engine is None and self.handover is not None:
            engine = self.handover.arriving(sid, self.engines)
        return engine

    # -- the inbox ------------------------------------------------------------

    def dispatch(self, raw: bytes) -> None:
        """A message of this process's inbox."""
        request = decode_request(raw)
        if request.kind == ABANDON:
            key = (request.reply_to, request.token)
            if key in self._parked:
                self._abandoned.add(key)
        elif request.kind == BROADCAST:
            # Queued behind each session's earlier requests.
            for sid in list(self.engines):
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
        engine = self.engines.get(request.sid)
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

    # -- running a request ----------------------------------------------------

    def _refuse(self, request: Request, error: RemoteProtocolError) -> None:
        self.answers.answer(request, ERROR, encode_error(error))

    def _engine_for(self, request: Request) -> Any:
        """The engine ``request`` is for; None once the request went on
        to the session's new owner or was refused as unknown."""
        engine = self.lookup(request.sid)
        if engine is None and not self._moved_on(request):
            self._refuse(request, RemoteProtocolError(UNKNOWN_SID))
        return engine

    def _moved_on(self, request: Request) -> bool:
        """Pass on a request for a session that moved away."""
        return self.handover is not None and \
            self.handover.reforward(request)

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
            if not self.answers.answer(request, PACKETS,
                                       encode_packets(result)):
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

    def _run(self, engine: Any, request: Request) -> None:
        kind = request.kind
        if kind == POST:
            # Begun on arrival (_arrived_post).
            try:
                engine.receive(decode_packets(request.body))
            finally:
                engine.end_post()
            self.answers.answer(request, OK)
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
                                request.sid, self.membership.process_id)
            engine.close(CloseReason.TRANSPORT_ERROR, 'cluster inbox full')
        elif kind in _WEBSOCKET_KINDS:
            self._run_websocket(engine, request)
        elif kind == HANDOVER:
            if self.handover is None:
                self.answers.answer(request, OK)
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
            self.answers.answer(request, OK)
            return
        sid = request.sid
        if kind == ATTACH:
            channel = request.body.decode('ascii', 'replace')
            attached = ProxySink(request.reply_to, channel,
                                 self.answers.push, self.driver.event(),
                                 self.driver.spawn)
            proxies = self._proxies.setdefault(sid, {})
            proxies[(request.reply_to, channel)] = attached
            verdict = engine.attach_websocket(attached)
            if verdict == 'rejected':
                proxies.pop((request.reply_to, channel), None)
            self.answers.answer(request, OK, verdict.encode())
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

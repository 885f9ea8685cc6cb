"""Several in-process servers sharing one real Redis, each behind its own
real HTTP listener (engineio_sync's HTTP server on the threading driver).

Each :class:`Node` records what its handlers saw, tagged with its name,
so that a test can tell which process ran a handler.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import threading
from typing import Any, Callable, Iterator

import pytest

import engineio_sync
from engineio_sync.cluster.options import resolve
from engineio_sync.wsgi_servers import runner

from support.tcpstate import Address
from support.waiting import wait_until


class Node:
    """One cluster process: a Server with ``cluster=url`` and a listener.

    Handlers: ``connect`` and ``disconnect`` are recorded; a message
    ``echo:X`` is answered with ``X`` (from the handler, so from the
    owner), every message is recorded.

    ``handover`` replaces the cluster option's (``None``: keep it). It is
    0 unless a test asks: tests of other paths want ``connect`` to run at
    the handshake and a WebSocket on a non-owner to stay there.
    """

    def __init__(self, name: str, cluster: Any,
                 handover: float | None = 0, **options: Any) -> None:
        self.name = name
        if handover is not None:
            cluster = dataclasses.replace(resolve(cluster),
                                          handover=handover)
        self.server = engineio_sync.Server(async_mode='threading',
                                           cluster=cluster, **options)
        self.events: list[tuple] = []
        #: sid -> the environ its connect handler was given
        self.environs: dict[str, dict] = {}
        self._lock = threading.Lock()
        server = self.server

        @server.on('connect')
        def connect(sid: str, environ: dict) -> Any:
            self.record('connect', sid)
            self.environs[sid] = environ
            return self.admit(sid, environ)

        @server.on('message')
        def message(sid: str, data: Any) -> None:
            self.record('message', sid, data)
            if isinstance(data, str) and data.startswith('echo:'):
                server.send(sid, data[5:])

        @server.on('disconnect')
        def disconnect(sid: str, reason: str) -> None:
            self.record('disconnect', sid, reason)

        wsgi_app = engineio_sync.WSGIApp(server)

        def app(environ: dict, start_response: Any) -> Any:
            # An object in the environ, as a framework's middleware puts
            # there (Flask-SocketIO's app).
            environ['clusterkit.node'] = self
            return wsgi_app(environ, start_response)

        self.http = runner('native')('127.0.0.1', 0, app, server.driver)
        self.port = self.http.port

    def admit(self, sid: str, environ: dict) -> Any:
        """The connect handler's verdict (a test may replace it)."""
        return None

    def record(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def seen(self, kind: str, sid: str | None = None) -> list[tuple]:
        """Recorded events of ``kind`` (for ``sid``), without kind/sid."""
        with self._lock:
            return [e[2:] for e in self.events
                    if e[0] == kind and (sid is None or e[1] == sid)]

    def seen_at_least(self, kind: str, sid: str | None, count: int
                      ) -> list[tuple]:
        """:meth:`seen`, once it has ``count`` events: handlers run after
        the request that carried their packets was answered."""
        wait_until(lambda: len(self.seen(kind, sid)) >= count,
                   what=f'{count} {kind} event(s) on {self.name}')
        return self.seen(kind, sid)

    def engine(self, sid: str) -> Any:
        """The engine of ``sid`` if this process has the session, else
        None."""
        return self.server.directory.engines.get(sid)

    def parked(self, sid: str) -> bool:
        """True while a GET of ``sid`` is parked here (at the owner, for
        a GET that reached another process)."""
        engine = self.engine(sid)
        return engine is not None and engine.session.poll_waiting

    def posting(self, sid: str) -> bool:
        """True while a POST of ``sid`` is being handled here."""
        engine = self.engine(sid)
        return engine is not None and engine.session.post_active

    def stop(self) -> None:
        self.http.stop()
        if self.server.cluster is not None:
            self.server.cluster.stop()


@pytest.fixture
def nodes(redis_url: str) -> Iterator[dict[str, Node]]:
    """Nodes ``A``, ``B`` and ``C`` on the test's Redis (import
    ``redis_url`` too), stopped after the test."""
    made = {name: Node(name, redis_url) for name in 'ABC'}
    try:
        yield made
    finally:
        for node in made.values():
            node.stop()


def messages(body: bytes) -> list[str]:
    """The message packets of a v4 polling payload, without their type."""
    return [p[1:] for p in body.decode().split('\x1e') if p.startswith('4')]


def vanishing_get(port: int, sid: str, owner: Node) -> tuple[Address,
                                                              Address]:
    """A long-poll GET whose client goes away for good once it parked at
    ``owner``, the session's owner. Returns the server's end of its
    connection and the client's (see :mod:`support.tcpstate`)."""
    sock = socket.create_connection(('127.0.0.1', port))
    ends = sock.getpeername(), sock.getsockname()
    sock.sendall(f'GET /engine.io/?EIO=4&transport=polling&sid={sid} '
                 'HTTP/1.1\r\nHost: x\r\n\r\n'.encode())
    wait_until(lambda: owner.parked(sid), what='the GET parked')
    sock.close()
    return ends


def in_thread(fn: Callable[[], Any]) -> Callable[[float], Any]:
    """Run ``fn`` in a thread; returns ``result(timeout)``."""
    out: list = []

    def run() -> None:
        try:
            out.append(('ok', fn()))
        except BaseException as exc:  # reported to the test
            out.append(('error', exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result(timeout: float = 10.0) -> Any:
        thread.join(timeout)
        assert out, f'no result within {timeout}s'
        kind, value = out[0]
        if kind == 'error':
            raise value
        return value
    return result


REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
NUMBERED = os.path.join(REPO, 'tests', 'cluster', 'node', 'numbered.js')


def run_clients(url: str, sessions: int, count: int, transports: str,
                upgrade: bool = False) -> dict:
    """Run node/numbered.js (node's engine.io-client) against ``url``:
    its summary (sessions, ok, upgraded, owners, failures)."""
    out = subprocess.run(
        ['node', NUMBERED, url, str(sessions), str(count), transports,
         'upgrade' if upgrade else 'no-upgrade'],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])

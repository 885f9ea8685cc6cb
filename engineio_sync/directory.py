"""Where a server finds its sessions: the session directory.

The server asks one :class:`SessionDirectory` about every session id it
meets, without knowing which kind it has:

* :class:`LocalDirectory` (no ``cluster`` option): the sessions this
  process runs, and nothing else; any other sid is unknown.
* :class:`~engineio_sync.cluster.directory.ClusterDirectory`: the same
  table, plus the sessions other processes of a cluster own, reached
  through Redis (see :mod:`engineio_sync.cluster`).

The table of the sessions run here, :attr:`SessionDirectory.engines`,
is a plain dict: a request for a session of this process costs one
``dict.get`` and nothing of the directory besides. Only a sid that is
not there goes through the directory's methods.

What a directory may ask of its server in return (a cluster moves a
session to another process before its connect handlers ran) is the
:class:`SessionHost` interface.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, NoReturn, Protocol

from .core.packets import Packet
from .engine import SessionEngine
from .exceptions import UNKNOWN_SID, RemoteProtocolError
from .port import SessionPort

__all__ = ['SessionDirectory', 'SessionHost', 'LocalDirectory']


class SessionHost(Protocol):
    """What a directory asks of its server (the
    :class:`~engineio_sync.Server` implements it)."""

    def adopt_session(self, sid: str, protocol: int, b64: bool,
                      environ: dict,
                      intake: Callable[[list[Packet]], bool]
                      ) -> SessionEngine:
        """Open a session that moved here from another process: no open
        packet (the client has it), connect handlers not run yet, the
        client's packets offered to ``intake`` first. Returns its engine,
        in :attr:`SessionDirectory.engines` already."""

    def connect_deferred(self, engine: SessionEngine, environ: dict
                         ) -> bool:
        """Run the connect handlers of a session whose handshake was
        answered already; False: a handler refused it and it is closing."""


class SessionDirectory(Protocol):
    """Every session a server can serve, here or elsewhere."""

    #: sid -> engine of the sessions this process runs. The server adds
    #: each engine it creates; the directory takes out those that end
    #: (:meth:`forget`) or move away.
    engines: dict[str, SessionEngine]
    #: True if a polling handshake answered here runs its connect
    #: handlers later (:meth:`defer`)
    defers_connect: bool

    def elsewhere(self, sid: str) -> SessionPort:
        """The port to serve a request for ``sid``, which is not in
        :attr:`engines`: a stand-in for another process's session.
        Raises :class:`RemoteProtocolError` (``Session ID unknown``, or
        a 503 when that cannot be told) to refuse the request."""

    def register(self, sid: str, protocol: int, b64: bool) -> None:
        """A handshake here is about to open ``sid``; raises
        :class:`RemoteProtocolError` (503) to refuse it."""

    def unregister(self, sid: str) -> None:
        """A registered handshake failed before its session opened."""

    def forget(self, engine: SessionEngine) -> None:
        """``engine``'s session needs no transport any more."""

    def defer(self, engine: SessionEngine, environ: dict) -> None:
        """A polling handshake was answered without running the connect
        handlers (:attr:`defers_connect`): run them when it is time."""

    def upgrading(self, port: SessionPort, environ: dict) -> SessionPort:
        """A WebSocket request (``environ``) for ``port``'s session: the
        port to serve it with (the session may settle, or move here)."""

    def send_message(self, sid: str, data: Any) -> bool:
        """Send a message to ``sid``, not in :attr:`engines`; False if
        it is not open anywhere."""

    def send_packets(self, sid: str, packets: list[Packet]) -> bool:
        """Send raw packets, in order, to ``sid``, not in
        :attr:`engines`; False if it is not open anywhere."""

    def disconnect(self, sid: str) -> bool:
        """Close ``sid``, not in :attr:`engines`; False if it is not
        open anywhere."""

    def session_missing(self, sid: str) -> NoReturn:
        """Raise the ``KeyError`` for the application asking for the
        data of ``sid``, which is not in :attr:`engines`."""


class LocalDirectory:
    """The sessions of one process, and nothing else (no ``cluster``
    option): a sid not in :attr:`engines` is unknown."""

    defers_connect = False

    def __init__(self, logger: logging.Logger) -> None:
        self.engines: dict[str, SessionEngine] = {}
        self.logger = logger

    def __repr__(self) -> str:
        return f'<LocalDirectory of {len(self.engines)} sessions>'

    def elsewhere(self, sid: str) -> SessionPort:
        """Nowhere else: refuse the request."""
        raise RemoteProtocolError(UNKNOWN_SID)

    def register(self, sid: str, protocol: int, b64: bool) -> None:
        """Nothing to enter anywhere."""

    def unregister(self, sid: str) -> None:
        """Nothing was entered."""

    def forget(self, engine: SessionEngine) -> None:
        """Take ``engine`` out of the table (unless another engine took
        its sid meanwhile)."""
        if self.engines.get(engine.sid) is engine:
            del self.engines[engine.sid]

    def defer(self, engine: SessionEngine, environ: dict) -> None:
        """Never asked: :attr:`defers_connect` is False."""
        raise RuntimeError('a local directory does not defer connect')

    def upgrading(self, port: SessionPort, environ: dict) -> SessionPort:
        """The session stays as it is."""
        return port

    def send_message(self, sid: str, data: Any) -> bool:
        """Unknown here, so unknown: logged, False."""
        self.logger.warning('send to unknown or closed session %s', sid)
        return False

    def send_packets(self, sid: str, packets: list[Packet]) -> bool:
        """Unknown here, so unknown: False."""
        return False

    def disconnect(self, sid: str) -> bool:
        """Unknown here, so unknown: False."""
        return False

    def session_missing(self, sid: str) -> NoReturn:
        """A plain KeyError."""
        raise KeyError(f'session {sid} is not known')

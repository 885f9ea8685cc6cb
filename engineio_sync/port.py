"""The session's port: what transports may ask of a session, and what a
WebSocket transport gives the session to write on.

Transports (:mod:`engineio_sync.transports`) know a session only
through :class:`SessionPort`, with plain values (packets, strings,
numbers) in and out. Two classes implement it: the
:class:`~engineio_sync.engine.SessionEngine` that runs a session in this
process, and the cluster's
:class:`~engineio_sync.cluster.remote.RemoteSession`, which carries every
call to the process that owns the session. A transport cannot tell them
apart, and must not try.

================================  =============================================
``poll(connected)``               a GET: the packets to answer with (waits
                                  while parked); None if its client went away
``park_poll(resume)``             the same without waiting: the packets, or
                                  how long it is parked (``resume()`` comes)
``resume_poll()``                 the answer of a GET parked so
``abandon_poll()``                its client went away
``poll_answered(packets, ok)``    that answer was written (or not: its packets
                                  go back to the queue)
``begin_post()``                  a POST arrived, its body not read yet
``receive(packets)``              the packets of a POST, in order
``invalid_input(description)``    the client sent something unreadable
``end_post()``                    the POST was handled
``request_upgrade()``             a WebSocket request, before the 101
``attach_websocket(sink)``        after the 101: ``'active'``, ``'probe'`` or
                                  ``'rejected'``
``websocket_packet(sink, p)``     a packet on that WebSocket; False: stop
                                  reading
``websocket_invalid(sink, d)``    that WebSocket carried something unreadable
``websocket_ended(sink, r, d)``   that WebSocket ended, with a close reason
``websocket_blocked(sink)``       its peer leaves written bytes unread
``close(reason, description)``    end the session (a transport that failed)
================================  =============================================

A call that refuses the request raises
:class:`~engineio_sync.exceptions.RemoteProtocolError`; the transport lets
it go up to where the request entered, which answers with it. Besides
the calls, a transport reads ``sid``, ``protocol`` (4 or 3), ``b64``
(a v3 session that asked for binary as base64) and ``write_lock``, which
orders everything written on the session's WebSocket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Protocol

from .core.packets import Packet

if TYPE_CHECKING:  # pragma: no cover
    from .drivers.base import Lock

__all__ = ['SessionPort', 'WebSocketSink', 'Verdict', 'CLOSE_GRACE',
           'REJECT_LINGER']

#: Seconds a closing WebSocket may take to write its last packets, and
#: then to receive the peer's close frame, before its TCP connection is cut.
CLOSE_GRACE = 3.0

#: Seconds a rejected extra WebSocket's client may take to close its side
#: after ours is closed.
REJECT_LINGER = 0.5

#: What :meth:`SessionPort.attach_websocket` says of a new WebSocket.
Verdict = Literal['active', 'probe', 'rejected']


class WebSocketSink(Protocol):
    """What a WebSocket transport provides for the session to write on."""

    #: a task is draining the backlog
    draining: bool

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the socket."""

    def write_packet(self, packet: Packet) -> bool:
        """Write one packet (the writer holds the write lock); False if
        the connection failed."""

    def write_packets(self, packets: list[Packet]) -> bool:
        """Write packets in order (the writer holds the write lock);
        False if the connection failed. Writes never wait for the peer:
        what the socket does not take waits in the sink's backlog, and the
        sink calls :meth:`SessionPort.websocket_blocked` when it begins."""

    def write_backlog(self) -> bool:
        """Hand the socket what it takes of the backlog now (the writer
        holds the write lock); False if the connection failed."""

    def drain_with(self, step: Callable[[], bool]) -> None:
        """Call ``step()`` whenever the socket may have room again, until
        it returns True (the session calls this once a backlog begins;
        ``step`` hands the socket what it takes). Never waits itself."""

    def send_close(self) -> None:
        """Send the close frame (the writer holds the write lock)."""

    def shutdown(self) -> None:
        """Cut the connection, waking a reader or writer blocked on it."""

    def mark_closing(self) -> bool:
        """Note that the session is closing it; False if it already was."""

    def close_with(self, send_rest: Callable[[], None],
                   closed: Callable[[], None]) -> None:
        """Close the WebSocket for the session: ``send_rest()`` first (it
        writes the last packets and the close frame), then wait (at most
        ``CLOSE_GRACE``) for the peer's close, cut the connection and call
        ``closed()``. Never waits itself; a dead peer cannot hold the
        closing longer than two grace periods."""


class SessionPort(Protocol):
    """A session as a transport sees it (see the module's table)."""

    #: the session's id
    sid: str
    #: the protocol revision of the session: 4 or 3
    protocol: int
    #: v3 long-polling: binary as base64 text, as the handshake asked
    b64: bool
    #: held while writing on the session's WebSocket
    write_lock: Lock

    # -- long-polling --------------------------------------------------------

    def poll(self, connected: Callable[[], bool] | None = None
             ) -> list[Packet] | None:
        """A GET: the packets to answer with, waiting while it is parked.
        ``connected()`` False: the client went away; None is returned and
        the packets wait for the next GET."""

    def park_poll(self, resume: Callable[[], Any]
                  ) -> list[Packet] | float | None:
        """A GET that nothing may wait for: the packets to answer with
        now, or the most seconds it stays parked (``resume()`` runs once
        it may be answered: then :meth:`resume_poll`), or None when this
        session cannot park a GET so (then :meth:`poll`)."""

    def resume_poll(self) -> list[Packet]:
        """The answer of a GET parked by :meth:`park_poll` (woken, or
        its time is up)."""

    def abandon_poll(self) -> None:
        """A GET parked by :meth:`park_poll` lost its client."""

    def poll_answered(self, packets: list[Packet], delivered: bool) -> None:
        """The GET's answer was written (``delivered``) or not."""

    def begin_post(self) -> None:
        """A POST arrived (its body not read yet)."""

    def receive(self, packets: Iterable[Packet]) -> None:
        """The packets of a POST, in order (a lazily decoded payload: a
        DecodeError it raises reaches the caller)."""

    def invalid_input(self, description: str) -> None:
        """The client sent something unreadable: the session ends."""

    def end_post(self) -> None:
        """The POST is over."""

    # -- WebSocket -----------------------------------------------------------

    def request_upgrade(self) -> None:
        """A WebSocket request for the session, before the 101."""

    def attach_websocket(self, sink: WebSocketSink) -> Verdict:
        """The WebSocket was accepted: what it is for the session."""

    def websocket_packet(self, sink: WebSocketSink, packet: Packet) -> bool:
        """A packet read on ``sink``; False: stop reading it."""

    def websocket_invalid(self, sink: WebSocketSink, description: str
                          ) -> None:
        """``sink`` carried something unreadable."""

    def websocket_ended(self, sink: WebSocketSink, reason: str,
                        description: str | None = None) -> None:
        """``sink``'s connection is over."""

    def websocket_blocked(self, sink: WebSocketSink) -> None:
        """Bytes written on ``sink`` wait for its peer to read them."""

    # -- either --------------------------------------------------------------

    def close(self, reason: str, description: str | None = None, *,
              graceful: bool = False) -> None:
        """End the session; never blocks."""


def close_in_tasks(spawn: Callable[..., Any], send_rest: Callable[[], None],
                   wait_ended: Callable[[float], object],
                   cut: Callable[[], None], closed: Callable[[], None]
                   ) -> None:
    """:meth:`WebSocketSink.close_with` for sinks whose closing runs in a
    task that may wait (call it in such a task): ``send_rest()`` in a task
    of its own, whose write lock may be held by a writer that a dead peer
    keeps waiting, for at most ``CLOSE_GRACE``; then at most as long for
    the peer's close (``wait_ended(timeout)``); then ``cut()`` the
    connection and report ``closed()``."""
    writer = spawn(send_rest)
    writer.join(CLOSE_GRACE)
    wait_ended(CLOSE_GRACE)
    cut()
    closed()

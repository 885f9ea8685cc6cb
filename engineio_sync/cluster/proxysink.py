"""The owner's side of a WebSocket that another process holds.

To the owner's session engine a :class:`ProxySink` is a WebSocket sink
like any other; what the engine writes on it goes, in order, to the
reply list of the process holding the connection, whose reply task
writes it on the real socket. That process reports what its reader sees
(packets, the end) through the owner's inbox.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..core.packets import Packet
from ..port import close_in_tasks
from .wire import CUT, CLOSE_FRAME, WRITE, encode_packets, encode_reply

__all__ = ['ProxySink']


class ProxySink:
    """A WebSocket sink whose connection is in process ``holder``,
    known there as ``channel``. ``push(process, message)`` puts a
    message on a process's reply list (False if Redis failed)."""

    __slots__ = ('holder', 'channel', 'push', 'ended', 'closing',
                 'draining', 'backlog', '_spawn')

    def __init__(self, holder: str, channel: str,
                 push: Callable[[str, bytes], bool], ended: Any,
                 spawn: Callable[..., Any]) -> None:
        self.holder = holder
        self._spawn = spawn
        self.channel = channel
        self.push = push
        #: set when the holder's reader saw the connection end
        self.ended = ended
        self.closing = False
        # The holder keeps (and bounds) its own socket's backlog.
        self.draining = False
        self.backlog = 0

    def __repr__(self) -> str:
        return f'<ProxySink {self.channel} at {self.holder}>'

    def _send(self, status: bytes, body: bytes = b'') -> bool:
        return self.push(self.holder,
                         encode_reply(self.channel, status, body))

    def write_packet(self, packet: Packet) -> bool:
        """Write one packet on the holder's connection."""
        return self._send(WRITE, encode_packets([packet]))

    def write_packets(self, packets: list[Packet]) -> bool:
        """Write packets, in order, on the holder's connection."""
        return self._send(WRITE, encode_packets(packets))

    def write_backlog(self) -> bool:
        """Nothing waits here: the holder drains its own socket."""
        return True

    def drain_with(self, step: Callable[[], bool]) -> None:
        """Nothing waits here (see :meth:`write_backlog`): one step."""
        step()

    def send_close(self) -> None:
        """Have the holder send the close frame."""
        self._send(CLOSE_FRAME)

    def shutdown(self) -> None:
        """Have the holder cut the connection."""
        self._send(CUT)
        self.ended.set()

    def mark_closing(self) -> bool:
        """The engine starts closing it; False if it already had."""
        first, self.closing = not self.closing, True
        return first

    def close_with(self, send_rest: Callable[[], None],
                   closed: Callable[[], None]) -> None:
        """Close in a task: the last packets and the close frame, the
        holder's report of the end (bounded), the cut."""
        self._spawn(close_in_tasks, self._spawn, send_rest, self.ended.wait,
                    self.shutdown, closed)


def encode_ending(reason: str, description: str | None) -> bytes:
    """How a holder reports its connection's end."""
    return json.dumps([reason, description]).encode()


def decode_ending(raw: bytes) -> tuple[str, str | None]:
    """Parse :func:`encode_ending`'s bytes."""
    try:
        reason, description = json.loads(raw)
        return str(reason), None if description is None else str(description)
    except (ValueError, TypeError):
        return 'transport error', 'malformed report'

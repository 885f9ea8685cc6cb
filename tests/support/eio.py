"""Engine.IO sessions opened with the raw clients: a polling session, a
WebSocket one, an upgrade, and reading past the server's pings."""

from __future__ import annotations

import json
import time
from typing import Any

from . import wsclient
from .httpclient import RawClient

__all__ = ['open_polling', 'open_websocket', 'upgrade_to_websocket',
           'receive_skipping_pings']


def open_polling(port: int) -> str:
    """A new polling session's sid."""
    sid, _ = RawClient(port).handshake()
    return sid


def open_websocket(port: int) -> tuple[wsclient.RawWebSocket, str]:
    """A new session on a WebSocket: the socket and the sid."""
    ws = wsclient.connect(port, 'EIO=4&transport=websocket')
    first = wsclient.receive(ws)
    assert first[0] == '0', first
    return ws, json.loads(first[1:])['sid']


def upgrade_to_websocket(port: int, sid: str) -> wsclient.RawWebSocket:
    """Move polling session ``sid`` to a WebSocket (probe, then ``5``)."""
    ws = wsclient.connect(port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    ws.send('5')
    return ws


def receive_skipping_pings(ws: wsclient.RawWebSocket,
                           timeout: float = 5.0) -> Any:
    """The next message that is not a ping (each ping is answered)."""
    deadline = time.monotonic() + timeout
    while True:
        data = wsclient.receive(ws, max(0.1, deadline - time.monotonic()))
        if data != '2':
            return data
        ws.send('3')

"""``max_buffered_bytes`` for a WebSocket held for another process's
session: the holder cuts a peer that leaves more than that many bytes
unread, and ``None`` means no limit there too, as in one process."""

from __future__ import annotations

import pytest

from clusterkit import Node, in_thread, messages
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support import wsclient
from support.waiting import wait_until

# Messages of a megabyte each: far more than the kernel's socket buffers
# of both ends take, and than the limit tested.
COUNT = 40
SIZE = 1_000_000


@pytest.mark.parametrize('limit', [None, 4_000_000])
def test_a_websocket_held_for_another_process_keeps_max_buffered_bytes(
        redis_url, raw_client, limit):
    a = Node('A', redis_url, max_buffered_bytes=limit)
    b = Node('B', redis_url, max_buffered_bytes=limit)
    try:
        # A owns the session; its WebSocket is on B, which writes there
        # what A's engine sends.
        sid, _ = raw_client(a.port).handshake()
        parked = in_thread(lambda: raw_client(a.port).get(sid))
        wait_until(lambda: a.parked(sid), what='the GET parked on A')
        ws = wsclient.connect(b.port, f'EIO=4&transport=websocket&sid={sid}')
        ws.send('2probe')
        assert wsclient.receive(ws) == '3probe'
        assert parked() == (200, b'6')
        ws.send('5')
        wait_until(lambda: a.server.transport(sid) == 'websocket',
                   what='upgrade')
        # The client reads nothing while A sends.
        sent = [a.server.send(sid, f'{i:02d}' + 'x' * SIZE)
                for i in range(COUNT)]
        # B takes its replies in order: once it has handed a GET (of
        # another session of A's, through B) its answer, it has written
        # every message on the WebSocket, or cut it.
        other, _ = raw_client(a.port).handshake()
        assert a.server.send(other, 'after')
        status, body = raw_client(b.port).get(other)
        assert (status, messages(body)) == (200, ['after'])
        got = []
        try:
            while len(got) < COUNT:
                message = wsclient.receive(ws, timeout=10)
                if message != '2':
                    got.append(message[1:3])
        except wsclient.ConnectionClosed:
            pass
        if limit is None:
            assert all(sent)
            assert got == [f'{i:02d}' for i in range(COUNT)]
        else:
            # Cut once the bytes waiting at B passed the limit (the
            # session closed: A's later sends found it gone).
            assert len(got) < COUNT
            assert not all(sent)
            wait_until(lambda: a.seen('disconnect', sid),
                       what='disconnect')
        ws.close()
    finally:
        a.stop()
        b.stop()

"""Two POSTs of one session in flight at once are refused with the
protocol's 400 (and the session closed) as in one process, wherever each
landed: a POST carried to the owner is in flight from its arrival there
until the owner answered it."""

from __future__ import annotations

import http.client
import threading
from typing import Iterator

import pytest

from clusterkit import Node, in_thread, nodes  # noqa: F401
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.waiting import wait_until

BAD_REQUEST = (400, b'{"code":3,"message":"Bad request"}')


def streamed_post(port: int, sid: str, body: bytes,
                  halfway: threading.Event, go_on: threading.Event
                  ) -> tuple[int, bytes]:
    """A POST whose body stops halfway (``halfway`` set) until ``go_on``:
    in flight at the process it reached, which has begun it."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)

    def pieces() -> Iterator[bytes]:
        yield body[:len(body) // 2]
        halfway.set()
        go_on.wait(10)
        yield body[len(body) // 2:]
    try:
        conn.request('POST', f'/engine.io/?EIO=4&transport=polling&sid={sid}',
                      body=pieces(),
                      headers={'Content-Length': str(len(body))})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# (where the overlapping POST lands); A owns, and the slow one lands there.
# A POST whose body streams into another process is not in flight at the
# owner until its body is read and carried over, and the owner's handling
# of it is short (handlers run after, on the worker pool): so the two
# overlap only at the owner.
SECONDS = ['A', 'B']


@pytest.mark.parametrize('second', SECONDS,
                         ids=[f'A-then-{s}' for s in SECONDS])
def test_overlapping_posts_are_refused_wherever_they_land(
        nodes, raw_client, second):
    owner = nodes['A']
    sid, _ = raw_client(owner.port).handshake()
    halfway, go_on = threading.Event(), threading.Event()
    # Over 64 KiB: the server on the I/O loop reads smaller bodies whole
    # before the application (and so the session) sees the POST.
    slow = in_thread(lambda: streamed_post(
        owner.port, sid, b'4slow\x1e4' + b'p' * 70_000, halfway, go_on))
    assert halfway.wait(5)
    wait_until(lambda: owner.posting(sid), what='the first POST begun')
    try:
        assert raw_client(nodes[second].port).post(sid, '4late') == \
            BAD_REQUEST
    finally:
        go_on.set()
    # The session is over, closed as one process closes it on overlapping
    # POSTs, and the late message was never handled.
    slow(10)
    wait_until(lambda: owner.seen('disconnect', sid), what='disconnect')
    assert owner.seen('disconnect', sid) == [('transport error',)]
    assert ('late',) not in owner.seen('message', sid)
    assert raw_client(nodes['C'].port).post(sid, '4more')[0] == 400


def test_posts_one_after_another_on_different_processes_are_not_refused(
        nodes, raw_client):
    owner = nodes['A']
    sid, _ = raw_client(owner.port).handshake()
    for i, name in enumerate('BCABC'):
        assert raw_client(nodes[name].port).post(sid, f'4m{i}') == \
            (200, b'ok')
    assert owner.seen('message', sid) == [(f'm{i}',) for i in range(5)]
    assert owner.seen('disconnect', sid) == []

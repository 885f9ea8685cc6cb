"""Two POSTs of one session in flight at once are refused with the
protocol's 400 (and the session closed) as in one process, wherever each
landed: a POST carried to the owner is in flight from its arrival there
until the owner answered it."""

from __future__ import annotations

import threading

import pytest

from clusterkit import Node, in_thread, nodes  # noqa: F401
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.waiting import wait_until

BAD_REQUEST = (400, b'{"code":3,"message":"Bad request"}')


class Gate:
    """A second message handler (the node's records them) that holds
    ``slow`` messages until opened."""

    def __init__(self, node: Node) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()

        @node.server.on('message')
        def message(sid: str, data: str) -> None:
            if data == 'slow':
                self.entered.set()
                self.open.wait(10)


# (where the slow POST lands, where the overlapping one lands); A owns.
ROUTES = [('B', 'C'), ('B', 'B'), ('A', 'B'), ('B', 'A'), ('A', 'A')]


@pytest.mark.parametrize('first, second', ROUTES,
                         ids=[f'{f}-then-{s}' for f, s in ROUTES])
def test_overlapping_posts_are_refused_wherever_they_land(
        nodes, raw_client, first, second):
    owner = nodes['A']
    gate = Gate(owner)
    sid, _ = raw_client(owner.port).handshake()
    slow = in_thread(lambda: raw_client(nodes[first].port).post(
        sid, '4slow'))
    assert gate.entered.wait(5)
    try:
        # The owner is still running the first POST's handler.
        assert raw_client(nodes[second].port).post(sid, '4late') == \
            BAD_REQUEST
    finally:
        gate.open.set()
    # The first POST was taken whole; the session is over, closed as one
    # process closes it on overlapping POSTs, and the late message was
    # never handled.
    assert slow(10) == (200, b'ok')
    wait_until(lambda: owner.seen('disconnect', sid), what='disconnect')
    assert owner.seen('disconnect', sid) == [('transport error',)]
    assert owner.seen('message', sid) == [('slow',)]
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

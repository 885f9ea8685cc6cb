"""The threading driver's hub (engineio_sync.hub): application code the
loop comes upon runs in the loop's thread; a blocked handler makes a new
thread take the loop over, and no more threads are handed away than the
pool has. Real threads, no sockets."""

from __future__ import annotations

import threading
import time

from engineio_sync.hub import GUARD_TICK, STALL, Hub
from support.waiting import wait_until
from threadkit import DEADLINE


def test_blocked_handlers_take_at_most_the_pool_size_in_threads():
    hub = Hub(pool_size=2)
    hub.start()
    release = threading.Event()
    started: list[tuple[int, str]] = []
    finished: list[int] = []

    def block(i: int) -> None:
        started.append((i, threading.current_thread().name))
        release.wait(DEADLINE)
        finished.append(i)
    try:
        for i in range(6):
            hub.call_soon(hub.run_app, f'k{i}', block, i)
        # Two run in the loop's thread and are handed away from it; then
        # the loop sends application code to the pool, whose two threads
        # block too; the last two wait in its queue.
        wait_until(lambda: len(started) == 4, DEADLINE,
                   what='four handlers blocked')
        # Nothing more starts while they block (the guard looks every
        # GUARD_TICK; a few of its looks go by).
        time.sleep(10 * (GUARD_TICK + STALL))
        assert len(started) == 4
        assert hub.handovers == 2
        names = [name for _, name in started]
        assert names[:2] == ['engineio-loop', 'engineio-loop']
        assert all(name.startswith('engineio-app') for name in names[2:])
        # The loop itself still answers.
        answered = threading.Event()
        hub.call_soon(answered.set)
        assert answered.wait(DEADLINE)
        release.set()
        wait_until(lambda: len(finished) == 6, DEADLINE,
                   what='every handler done')
    finally:
        release.set()
        hub.stop(DEADLINE)

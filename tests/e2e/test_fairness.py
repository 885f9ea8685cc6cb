"""One client's huge POST must not hold up the others.

A payload may carry hundreds of thousands of tiny packets. The session
engine hands them to the application in slices and yields in between, so
another client's round trip is served while the big POST is still being
worked through. Checked by order, not by timing: the small round trip
must finish before the big POST is answered.
"""

from __future__ import annotations

import concurrent.futures

import pytest

from support import DRIVERS
from support.httpclient import RawClient

# The green drivers, where nothing but a yield lets another task run.
GREEN = [d for d in DRIVERS if d in ('eventlet', 'gevent', 'native')]

PACKETS = 40_000


@pytest.mark.parametrize('driver', GREEN)
def test_huge_post_does_not_starve_other_clients(start_server, driver):
    server = start_server(driver)
    client = RawClient(server.port)
    big_sid, _ = client.handshake()
    small_sid, _ = client.handshake()
    body = '\x1e'.join(['4x'] * PACKETS)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        big = pool.submit(client.post, big_sid, body)
        # The server is working through the big payload's handlers.
        server.wait_event(ev='message', sid=big_sid, timeout=10)
        assert not big.done()
        assert client.post(small_sid, '4ping') == (200, b'ok')
        status, reply = client.get(small_sid)
        assert (status, reply) == (200, b'4ping')
        # The small round trip was served in between, not after.
        assert not big.done()
        assert big.result(timeout=60) == (200, b'ok')
    # And the big one was handled whole, in order.
    status, reply = client.get(big_sid)
    assert status == 200 and reply.count(b'4x') == PACKETS

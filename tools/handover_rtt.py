#!/usr/bin/env python3
"""Measure what the cluster's handover saves: the WebSocket echo round trip
of an upgraded session whose WebSocket reached another process than the
one that answered its handshake, without the handover (the session stays
with its owner, every message crosses Redis) and with it (the session
moves to the WebSocket's process), next to a WebSocket on the owner.

It starts its own redis-server (Debian's) on a free port and two
in-process servers (threading driver, engineio_sync's HTTP server) on
127.0.0.1, as tests/cluster does. A measurement, not a test: it asserts
nothing about speed.

Usage (from the repository root)::

    PYTHONPATH=$PWD .venv/bin/python tools/handover_rtt.py [ROUND_TRIPS]
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for folder in ('tests', 'tests/cluster'):
    sys.path.insert(0, os.path.join(ROOT, folder))

from clusterkit import Node  # noqa: E402
from redisproc import RedisProcess  # noqa: E402
from support import wsclient  # noqa: E402


def handshake(port: int) -> str:
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request('GET', '/engine.io/?EIO=4&transport=polling')
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    return json.loads(body.split('\x1e')[0][1:])['sid']


def echo_times(owner: Node, holder: Node, count: int) -> list[float]:
    """Round trips (seconds) of ``count`` echoes on a session opened on
    ``owner`` and upgraded on ``holder``."""
    sid = handshake(owner.port)
    ws = wsclient.connect(holder.port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    ws.send('5')
    times = []
    for i in range(count + 50):
        start = time.perf_counter()
        ws.send(f'4echo:{i}')
        while True:
            got = ws.receive(timeout=10)
            if got != '2':
                break
            ws.send('3')
        assert got == f'4{i}', got
        if i >= 50:  # the first ones warm up
            times.append(time.perf_counter() - start)
    ws.close()
    return times


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    redis = RedisProcess()
    redis.start()
    try:
        url = redis.url
        rows = []
        for label, handover, same in (
                ('WebSocket on the owner', 0, True),
                ('WebSocket elsewhere, handover=0 (proxied)', 0, False),
                ('WebSocket elsewhere, handover=0.5 (moved)', 0.5, False)):
            nodes = [Node(name, url, handover=handover) for name in 'AC']
            try:
                times = echo_times(nodes[0], nodes[0] if same else nodes[1],
                                   count)
            finally:
                for node in nodes:
                    node.stop()
            times.sort()
            rows.append((label, statistics.median(times) * 1000,
                         times[int(len(times) * 0.9)] * 1000))
        print(f'WebSocket echo round trip, {count} round trips each, '
              'loopback')
        for label, p50, p90 in rows:
            print(f'  {label:45s} p50 {p50:6.3f} ms   p90 {p90:6.3f} ms')
    finally:
        redis.stop()
        redis.close()


if __name__ == '__main__':
    main()

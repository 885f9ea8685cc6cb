"""What an idle connection costs under eventlet, by how it waits.

Usage: .venv/bin/python bench/green_idle.py [N]

N socket pairs (5000 by default) wait for bytes that never come, in one of
two ways, each in a fresh process: a greenlet per connection blocked in a
green ``recv`` about as deep in calls as a WebSocket's read loop (how the
eventlet driver serves a WebSocket today), or a listener on eventlet's hub
calling back when the socket is readable (no greenlet until there is
work). Prints the growth of the process's RSS per connection for each.
"""

import os
import re
import socket
import subprocess
import sys

DEPTH = 8  # frames between the greenlet's start and its recv


def rss_kib() -> int:
    with open('/proc/self/status') as f:
        return int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))


def measure(mode: str, n: int) -> float:
    import eventlet
    from eventlet import hubs
    from eventlet.green import socket as green_socket
    pairs = [socket.socketpair() for _ in range(n)]
    base = rss_kib()
    if mode == 'greenlet':
        def reader(sock: socket.socket) -> None:
            green = green_socket.socket(fileno=os.dup(sock.fileno()))

            def deeper(depth: int) -> bytes:
                if depth:
                    return deeper(depth - 1)
                return green.recv(65536)
            deeper(DEPTH)
        for ours, _ in pairs:
            eventlet.spawn(reader, ours)
    else:
        hub = hubs.get_hub()
        for ours, _ in pairs:
            ours.setblocking(False)
            hub.add(hub.READ, ours.fileno(), lambda fd: None,
                    lambda *exc: None, lambda: None)
    eventlet.sleep(0.5)
    return (rss_kib() - base) / n


if __name__ == '__main__':
    if len(sys.argv) > 2:
        print(f'{measure(sys.argv[2], int(sys.argv[1])):.2f}')
        sys.exit(0)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for way in ('greenlet', 'listener'):
        out = subprocess.run(
            [sys.executable, '-W', 'ignore', __file__, str(count), way],
            capture_output=True, text=True, check=True).stdout.strip()
        print(f'{way}: {out} KiB per idle connection ({count})')

"""Echo round trips over socket pairs: the I/O loop and pool vs a thread each.

Usage: python3 bench/reactor_pingpong.py [SECONDS] [N ...]
       (environment: MODES="pool loop threads", MSG=32, WARMUP=1,
        SERVER_CORE=0, GEN_CORE=1, FORCE=1 to run on a busy machine)

Before the I/O loop is wired into the server (issue 22), this measures
whether its design can beat one thread per connection where that one
collapses. N socket pairs (default 1, 50 and 500) connect a load generator
to a server, each in its own forked process pinned to its own core; each
pair has one message of MSG bytes in flight: the generator sends it, waits
for the echo, notes the round trip and sends the next. Server kinds:

- ``pool``: one ``engineio_sync.reactor.Reactor`` thread reads every
  socket and hands each message to ``engineio_sync.workpool.WorkPool``
  (default size; ``pool:4`` for 4 threads) under the socket's key; the job
  writes the reply. This is the design of issue 22: the loop owns the
  sockets, application code runs in the pool.
- ``loop``: the reactor echoes in its own callback (no pool): what the
  hand-over to the pool costs.
- ``threads``: one thread per socket in blocking recv/send, what the
  threading driver does today for a WebSocket.

Reported per kind and N: round trips per second over SECONDS (default 5)
after WARMUP seconds, the median and 99th percentile of a round trip, and
the CPU the server and the generator used (cores: 1.0 is one busy core; a
generator near 1.0 means the number is the generator's limit).
"""

from __future__ import annotations

import array
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from engineio_sync.reactor import Reactor  # noqa: E402
from engineio_sync.workpool import WorkPool  # noqa: E402

MSG = int(os.environ.get('MSG', '32'))
WARMUP = float(os.environ.get('WARMUP', '1'))


def pin(core: str | None) -> None:
    if core is not None and hasattr(os, 'sched_setaffinity'):
        cores = os.sched_getaffinity(0)
        if int(core) in cores and len(cores) > 1:
            os.sched_setaffinity(0, {int(core)})


# -- servers (each runs until SIGTERM) ----------------------------------------

def serve_pool(socks: list[socket.socket], size: int | None = None) -> None:
    reactor = Reactor()
    pool = WorkPool() if size is None else WorkPool(size)

    def readable(key: int, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b''
        if data:
            pool.submit(key, sock.sendall, data)
        else:
            reactor.remove_reader(sock)

    for key, sock in enumerate(socks):
        sock.setblocking(False)
        reactor.add_reader(sock, lambda k=key, s=sock: readable(k, s))
    reactor.run()


def serve_loop(socks: list[socket.socket]) -> None:
    reactor = Reactor()

    def readable(sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                sock.send(data)
                return
        except OSError:
            pass
        reactor.remove_reader(sock)

    for sock in socks:
        sock.setblocking(False)
        reactor.add_reader(sock, lambda s=sock: readable(s))
    reactor.run()


def serve_threads(socks: list[socket.socket]) -> None:
    def echo(sock: socket.socket) -> None:
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                sock.sendall(data)
        except OSError:
            # The generator is gone (it closes its ends unread).
            return

    threading.stack_size(256 * 1024)
    threads = [threading.Thread(target=echo, args=(s,), daemon=True)
               for s in socks]
    for thread in threads:
        thread.start()
    threading.Event().wait()


SERVERS = {'pool': serve_pool, 'loop': serve_loop, 'threads': serve_threads}


# -- the load generator -----------------------------------------------------------

def generate(socks: list[socket.socket], seconds: float) -> dict:
    """Keep one message in flight per socket; round-trip times after the
    warm-up."""
    selector = selectors.DefaultSelector()
    message = b'x' * MSG
    sent_at = [0.0] * len(socks)
    got = [0] * len(socks)
    for i, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    clock = time.perf_counter
    start = clock()
    measure_from = start + WARMUP
    end = measure_from + seconds
    for i, sock in enumerate(socks):
        sent_at[i] = clock()
        sock.send(message)
    rtts = array.array('d')
    cpu0 = None
    now = clock()
    while now < end:
        for key, _ in selector.select(0.5):
            i = key.data
            sock = key.fileobj
            got[i] += len(sock.recv(65536))
            if got[i] < MSG:
                continue
            got[i] = 0
            now = clock()
            if now >= measure_from:
                rtts.append(now - sent_at[i])
            sent_at[i] = now
            sock.send(message)
        now = clock()
        if cpu0 is None and now >= measure_from:
            cpu0 = time.process_time()
    cpu = time.process_time() - (cpu0 or 0.0)
    rtts = sorted(rtts)
    n = len(rtts)

    def pct(p: float) -> float:
        return rtts[min(n - 1, int(n * p))] * 1e3 if n else float('nan')

    return {'round_trips': n, 'rate': n / seconds, 'p50_ms': pct(0.50),
            'p99_ms': pct(0.99), 'gen_cpu': cpu / seconds}


# -- one measurement ------------------------------------------------------------------

def cpu_of(rusage: object) -> float:
    return rusage.ru_utime + rusage.ru_stime  # type: ignore[attr-defined]


def measure(kind: str, n: int, seconds: float) -> dict:
    pairs = [socket.socketpair() for _ in range(n)]
    server_ends = [a for a, _ in pairs]
    client_ends = [b for _, b in pairs]
    server = os.fork()
    if server == 0:
        for sock in client_ends:
            sock.close()
        pin(os.environ.get('SERVER_CORE', '0'))
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        try:
            name, _, size = kind.partition(':')
            if size:
                serve_pool(server_ends, int(size))
            else:
                SERVERS[name](server_ends)
        finally:
            os._exit(0)
    for sock in server_ends:
        sock.close()
    read_end, write_end = os.pipe()
    client = os.fork()
    if client == 0:
        os.close(read_end)
        pin(os.environ.get('GEN_CORE', '1'))
        result = generate(client_ends, seconds)
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    for sock in client_ends:
        sock.close()
    with os.fdopen(read_end) as f:
        result = json.loads(f.read() or '{}')
    os.waitpid(client, 0)
    # The server's CPU over its whole life, shared out over the measured
    # window: its set-up is small beside SECONDS of echoing.
    os.kill(server, signal.SIGTERM)
    _, _, usage = os.wait4(server, 0)
    result['srv_cpu'] = cpu_of(usage) / (seconds + WARMUP)
    result.update(kind=kind, clients=n)
    return result


def main() -> None:
    args = sys.argv[1:]
    seconds = float(args.pop(0)) if args else 5.0
    counts = [int(a) for a in args] or [1, 50, 500]
    kinds = os.environ.get('MODES', 'pool loop threads').split()
    load = os.getloadavg()[0]
    print(f'load average {load:.2f}, {os.cpu_count()} cores, '
          f'python {sys.version.split()[0]}')
    if load >= 1 and not os.environ.get('FORCE'):
        sys.exit('the machine is busy (load >= 1): not measuring '
                 '(FORCE=1 to run anyway)')
    print(f'{"kind":8} {"N":>5} {"round trips/s":>14} {"p50 ms":>8} '
          f'{"p99 ms":>8} {"srv cpu":>8} {"gen cpu":>8}')
    for n in counts:
        for kind in kinds:
            r = measure(kind, n, seconds)
            print(f'{kind:8} {n:5d} {r["rate"]:14,.0f} {r["p50_ms"]:8.3f} '
                  f'{r["p99_ms"]:8.3f} {r["srv_cpu"]:8.2f} '
                  f'{r["gen_cpu"]:8.2f}', flush=True)


if __name__ == '__main__':
    main()

"""Prometheus metrics under gunicorn with two workers: the recipe of
examples/gunicorn/metrics.conf.py serving examples/metrics/app.py.

WebSocket-only sessions (no sticky sessions needed) land on both workers
(each listens on a socket of its own); one scrape sums both. A worker killed
outright drops out of the open-session gauge (the child_exit hook) and
its counts stay in the totals.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import urllib.request

import pytest

from deploykit import EXAMPLES, AppProcess, free_port, wait_until
from support import wsclient

pytest.importorskip('prometheus_client')
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

pytestmark = pytest.mark.timeout(120)

REFRESH = 0.2
CONNECTIONS = 3
SESSIONS = 5
SIZES = (10, 300, 2000)


def scrape(url: str) -> dict[str, float]:
    """Sum of each sample name over the label sets given (see ``sample``)."""
    with urllib.request.urlopen(url + '/metrics', timeout=5) as resp:
        text = resp.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + ''.join(f',{k}={v}' for k, v in
                                   sorted(s.labels.items()))
            samples[key] = s.value
    return samples


def sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name`` over every series whose labels include these."""
    wanted = [f',{k}={v}' for k, v in labels.items()]
    return sum(v for key, v in samples.items()
               if key.split(',')[0] == name
               and all(w in key for w in wanted))


@pytest.fixture(params=['gthread', 'gevent'])
def gunicorn_metrics(request):
    """The recipe with two workers of the class given (``-k``)."""
    metrics_dir = tempfile.mkdtemp(prefix='eio-prom-')
    # What an earlier run might have left: on_starting must remove it
    # (this one is not even readable as a metric file).
    with open(os.path.join(metrics_dir, 'counter_1.db'), 'wb') as f:
        f.write(b'stale')
    port = free_port()
    app = AppProcess(
        'gunicorn-metrics',
        [sys.executable, '-m', 'gunicorn', '-c',
         os.path.join(EXAMPLES, 'gunicorn', 'metrics.conf.py'),
         '--pythonpath', os.path.join(EXAMPLES, 'metrics'),
         '-b', f'127.0.0.1:{port}', '--no-control-socket', '-w', '2',
         '-k', request.param, '--worker-connections', str(CONNECTIONS),
         '--reuse-port',
         'app:app'],
        port, env={'PROMETHEUS_MULTIPROC_DIR': metrics_dir,
                   'METRICS_REFRESH': str(REFRESH)},
        ready_path='/health')
    try:
        yield app
    finally:
        app.stop()
    assert not app.tracebacks(), app.output()


def ws_session(port: int) -> tuple[object, int]:
    """A WebSocket-only session and the pid of the worker holding it."""
    ws = wsclient.connect(port, 'EIO=4&transport=websocket')
    assert wsclient.receive(ws)[0] == '0'
    ws.send('4pid')
    return ws, int(wsclient.receive(ws)[1:])


def test_two_workers_add_up(gunicorn_metrics):
    app = gunicorn_metrics
    # A WebSocket leaves gunicorn after the upgrade (it waits in
    # engineio_sync's socket loop: the I/O loop's thread under gthread,
    # gevent's hub under gevent) and does not count against
    # --worker-connections. Each worker listens on a socket of its own
    # (--reuse-port), the kernel spreads connections between them, and
    # sessions open (a bounded number) until both workers hold some, once
    # both listen (a worker still booting has no socket yet).
    listening: set[int] = set()

    def both_listen() -> bool:
        with urllib.request.urlopen(app.url + '/health',
                                    timeout=5) as resp:
            listening.add(json.loads(resp.read())['pid'])
        return len(listening) == 2
    wait_until(both_listen, 20, what='both workers answering')
    sessions: dict[int, list] = {}
    for _ in range(60):
        ws, pid = ws_session(app.port)
        sessions.setdefault(pid, []).append(ws)
        if len(sessions) == 2 and \
                sum(map(len, sessions.values())) >= SESSIONS:
            break
    assert len(sessions) == 2, sessions
    opened = sum(len(s) for s in sessions.values())
    # Every session echoes three messages: bytes in = bytes out.
    for group in sessions.values():
        for ws in group:
            for size in SIZES:
                ws.send('4' + 'm' * size)
                assert wsclient.receive(ws) == '4' + 'm' * size
    # 'pid' (3 bytes) and the messages in; the pid and the echoes out.
    want_in = opened * (3 + sum(SIZES))

    def summed(samples: dict[str, float]) -> bool:
        return (sample(samples, 'engineio_received_bytes_total') == want_in
                and sample(samples, 'engineio_sessions_open',
                           transport='websocket') == opened)

    # Either worker answers the scrapes; each shows the sum of both (the
    # other worker's traffic within REFRESH seconds).
    for _ in range(3):
        samples = wait_until(lambda: (lambda s: s if summed(s) else None)(
            scrape(app.url)), 5, what='both workers summed')
        assert sample(samples, 'engineio_handshakes_total',
                      transport='websocket', protocol='4') == opened
        assert sample(samples, 'engineio_received_packets_total',
                      transport='websocket') == opened * (1 + len(SIZES))
        assert sample(samples, 'engineio_sent_packets_total',
                      transport='websocket') == opened * (2 + len(SIZES))
        assert sample(samples, 'engineio_connection_errors_total') == 0

    # One worker dies without a word: its sessions leave the gauge, the
    # handshakes it counted stay.
    victim, survivor = sorted(sessions, key=lambda p: len(sessions[p]))
    os.kill(victim, signal.SIGKILL)
    for ws in sessions.pop(victim):
        wsclient.receive_until_closed(ws, timeout=5)
    left = len(sessions[survivor])
    samples = wait_until(lambda: (lambda s: s if sample(
        s, 'engineio_sessions_open') == left else None)(scrape(app.url)),
        10, what='the dead worker out of the gauge')
    assert sample(samples, 'engineio_handshakes_total') == opened

    for ws in sessions[survivor]:
        ws.send('1')
        wsclient.receive_until_closed(ws)
    # The gauge goes down and the close is counted one after the other (a
    # scrape may fall in between): both are waited for.
    samples = wait_until(lambda: (lambda s: s if sample(
        s, 'engineio_sessions_open') == 0 and sample(
        s, 'engineio_closes_total', reason='client disconnect') == left
        else None)(scrape(app.url)), 5, what='every session closed')
    assert sample(samples, 'engineio_closes_total') == left

"""Prometheus metrics for engineio_sync servers (the ``metrics`` extra).

Turn them on for a server with :func:`instrument` and serve them with
:class:`MetricsApp` (or both at once with ``listen(..., metrics=True)``)::

    import engineio_sync
    from engineio_sync.metrics import MetricsApp, instrument

    eio = engineio_sync.Server()
    instrument(eio)
    app = MetricsApp(engineio_sync.WSGIApp(eio, flask_app.wsgi_app))
    # GET /metrics: the Prometheus text format; every other path: the app

Nothing imports this module (nor ``prometheus_client``) unless metrics are
turned on, and a server that is not instrumented pays one None check on
its hot paths. An instrumented session counts its packets and bytes with
plain integer additions on its own :class:`SessionTraffic`; they are
added to the Prometheus counters when the session upgrades or ends, and
for the sessions still open when the metrics are collected (a scrape).
Events that happen once per session (handshakes, upgrades, closes,
refusals, ping round trips) go to Prometheus directly.

Several processes (gunicorn ``-w N``): with ``PROMETHEUS_MULTIPROC_DIR``
set before ``prometheus_client`` is imported, prometheus_client's
multiprocess mode keeps every process's numbers in files of that
directory and :class:`MetricsApp` serves their sum, whichever worker
answers the scrape. Each process then writes its open sessions' traffic
there every ``refresh_interval`` seconds; the gunicorn hooks
``on_starting`` and ``child_exit`` (:mod:`engineio_sync.gunicorn`) empty the
directory at start and drop a dead worker's open-session gauge.

The metrics are listed in README.rst ("Metrics").
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Callable, Iterable

try:
    from prometheus_client import (REGISTRY, CollectorRegistry, Counter,
                                   Gauge, Histogram, make_wsgi_app, values)
    from prometheus_client.multiprocess import MultiProcessCollector
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("engineio_sync.metrics needs prometheus_client "
                      "(pip install 'engineio_sync[metrics]')") from exc

from .core.packets import Packet, PacketType
from .core.session import CloseReason
from .drivers.base import Driver
from .server import Server

__all__ = ['instrument', 'EngineMetrics', 'SessionTraffic', 'MetricsApp',
           'multiprocess_mode', 'QUEUE_BUCKETS', 'RTT_BUCKETS']

logger = logging.getLogger('engineio_sync')

#: Buckets of ``engineio_queued_packets`` (packets).
QUEUE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
#: Buckets of ``engineio_ping_rtt_seconds``.
RTT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
               1.0, 2.5, 5.0, 10.0)

_PONG = PacketType.PONG
_TRANSPORTS = ('polling', 'websocket')
_PROTOCOLS = ('4', '3')
_CLOSE_REASONS = (CloseReason.CLIENT_DISCONNECT, CloseReason.SERVER_DISCONNECT,
                  CloseReason.PING_TIMEOUT, CloseReason.TRANSPORT_CLOSE,
                  CloseReason.TRANSPORT_ERROR, CloseReason.SERVER_SHUTDOWN)

# Why an upgrade was cancelled, from the core's description, as a bounded
# label value.
_UPGRADE_FAILURES = (('upgrade timed out', 'timeout'),
                     ('the WebSocket closed', 'websocket closed'),
                     ('unexpected packet', 'unexpected packet'))


def multiprocess_mode() -> bool:
    """True when prometheus_client keeps its values in the files of
    ``PROMETHEUS_MULTIPROC_DIR`` (decided when it was first imported)."""
    return values.ValueClass is not values.MutexValue


def _size(data: str | bytes | None) -> int:
    """Bytes of a packet's data: UTF-8 for text (no encoding for ASCII)."""
    if data is None:
        return 0
    if isinstance(data, bytes) or data.isascii():
        return len(data)
    return len(data.encode('utf-8'))


class SessionTraffic:
    """One session's counters (the engine's ``traffic``).

    The engine adds to them as packets pass; only :class:`EngineMetrics`
    reads them, and it adds what they gained since its last look (the
    ``folded`` numbers) to the Prometheus counters. ``transport`` is the
    transport the metrics count the session under.
    """

    __slots__ = ('metrics', 'clock', 'transport', 'protocol', 'open',
                 'packets_in', 'bytes_in', 'packets_out', 'bytes_out',
                 'folded', 'ping_at', 'finished')

    def __init__(self, metrics: EngineMetrics, engine: Any) -> None:
        session = engine.session
        self.metrics = metrics
        # The engine's clock, not the engine: the engine holds this
        # object, and no cycle keeps a finished session alive.
        self.clock: Callable[[], float] = engine.ctx.clock
        self.transport: str = session.transport
        self.protocol = str(session.protocol)
        #: counted in the open-sessions gauge
        self.open = True
        self.packets_in = 0
        self.bytes_in = 0
        self.packets_out = 0
        self.bytes_out = 0
        #: (packets_in, bytes_in, packets_out, bytes_out) already counted
        self.folded = (0, 0, 0, 0)
        #: when the server's last unanswered ping was queued (clock time)
        self.ping_at: float | None = None
        #: the session was forgotten (its last long-poll answer may still
        #: be counted after that)
        self.finished = False

    # -- per packet: integer additions ---------------------------------------

    def packet_in(self, packet: Packet) -> None:
        """A packet from the client."""
        self.packets_in += 1
        data = packet.data
        if data is not None:
            # _size() inlined: this runs once per packet.
            self.bytes_in += len(data) if isinstance(data, bytes) or \
                data.isascii() else len(data.encode('utf-8'))
        if packet.type is _PONG and self.ping_at is not None:
            self.metrics.pong(self)

    def packet_out(self, packet: Packet) -> None:
        """A packet written without being queued."""
        self.packets_out += 1
        data = packet.data
        if data is not None:
            self.bytes_out += len(data) if isinstance(data, bytes) or \
                data.isascii() else len(data.encode('utf-8'))

    def flushed(self, packets: list[Packet]) -> None:
        """Queued packets handed to a transport in one go."""
        self.packets_out += len(packets)
        self.bytes_out += sum([_size(p.data) for p in packets])
        self.metrics.queued(self, len(packets))
        if self.finished:
            # The GET that carried the close packet ended the session
            # before it got here: nobody else will count this.
            self.metrics.fold(self)

    def undelivered(self, packets: list[Packet]) -> None:
        """Flushed packets went back to the queue: not sent after all (the
        fold never takes back what it counted, so nothing counts twice)."""
        self.packets_out -= len(packets)
        self.bytes_out -= sum([_size(p.data) for p in packets])

    # -- once per session event --------------------------------------------------

    def ping_queued(self) -> None:
        """The server queued a ping: its round trip starts now."""
        self.ping_at = self.clock()

    def upgraded(self) -> None:
        """The session moved to WebSocket."""
        self.metrics.upgraded(self)

    def upgrade_failed(self, description: str) -> None:
        """An upgrade was cancelled."""
        self.metrics.upgrade_failed(self, description)

    def closed(self, reason: str) -> None:
        """The session closed."""
        self.metrics.closed(self, reason)

    def forgotten(self) -> None:
        """The session is over: count what is left."""
        self.finished = True
        self.metrics.fold(self)


class EngineMetrics:
    """The Prometheus metrics of the servers instrumented on one registry.

    Made by :func:`instrument` (one per registry); the servers it counts
    add up. :meth:`refresh` adds the open sessions' traffic to the
    counters; the registry's collection does it first, so every scrape
    sees it, and in multiprocess mode a task of each process does it
    every ``refresh_interval`` seconds as well.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY,
                 refresh_interval: float = 2.0) -> None:
        self.registry = registry
        self.refresh_interval = refresh_interval
        self.servers: weakref.WeakSet[Server] = weakref.WeakSet()
        # Folding reads and advances each session's ``folded`` numbers.
        self.lock = threading.Lock()
        self._refresher_pid: int | None = None
        # Registered before the metrics, so that a collection refreshes
        # the counters before it reads them.
        registry.register(_Refresh(self))
        session_labels = ('transport', 'protocol')

        def counter(name: str, doc: str, labels: Iterable[str]) -> Counter:
            return Counter(name, doc, tuple(labels), registry=registry)

        self.sessions_open = Gauge(
            'engineio_sessions_open', 'Engine.IO sessions open now',
            session_labels, registry=registry, multiprocess_mode='livesum')
        self.handshakes = counter(
            'engineio_handshakes', 'Sessions opened (accepted handshakes)',
            session_labels)
        self.upgrades = counter(
            'engineio_upgrades', 'Sessions moved from polling to WebSocket',
            ('protocol',))
        self.upgrades_failed = counter(
            'engineio_upgrades_failed',
            'Upgrades to WebSocket cancelled (the session kept polling)',
            ('protocol', 'reason'))
        self.closes = counter(
            'engineio_closes', 'Sessions closed, by close reason',
            session_labels + ('reason',))
        self.connection_errors = counter(
            'engineio_connection_errors',
            'Requests refused (connection_error), by Engine.IO error code',
            ('code',))
        self.packets_in = counter(
            'engineio_received_packets', 'Engine.IO packets received',
            session_labels)
        self.bytes_in = counter(
            'engineio_received_bytes',
            'Bytes of the data of the packets received (UTF-8 for text)',
            session_labels)
        self.packets_out = counter(
            'engineio_sent_packets', 'Engine.IO packets sent',
            session_labels)
        self.bytes_out = counter(
            'engineio_sent_bytes',
            'Bytes of the data of the packets sent (UTF-8 for text)',
            session_labels)
        queued = Histogram(
            'engineio_queued_packets',
            'Packets a session had queued each time a transport took them '
            '(a long-poll answer, a WebSocket write of queued packets)',
            ('transport',), registry=registry, buckets=QUEUE_BUCKETS)
        rtt = Histogram(
            'engineio_ping_rtt_seconds',
            'Time from the server queueing a ping to its pong (protocol v4)',
            ('transport',), registry=registry, buckets=RTT_BUCKETS)
        # Children looked up once: the per-event paths only call them.
        self._queued = {t: queued.labels(t) for t in _TRANSPORTS}
        self._rtt = {t: rtt.labels(t) for t in _TRANSPORTS}
        self._traffic: dict[tuple[str, str], tuple] = {}
        self._create_series()

    def _create_series(self) -> None:
        """Every series of a known label set, at zero: a scraper sees
        them from the start (a rate needs the zero)."""
        for protocol in _PROTOCOLS:
            for transport in _TRANSPORTS:
                for metric in (self.sessions_open, self.handshakes,
                               self.packets_in, self.bytes_in,
                               self.packets_out, self.bytes_out):
                    metric.labels(transport, protocol)
                for reason in _CLOSE_REASONS:
                    self.closes.labels(transport, protocol, reason)
            self.upgrades.labels(protocol)
            for _, reason in _UPGRADE_FAILURES:
                self.upgrades_failed.labels(protocol, reason)
        for code in range(6):
            self.connection_errors.labels(str(code))

    # -- what servers and sessions report ---------------------------------------

    def watch(self, server: Server) -> None:
        """Count ``server``'s sessions from now on."""
        if server.metrics is not None and server.metrics is not self:
            raise ValueError('this server is already instrumented on '
                             'another registry')
        self.servers.add(server)
        server.report_to(self)

    def opened(self, engine: Any) -> None:
        """A session was accepted: give it its counters."""
        traffic = SessionTraffic(self, engine)
        engine.count_with(traffic)
        self.handshakes.labels(traffic.transport, traffic.protocol).inc()
        session = engine.session
        if session.closed:
            # A connect handler closed it already, before it had counters.
            traffic.open = False
            self.closes.labels(traffic.transport, traffic.protocol,
                               session.close_reason or 'server disconnect'
                               ).inc()
        else:
            self.sessions_open.labels(traffic.transport,
                                      traffic.protocol).inc()
        if self._refresher_pid != os.getpid() and multiprocess_mode():
            # Per process, started by its first session: a process forked
            # after instrument() (gunicorn --preload) gets its own.
            with self.lock:
                start = self._refresher_pid != os.getpid()
                self._refresher_pid = os.getpid()
            if start:
                engine.ctx.driver.spawn(self._refresh_loop,
                                        engine.ctx.driver)

    def refused(self, code: int) -> None:
        """A request was refused with this Engine.IO error code."""
        self.connection_errors.labels(str(code)).inc()

    def upgraded(self, traffic: SessionTraffic) -> None:
        """A session moved to WebSocket; its traffic so far was polling's."""
        with self.lock:
            self._fold(traffic)
            if traffic.open:
                self.sessions_open.labels(traffic.transport,
                                          traffic.protocol).dec()
                self.sessions_open.labels('websocket',
                                          traffic.protocol).inc()
            traffic.transport = 'websocket'
        self.upgrades.labels(traffic.protocol).inc()

    def upgrade_failed(self, traffic: SessionTraffic,
                       description: str) -> None:
        """An upgrade was cancelled; the session keeps polling."""
        reason = 'other'
        for start, name in _UPGRADE_FAILURES:
            if description.startswith(start):
                reason = name
                break
        self.upgrades_failed.labels(traffic.protocol, reason).inc()

    def closed(self, traffic: SessionTraffic, reason: str) -> None:
        """A session closed with ``reason``."""
        with self.lock:
            if not traffic.open:
                return
            traffic.open = False
            self.sessions_open.labels(traffic.transport,
                                      traffic.protocol).dec()
        self.closes.labels(traffic.transport, traffic.protocol,
                           reason).inc()

    def queued(self, traffic: SessionTraffic, count: int) -> None:
        """A transport took ``count`` queued packets at once."""
        self._queued[traffic.transport].observe(count)

    def pong(self, traffic: SessionTraffic) -> None:
        """The pong for the server's last ping arrived."""
        sent, traffic.ping_at = traffic.ping_at, None
        if sent is not None:
            self._rtt[traffic.transport].observe(
                max(0.0, traffic.clock() - sent))

    # -- adding the sessions' counters to Prometheus's -------------------------------

    def fold(self, traffic: SessionTraffic) -> None:
        """Add what ``traffic`` counted since the last fold."""
        with self.lock:
            self._fold(traffic)

    def refresh(self) -> None:
        """Add the traffic of every open session to the counters."""
        with self.lock:
            for server in list(self.servers):
                for socket in list(server.clients.values()):
                    traffic = socket.engine.traffic
                    if isinstance(traffic, SessionTraffic):
                        self._fold(traffic)

    def _fold(self, traffic: SessionTraffic) -> None:
        # Only the folder (under the lock) moves ``folded``, and only up:
        # numbers taken back (undelivered) and counted again add nothing
        # twice, and nothing is lost.
        now = (traffic.packets_in, traffic.bytes_in, traffic.packets_out,
               traffic.bytes_out)
        before = traffic.folded
        if now == before:
            return
        traffic.folded = (max(now[0], before[0]), max(now[1], before[1]),
                          max(now[2], before[2]), max(now[3], before[3]))
        key = (traffic.transport, traffic.protocol)
        counters = self._traffic.get(key)
        if counters is None:
            counters = self._traffic[key] = tuple(
                metric.labels(*key) for metric in (
                    self.packets_in, self.bytes_in, self.packets_out,
                    self.bytes_out))
        for counter, new, old in zip(counters, now, before):
            if new > old:
                counter.inc(new - old)

    def _refresh_loop(self, driver: Driver) -> None:
        pid = os.getpid()
        while self._refresher_pid == pid:
            driver.sleep(self.refresh_interval)
            try:
                self.refresh()
            except Exception:  # pragma: no cover - never stop refreshing
                logger.exception('metrics refresh failed')


class _Refresh:
    """A collector that exports nothing and refreshes the traffic
    counters when the registry is collected (it is registered first)."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = weakref.ref(metrics)

    def describe(self) -> list:
        return []

    def collect(self) -> list:
        metrics = self.metrics()
        if metrics is not None:
            metrics.refresh()
        return []


# One EngineMetrics per registry: the metric names exist once in each.
_by_registry: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_create_lock = threading.Lock()


def instrument(server: Server, *, registry: CollectorRegistry | None = None,
               refresh_interval: float | None = None) -> EngineMetrics:
    """Count ``server``'s sessions in Prometheus metrics, from now on.

    ``registry`` defaults to prometheus_client's global ``REGISTRY``;
    servers instrumented on one registry add up. ``refresh_interval``:
    in multiprocess mode, how often (seconds; default 2) each process
    writes its open sessions' traffic to ``PROMETHEUS_MULTIPROC_DIR`` (a
    single process does it at each scrape); None keeps the registry's.
    Sessions already open are not counted. Returns the
    :class:`EngineMetrics` (calling it again is harmless).
    """
    if not isinstance(server, Server):
        raise TypeError('server must be an engineio_sync.Server')
    if refresh_interval is not None and not refresh_interval > 0:
        raise ValueError('refresh_interval must be positive')
    if registry is None:
        registry = REGISTRY
    with _create_lock:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _by_registry[registry] = EngineMetrics(registry)
        if refresh_interval is not None:
            metrics.refresh_interval = refresh_interval
    metrics.watch(server)
    return metrics


WSGIApplication = Callable[[dict, Callable], Iterable[bytes]]


class MetricsApp:
    """WSGI middleware: ``GET path`` answers the metrics in the Prometheus
    text format (OpenMetrics when the scraper asks for it, gzip when it
    accepts it); every other request goes to ``wsgi_app`` (404 without
    one).

    In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) it answers the sum
    over every process of the directory, whichever process serves the
    request, and ``registry`` is not used; else it answers ``registry``
    (prometheus_client's ``REGISTRY`` by default).
    """

    def __init__(self, wsgi_app: WSGIApplication | None = None, *,
                 path: str = '/metrics',
                 registry: CollectorRegistry | None = None) -> None:
        if wsgi_app is not None and not callable(wsgi_app):
            raise TypeError('wsgi_app must be a WSGI callable')
        if not path.startswith('/'):
            raise ValueError("path must start with '/'")
        #: the wrapped application (also how engineio_sync.gunicorn finds
        #: the Engine.IO servers behind this middleware)
        self.wsgi_app = wsgi_app
        self.path = path
        self.multiprocess = multiprocess_mode()
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        self.registry = REGISTRY if registry is None else registry
        self._exposition = make_wsgi_app(self.registry)

    def __call__(self, environ: dict,
                 start_response: Callable) -> Iterable[bytes]:
        if environ.get('PATH_INFO') == self.path:
            if self.multiprocess:
                # This process's open sessions, up to the moment; the other
                # processes wrote theirs within their refresh_interval.
                for metrics in list(_by_registry.values()):
                    metrics.refresh()
            return self._exposition(environ, start_response)
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                         ('Content-Length', '9')])
        return [b'Not Found']

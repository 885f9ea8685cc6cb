"""Prometheus metrics (engineio_sync.metrics) scraped from a running server.

Each test starts ``metrics_app.py`` (``listen(0, metrics=True)``) on a
driver, drives real clients (raw HTTP and WebSocket clients that show
every packet, python-engineio's Client), scrapes ``/metrics`` over HTTP,
parses it with ``prometheus_client.parser`` and checks the exact numbers.
"""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from support import wsclient
from support.httpclient import RawClient, reset_get
from support.serverproc import ServerProcess
from support.waiting import wait_until

prometheus_client = pytest.importorskip('prometheus_client')
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

DRIVERS = ['threading', 'eventlet', 'gevent']

pytestmark = pytest.mark.timeout(60)


def scrape(server: ServerProcess) -> dict[str, dict[frozenset, float]]:
    """GET /metrics, parsed: sample name -> {frozenset of labels: value}."""
    with urllib.request.urlopen(server.url + '/metrics', timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers['Content-Type'].startswith('text/plain')
        text = resp.read().decode()
    samples: dict[str, dict[frozenset, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[
                frozenset(sample.labels.items())] = sample.value
    return samples


@pytest.fixture
def metrics_server(start_server):
    """``metrics_server(driver, **options)``: metrics_app.py running."""
    def start(driver: str, **options) -> ServerProcess:
        return start_server(driver, script='metrics_app.py', **options)
    return start


def value(samples: dict, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist (yet)."""
    return samples.get(name, {}).get(frozenset(labels.items()), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` matching ``labels``."""
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items()
               if wanted <= key)


def open_sessions(samples: dict) -> dict[tuple[str, str], float]:
    """engineio_sessions_open as {(transport, protocol): value}."""
    return {(dict(key)['transport'], dict(key)['protocol']): v
            for key, v in samples['engineio_sessions_open'].items()}


def wait_for(server: ServerProcess, check, what: str, timeout: float = 5.0
             ) -> dict:
    """Scrape until ``check(samples)`` holds (bounded); the samples."""
    last: dict = {}

    def checked() -> dict | None:
        samples = last['samples'] = scrape(server)
        return samples if check(samples) else None
    try:
        return wait_until(checked, timeout, what=what, interval=0.05)
    except AssertionError as exc:
        raise AssertionError(f'{exc}: ' + json.dumps(
            {k: {str(sorted(ls)): v for ls, v in s.items()}
             for k, s in last['samples'].items()
             if k.startswith('engineio_')}, indent=1)) from None


def open_data(body: str) -> str:
    """The data of the open packet at the start of a polling body or
    WebSocket message."""
    first = body.split('\x1e')[0]
    assert first[0] == '0', body
    return first[1:]


def polling_session(raw: RawClient) -> tuple[str, str]:
    """A new polling session: its sid and its open packet's data."""
    status, _, body = raw.request('GET', 'EIO=4&transport=polling')
    assert status == 200, body
    data = open_data(body.decode())
    return json.loads(data)['sid'], data


def probe(port: int, sid: str) -> wsclient.RawWebSocket:
    """A WebSocket for a polling session, past the probe."""
    ws = wsclient.connect(port, f'EIO=4&transport=websocket&sid={sid}')
    ws.send('2probe')
    assert wsclient.receive(ws) == '3probe'
    return ws


@pytest.mark.parametrize('driver', DRIVERS)
def test_exact_counts_for_raw_sessions(metrics_server, driver):
    """Polling, WebSocket, an upgrade, a failed upgrade and six refusals:
    every metric has exactly the value the traffic implies."""
    server = metrics_server(driver)
    raw = RawClient(server.port)
    before = scrape(server)
    assert total(before, 'engineio_handshakes_total') == 0
    assert 'engineio_sessions_open' in before

    # A: polling. Open packet out; two messages in and their echoes out in
    # one GET (two queued packets); the client's close packet.
    sid_a, open_a = polling_session(raw)
    assert raw.post(sid_a, '4hello\x1e4é'.encode()) == (200, b'ok')
    assert raw.get(sid_a) == (200, '4hello\x1e4é'.encode())
    assert raw.post(sid_a, '1')[0] == 200

    # B: WebSocket from the start. Text and binary echoed, then a close
    # packet from the client.
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    open_b = open_data(wsclient.receive(ws))
    ws.send('4abc')
    assert wsclient.receive(ws) == '4abc'
    ws.send(b'\x01\x02\x03\x04')
    assert wsclient.receive(ws) == b'\x01\x02\x03\x04'
    ws.send('1')
    wsclient.receive_until_closed(ws)

    # C: polling, upgraded, one message over the WebSocket, which then
    # just closes (no close packet).
    sid_c, open_c = polling_session(raw)
    ws = probe(server.port, sid_c)
    ws.send('5')
    samples = wait_for(server, lambda s: value(
        s, 'engineio_upgrades_total', protocol='4') == 1, 'the upgrade')
    assert value(samples, 'engineio_sessions_open', transport='websocket',
                 protocol='4') == 1
    ws.send('4xyz')
    assert wsclient.receive(ws) == '4xyz'
    ws.send_close(1000)
    wsclient.receive_until_closed(ws)

    # D: polling; its upgrade fails (the WebSocket closes after the probe);
    # it goes on polling, then closes.
    sid_d, open_d = polling_session(raw)
    ws = probe(server.port, sid_d)
    ws.send_close(1000)
    wsclient.receive_until_closed(ws)
    samples = wait_for(server, lambda s: value(
        s, 'engineio_upgrades_failed_total', protocol='4',
        reason='websocket closed') == 1, 'the failed upgrade')
    assert value(samples, 'engineio_sessions_open', transport='polling',
                 protocol='4') == 1
    assert raw.post(sid_d, '1')[0] == 200

    # E: closed by its connect handler: the handshake answer carries the
    # open packet and the close packet.
    status, _, body = raw.request('GET', 'EIO=4&transport=polling&close=1')
    open_e = open_data(body.decode())
    assert body.decode() == '0' + open_e + '\x1e1'

    # Six refusals, one of each code.
    for method, query, code in [
            ('GET', 'EIO=4&transport=carrier-pigeon', 0),
            ('GET', 'EIO=4&transport=polling&sid=nope', 1),
            ('POST', 'EIO=4&transport=polling', 2),
            ('GET', 'EIO=4&transport=websocket', 3),
            ('GET', 'EIO=4&transport=polling&refuse=1', 4),
            ('GET', 'EIO=3&transport=polling', 5)]:
        status, _, body = raw.request(method, query, body=b'' if
                                      method == 'POST' else None)
        assert json.loads(body)['code'] == code, (query, body)

    samples = wait_for(server, lambda s: total(
        s, 'engineio_sessions_open') == 0 and total(
        s, 'engineio_closes_total') == 5, 'every session closed')
    v = lambda name, **labels: value(samples, name, **labels)  # noqa: E731
    poll = {'transport': 'polling', 'protocol': '4'}
    webs = {'transport': 'websocket', 'protocol': '4'}
    assert v('engineio_handshakes_total', **poll) == 4      # A, C, D, E
    assert v('engineio_handshakes_total', **webs) == 1      # B
    assert total(samples, 'engineio_handshakes_total') == 5
    assert v('engineio_upgrades_total', protocol='4') == 1
    assert total(samples, 'engineio_upgrades_failed_total') == 1
    assert v('engineio_closes_total', reason='client disconnect',
             **poll) == 2                                   # A, D
    assert v('engineio_closes_total', reason='client disconnect',
             **webs) == 1                                   # B
    assert v('engineio_closes_total', reason='transport close',
             **webs) == 1                                   # C
    assert v('engineio_closes_total', reason='server disconnect',
             **poll) == 1                                   # E
    for code in range(6):
        assert v('engineio_connection_errors_total', code=str(code)) == 1
    assert total(samples, 'engineio_connection_errors_total') == 6

    # Packets and bytes of data (UTF-8: 'é' is two bytes). Until the
    # upgrade completes, the probe's packets count as polling's.
    assert v('engineio_received_packets_total', **poll) == 3 + 2 + 2
    assert v('engineio_received_bytes_total', **poll) == 7 + 5 + 5
    assert v('engineio_sent_packets_total', **poll) == 3 + 2 + 2 + 2
    assert v('engineio_sent_bytes_total', **poll) == (
        len(open_a) + 7 + len(open_c) + 5 + len(open_d) + 5 + len(open_e))
    assert v('engineio_received_packets_total', **webs) == 3 + 1
    assert v('engineio_received_bytes_total', **webs) == 7 + 3
    assert v('engineio_sent_packets_total', **webs) == 3 + 1
    assert v('engineio_sent_bytes_total', **webs) == len(open_b) + 7 + 3

    # Queued packets taken at once: three handshake answers (1 each), E's
    # (2) and A's GET (2); on the WebSocket, B's open packet. Echoes on a
    # WebSocket go straight out and queue nothing.
    assert v('engineio_queued_packets_count', transport='polling') == 5
    assert v('engineio_queued_packets_sum', transport='polling') == 7
    assert v('engineio_queued_packets_bucket', transport='polling',
             le='1.0') == 3
    assert v('engineio_queued_packets_bucket', transport='polling',
             le='2.0') == 5
    assert v('engineio_queued_packets_count', transport='websocket') == 1
    # No pings were due (ping_interval 25 s): no round trips.
    assert total(samples, 'engineio_ping_rtt_seconds_count') == 0


@pytest.mark.parametrize('driver', DRIVERS)
def test_ping_round_trips_and_protocol_v3(metrics_server, driver):
    """v4: the time from each server ping to its pong, per transport, once
    per pong; v3 (the client pings) has none, and counts under
    protocol="3"."""
    server = metrics_server(driver, ping_interval=0.2, ping_timeout=5,
                            allow_eio3=True)
    ws = wsclient.connect(server.port, 'EIO=4&transport=websocket')
    open_data(wsclient.receive(ws))
    for _ in range(3):
        assert wsclient.receive(ws, timeout=3) == '2'
        ws.send('3')
    raw = RawClient(server.port)
    sid, _ = raw.handshake()
    status, body = raw.get(sid)
    assert (status, body) == (200, b'2')
    assert raw.post(sid, '3') == (200, b'ok')
    status, _, body = raw.request('GET', 'EIO=3&transport=polling')
    assert status == 200
    samples = wait_for(server, lambda s: value(
        s, 'engineio_ping_rtt_seconds_count', transport='polling') == 1,
        'the polling round trip')
    v = lambda name, **labels: value(samples, name, **labels)  # noqa: E731
    # The WebSocket answered three pings; the next one is unanswered.
    assert v('engineio_ping_rtt_seconds_count', transport='websocket') == 3
    for transport, count in (('websocket', 3), ('polling', 1)):
        rtt = v('engineio_ping_rtt_seconds_sum', transport=transport)
        assert 0 < rtt < count * 2.0, (transport, rtt)
        assert v('engineio_ping_rtt_seconds_bucket', transport=transport,
                 le='+Inf') == count
    assert v('engineio_handshakes_total', transport='polling',
             protocol='3') == 1
    assert open_sessions(samples) == {
        ('polling', '4'): 1, ('websocket', '4'): 1, ('polling', '3'): 1,
        ('websocket', '3'): 0}
    assert v('engineio_received_packets_total', transport='websocket',
             protocol='4') == 3
    ws.send_close(1000)


@pytest.mark.parametrize('driver', DRIVERS)
def test_python_engineio_clients(metrics_server, driver):
    """Five python-engineio Clients (polling, then upgrading) exchange text,
    non-ASCII text and binary: bytes in and out add up to exactly what
    was sent, every session upgraded and closed by its client."""
    engineio = pytest.importorskip('engineio')
    server = metrics_server(driver)
    _, raw_open = polling_session(RawClient(server.port))
    # The raw session above: one handshake, one open packet, never closed.
    messages = ['x' * 10, 'ünïcødé ✓', b'\x00\xff' * 50, 'y' * 3000]
    sizes = [len(m if isinstance(m, bytes) else m.encode()) for m in messages]
    clients = []
    for _ in range(5):
        client = engineio.Client()
        got: list = []
        done = threading.Event()

        def on_message(data, got=got, done=done):
            got.append(data)
            if len(got) == len(messages):
                done.set()
        client.on('message', on_message)
        client.connect(server.url)
        clients.append((client, got, done))
    # Let every client finish its upgrade before the messages.
    wait_for(server, lambda s: value(s, 'engineio_upgrades_total',
                                     protocol='4') == 5, 'five upgrades')
    for client, got, done in clients:
        for message in messages:
            client.send(message)
    for client, got, done in clients:
        assert done.wait(10), got
        assert sorted(map(repr, got)) == sorted(map(repr, messages))
        client.disconnect()
    # python-engineio's disconnect() sends a close packet and closes its
    # WebSocket at once: the server sees one or the other first.
    samples = wait_for(server, lambda s: total(
        s, 'engineio_closes_total', transport='websocket') == 5,
        'five closes')
    assert total(samples, 'engineio_closes_total', reason='client disconnect'
                 ) + total(samples, 'engineio_closes_total',
                           reason='transport close') == 5
    v = lambda name, **labels: value(samples, name, **labels)  # noqa: E731
    assert total(samples, 'engineio_handshakes_total') == 6
    assert v('engineio_handshakes_total', transport='polling',
             protocol='4') == 6
    assert open_sessions(samples) == {
        ('polling', '4'): 1, ('websocket', '4'): 0, ('polling', '3'): 0,
        ('websocket', '3'): 0}
    # In: the messages, and 'probe' once per upgrade. Out: the echoes,
    # the open packets (all the same size) and each '3probe'.
    assert total(samples, 'engineio_received_bytes_total') == \
        5 * (sum(sizes) + 5)
    assert total(samples, 'engineio_sent_bytes_total') == \
        5 * (sum(sizes) + 5) + 6 * len(raw_open)
    assert v('engineio_received_packets_total', transport='websocket',
             protocol='4') >= 5 * len(messages)
    assert total(samples, 'engineio_connection_errors_total') == 0


def test_an_answer_that_cannot_be_written_counts_once(metrics_server):
    """A long-poll answer (6 MB) whose connection is reset while it is
    written goes back to the queue; its packets count once, when the next
    GET carries them."""
    server = metrics_server('threading')
    raw = RawClient(server.port)
    sid, open_a = polling_session(raw)
    assert raw.post(sid, '4burst:60:100000') == (200, b'ok')
    reset_get(server.port, sid)
    received = 0
    for _ in range(10):
        status, body = raw.get(sid)
        assert status == 200
        received += body.count(b'y' * 100_000)
        if received == 60:
            break
    assert received == 60
    samples = scrape(server)
    poll = {'transport': 'polling', 'protocol': '4'}
    assert value(samples, 'engineio_sent_packets_total', **poll) == 61
    assert value(samples, 'engineio_sent_bytes_total', **poll) == \
        len(open_a) + 60 * 100_000
    assert value(samples, 'engineio_received_bytes_total', **poll) == \
        len('burst:60:100000')


def test_instrument_and_metrics_app_arguments():
    """Clear errors for wrong arguments; MetricsApp routes by path."""
    import engineio_sync
    from engineio_sync.metrics import MetricsApp, instrument
    from prometheus_client import CollectorRegistry
    server = engineio_sync.Server(async_mode='threading')
    with pytest.raises(TypeError):
        instrument(object())
    with pytest.raises(ValueError):
        instrument(server, registry=CollectorRegistry(), refresh_interval=0)
    registry = CollectorRegistry()
    metrics = instrument(server, registry=registry, refresh_interval=0.5)
    assert server.metrics is metrics and metrics.refresh_interval == 0.5
    assert instrument(server, registry=registry) is metrics  # harmless
    assert metrics.refresh_interval == 0.5
    with pytest.raises(ValueError, match='another registry'):
        instrument(server, registry=CollectorRegistry())
    with pytest.raises(ValueError):
        MetricsApp(path='metrics')
    with pytest.raises(TypeError):
        MetricsApp('not an app')

    def call(app, path, method='GET'):
        seen = {}
        body = b''.join(app({'PATH_INFO': path, 'REQUEST_METHOD': method,
                             'QUERY_STRING': ''},
                            lambda status, headers: seen.update(
                                status=status)))
        return seen['status'], body

    app = MetricsApp(registry=registry, path='/stats')
    status, body = call(app, '/stats')
    assert status == '200 OK'
    assert b'engineio_sessions_open{protocol="4",transport="polling"} 0.0' \
        in body
    assert call(app, '/metrics')[0].startswith('404')
    assert call(app, '/stats', 'POST')[0].startswith('405')
    inner = MetricsApp(lambda environ, start: start('200 OK', []) or [b'x'],
                       registry=registry)
    assert call(inner, '/other') == ('200 OK', b'x')

"""python-socketio's Admin UI instrumentation (``sio.instrument()``) on
engineio_sync.

A real ``SocketIOServer`` (``admin_server.py``, its own process) is
watched by the npm ``socket.io-client`` on the ``/admin`` namespace, as
the Admin UI does, while ordinary clients connect, upgrade, join and leave
rooms, emit and disconnect (``node/admin_client.js``); the test checks
what the admin was told.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest

pytest.importorskip('socketio')

from support.processes import ListeningProcess  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, 'admin_server.py')
CLIENT_JS = os.path.join(HERE, 'node', 'admin_client.js')

_HAVE_CLIENT = (shutil.which('node') is not None and os.path.isfile(
    os.path.join(REPO, 'node_modules', 'socket.io-client', 'package.json')))
needs_node = pytest.mark.skipif(not _HAVE_CLIENT,
                                reason='node or socket.io-client missing')

CREDENTIALS = {'username': 'admin', 'password': 'secret'}


def admin_server_process(driver: str, auth: object,
                         mode: str) -> ListeningProcess:
    """admin_server.py running in its own process."""
    return ListeningProcess([sys.executable, SERVER, driver,
                             json.dumps(auth), mode])


@pytest.fixture
def admin_server():
    servers: list[ListeningProcess] = []

    def start(driver: str, auth: object,
              mode: str = 'development') -> ListeningProcess:
        server = admin_server_process(driver, auth, mode)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert not server.tracebacks(), server.stderr


def run_admin_client(url: str, mode: str, auth: object) -> list[dict]:
    proc = subprocess.run(
        ['node', CLIENT_JS, url, mode, json.dumps(auth)], cwd=REPO,
        capture_output=True, text=True, timeout=30)
    lines = []
    for line in proc.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    assert proc.returncode == 0 and lines[-1:] == [{'event': 'done'}], \
        (lines[-20:], proc.stderr[-3000:])
    return lines


def admin_events(lines: list[dict], name: str,
                 phase: str | None = None) -> list[list]:
    """The arguments of every admin event ``name`` (in ``phase``)."""
    return [e['args'] for e in lines if e['event'] == 'admin'
            and e['name'] == name and phase in (None, e['phase'])]


def second_stats(lines: list[dict], phase: str) -> dict:
    """The stats the client waited for in ``phase``: the second one of it,
    computed after the phase began."""
    stats = admin_events(lines, 'server_stats', phase)
    assert len(stats) >= 2, (phase, stats)
    return stats[1][0]


def traffic(lines: list[dict]) -> Counter:
    """The aggregated events of every server_stats, summed by type."""
    totals: Counter = Counter()
    for [stats] in admin_events(lines, 'server_stats'):
        for event in stats['aggregatedEvents']:
            totals[event['type']] += event['count']
    return totals


@needs_node
@pytest.mark.parametrize('driver', ['eventlet', 'threading', 'gevent'])
def test_admin_ui_sees_clients(admin_server, driver):
    server = admin_server(driver, False)
    lines = run_admin_client(server.url, 'scenario', None)
    ids = next(e for e in lines if e['event'] == 'ids')
    p, a, b = ids['p'], ids['a'], ids['b']

    [[config]] = admin_events(lines, 'config')
    assert {'EMIT', 'JOIN', 'LEAVE', 'DISCONNECT',
            'ALL_EVENTS'} <= set(config['supportedFeatures'])

    # P was there before the admin: it is in all_sockets, as it is.
    [[everyone]] = admin_events(lines, 'all_sockets')
    [early] = [s for s in everyone if s['id'] == p]
    assert early['nsp'] == '/'
    assert early['clientId'] == ids['p_eio']
    assert early['transport'] == 'websocket'
    assert sorted(early['rooms']) == sorted([p, 'early'])
    assert early['handshake']['query']['EIO'] == '4'
    assert early['handshake']['query']['transport'] == 'websocket'
    assert early['handshake']['address'] == '127.0.0.1'
    assert early['handshake']['url'].startswith('/socket.io')

    # A and B, as they connected.
    connected = {}
    for socket, _when in admin_events(lines, 'socket_connected', 'clients'):
        connected.setdefault(socket['id'], socket)
    assert connected[a]['clientId'] == ids['a_eio']
    assert connected[b]['clientId'] == ids['b_eio']
    assert connected[a]['nsp'] == connected[b]['nsp'] == '/'
    assert connected[b]['transport'] == 'polling'

    # A's upgrade is reported as it happens, not by python-socketio's
    # check 5 s after the connect. (A may also have upgraded before its
    # Socket.IO connect was handled; it then connected on 'websocket'.)
    updates = [e for e in lines if e['event'] == 'admin'
               and e['name'] == 'socket_updated']
    assert all(u['args'][0]['id'] == a for u in updates), updates
    if connected[a]['transport'] == 'polling':
        assert updates, 'no socket_updated for the upgrade'
        assert updates[0]['args'][0] == {'id': a, 'nsp': '/',
                                         'transport': 'websocket'}
        assert updates[0]['t'] - ids['a_connected'] < 4000

    # Rooms, events received and sent.
    r1 = [(args[0], args[2]) for args in admin_events(lines, 'room_joined')
          if args[1] == 'r1']
    assert sorted(r1) == sorted([('/', a), ('/', b)])
    assert [(args[0], args[1], args[2]) for args in admin_events(
        lines, 'room_left', 'clients')] == [('/', 'r1', b)]
    # Leaving "/" leaves every room.
    left = {(args[1], args[2]) for args in admin_events(
        lines, 'room_left', 'leaving')}
    assert {(a, a), ('r1', a), ('from-admin', a), (b, b),
            ('from-admin', b)} == left
    received = [args[:3] for args in admin_events(lines, 'event_received')]
    assert ['/', b, ['hello', 'from B']] in received
    assert ['/', a, ['shout', {'room': 'r1', 'text': 'hi r1'}]] in received
    sent = [args[:3] for args in admin_events(lines, 'event_sent')
            if args[2][0] == 'shouted']
    assert sent == [['/', a, ['shouted', 'hi r1']]]   # B had left r1

    # The admin's own "join": every socket of "/" joined.
    joined = {args[2] for args in admin_events(lines, 'room_joined')
              if args[1] == 'from-admin'}
    assert joined == {p, a, b}

    # Pings re-report sockets with what they are now.
    a_reports = [s['transport'] for s, _ in admin_events(
        lines, 'socket_connected') if s['id'] == a]
    assert len(a_reports) >= 2 and a_reports[-1] == 'websocket'

    gone = {args[1]: args[2] for args in admin_events(
        lines, 'socket_disconnected', 'leaving')}
    assert gone[a] == 'client disconnect'
    assert gone[b] == 'server disconnect'
    assert p not in gone

    # Stats: the admin, P, A (WebSocket) and B (polling); then the admin
    # and P.
    settled = second_stats(lines, 'settled')
    assert settled['clientsCount'] == 4
    assert settled['pollingClientsCount'] == 1
    assert {n['name']: n['socketsCount'] for n in settled['namespaces']} \
        == {'/': 3, '/admin': 1}
    end = second_stats(lines, 'end')
    assert end['clientsCount'] == 2
    assert end['pollingClientsCount'] == 0
    assert {n['name']: n['socketsCount'] for n in end['namespaces']} \
        == {'/': 1, '/admin': 1}

    for [stats] in admin_events(lines, 'server_stats'):
        assert stats['pid'] and stats['hostname'] and stats['uptime'] > 0
    totals = traffic(lines)
    assert totals['rawConnection'] >= 2          # A and B at least
    assert totals['rawDisconnection'] >= 2
    # In: A's connect, join and shout, B's connect, join, leave, hello and
    # kick_me, and pongs. Out: at least the connect answers, four acks
    # and the shout to A, and pings.
    assert totals['packetsIn'] >= 8
    assert totals['bytesIn'] >= sum(len(data) for data in (
        '0', '0', '2["hello","from B"]',
        '2["shout",{"room":"r1","text":"hi r1"}]'))
    assert totals['packetsOut'] >= 7
    assert totals['bytesOut'] >= len('2["shouted","hi r1"]')


@needs_node
def test_admin_ui_auth(admin_server):
    server = admin_server('threading', CREDENTIALS)
    lines = run_admin_client(server.url, 'auth', CREDENTIALS)
    outcomes = [e for e in lines if e['event'] == 'auth']
    assert [o['credentials'] for o in outcomes] == ['good', 'bad']
    assert outcomes[0]['connected'] is True
    assert outcomes[1]['message'] == 'authentication failed'
    assert len(admin_events(lines, 'config')) == 1


@needs_node
def test_admin_ui_production_mode(admin_server):
    server = admin_server('eventlet', False, 'production')
    lines = run_admin_client(server.url, 'production', None)
    [[config]] = admin_events(lines, 'config')
    assert 'ALL_EVENTS' not in config['supportedFeatures']
    # Only the stats: no per-socket reports, not even of the upgrade.
    assert {e['name'] for e in lines if e['event'] == 'admin'} == {
        'config', 'server_stats'}
    settled = second_stats(lines, 'settled')
    assert settled['clientsCount'] == 2
    assert settled['pollingClientsCount'] == 0
    totals = traffic(lines)
    assert totals['rawConnection'] >= 1
    assert totals['packetsIn'] >= 2              # C's connect and hello
    assert totals['bytesIn'] >= len('0') + len('2["hello","from C"]')


def test_engineio_api_the_admin_reads():
    import engineio
    import engineio.packet
    from engineio_sync.socketio_compat import SocketIOServer
    sio = SocketIOServer(async_mode='threading')
    eio = sio.eio
    assert len(eio.sockets) == 0 and list(eio.sockets.values()) == []
    with pytest.raises(KeyError):
        eio._get_socket('nope')
    # python-engineio's long-poll answer, byte for byte.
    packets = [engineio.packet.Packet(engineio.packet.MESSAGE, '2["x"]'),
               engineio.packet.Packet(engineio.packet.PING),
               engineio.packet.Packet(engineio.packet.MESSAGE, b'\x00\xff')]
    reference = engineio.Server(async_mode='threading')
    assert eio._ok(packets) == reference._ok(packets)
    assert eio._ok() == reference._ok()

    admin = sio.instrument(auth=False)
    try:
        # python-engineio keeps one connect handler, the admin's (which
        # calls python-socketio's); so does this server now.
        assert [h.__self__ for h in eio.handlers['connect']] == [admin]
        assert [h.__self__ for h in eio.handlers['disconnect']] == [admin]
        assert len(eio.handlers['connection']) == 1
    finally:
        # instrument() also patches python-engineio's Socket class, for
        # the whole process.
        admin.uninstrument()

"""End-to-end tests of HTTP long-polling against real server processes.

Every test runs once per driver in ``conftest.DRIVERS``. Most use a server
shared by the module (``server_pool``); each test opens its own sessions.
"""

from __future__ import annotations

import base64
import concurrent.futures
import gzip
import http.client
import json
import time
import zlib

import pytest

from support import DRIVERS
from support.httpclient import BackgroundGet, RawClient, raw_exchange, reset_get
from support.waiting import wait_until

SEP = '\x1e'
QS = 'EIO=4&transport=polling'
FAST_PING = {'ping_interval': 0.3, 'ping_timeout': 0.2}


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


def client_for(server) -> RawClient:
    return RawClient(server.port)


def split(body: bytes) -> list[str]:
    return body.decode('utf-8').split(SEP)


def assert_error(status: int, body: bytes, http_status: int, code: int,
                 message: str | None = None) -> None:
    assert status == http_status, body
    data = json.loads(body)
    assert set(data) == {'code', 'message'}, data
    assert data['code'] == code, data
    assert isinstance(data['message'], str) and data['message']
    if message is not None:
        assert data['message'] == message


def assert_session_gone(client: RawClient, sid: str) -> None:
    # The disconnect handler (whose event the test saw) runs just before
    # the session is forgotten; a GET in between gets the close packet.
    answers = []

    def forgotten() -> bool:
        answers.append(client.get(sid))
        return answers[-1] != (200, b'1')
    wait_until(forgotten, what='the session forgotten')
    assert_error(*answers[-1], 400, 1, 'Session ID unknown')


def in_background(fn, *args):
    """Run ``fn(*args)`` in a thread; returns a Future."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future


def open_stream(port: int, method: str, sid: str,
                headers: dict[str, str]) -> http.client.HTTPConnection:
    """A request whose headers are sent but whose body is not (yet)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.putrequest(method, f'/engine.io/?{QS}&sid={sid}',
                    skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    return conn


def chunk(data: bytes) -> bytes:
    return b'%x\r\n%s\r\n' % (len(data), data)


# -- handshake ----------------------------------------------------------------

def test_handshake_json(driver, server_pool):
    server = server_pool(driver)
    status, headers, body = client_for(server).request('GET', QS)
    assert status == 200
    assert headers['content-type'].lower().startswith('text/plain')
    text = body.decode()
    assert text.startswith('0{')
    assert SEP not in text
    info = json.loads(text[1:])
    assert set(info) == {'sid', 'upgrades', 'pingInterval', 'pingTimeout',
                         'maxPayload'}
    assert info['pingInterval'] == 25000
    assert info['pingTimeout'] == 20000
    assert info['maxPayload'] == 1_000_000
    assert info['upgrades'] == ['websocket']
    event = server.wait_event(ev='connect', sid=info['sid'])
    assert event['transport'] == 'polling'


def test_handshake_advertises_configured_values_in_ms(driver, server_pool):
    server = server_pool(driver, max_http_buffer_size=1000,
                         transports=['polling'], **FAST_PING)
    _, info = client_for(server).handshake()
    assert info['pingInterval'] == 300
    assert info['pingTimeout'] == 200
    assert info['maxPayload'] == 1000
    assert info['upgrades'] == []


def test_sids_are_long_and_unique(driver, server_pool):
    client = client_for(server_pool(driver))
    sids = [client.handshake()[0] for _ in range(30)]
    assert len(set(sids)) == 30
    for sid in sids:
        assert len(sid) >= 20
        assert all(c.isalnum() or c in '-_' for c in sid), sid


def test_initial_packet_follows_open_packet(driver, server_pool):
    server = server_pool(driver, initial_packet='welcome')
    status, _, body = client_for(server).request('GET', QS)
    assert status == 200
    parts = split(body)
    assert len(parts) == 2
    assert parts[0].startswith('0{')
    assert parts[1] == '4welcome'


# -- error responses ----------------------------------------------------------

ERRORS = [
    ('GET', 'EIO=4', 400, 0, 'Transport unknown'),
    ('GET', 'EIO=4&transport=abc', 400, 0, 'Transport unknown'),
    ('POST', 'EIO=4&transport=flashsocket&sid=x', 400, 0,
     'Transport unknown'),
    ('GET', 'EIO=4&transport=polling&sid=nope', 400, 1,
     'Session ID unknown'),
    ('POST', 'EIO=4&transport=polling&sid=nope', 400, 1,
     'Session ID unknown'),
    ('POST', 'EIO=4&transport=polling', 400, 2, 'Bad handshake method'),
    ('PUT', 'EIO=4&transport=polling', 400, 2, 'Bad handshake method'),
    ('GET', 'EIO=4&transport=websocket', 400, 3, 'Bad request'),
    ('GET', 'EIO=4&transport=polling&j=abc', 400, 3, None),
    ('GET', 'transport=polling', 400, 5, 'Unsupported protocol version'),
    ('GET', 'EIO=abc&transport=polling', 400, 5,
     'Unsupported protocol version'),
    ('GET', 'EIO=5&transport=polling', 400, 5,
     'Unsupported protocol version'),
    ('GET', 'EIO=3&transport=polling', 400, 5,
     'Unsupported protocol version'),
]


@pytest.mark.parametrize('method, qs, http_status, code, message', ERRORS,
                         ids=[f'{e[0]}-{e[1]}' for e in ERRORS])
def test_error_codes(driver, server_pool, method, qs, http_status, code,
                     message):
    client = client_for(server_pool(driver))
    status, headers, body = client.request(
        method, qs, body=b'4x' if method != 'GET' else None)
    assert_error(status, body, http_status, code, message)
    assert headers['content-type'].startswith('application/json')


def test_allow_request_refusal_is_403_code_4(driver, server_pool):
    server = server_pool(driver, _app={'deny_query': 'deny=1'})
    client = client_for(server)
    status, _, body = client.request('GET', QS + '&deny=1')
    assert_error(status, body, 403, 4, 'Forbidden')
    # The same server accepts requests allow_request lets through.
    sid, _ = client.handshake('&deny=0')
    assert client.post(sid, '4still ok') == (200, b'ok')


def test_connect_handler_refusal_is_403_code_4(driver, server_pool):
    server = server_pool(driver)
    query = f'{QS}&refuse=1&t={time.monotonic_ns()}'
    status, _, body = client_for(server).request('GET', query)
    assert_error(status, body, 403, 4)
    # The connect handler ran (and refused); the session is not usable.
    sid = server.wait_event(ev='connect', query=query)['sid']
    assert_session_gone(client_for(server), sid)


# -- messages -----------------------------------------------------------------

def test_post_answers_ok(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    status, headers, body = client.request(
        'POST', f'{QS}&sid={sid}', body='4hello')
    assert status == 200
    assert body == b'ok'
    assert server.wait_event(ev='message', sid=sid)['data'] == 'hello'


def test_text_echo(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    text = 'héllo wörld € \U0001f600'
    assert client.post(sid, '4' + text) == (200, b'ok')
    assert server.wait_event(ev='message', sid=sid)['data'] == text
    status, headers, body = client.request('GET', f'{QS}&sid={sid}')
    assert status == 200
    assert headers['content-type'].lower() == 'text/plain; charset=utf-8'
    assert split(body) == ['4' + text]


def test_empty_message_echo(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.post(sid, '4') == (200, b'ok')
    assert server.wait_event(ev='message', sid=sid)['data'] == ''
    assert client.get(sid) == (200, b'4')


def test_binary_echo(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.post(sid, 'bAQIDBA==') == (200, b'ok')
    event = server.wait_event(ev='message', sid=sid)
    assert event['binary'] == [1, 2, 3, 4]
    assert client.get(sid) == (200, b'bAQIDBA==')


def test_server_sends_binary(driver, server_pool):
    client = client_for(server_pool(driver))
    sid, _ = client.handshake()
    client.post(sid, '4cmd:{"send_binary": [0, 255, 128, 7]}')
    assert client.get(sid) == (200, b'b' + base64.b64encode(
        bytes([0, 255, 128, 7])))


def test_mixed_payload_in_order(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.post(sid, SEP.join(['4one', 'bAQIDBA==', '4three'])) == \
        (200, b'ok')
    assert server.wait_event(ev='message', sid=sid)['data'] == 'one'
    assert server.wait_event(ev='message', sid=sid)['binary'] == [1, 2, 3, 4]
    assert server.wait_event(ev='message', sid=sid)['data'] == 'three'
    assert split(client.get(sid)[1]) == ['4one', 'bAQIDBA==', '4three']


def test_thousand_packets_in_one_post(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    n = 1000
    assert client.post(sid, SEP.join(f'4m{i}' for i in range(n))) == \
        (200, b'ok')
    for i in range(n):
        assert server.wait_event(ev='message', sid=sid)['data'] == f'm{i}'
    received: list[str] = []
    for _ in range(20):
        status, body = client.get(sid)
        assert status == 200
        received.extend(p for p in split(body) if p != '6')
        if len(received) >= n:
            break
    assert received == [f'4m{i}' for i in range(n)]


def test_server_send_n_in_order(driver, server_pool):
    client = client_for(server_pool(driver))
    sid, _ = client.handshake()
    client.post(sid, '4cmd:{"send_n": 300, "prefix": "s"}')
    received: list[str] = []
    for _ in range(20):
        received.extend(p for p in split(client.get(sid)[1]) if p != '6')
        if len(received) >= 300:
            break
    assert received == [f'4s{i}' for i in range(300)]


def test_get_parks_until_a_message_arrives(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    assert client.post(sid, '4wake up') == (200, b'ok')
    assert parked.result(timeout=10) == (200, b'4wake up')


def test_server_push_wakes_parked_get(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    # A command (not echoed) that makes the server send on its own.
    client.post(sid, '4cmd:{"send_n": 1, "prefix": "pushed"}')
    status, body = parked.result(timeout=10)
    assert status == 200
    assert split(body)[0] == '4pushed0'


def test_jsonp_polling(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    status, headers, body = client.request('GET', QS + '&j=0')
    assert status == 200
    assert 'javascript' in headers['content-type']
    text = body.decode()
    assert text.startswith('___eio[0]("0{') and text.endswith('");')
    payload = json.loads(text[len('___eio[0]('):-2])
    sid = json.loads(payload[1:])['sid']
    status, _, body = client.request(
        'POST', f'{QS}&j=0&sid={sid}', body='d=4jsonp%20%3C%2Fscript%3E',
        headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert (status, body) == (200, b'ok')
    assert server.wait_event(ev='message', sid=sid)['data'] == \
        'jsonp </script>'
    status, _, body = client.request('GET', f'{QS}&j=3&sid={sid}')
    text = body.decode()
    assert text.startswith('___eio[3]("')
    assert '</script>' not in text       # escaped for a <script> element
    assert json.loads(text[len('___eio[3]('):-2]) == '4jsonp </script>'


# -- heartbeat ----------------------------------------------------------------

def test_server_pings_at_ping_interval(driver, server_pool):
    server = server_pool(driver, **FAST_PING)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.get(sid, timeout=5) == (200, b'2')
    assert client.post(sid, '3') == (200, b'ok')


def test_ping_timeout_closes_session_without_any_request(driver,
                                                         server_pool):
    server = server_pool(driver, **FAST_PING)
    client = client_for(server)
    started = time.monotonic()
    sid, _ = client.handshake()
    event = server.wait_event(ev='disconnect', sid=sid, timeout=5)
    elapsed = time.monotonic() - started
    assert event['reason'] == 'ping timeout'
    # Not before interval + timeout (0.5 s) has passed.
    assert elapsed >= 0.45
    assert_session_gone(client, sid)


def test_ping_timeout_answers_parked_get_with_close(driver, server_pool):
    server = server_pool(driver, **FAST_PING)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.get(sid, timeout=5) == (200, b'2')
    # No pong: the next GET parks and is answered by the timeout.
    assert client.get(sid, timeout=5) == (200, b'1')
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'ping timeout'
    assert_session_gone(client, sid)


def test_pong_keeps_session_alive(driver, server_pool):
    server = server_pool(driver, **FAST_PING)
    client = client_for(server)
    sid, _ = client.handshake()
    for _ in range(5):                   # ~1.5 s, three times the timeout
        status, body = client.get(sid, timeout=5)
        assert status == 200
        assert split(body) == ['2']
        assert client.post(sid, '3') == (200, b'ok')
    assert client.post(sid, '4alive') == (200, b'ok')
    assert client.get(sid) == (200, b'4alive')
    events = server.drain_events()
    assert not [e for e in events
                if e.get('ev') == 'disconnect' and e.get('sid') == sid]


def test_next_ping_is_ping_interval_after_pong(driver, server_pool):
    """With ping_timeout > ping_interval, the next ping still comes one
    ping_interval after the pong (as in the reference server), not when
    the old pong deadline would have expired."""
    server = server_pool(driver, ping_interval=0.2, ping_timeout=3)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.get(sid, timeout=5) == (200, b'2')
    for _ in range(2):
        assert client.post(sid, '3') == (200, b'ok')
        # Due 0.2 s after the pong; the old pong deadline is 3 s away.
        try:
            reply = client.get(sid, timeout=1.5)
        except TimeoutError:
            pytest.fail('no ping within 1.5 s of the pong with '
                        'ping_interval=0.2 (ping_timeout=3)')
        assert reply == (200, b'2')
    client.post(sid, '3')


# -- overlapping requests -----------------------------------------------------

def test_double_get_closes_session(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    first = server.park_get(sid)
    status, body = client.get(sid)
    assert status == 400
    assert first.result(timeout=10) == (200, b'1')
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'transport error'
    assert_session_gone(client, sid)


def test_double_post_closes_session(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    watched = server.watch_tag()
    slow = open_stream(server.port, 'POST', sid,
                       {'Transfer-Encoding': 'chunked',
                        'Content-Type': 'text/plain;charset=UTF-8',
                        **watched})
    try:
        slow.send(chunk(b'4slow'))
        server.wait_watched(watched, 'posting')
        status, body = client.post(sid, '4second')
        assert status == 400, body
        slow.send(b'0\r\n\r\n')
        try:
            slow.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass                         # the server may drop it
    finally:
        slow.close()
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'transport error'
    assert_session_gone(client, sid)


# -- closing ------------------------------------------------------------------

def test_client_close_releases_parked_get_with_noop(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    assert client.post(sid, '1') == (200, b'ok')
    assert parked.result(timeout=10) == (200, b'6')
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'client disconnect'
    assert_session_gone(client, sid)


def test_server_disconnect_sends_buffer_then_close(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    payload = SEP.join(['4cmd:{"send_n": 3, "prefix": "bye"}',
                        '4cmd:{"disconnect": true}'])
    assert client.post(sid, payload) == (200, b'ok')
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'
    assert split(client.get(sid)[1]) == ['4bye0', '4bye1', '4bye2', '1']
    assert_session_gone(client, sid)


def test_server_disconnect_answers_parked_get(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    payload = SEP.join(['4cmd:{"send_n": 3, "prefix": "bye"}',
                        '4cmd:{"disconnect": true}'])
    assert client.post(sid, payload) == (200, b'ok')
    status, body = parked.result(timeout=10)
    assert status == 200
    received = split(body)
    for _ in range(5):
        if received[-1] == '1':
            break
        status, body = client.get(sid)
        assert status == 200, body
        received.extend(split(body))
    assert received == ['4bye0', '4bye1', '4bye2', '1']
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'
    assert_session_gone(client, sid)


def test_server_disconnect_with_nothing_buffered(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    client.post(sid, '4cmd:{"disconnect": true}')
    assert parked.result(timeout=10) == (200, b'1')
    assert server.wait_event(ev='disconnect', sid=sid)['reason'] == \
        'server disconnect'
    assert_session_gone(client, sid)


# -- bad bodies ---------------------------------------------------------------

@pytest.mark.parametrize('body', [b'abc', b'bAQI$$$', b'b!', b'\xff\xfe\xfd',
                                  b'4ok\xc3'],
                         ids=['abc', 'bad-base64', 'bad-base64-2',
                              'invalid-utf8', 'truncated-utf8'])
def test_undecodable_post_closes_session(driver, server_pool, body):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    status, _ = client.post(sid, body)
    assert status == 400
    server.wait_event(ev='disconnect', sid=sid)
    assert_session_gone(client, sid)


def test_packets_before_a_malformed_one_are_delivered(driver, server_pool):
    # As the reference server does: the payload is decoded packet by
    # packet, so what precedes the bad packet reaches the application,
    # then the session ends with a parse error.
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    status, _ = client.post(sid, SEP.join(['4one', '4two', 'Z', '4four']))
    assert status == 400
    assert server.wait_event(ev='message', sid=sid)['data'] == 'one'
    assert server.wait_event(ev='message', sid=sid)['data'] == 'two'
    server.wait_event(ev='disconnect', sid=sid)
    events = server.drain_events()
    assert not [e for e in events
                if e.get('ev') == 'message' and e.get('sid') == sid]
    assert_session_gone(client, sid)


def park_raw_get(server, sid: str, reset: bool = False) -> None:
    """Park a GET on a connection of its own, then drop that connection:
    closed with a FIN, or reset (RST) when ``reset``."""
    import socket
    import struct
    watched = server.watch_tag()
    sock = socket.create_connection(('127.0.0.1', server.port), timeout=5)
    sock.sendall(f'GET /engine.io/?{QS}&sid={sid} HTTP/1.1\r\n'
                 f'Host: 127.0.0.1:{server.port}\r\n'
                 f'X-Test-Watch: {watched["X-Test-Watch"]}\r\n\r\n'.encode())
    server.wait_watched(watched, 'parked')
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
    sock.close()


@pytest.mark.parametrize('reset', [False, True], ids=['fin', 'rst'])
def test_a_dead_parked_get_loses_nothing(driver, server_pool, reset):
    # The parked GET's client vanished: what is sent meanwhile must reach
    # the next GET, in order, and its send callback must wait for that.
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    park_raw_get(server, sid, reset=reset)
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_n': 10, 'prefix': 'm'})) == (200, b'ok')
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_cb': 'confirmed'})) == (200, b'ok')
    server.wait_event(ev='message', sid=sid,
                      data='cmd:{"send_cb": "confirmed"}')
    # Nothing may confirm it before a GET takes it: give a wrong callback
    # a moment to show up.
    time.sleep(0.3)
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'callback' and e.get('sid') == sid]
    status, body = client.get(sid)
    assert status == 200
    assert split(body) == [f'4m{i}' for i in range(10)] + ['4confirmed']
    server.wait_event(ev='callback', sid=sid, data='confirmed')


def test_an_answer_that_cannot_be_written_goes_back_to_the_queue(
        driver, server_pool):
    # A GET is answered with 6 MB, more than the kernel buffers hold, and
    # its connection is reset while the server writes: what it carried
    # must reach the next GET, in order, and its send callback must wait.
    server = server_pool(driver, max_buffered_bytes=None)
    client = client_for(server)
    sid, _ = client.handshake()
    big = 'y' * 100_000
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_n': 60, 'prefix': big})) == (200, b'ok')
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_cb': 'confirmed'})) == (200, b'ok')
    server.wait_event(ev='message', sid=sid,
                      data='cmd:{"send_cb": "confirmed"}')
    reset_get(server.port, sid, QS)
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'callback' and e.get('sid') == sid]
    received: list[str] = []
    for _ in range(10):
        status, body = client.get(sid, timeout=10)
        assert status == 200
        received.extend(split(body))
        if received[-1] == '4confirmed':
            break
    assert received == [f'4{big}{i}' for i in range(60)] + ['4confirmed']
    server.wait_event(ev='callback', sid=sid, data='confirmed')


BIG = 'x' * 1000


def test_a_client_that_never_polls_is_closed_at_the_buffer_limit(
        driver, server_pool):
    server = server_pool(driver, max_buffered_bytes=50_000)
    client = client_for(server)
    sid, _ = client.handshake()
    # The application sends 200 KB to a client that never GETs.
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_n': 200, 'prefix': BIG})) == (200, b'ok')
    refused = server.wait_event(ev='send_refused', sid=sid)
    assert 45 <= refused['at'] <= 50            # ~50 KB were queued
    event = server.wait_event(ev='disconnect', sid=sid)
    assert event['reason'] == 'transport error'
    assert_session_gone(client, sid)


def test_the_fail_policy_refuses_sends_and_keeps_the_session(
        driver, server_pool):
    server = server_pool(driver, max_buffered_bytes=50_000,
                         on_buffer_full='fail')
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_n': 200, 'prefix': BIG})) == (200, b'ok')
    full = server.wait_event(ev='buffer_full', sid=sid)
    assert 45 <= full['at'] <= 50
    assert 45_000 <= full['buffered'] <= 50_000
    status, body = client.get(sid)
    assert status == 200 and len(split(body)) == full['at']
    assert client.post(sid, '4cmd:{"buffered": true}') == (200, b'ok')
    assert server.wait_event(ev='buffered', sid=sid)['amount'] == 0


def test_the_wait_policy_holds_the_sender_until_the_client_polls(
        driver, server_pool):
    # The application streams 200 KB to a client that polls slowly: each
    # send past 50 KB waits for room, nothing is refused or lost, and no
    # GET ever finds more than the limit queued.
    server = server_pool(driver, max_buffered_bytes=50_000,
                         on_buffer_full='wait',
                         _app={'socket_events': True})
    client = client_for(server)
    sid, _ = client.handshake()
    poster = in_background(client.post, sid, '4cmd:' + json.dumps(
        {'send_n': 200, 'prefix': BIG}))
    received: list[str] = []
    for _ in range(50):
        time.sleep(0.05)                 # a client that polls slowly
        status, body = client.get(sid, timeout=10)
        assert status == 200
        batch = [p for p in split(body) if p.startswith('4')]
        assert sum(len(p) - 1 for p in batch) <= 50_000
        received.extend(batch)
        if len(received) == 200:
            break
    assert received == [f'4{BIG}{i}' for i in range(200)]
    assert poster.result(timeout=10) == (200, b'ok')
    events = server.drain_events()
    assert not [e for e in events if e.get('sid') == sid and e.get('ev') in
                ('send_refused', 'buffer_full', 'disconnect')]
    # Each wait ended with a drain: the queue was below the limit again.
    assert [e for e in events
            if e.get('ev') == 'sock_drain' and e.get('sid') == sid]


def test_the_wait_policy_gives_up_after_write_timeout(driver, server_pool):
    server = server_pool(driver, max_buffered_bytes=50_000,
                         on_buffer_full='wait', write_timeout=0.5)
    client = client_for(server)
    sid, _ = client.handshake()
    started = time.monotonic()
    assert client.post(sid, '4cmd:' + json.dumps(
        {'send_n': 200, 'prefix': BIG})) == (200, b'ok')
    full = server.wait_event(ev='buffer_full', sid=sid)
    assert 45 <= full['at'] <= 50
    assert time.monotonic() - started >= 0.5
    # The session stays open and keeps what it queued.
    status, body = client.get(sid)
    assert status == 200 and len(split(body)) == full['at']


def test_undecodable_post_answers_parked_get_with_close(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    parked = server.park_get(sid)
    assert client.post(sid, 'abc')[0] == 400
    assert parked.result(timeout=10) == (200, b'1')


LIMIT = {'max_http_buffer_size': 1000}


def test_body_at_the_limit_is_accepted(driver, server_pool):
    server = server_pool(driver, **LIMIT)
    client = client_for(server)
    sid, _ = client.handshake()
    text = 'x' * 999
    assert client.post(sid, '4' + text) == (200, b'ok')
    assert client.get(sid) == (200, ('4' + text).encode())


def test_declared_length_over_limit_is_413_without_reading(driver,
                                                           server_pool):
    server = server_pool(driver, **LIMIT)
    client = client_for(server)
    sid, _ = client.handshake()
    conn = open_stream(server.port, 'POST', sid,
                       {'Content-Length': '5000000',
                        'Content-Type': 'text/plain;charset=UTF-8'})
    try:
        # Not a byte of the body is sent: the answer cannot depend on it.
        response = conn.getresponse()
        assert response.status == 413
        response.read()
    finally:
        conn.close()
    server.wait_event(ev='disconnect', sid=sid)
    assert_session_gone(client, sid)


def test_chunked_body_over_limit_is_413(driver, server_pool):
    server = server_pool(driver, **LIMIT)
    client = client_for(server)
    sid, _ = client.handshake()
    conn = open_stream(server.port, 'POST', sid,
                       {'Transfer-Encoding': 'chunked',
                        'Content-Type': 'text/plain;charset=UTF-8'})
    try:
        conn.send(chunk(b'4' + b'y' * 599) + chunk(b'z' * 600) +
                  b'0\r\n\r\n')
        response = conn.getresponse()
        assert response.status == 413
        response.read()
    finally:
        conn.close()
    server.wait_event(ev='disconnect', sid=sid)
    assert_session_gone(client, sid)
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'message' and e.get('sid') == sid]


def test_chunked_body_under_limit_is_read_whole(driver, server_pool):
    server = server_pool(driver, **LIMIT)
    client = client_for(server)
    sid, _ = client.handshake()
    conn = open_stream(server.port, 'POST', sid,
                       {'Transfer-Encoding': 'chunked',
                        'Content-Type': 'text/plain;charset=UTF-8'})
    try:
        conn.send(chunk(b'4chu') + chunk(b'nked') + b'0\r\n\r\n')
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'ok')
    finally:
        conn.close()
    assert server.wait_event(ev='message', sid=sid)['data'] == 'chunked'


def test_short_content_length_reads_declared_bytes_only(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    conn = open_stream(server.port, 'POST', sid,
                       {'Content-Length': '3',
                        'Content-Type': 'text/plain;charset=UTF-8'})
    try:
        conn.send(b'4hello')
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'ok')
    finally:
        conn.close()
    assert server.wait_event(ev='message', sid=sid)['data'] == 'he'
    assert client.get(sid) == (200, b'4he')


# -- handler failures ---------------------------------------------------------

def test_raising_handler_is_logged_and_session_survives(driver,
                                                        start_server):
    server = start_server(driver, allow_tracebacks=True, logger=True)
    client = client_for(server)
    sid, _ = client.handshake()
    assert client.post(sid, '4cmd:{"raise": true}') == (200, b'ok')
    server.wait_stderr('handler failure requested by the test')
    assert server.tracebacks()
    assert client.post(sid, '4after') == (200, b'ok')
    assert client.get(sid) == (200, b'4after')
    assert server.proc.poll() is None


# -- HTTP features ------------------------------------------------------------

def test_options_is_204(driver, server_pool):
    client = client_for(server_pool(driver))
    status, headers, body = client.request('OPTIONS', QS)
    assert status == 204
    assert body == b''


def test_cors_is_off_by_default(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    # A same-origin page is served, without any CORS header.
    origin = {'Origin': f'http://127.0.0.1:{server.port}'}
    status, headers, body = client.request('GET', QS, headers=origin)
    assert status == 200
    sid = json.loads(body.decode()[1:])['sid']
    responses = [headers,
                 client.request('POST', f'{QS}&sid={sid}', body='4x',
                                headers=origin)[1],
                 client.request('OPTIONS', QS, headers={
                     **origin, 'Access-Control-Request-Method': 'POST'})[1],
                 client.request('GET', 'EIO=4', headers=origin)[1]]
    # A cross-origin request gets no CORS header either (whether or not
    # the server also refuses it).
    cross = {'Origin': 'http://a.example'}
    responses += [client.request('GET', QS, headers=cross)[1],
                  client.request('OPTIONS', QS, headers={
                      **cross, 'Access-Control-Request-Method': 'POST'})[1]]
    for h in responses:
        assert not [k for k in h if k.startswith('access-control-')], h


def test_cross_origin_refused_by_default(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    status, headers, body = client.request(
        'GET', QS, headers={'Origin': 'http://evil.example'})
    assert_error(status, body, 403, 4)
    sid, _ = client.handshake()
    status, _, _ = client.request('POST', f'{QS}&sid={sid}', body='4x',
                                  headers={'Origin': 'http://evil.example'})
    assert status == 403
    # The same host behind a proxy that rewrote Host.
    status, _, _ = client.request('GET', QS, headers={
        'Origin': 'https://public.example',
        'X-Forwarded-Host': 'public.example'})
    assert status == 200
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'message' and e.get('sid') == sid]


def test_cors_wildcard(driver, server_pool):
    client = client_for(server_pool(driver, cors='*'))
    origin = {'Origin': 'http://a.example'}
    status, headers, body = client.request('GET', QS, headers=origin)
    assert status == 200
    assert headers['access-control-allow-origin'] == '*'
    assert 'access-control-allow-credentials' not in headers
    sid = json.loads(body.decode()[1:])['sid']
    status, headers, _ = client.request('POST', f'{QS}&sid={sid}', body='4x',
                                        headers=origin)
    assert status == 200
    assert headers['access-control-allow-origin'] == '*'
    status, headers, _ = client.request('GET', 'EIO=4', headers=origin)
    assert status == 400
    assert headers['access-control-allow-origin'] == '*'
    status, headers, _ = client.request('OPTIONS', QS, headers={
        **origin, 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type'})
    assert status == 204
    assert headers['access-control-allow-origin'] == '*'
    assert 'POST' in headers['access-control-allow-methods']
    assert 'content-type' in headers['access-control-allow-headers'].lower()


def test_cors_credentials_echo_origin(driver, server_pool):
    server = server_pool(driver, cors={'origin': ['http://a.example'],
                                       'credentials': True})
    client = client_for(server)
    status, headers, body = client.request(
        'GET', QS, headers={'Origin': 'http://a.example'})
    assert status == 200
    assert headers['access-control-allow-origin'] == 'http://a.example'
    assert headers['access-control-allow-credentials'] == 'true'
    assert 'origin' in headers['vary'].lower()
    # No Origin header (not a cross-origin browser request): allowed.
    assert client.request('GET', QS)[0] == 200


def test_cors_disallowed_origin_is_403(driver, server_pool):
    server = server_pool(driver, cors={'origin': ['http://a.example'],
                                       'credentials': True})
    client = client_for(server)
    status, headers, body = client.request(
        'GET', QS, headers={'Origin': 'http://evil.example'})
    assert_error(status, body, 403, 4)
    assert 'access-control-allow-origin' not in headers
    sid, _ = client.handshake()
    status, headers, body = client.request(
        'POST', f'{QS}&sid={sid}', body='4x',
        headers={'Origin': 'http://evil.example'})
    assert status == 403
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'message' and e.get('sid') == sid]


@pytest.mark.parametrize('injection', [
    'Origin: http://a.example\rX-Injected: yes',
    'Origin: http://a.example\r\nAccess-Control-Request-Method: POST\r\n'
    'Access-Control-Request-Headers: content-type\rX-Injected: yes'])
def test_no_header_injection_through_cors_echo(driver, server_pool,
                                               injection):
    # Whatever the WSGI server in front lets through in a header value,
    # nothing of it is echoed in a way that adds a response header.
    server = server_pool(driver, cors={'origin': '*', 'credentials': True})
    for method in ('GET', 'OPTIONS'):
        reply = raw_exchange(server.port, (
            f'{method} /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n'
            f'Host: 127.0.0.1:{server.port}\r\n{injection}\r\n'
            'Connection: close\r\n\r\n').encode('latin-1'))
        assert reply.startswith(b'HTTP/1.'), reply
        head = reply.split(b'\r\n\r\n', 1)[0]
        lines = [line.strip() for line in
                 head.replace(b'\r', b'\n').split(b'\n')]
        assert not [line for line in lines
                    if line.lower().startswith(b'x-injected')], reply


def test_cookie_on_handshake_only(driver, server_pool):
    client = client_for(server_pool(driver, cookie=True))
    status, headers, body = client.request('GET', QS)
    assert status == 200
    sid = json.loads(body.decode()[1:])['sid']
    cookie = headers['set-cookie']
    assert cookie.split(';')[0] == f'io={sid}'
    status, headers, _ = client.request('POST', f'{QS}&sid={sid}', body='4x')
    assert status == 200 and 'set-cookie' not in headers
    status, headers, _ = client.request('GET', f'{QS}&sid={sid}')
    assert status == 200 and 'set-cookie' not in headers


def test_no_cookie_by_default(driver, server_pool):
    _, headers, _ = client_for(server_pool(driver)).request('GET', QS)
    assert 'set-cookie' not in headers


BIG_CMD = '4cmd:{"send_n": 200, "prefix": "compress-me-please-"}'
BIG_EXPECTED = [f'4compress-me-please-{i}' for i in range(200)]


@pytest.mark.parametrize('encoding, decode', [
    ('gzip', gzip.decompress),
    ('deflate', zlib.decompress),
])
def test_big_responses_are_compressed(driver, server_pool, encoding, decode):
    client = client_for(server_pool(driver))
    sid, _ = client.handshake()
    client.post(sid, BIG_CMD)
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}', headers={'Accept-Encoding': encoding})
    assert status == 200
    assert headers.get('content-encoding') == encoding
    assert int(headers['content-length']) == len(body)
    assert split(decode(body)) == BIG_EXPECTED


def test_a_waiting_get_is_answered_compressed(driver, server_pool):
    server = server_pool(driver)
    client = client_for(server)
    sid, _ = client.handshake()
    message = '4' + 'compress-me-please-' * 100
    waiting = BackgroundGet(server.port, f'{QS}&sid={sid}',
                            headers={'Accept-Encoding': 'gzip'})
    waiting.wait_taken()
    client.post(sid, message)
    status, body = waiting.result()
    assert status == 200
    assert gzip.decompress(body) == message.encode()


def test_small_responses_are_not_compressed(driver, server_pool):
    client = client_for(server_pool(driver))
    sid, _ = client.handshake()
    client.post(sid, '4hi')
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}', headers={'Accept-Encoding': 'gzip'})
    assert status == 200
    assert 'content-encoding' not in headers
    assert body == b'4hi'


def test_no_compression_without_accept_encoding(driver, server_pool):
    client = client_for(server_pool(driver))
    sid, _ = client.handshake()
    client.post(sid, BIG_CMD)
    status, headers, body = client.request('GET', f'{QS}&sid={sid}')
    assert 'content-encoding' not in headers
    assert split(body) == BIG_EXPECTED


def test_compression_can_be_disabled(driver, server_pool):
    client = client_for(server_pool(driver, http_compression=False))
    sid, _ = client.handshake()
    client.post(sid, BIG_CMD)
    status, headers, body = client.request(
        'GET', f'{QS}&sid={sid}', headers={'Accept-Encoding': 'gzip'})
    assert 'content-encoding' not in headers
    assert split(body) == BIG_EXPECTED

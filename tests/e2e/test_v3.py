"""Protocol v3 (``allow_eio3=True``) at the byte level: length-prefixed
payloads counted in UTF-16 units, XHR2 binary payloads, ``b64=1``, JSONP,
client pings, the silence timeout and binary WebSocket frames with a type
byte. The reference JS client is exercised in tests/interop/test_node_v3.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse

import pytest

from support import DRIVERS, wsclient
from support.httpclient import RawClient

V3 = {'allow_eio3': True, 'ping_interval': 0.5, 'ping_timeout': 0.5}
QS = 'EIO=3&transport=polling'


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


def split_v3(text: str) -> list[str]:
    """Split a v3 string payload; lengths are JavaScript string lengths."""
    units = text.encode('utf-16-le')
    out = []
    pos = 0
    while pos < len(units):
        colon = units.index(b':\x00', pos)
        length = int(units[pos:colon].decode('utf-16-le'))
        start = colon + 2
        out.append(units[start:start + 2 * length].decode('utf-16-le'))
        pos = start + 2 * length
    return out


def handshake(client: RawClient, extra: str = '') -> tuple[str, dict, list]:
    status, headers, body = client.request('GET', QS + extra)
    assert status == 200, body
    assert headers['content-type'].startswith('text/plain')
    packets = split_v3(body.decode())
    assert packets[0][0] == '0', packets
    info = json.loads(packets[0][1:])
    return info['sid'], info, packets


def get(client: RawClient, sid: str, extra: str = '') -> tuple[dict, bytes]:
    status, headers, body = client.request('GET', f'{QS}&sid={sid}{extra}')
    assert status == 200, body
    return headers, body


def post(client: RawClient, sid: str, body, extra: str = '',
         headers: dict | None = None) -> None:
    status, _, data = client.request('POST', f'{QS}&sid={sid}{extra}',
                                     body=body, headers=headers)
    assert (status, data) == (200, b'ok')


def test_handshake_is_a_length_prefixed_payload(driver, server_pool):
    server = server_pool(driver, **V3)
    sid, info, packets = handshake(RawClient(server.port))
    assert packets == [packets[0]]
    assert info['upgrades'] == ['websocket']
    assert info['pingInterval'] == 500 and info['pingTimeout'] == 500
    assert server.wait_event(ev='connect', sid=sid)['query'] == QS


def test_v3_refused_unless_allowed(server_pool):
    server = server_pool('eventlet')
    status, _, body = RawClient(server.port).request('GET', QS)
    assert status == 400
    assert json.loads(body) == {'code': 5,
                                'message': 'Unsupported protocol version'}
    # No EIO at all is v3 too, as in the reference server.
    status, _, body = RawClient(server.port).request('GET',
                                                     'transport=polling')
    assert (status, json.loads(body)['code']) == (400, 5)


def test_lengths_count_utf16_units(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    # '4😀€' is 4 UTF-16 units in JavaScript (the emoji is a pair).
    post(client, sid, '4:4😀€6:4hello'.encode())
    assert server.wait_event(ev='message', sid=sid)['data'] == '😀€'
    _, body = get(client, sid)
    assert body.decode() == '4:4😀€6:4hello'


def test_client_ping_gets_pong_and_wakes_parked_get(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    parked = server.park_get(sid, QS)
    post(client, sid, '6:2probe1:2')
    assert parked.result(5) == (200, b'6:3probe1:3')


def test_xhr2_binary_payloads_both_ways(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    # flag 1 (binary), length 4 as digit bytes, 255, type byte 4 + data;
    # then flag 0 (string) '4hi' of length 3.
    body = b'\x01\x04\xff\x04\x01\x02\xff' + b'\x00\x03\xff4hi'
    post(client, sid, body,
         headers={'Content-Type': 'application/octet-stream'})
    assert server.wait_event(ev='message', sid=sid)['binary'] == [1, 2, 255]
    headers, data = get(client, sid)
    assert headers['content-type'] == 'application/octet-stream'
    assert data == body


def test_b64_polling_sends_binary_as_base64_text(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client, '&b64=1')
    post(client, sid, '10:b4AQL/AA==', '&b64=1')
    assert server.wait_event(ev='message', sid=sid)['binary'] == [1, 2, 255, 0]
    headers, data = get(client, sid, '&b64=1')
    assert headers['content-type'].startswith('text/plain')
    assert data == b'10:b4AQL/AA=='


def test_b64_of_the_handshake_holds_for_the_whole_session(server_pool):
    # The reference decides base64 binary once, when the session's
    # transport is created: later requests' own b64 changes nothing.
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client, '&b64=1')
    post(client, sid, '10:b4AQL/AA==')
    headers, data = get(client, sid)            # no b64 on this poll
    assert headers['content-type'].startswith('text/plain')
    assert data == b'10:b4AQL/AA=='
    plain, _, _ = handshake(client)
    post(client, plain, '10:b4AQL/AA==')
    headers, data = get(client, plain, '&b64=1')  # too late to ask
    assert headers['content-type'] == 'application/octet-stream'
    assert data == b'\x01\x05\xff\x04\x01\x02\xff\x00'


def eval_jsonp(script: str, index: int) -> str | None:
    """Run a JSONP response in node and return what it passed to
    ``___eio[index]``; None without node."""
    node = shutil.which('node')
    if node is None:
        return None
    program = ('const got = []; global.___eio = []; '
               f'___eio[{index}] = (d) => got.push(d); '
               'eval(require("fs").readFileSync(0, "utf8")); '
               'process.stdout.write(JSON.stringify(got));')
    proc = subprocess.run([node, '-e', program], input=script.encode(),
                          capture_output=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert len(got) == 1
    return got[0]


def test_jsonp_polling_round_trip(driver, server_pool):
    server = server_pool(driver, **V3)
    client = RawClient(server.port)
    status, headers, body = client.request('GET', QS + '&j=2')
    assert status == 200
    assert headers['content-type'].startswith('text/javascript')
    script = body.decode()
    assert script.startswith('___eio[2]("') and script.endswith('");')
    payload = eval_jsonp(script, 2) or json.loads(script[10:-2])
    sid = json.loads(split_v3(payload)[0][1:])['sid']
    # The 3.x client form-encodes 'd' and escapes newlines as '\\n'.
    tricky = 'line1\nline2 </script> "q" \\ \u2028 😀'
    packet = '4' + tricky
    sent = f'{len(packet.encode("utf-16-le")) // 2}:{packet}'
    escaped = sent.replace('\n', '\\n')
    form = 'd=' + urllib.parse.quote(escaped, safe='')
    post(client, sid, form, '&j=2',
         headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert server.wait_event(ev='message', sid=sid)['data'] == tricky
    status, _, body = client.request('GET', f'{QS}&sid={sid}&j=2')
    script = body.decode()
    # Safe inside a <script> element: no raw '<', U+2028 or newline.
    for bad in ('</script>', '\u2028', '\n'):
        assert bad not in script
    echoed = eval_jsonp(script, 2) or json.loads(
        script[10:-2].replace('\\u003c', '<').replace('\\u003e', '>'))
    assert split_v3(echoed) == [packet]


def test_silent_client_times_out_after_interval_plus_timeout(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    start = time.monotonic()
    # The server never pings a v3 client: the parked GET only ends with
    # the close packet of the timeout.
    _, body = get(client, sid)
    assert body == b'1:1'
    event = server.wait_event(ev='disconnect', sid=sid, timeout=5)
    elapsed = time.monotonic() - start
    assert event['reason'] == 'ping timeout'
    assert 0.8 <= elapsed < 2.5, elapsed


def test_client_pings_keep_the_session_alive(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    # The client must stay idle between its pings: 1.5 s in all, longer
    # than interval + timeout.
    for _ in range(6):
        post(client, sid, '1:2')
        _, body = get(client, sid)
        assert body == b'1:3'
        time.sleep(0.25)
    post(client, sid, '6:4alive')
    assert server.wait_event(ev='message', sid=sid)['data'] == 'alive'
    assert not [e for e in server.drain_events()
                if e.get('ev') == 'disconnect' and e.get('sid') == sid]


def test_websocket_binary_frames_carry_a_type_byte(driver, server_pool):
    server = server_pool(driver, **V3)
    ws = wsclient.connect(server.port, 'EIO=3&transport=websocket')
    try:
        opened = wsclient.receive(ws)
        assert opened[0] == '0' and json.loads(opened[1:])['upgrades'] == []
        sid = json.loads(opened[1:])['sid']
        ws.send(b'\x04\x00\x01\xfe')
        assert server.wait_event(ev='message', sid=sid)['binary'] == \
            [0, 1, 254]
        assert wsclient.receive(ws) == b'\x04\x00\x01\xfe'
        ws.send('2ping')
        assert wsclient.receive(ws) == '3ping'
        ws.send('4text')
        assert wsclient.receive(ws) == '4text'
    finally:
        ws.close()


def test_polling_upgrade_to_websocket(server_pool):
    server = server_pool('eventlet', **V3)
    client = RawClient(server.port)
    sid, _, _ = handshake(client)
    ws = wsclient.connect(server.port, f'EIO=3&transport=websocket&sid={sid}')
    try:
        ws.send('2probe')
        assert wsclient.receive(ws) == '3probe'
        ws.send('5')
        ws.send(b'\x04\x07')
        assert wsclient.receive(ws) == b'\x04\x07'
        assert server.wait_event(ev='upgrade', sid=sid)['current'] == \
            'websocket'
    finally:
        ws.close()

"""gevent's pywsgi and ``Connection: close``: pywsgi closes the connection
after answering an HTTP/1.1 request that said ``Connection: close`` but
does not say so in its response, so Engine.IO's responses say it
themselves (engineio_sync.wsgi_servers.announce_close). Raw sockets and
node's ``fetch`` against server_app.py's gevent driver, which runs pywsgi.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import textwrap

import pytest

from conftest import REPO

pytestmark = pytest.mark.timeout(60)

PATH = '/engine.io/?EIO=4&transport=polling'


def exchange(sock: socket.socket, request: bytes
             ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request and read its response (Content-Length framed)."""
    sock.sendall(request)
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        assert chunk, f'connection closed before a response: {data!r}'
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = [tuple(part.strip() for part in line.split(':', 1))
               for line in lines[1:]]
    length = int(next(v for k, v in headers if k.lower() == 'content-length'))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, 'connection closed inside the body'
        body += chunk
    assert len(body) == length, 'bytes after the response'
    return int(lines[0].split()[1]), headers, body


def connection_headers(headers: list[tuple[str, str]]) -> list[str]:
    return [v.lower() for k, v in headers if k.lower() == 'connection']


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b''
    except ConnectionResetError:
        return True


def request(method: str, target: str, *, body: bytes = b'',
            connection: str | None = None, version: str = '1.1') -> bytes:
    head = f'{method} {target} HTTP/{version}\r\nHost: 127.0.0.1\r\n'
    if connection is not None:
        head += f'Connection: {connection}\r\n'
    if method == 'POST':
        head += ('Content-Type: text/plain;charset=UTF-8\r\n'
                 f'Content-Length: {len(body)}\r\n')
    return head.encode() + b'\r\n' + body


def one_closing_request(port: int, method: str, target: str,
                        body: bytes = b'', connection: str = 'close'
                        ) -> tuple[int, bytes]:
    """A request saying ``Connection: close`` on a connection of its own:
    the response must say ``Connection: close`` too, once, and the server
    must then close."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        status, headers, data = exchange(
            sock, request(method, target, body=body, connection=connection))
        assert connection_headers(headers) == ['close'], headers
        assert closed_by_server(sock)
    return status, data


@pytest.fixture
def pywsgi(server_pool):
    return server_pool('gevent')


def test_connection_close_is_announced_on_every_polling_answer(pywsgi):
    port = pywsgi.port
    status, body = one_closing_request(port, 'GET', PATH)
    assert status == 200 and body.startswith(b'0{'), body
    sid = json.loads(body[1:])['sid']
    status, body = one_closing_request(port, 'POST', f'{PATH}&sid={sid}',
                                       b'4hello')
    assert (status, body) == (200, b'ok')
    # The echo is waiting, so this GET is answered at once. A list of
    # connection options that names close counts too.
    status, body = one_closing_request(port, 'GET', f'{PATH}&sid={sid}',
                                       connection='Close, TE')
    assert (status, body) == (200, b'4hello')
    status, body = one_closing_request(port, 'GET', f'{PATH}&sid=nosuch')
    assert status == 400 and b'Session ID unknown' in body
    status, body = one_closing_request(port, 'POST', f'{PATH}&sid={sid}',
                                       b'1')
    assert (status, body) == (200, b'ok')


def test_other_requests_keep_their_connection(pywsgi):
    """Keep-alive requests get no Connection header and share one
    connection; HTTP/1.0 keeps pywsgi's own single header."""
    with socket.create_connection(('127.0.0.1', pywsgi.port),
                                  timeout=10) as sock:
        status, headers, body = exchange(sock, request('GET', PATH))
        assert status == 200 and connection_headers(headers) == []
        sid = json.loads(body[1:])['sid']
        status, headers, _ = exchange(sock, request(
            'POST', f'{PATH}&sid={sid}', body=b'1', connection='keep-alive'))
        assert status == 200 and connection_headers(headers) == []
    with socket.create_connection(('127.0.0.1', pywsgi.port),
                                  timeout=10) as sock:
        status, headers, _ = exchange(sock, request(
            'GET', PATH, connection='close', version='1.0'))
        assert status == 200 and connection_headers(headers) == ['close']
        assert closed_by_server(sock)


NODE = shutil.which('node')

# Two requests through one pooled connection, the first saying
# Connection: close: with node's http module and a keep-alive agent (which
# reuses a connection whose response did not say close: "socket hang up"
# on the second request without the fix), then with fetch (undici, which
# closes by itself after a request saying close).
NODE_SCRIPT = textwrap.dedent('''
    const http = require('http');
    const url = process.argv[1] + '/engine.io/?EIO=4&transport=polling';
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    const get = (headers) => new Promise((resolve, reject) => {
      const req = http.get(url, {agent, headers}, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (chunk) => { body += chunk; });
        res.on('end', () => resolve(
          [res.statusCode, res.headers.connection || null, body[0]]));
      });
      req.on('error', reject);
    });
    const fetched = async (headers) => {
      const res = await fetch(url, {headers});
      return [res.status, res.headers.get('connection'),
              (await res.text())[0]];
    };
    (async () => {
      const out = [];
      for (const step of [() => get({connection: 'close'}), () => get({}),
                          () => fetched({connection: 'close'}),
                          () => fetched({})]) {
        try {
          out.push(await step());
        } catch (err) {
          out.push(String(err));
        }
      }
      agent.destroy();
      console.log(JSON.stringify(out));
    })();
''')


@pytest.mark.skipif(NODE is None, reason='node is not installed')
def test_node_clients_survive_connection_close(pywsgi):
    proc = subprocess.run(
        [NODE, '-e', NODE_SCRIPT, f'http://127.0.0.1:{pywsgi.port}'],
        capture_output=True, text=True, timeout=30, cwd=REPO,
        env={**os.environ, 'NODE_NO_WARNINGS': '1'})
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == [[200, 'close', '0'], [200, None, '0'],
                      [200, 'close', '0'], [200, None, '0']], \
        (result, proc.stderr)

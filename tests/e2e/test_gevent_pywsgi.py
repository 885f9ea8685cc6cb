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

from support import REPO
from support.closing import (PATH, closed_by_server, connection_headers,
                             exchange, one_closing_request, request)

pytestmark = pytest.mark.timeout(60)

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

"""listen() on gevent's pywsgi (``http_server='wsgi'``), monkey-patched or
not: every response to an HTTP/1.1 ``Connection: close`` request says
``Connection: close``, the application's own pages as well as Engine.IO's.
(Graceful shutdown on these setups: test_process_life.py.)"""

from __future__ import annotations

import json
import signal

import pytest

import test_process_life as life
from support import closing as checks

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize('setup', ['gevent+unpatched+wsgi',
                                   'gevent+patched+wsgi'])
def test_pywsgi_of_listen_says_connection_close(setup):
    p = life.Proc(setup)
    try:
        assert life.setup_of(p)['socket_patched'] == ('+patched' in setup)
        assert checks.one_closing_request(p.port, 'GET', '/page') == \
            (200, b'page')
        status, body = checks.one_closing_request(p.port, 'GET', checks.PATH)
        assert status == 200 and body.startswith(b'0{'), body
        # Closed by the client, so the stop below need not wait for it.
        sid = json.loads(body[1:])['sid']
        assert checks.one_closing_request(
            p.port, 'POST', f'{checks.PATH}&sid={sid}', b'1') == (200, b'ok')
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(10) == 0, p.stderr
        assert 'Traceback' not in p.stderr, p.stderr
    finally:
        p.finish()

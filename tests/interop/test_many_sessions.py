"""Thousands of idle WebSocket sessions stay alive on one process.

Not a timing test: the server must keep every session through several
heartbeats (each client gets pinged and answers) and then still echo on
every one of them.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from nodeclient import REPO, node_available

SCRIPT = os.path.join(REPO, 'tests', 'interop', 'node', 'many_clients.js')


@pytest.mark.skipif(not node_available(), reason='npm ci not run')
@pytest.mark.parametrize('driver', ['eventlet', 'native', 'gevent'])
def test_two_thousand_idle_sessions_are_pinged_and_answer(driver,
                                                         start_server):
    srv = start_server(driver, ping_interval=1, ping_timeout=3)
    out = subprocess.run(['node', SCRIPT, srv.url, '2000', '2500'],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    assert stats == {'opened': 2000, 'pinged': 2000, 'echoed': 2000,
                     'closed_early': 0, 'errors': 0}

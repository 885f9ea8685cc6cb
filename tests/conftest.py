"""Fixtures: real server processes on 127.0.0.1 and a raw HTTP client.

Helpers live in the ``support`` package (tests/support/); this file only
defines fixtures and is never imported by test modules.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

from support.httpclient import RawClient
from support.serverproc import ServerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'interop'))


@pytest.fixture
def start_server():
    """``start_server(driver, **options)`` -> ServerProcess, stopped after.

    After the test, the server's stderr must hold no Traceback, unless the
    test passed ``allow_tracebacks=True`` (or set it on the ServerProcess).
    """
    servers: list[ServerProcess] = []

    def start(driver: str, env: dict[str, str] | None = None,
              allow_tracebacks: bool = False, script: str = 'server_app.py',
              **options: Any) -> ServerProcess:
        server = ServerProcess(driver, options, env, script)
        server.allow_tracebacks = allow_tracebacks
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        if server.allow_tracebacks:
            continue
        errors = server.tracebacks()
        assert not errors, ''.join(server.stderr_lines)


@pytest.fixture(scope='module')
def server_pool():
    """``server_pool(driver, **options)`` -> a ServerProcess shared by the
    tests of one module that ask for the same driver and options.

    Cheaper than ``start_server`` when many tests only need their own
    sessions on a default server. The servers stop when the module ends and
    must not have printed a Traceback.
    """
    servers: dict[str, ServerProcess] = {}
    started: list[ServerProcess] = []

    def get(driver: str, **options: Any) -> ServerProcess:
        key = driver + ' ' + json.dumps(options, sort_keys=True)
        server = servers.get(key)
        if server is None or server.proc.poll() is not None:
            server = servers[key] = ServerProcess(driver, options)
            started.append(server)
        return server

    yield get
    errors = []
    for server in started:
        server.stop()
        if server.tracebacks():
            errors.append(''.join(server.stderr_lines))
    assert not errors, '\n'.join(errors)


@pytest.fixture
def raw_client():
    return RawClient

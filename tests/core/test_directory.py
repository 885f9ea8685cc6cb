"""The session directory: one interface, local and clustered, that the
server asks about every sid without knowing which it has."""

from __future__ import annotations

import inspect
import io
import json
import logging

import pytest

import engineio_sync
from engineio_sync.directory import (LocalDirectory, SessionDirectory,
                                     SessionHost)
from engineio_sync.exceptions import UNKNOWN_SID, RemoteProtocolError

# Nothing listens there: building a clustered server contacts nobody.
UNREACHABLE = 'redis://127.0.0.1:1/0'


def _members(protocol: type) -> dict[str, inspect.Signature | None]:
    """The methods (with their signatures) and attributes (None) that
    ``protocol`` asks for."""
    found: dict[str, inspect.Signature | None] = {
        name: None for name in protocol.__annotations__}
    for name, value in vars(protocol).items():
        if not name.startswith('_') and callable(value):
            found[name] = inspect.signature(value)
    return found


def _mismatches(obj: object, protocol: type) -> list[str]:
    """What ``obj`` lacks of ``protocol``, or offers with other
    parameters."""
    out = []
    for name, signature in _members(protocol).items():
        if not hasattr(obj, name):
            out.append(f'{name} missing')
            continue
        if signature is None:
            continue
        wanted = list(signature.parameters)[1:]  # without self
        got = list(inspect.signature(getattr(obj, name)).parameters)
        if got != wanted:
            out.append(f'{name}{tuple(got)}, not {tuple(wanted)}')
    return out


def test_the_interface_check_sees_a_missing_or_different_method():
    class Partial(LocalDirectory):
        def disconnect(self, session):  # another parameter name
            return False
    partial = Partial(logging.getLogger('test'))
    del partial.engines
    assert _mismatches(partial, SessionDirectory) == [
        'engines missing', "disconnect('session',), not ('sid',)"]


def test_both_directories_offer_the_whole_interface():
    local = engineio_sync.Server(async_mode='threading')
    clustered = engineio_sync.Server(async_mode='threading',
                                     cluster=UNREACHABLE)
    assert isinstance(local.directory, LocalDirectory)
    assert local.cluster is None
    assert clustered.cluster is clustered.directory
    for server in (local, clustered):
        assert _mismatches(server.directory, SessionDirectory) == []
        # The server is what the directory asks of it in return.
        assert _mismatches(server, SessionHost) == []


def test_a_local_directory_knows_its_own_sessions_only(caplog):
    directory = LocalDirectory(logging.getLogger('test.directory'))
    assert directory.defers_connect is False
    with pytest.raises(RemoteProtocolError) as refused:
        directory.elsewhere('nope')
    assert refused.value.code == UNKNOWN_SID
    with pytest.raises(KeyError) as missing:
        directory.session_missing('nope')
    assert type(missing.value) is KeyError
    with caplog.at_level(logging.WARNING, 'test.directory'):
        assert directory.send_message('nope', 'hi') is False
    assert 'send to unknown or closed session nope' in caplog.text
    assert directory.send_packets('nope', []) is False
    assert directory.disconnect('nope') is False
    port = object()
    assert directory.upgrading(port, {}) is port


def test_forgetting_takes_out_that_engine_only():
    class Engine:
        def __init__(self, sid: str) -> None:
            self.sid = sid
    directory = LocalDirectory(logging.getLogger('test'))
    old, new = Engine('s'), Engine('s')
    directory.engines['s'] = new
    directory.forget(old)
    assert directory.engines == {'s': new}
    directory.forget(new)
    assert directory.engines == {}


def _request(server, query: str) -> tuple[str, bytes]:
    environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/engine.io/',
               'QUERY_STRING': query, 'wsgi.input': io.BytesIO(),
               'SERVER_NAME': 'test', 'SERVER_PORT': '80',
               'wsgi.url_scheme': 'http'}
    status = []
    body = b''.join(server.handle_request(
        environ, lambda s, headers, *exc: status.append(s)))
    return status[0], body


def test_the_server_finds_its_sessions_in_the_directory():
    server = engineio_sync.Server(async_mode='threading')
    status, body = _request(server, 'EIO=4&transport=polling')
    assert status.startswith('200')
    sid = json.loads(body[1:])['sid']
    assert list(server.directory.engines) == [sid]
    assert server.transport(sid) == 'polling'
    status, body = _request(server, 'EIO=4&transport=polling&sid=other')
    assert status.startswith('400')
    assert json.loads(body)['code'] == UNKNOWN_SID
    with pytest.raises(KeyError):
        server.get_session('other')
    server.shutdown()

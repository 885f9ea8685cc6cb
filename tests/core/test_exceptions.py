"""One root exception; local misuse and remote protocol errors apart."""

from __future__ import annotations

import pytest

import engineio_sync
from engineio_sync.core.packets import DecodeError, decode_packet
from engineio_sync.core.wsframes import FrameError
from engineio_sync.exceptions import (BAD_REQUEST, FORBIDDEN, ConfigError,
                                      EngineIOError, LocalProtocolError,
                                      ProtocolError, RemoteProtocolError)


def test_every_exception_has_one_root():
    for exc in (LocalProtocolError, RemoteProtocolError, ConfigError,
                DecodeError, FrameError):
        assert issubclass(exc, EngineIOError)


def test_local_and_remote_are_apart():
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    assert issubclass(ConfigError, LocalProtocolError)
    # Bad arguments stay ValueErrors, as before the split.
    assert issubclass(LocalProtocolError, ValueError)
    assert ProtocolError is RemoteProtocolError
    assert engineio_sync.RemoteProtocolError is RemoteProtocolError


def test_remote_protocol_error_carries_the_reference_answer():
    error = RemoteProtocolError(FORBIDDEN)
    assert (error.code, error.message, error.http_status) == (
        4, 'Forbidden', 403)
    assert error.to_dict() == {'code': 4, 'message': 'Forbidden'}


def test_decode_error_is_a_bad_request_from_the_peer():
    with pytest.raises(DecodeError) as info:
        decode_packet('9x')
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.code == BAD_REQUEST and info.value.http_status == 400
    assert 'unknown packet type' in str(info.value)


def test_misuse_raises_local_protocol_error():
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode='threading', ping_interval=-1)
    with pytest.raises(LocalProtocolError):
        engineio_sync.Server(async_mode='threading', ping_intervl=1)

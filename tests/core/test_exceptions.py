"""One root exception; local misuse and remote protocol errors apart."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import engineio_sync
from engineio_sync.core.packets import DecodeError, decode_packet
from engineio_sync.exceptions import (BAD_REQUEST, FORBIDDEN, ConfigError,
                                      EngineIOError, LocalProtocolError,
                                      ProtocolError, RemoteProtocolError)


def _package_exceptions() -> list[type]:
    """Every exception class defined in a module of the package (the
    cluster's too: importing it needs redis-py, a test dependency)."""
    found = []
    for info in pkgutil.walk_packages(engineio_sync.__path__,
                                      'engineio_sync.'):
        if info.name.endswith('__main__') or '.demo' in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and \
                    issubclass(value, BaseException) and \
                    value.__module__ == info.name:
                found.append(value)
    return found


def test_every_exception_of_the_package_has_one_root():
    found = _package_exceptions()
    names = {exc.__name__ for exc in found}
    # The walk found the modules that define exceptions.
    assert {'SessionElsewhere', 'WireError', 'BadRequestBody', 'BadBody',
            'BodyTooLarge', 'DecodeError', 'FrameError',
            'ConfigError'} <= names
    strays = [exc.__qualname__ for exc in found
              if not issubclass(exc, EngineIOError)
              and not exc.__name__.startswith('_')]
    assert strays == []


def test_standard_bases_stay_where_callers_rely_on_them():
    from engineio_sync.cluster import SessionElsewhere
    from engineio_sync.http_server import BadRequestBody
    assert issubclass(SessionElsewhere, KeyError)
    assert issubclass(BadRequestBody, ValueError)
    assert issubclass(DecodeError, ValueError)
    assert issubclass(ConfigError, ValueError)


def test_local_and_remote_are_apart():
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    # A bad option is neither: it is not a protocol error.
    assert not issubclass(ConfigError, LocalProtocolError)
    assert not issubclass(ConfigError, RemoteProtocolError)
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


def test_misuse_raises_config_error():
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode='threading', ping_interval=-1)
    with pytest.raises(ValueError):
        engineio_sync.Server(async_mode='threading', ping_intervl=1)

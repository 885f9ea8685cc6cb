"""Tests for engineio_sync.core.handshake: query parsing and request checks."""

from __future__ import annotations

import pytest

from engineio_sync.core.handshake import (RequestInfo, classify_request,
                                          parse_query)
from engineio_sync.exceptions import ProtocolError

BOTH = ('polling', 'websocket')


def classify(method: str, qs: str, *, transports=BOTH, allow_eio3=False,
             upgrade=False) -> RequestInfo:
    return classify_request(method, parse_query(qs), transports=transports,
                            allow_eio3=allow_eio3, websocket_upgrade=upgrade)


def error_code(method: str, qs: str, **kw) -> int:
    with pytest.raises(ProtocolError) as info:
        classify(method, qs, **kw)
    return info.value.code


# -- parse_query -------------------------------------------------------------

def test_parse_query_basic():
    assert parse_query('EIO=4&transport=polling&t=abc') == {
        'EIO': '4', 'transport': 'polling', 't': 'abc'}


def test_parse_query_empty_and_degenerate():
    assert parse_query('') == {}
    assert parse_query('&&') == {}
    assert parse_query('flag') == {'flag': ''}
    assert parse_query('a=&b=1') == {'a': '', 'b': '1'}


def test_parse_query_first_value_wins():
    assert parse_query('sid=first&sid=second')['sid'] == 'first'


def test_parse_query_unquotes():
    q = parse_query('sid=a%2Fb%3D&name=hello+world&k%20x=v')
    assert q['sid'] == 'a/b='
    assert q['name'] == 'hello world'
    assert q['k x'] == 'v'


# -- successful classification ----------------------------------------------

def test_polling_handshake():
    info = classify('GET', 'EIO=4&transport=polling&t=x')
    assert info.is_handshake
    assert (info.method, info.transport, info.sid, info.protocol) == (
        'GET', 'polling', None, 4)
    assert info.jsonp_index is None
    assert info.b64 is False


def test_websocket_handshake_with_upgrade_header():
    info = classify('GET', 'EIO=4&transport=websocket', upgrade=True)
    assert info.transport == 'websocket' and info.is_handshake


def test_request_with_sid():
    info = classify('POST', 'EIO=4&transport=polling&sid=abc')
    assert info.sid == 'abc'
    assert not info.is_handshake
    assert info.method == 'POST'


def test_empty_sid_is_a_handshake():
    assert classify('GET', 'EIO=4&transport=polling&sid=').is_handshake


def test_jsonp_and_b64():
    info = classify('GET', 'EIO=4&transport=polling&j=12')
    assert info.jsonp_index == '12'
    info = classify('GET', 'EIO=3&transport=polling&b64=1', allow_eio3=True)
    assert info.b64 is True and info.protocol == 3
    assert classify('GET', 'EIO=4&transport=polling&b64=0').b64 is False


def test_eio3_allowed():
    assert classify('GET', 'EIO=3&transport=polling',
                    allow_eio3=True).protocol == 3


def test_missing_eio_is_v3_when_allowed():
    # The reference server treats anything but "4" as revision 3.
    assert classify('GET', 'transport=polling', allow_eio3=True).protocol == 3


# -- error codes -------------------------------------------------------------

@pytest.mark.parametrize('qs', [
    'EIO=4',
    'EIO=4&transport=',
    'EIO=4&transport=abc',
    'EIO=4&transport=flashsocket',
    'EIO=4&transport=POLLING',
])
def test_missing_or_unknown_transport_is_code_0(qs):
    assert error_code('GET', qs) == 0


def test_transport_not_enabled_is_code_0():
    assert error_code('GET', 'EIO=4&transport=websocket',
                      transports=('polling',), upgrade=True) == 0
    assert error_code('GET', 'EIO=4&transport=polling',
                      transports=('websocket',)) == 0


def test_transport_is_checked_before_method():
    assert error_code('POST', 'EIO=4&transport=abc') == 0


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH'])
def test_non_get_handshake_is_code_2(method):
    assert error_code(method, 'EIO=4&transport=polling') == 2


def test_method_is_checked_before_version():
    assert error_code('POST', 'EIO=5&transport=polling') == 2


def test_websocket_handshake_without_upgrade_is_code_3():
    assert error_code('GET', 'EIO=4&transport=websocket') == 3


@pytest.mark.parametrize('qs', [
    'transport=polling',
    'EIO=&transport=polling',
    'EIO=abc&transport=polling',
    'EIO=5&transport=polling',
    'EIO=3&transport=polling',
    'EIO=04&transport=polling',
])
def test_unsupported_version_is_code_5(qs):
    assert error_code('GET', qs) == 5


def test_unsupported_version_on_websocket_handshake():
    assert error_code('GET', 'EIO=3&transport=websocket', upgrade=True) == 5


@pytest.mark.parametrize('index', ['abc', '-1', '1.5', '', '1234567890',
                                   '\u0661', '0x1'])
def test_bad_jsonp_index_is_code_3(index):
    assert error_code('GET', f'EIO=4&transport=polling&j={index}') == 3


def test_jsonp_on_websocket_is_code_3():
    assert error_code('GET', 'EIO=4&transport=websocket&j=0',
                      upgrade=True) == 3


def test_error_http_status_and_body():
    with pytest.raises(ProtocolError) as info:
        classify('GET', 'EIO=4&transport=abc')
    err = info.value
    assert err.http_status == 400
    assert err.to_dict() == {'code': 0, 'message': 'Transport unknown'}
    messages = {0: 'Transport unknown', 1: 'Session ID unknown',
                2: 'Bad handshake method', 3: 'Bad request',
                4: 'Forbidden', 5: 'Unsupported protocol version'}
    for code, message in messages.items():
        e = ProtocolError(code)
        assert e.to_dict() == {'code': code, 'message': message}
        assert e.http_status == (403 if code == 4 else 400)

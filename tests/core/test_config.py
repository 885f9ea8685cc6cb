"""Tests for engineio_sync.core.config: option validation."""

from __future__ import annotations

import json

import pytest

from engineio_sync.core.config import CookieConfig, ServerConfig
from engineio_sync.core.cors import CorsPolicy
from engineio_sync.exceptions import ConfigError


def cfg(**options) -> ServerConfig:
    return ServerConfig.from_options(**options)


def test_defaults():
    c = cfg()
    assert c.ping_interval == 25.0 and c.ping_interval_ms == 25000
    assert c.ping_timeout == 20.0 and c.ping_timeout_ms == 20000
    assert c.ping_interval_grace == 0.0
    assert c.max_http_buffer_size == 1_000_000
    assert c.transports == ('polling', 'websocket')
    assert c.allow_upgrades is True
    assert c.allow_eio3 is False
    assert c.cookie is None
    assert c.cors is None
    assert c.json is json
    assert c.initial_packet is None


@pytest.mark.parametrize('seconds, ms', [
    (0.3, 300), (0.2, 200), (0.001, 1), (1, 1000), (25, 25000),
    (0.0306, 31), (0.3004, 300), (2.5, 2500),
])
def test_intervals_are_advertised_in_exact_ms(seconds, ms):
    c = cfg(ping_interval=seconds, ping_timeout=seconds)
    assert c.ping_interval_ms == ms
    assert c.ping_timeout_ms == ms
    assert isinstance(c.ping_interval_ms, int)


def test_config_is_frozen():
    c = cfg()
    with pytest.raises(Exception):
        c.ping_interval = 1  # type: ignore[misc]


@pytest.mark.parametrize('name', ['ping_interval', 'ping_timeout',
                                  'upgrade_timeout', 'close_timeout'])
@pytest.mark.parametrize('value', [-1, -0.5, 0, 0.0, '25', '', None, True,
                                   False, [], {}, float('-inf')])
def test_bad_time_values(name, value):
    with pytest.raises(ConfigError):
        cfg(**{name: value})


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        cfg(ping_interval=-1)


def test_ping_interval_grace_tuple():
    c = cfg(ping_interval=(0.3, 0.1))
    assert c.ping_interval == 0.3
    assert c.ping_interval_grace == 0.1
    assert c.ping_interval_ms == 300
    c = cfg(ping_interval=[10, 0])
    assert (c.ping_interval, c.ping_interval_grace) == (10.0, 0.0)


@pytest.mark.parametrize('value', [(1,), (1, 2, 3), (1, -1), (1, 'x'),
                                   (0, 1), (-1, 1), ()])
def test_bad_ping_interval_tuples(value):
    with pytest.raises(ConfigError):
        cfg(ping_interval=value)


@pytest.mark.parametrize('value', [0, -1, True, '1000', None, 0.5])
def test_bad_max_http_buffer_size(value):
    with pytest.raises(ConfigError):
        cfg(max_http_buffer_size=value)


def test_max_http_buffer_size_ok():
    assert cfg(max_http_buffer_size=1000).max_http_buffer_size == 1000


def test_transports():
    assert cfg(transports=['polling']).transports == ('polling',)
    assert cfg(transports='websocket').transports == ('websocket',)
    assert cfg(transports=('websocket', 'polling')).transports == (
        'websocket', 'polling')


@pytest.mark.parametrize('value', [[], ['flashsocket'], ['polling', 'ws'],
                                   'xhr', ['POLLING']])
def test_unknown_or_empty_transports(value):
    with pytest.raises(ConfigError):
        cfg(transports=value)


# -- cookie -------------------------------------------------------------------

def test_cookie_forms():
    assert cfg(cookie=False).cookie is None
    assert cfg(cookie=None).cookie is None
    assert cfg(cookie=True).cookie == CookieConfig()
    assert cfg(cookie=True).cookie.name == 'io'
    assert cfg(cookie='sticky').cookie.name == 'sticky'
    c = cfg(cookie={'name': 'lb', 'path': '/app', 'httponly': False,
                    'samesite': 'Strict', 'secure': True,
                    'maxAge': 60}).cookie
    assert (c.name, c.path, c.httponly, c.samesite, c.secure, c.max_age) == (
        'lb', '/app', False, 'Strict', True, 60)


def test_cookie_header():
    name, value = CookieConfig().header('abc')
    assert name == 'Set-Cookie'
    parts = value.split('; ')
    assert parts[0] == 'io=abc'
    assert 'Path=/' in parts and 'HttpOnly' in parts
    assert 'SameSite=Lax' in parts
    assert 'Secure' not in parts
    _, value = CookieConfig(name='x', path=None, httponly=False,
                            samesite=None, secure=True, max_age=5,
                            domain='example.com').header('v')
    assert value.split('; ') == ['x=v', 'Domain=example.com', 'Max-Age=5',
                                 'Secure']


@pytest.mark.parametrize('value', [
    {'bogus': 1},
    {'name': ''},
    {'name': 'a;b'},
    {'name': 'a=b'},
    {'name': 'a b'},
    {'samesite': 'Sometimes'},
    5,
    ['io'],
])
def test_bad_cookie(value):
    with pytest.raises(ConfigError):
        cfg(cookie=value)


# -- cors ---------------------------------------------------------------------

def test_cors_forms():
    assert cfg(cors=None).cors is None
    assert cfg(cors=False).cors is None
    for value in ('*', True, 'http://a.example', ['http://a.example'],
                  lambda origin: True,
                  {'origin': '*', 'credentials': True, 'maxAge': 10,
                   'allowedHeaders': ['X-A'], 'methods': 'GET, POST'}):
        assert isinstance(cfg(cors=value).cors, CorsPolicy), value
    c = cfg(cors={'origin': '*', 'methods': 'GET, POST'}).cors
    assert ('Access-Control-Allow-Methods', 'GET, POST') in c.headers(
        'http://x', preflight=True)
    policy = CorsPolicy('*')
    assert cfg(cors=policy).cors is policy


def test_cors_allowed_origins_spelling():
    c = cfg(cors_allowed_origins=['http://a.example'],
            cors_credentials=True).cors
    assert c.allows('http://a.example')
    assert not c.allows('http://b.example')
    assert c.credentials is True


@pytest.mark.parametrize('value', [
    5,
    {'origin': 5},
    {'origin': [1, 2]},
    {'bogus': True},
    {'origin': '*', 'max_age': -1},
    {'origin': '*', 'max_age': 'x'},
])
def test_bad_cors(value):
    with pytest.raises(ConfigError):
        cfg(cors=value)


# -- others -------------------------------------------------------------------

def test_bad_compression_threshold():
    for value in (-1, 1.5, '1', True):
        with pytest.raises(ConfigError):
            cfg(compression_threshold=value)


def test_json_module_option():
    class Codec:
        dumps = staticmethod(json.dumps)
        loads = staticmethod(json.loads)
    assert cfg(json=Codec).json is Codec
    with pytest.raises(ConfigError):
        cfg(json=object())


def test_initial_packet():
    assert cfg(initial_packet='hi').initial_packet == 'hi'
    assert cfg(initial_packet=bytearray(b'\x01')).initial_packet == b'\x01'
    with pytest.raises(ConfigError):
        cfg(initial_packet=5)


def test_server_validates_through_config():
    import engineio_sync
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode='threading', ping_interval=0)
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode='threading', transports=['carrier'])
    with pytest.raises(ConfigError):
        engineio_sync.Server(async_mode='threading', allow_request=5)
    server = engineio_sync.Server(async_mode='threading', ping_interval=0.3,
                                  ping_timeout=0.2)
    assert server.config.ping_interval_ms == 300
    assert server.config.ping_timeout_ms == 200

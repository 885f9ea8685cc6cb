"""Tests for engineio_sync.core.config: option validation."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging

import pytest

from engineio_sync.core.config import (OPTIONS, CookieConfig, Option,
                                       ServerConfig, options_doc,
                                       server_signature)
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
    with pytest.raises(AttributeError):  # FrozenInstanceError
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


def test_non_iterable_transports_are_a_config_error():
    with pytest.raises(ConfigError, match='transports'):
        cfg(transports=5)


# -- server-level options -----------------------------------------------------

def test_server_level_defaults():
    c = cfg()
    assert c.async_mode is None
    assert c.logger is False
    assert c.allow_request is None and c.generate_id is None
    assert c.async_handlers is False
    assert c.monitor_clients is None


def test_server_level_values_are_stored():
    def gate(environ):
        return True

    def make_id():
        return 'x'
    log = logging.getLogger('test-config')
    c = cfg(async_mode='threading', logger=log, allow_request=gate,
            generate_id=make_id, async_handlers=1, monitor_clients=False)
    assert c.async_mode == 'threading'
    assert c.logger is log
    assert c.allow_request is gate and c.generate_id is make_id
    assert c.async_handlers is True     # bool(), as the server always did
    assert c.monitor_clients is False


def test_engineio_logger_overrides_logger():
    log = logging.getLogger('test-config')
    assert cfg(logger=True, engineio_logger=log).logger is log
    assert cfg(logger=True, engineio_logger=False).logger is False
    assert cfg(logger=True, engineio_logger=None).logger is True
    assert not any(f.name == 'engineio_logger'
                   for f in dataclasses.fields(ServerConfig))


@pytest.mark.parametrize('name', ['allow_request', 'generate_id'])
@pytest.mark.parametrize('value', [5, 'f', True])
def test_hooks_must_be_callable(name, value):
    with pytest.raises(ConfigError, match=f'{name} must be callable'):
        cfg(**{name: value})


@pytest.mark.parametrize('value', [5, True, b'threading', ['threading']])
def test_async_mode_must_be_a_name(value):
    # Whether the name exists is the server's (the drivers') check.
    with pytest.raises(ConfigError, match='async_mode'):
        cfg(async_mode=value)
    assert cfg(async_mode='no-such-driver').async_mode == 'no-such-driver'


def test_cors_false_ignores_cors_allowed_origins():
    assert cfg(cors=False, cors_allowed_origins='*').cors is None
    assert cfg(cors='*', cors_allowed_origins=5).cors.allows('http://x')


# -- the registry -------------------------------------------------------------

def test_unknown_option_suggests_the_closest_name():
    with pytest.raises(ConfigError) as info:
        cfg(ping_intervall=5)
    message = str(info.value)
    assert "'ping_intervall'" in message
    assert "did you mean 'ping_interval'?" in message


def test_unknown_option_without_a_close_name():
    with pytest.raises(ConfigError) as info:
        cfg(zzzzzz=1)
    assert "'zzzzzz'" in str(info.value)
    assert 'did you mean' not in str(info.value)


def test_every_unknown_option_is_named():
    with pytest.raises(ConfigError) as info:
        cfg(cors_origins='*', trasnports=['polling'], ping_interval=1)
    assert str(info.value) == (
        "unknown Server options 'cors_origins' (did you mean "
        "'cors_allowed_origins'?), 'trasnports' (did you mean "
        "'transports'?)")


def test_option_names_are_unique():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names)) == 33


def test_every_option_has_a_doc_and_an_annotation():
    for option in OPTIONS:
        assert isinstance(option, Option)
        assert option.doc.strip() and '\n' not in option.doc, option.name
        assert option.annotation.strip(), option.name
        assert callable(option.normalise), option.name


def test_option_rejects_a_multi_line_doc():
    with pytest.raises(ValueError):
        Option('x', None, 'int', 'one\ntwo')
    with pytest.raises(ValueError):
        Option('x', None, '', 'doc')


def test_options_folded_into_others_name_real_fields():
    field_names = {f.name for f in dataclasses.fields(ServerConfig)}
    folded = {o.name: o.into for o in OPTIONS if o.into}
    assert folded == {'cors_allowed_origins': 'cors',
                      'cors_credentials': 'cors',
                      'engineio_logger': 'logger'}
    assert set(folded.values()) <= field_names
    assert not set(folded) & field_names


def test_config_fields_come_from_the_registry():
    field_names = [f.name for f in dataclasses.fields(ServerConfig)]
    own = {o.name for o in OPTIONS if o.into is None}
    # ping_interval_grace is the second half of the ping_interval option.
    assert set(field_names) == own | {'ping_interval_grace'}


def test_signature_matches_registry():
    sig = server_signature()
    params = list(sig.parameters.values())
    assert [p.name for p in params] == [o.name for o in OPTIONS]
    for param, option in zip(params, OPTIONS):
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        assert param.default == option.default
        assert type(param.default) is type(option.default)
        assert param.annotation == option.annotation
    method = server_signature(with_self=True)
    assert list(method.parameters)[0] == 'self'
    assert list(method.parameters)[1:] == list(sig.parameters)


def test_signature_set_on_a_method_reads_back_through_the_class():
    class Probe:
        def __init__(self, **options):
            pass
        __init__.__signature__ = server_signature(with_self=True)
    assert inspect.signature(Probe) == server_signature()
    inspect.signature(Probe).bind(ping_interval=1, path='/x')
    with pytest.raises(TypeError):
        inspect.signature(Probe).bind(5)


def test_signature_defaults_are_accepted_by_from_options():
    sig = server_signature()
    explicit = {name: p.default for name, p in sig.parameters.items()}
    assert cfg(**explicit) == cfg()


def test_defaults_equal_server_config_defaults():
    assert ServerConfig() == cfg()
    fields = {f.name: f.default for f in dataclasses.fields(ServerConfig)}
    for option in OPTIONS:
        if option.into is not None or option.name in ('ping_interval',
                                                      'cors'):
            continue
        assert fields[option.name] == option.normalise(option.default), \
            option.name
    interval = next(o for o in OPTIONS if o.name == 'ping_interval')
    assert (fields['ping_interval'], fields['ping_interval_grace']) == \
        interval.normalise(interval.default) == (25.0, 0.0)
    assert fields['cors'] is None


def test_options_doc_has_one_param_per_option_in_order():
    text = options_doc()
    starts = [line for line in text.splitlines()
              if line.startswith(':param ')]
    assert [line.split()[1].rstrip(':') for line in starts] == \
        [o.name for o in OPTIONS]
    # The continuation lines put back together give the registry's docs.
    joined = ' '.join(text.split())
    for option in OPTIONS:
        assert f':param {option.name}: {" ".join(option.doc.split())}' \
            in joined


@pytest.mark.parametrize('indent, width', [('', 79), ('    ', 79),
                                           ('        ', 60)])
def test_options_doc_fits_and_is_indented(indent, width):
    lines = options_doc(indent=indent, width=width).splitlines()
    assert all(line.startswith(indent) for line in lines)
    assert all(line.startswith(indent + ':param ')
               or line.startswith(indent + '    ') for line in lines)
    assert all(len(line) <= width for line in lines)


def test_doc_lines_never_split_a_literal():
    option = Option('x', None, 'Any',
                    'aaa ``(False, message)`` bbb ``a b c d`` c')
    for width in range(4, 40):
        lines = option.doc_lines(width)
        assert ' '.join(lines) == option.doc
        for line in lines:
            assert line.count('``') % 2 == 0, (width, lines)


@pytest.mark.parametrize('value', [0, -1, 1025, 2.5, True, '8'])
def test_app_threads_must_be_a_small_whole_number(value):
    with pytest.raises(ConfigError, match='app_threads'):
        ServerConfig.from_options(app_threads=value)


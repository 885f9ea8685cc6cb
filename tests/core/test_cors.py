"""Tests for engineio_sync.core.cors.CorsPolicy."""

from __future__ import annotations

import pytest

from engineio_sync.core.cors import CorsPolicy

A = 'http://a.example'
B = 'https://b.example:8443'
EVIL = 'http://evil.example'


def hdict(headers):
    out = dict(headers)
    assert len(out) == len(headers), f'duplicate headers: {headers}'
    return out


def test_wildcard():
    p = CorsPolicy('*')
    assert p.allows(A) and p.allows(EVIL) and p.allows(None)
    assert p.headers(A) == [('Access-Control-Allow-Origin', '*')]
    assert p.headers(None) == [('Access-Control-Allow-Origin', '*')]


def test_true_means_any():
    assert CorsPolicy(True).headers(EVIL) == [
        ('Access-Control-Allow-Origin', '*')]


def test_single_origin_string():
    p = CorsPolicy(A)
    assert p.allows(A)
    assert p.allows(A + '/')             # a trailing slash is the same origin
    assert not p.allows(EVIL)
    assert not p.allows('http://a.example.evil.example')
    h = hdict(p.headers(A))
    assert h['Access-Control-Allow-Origin'] == A
    assert h['Vary'] == 'Origin'
    assert 'Access-Control-Allow-Credentials' not in h
    assert p.headers(EVIL) == []


def test_string_policy_and_no_origin_header():
    p = CorsPolicy(A)
    assert p.allows(None)               # not a browser cross-origin request
    assert p.headers(None) == []


def test_list_of_origins():
    p = CorsPolicy([A, B + '/'])
    assert p.allows(A) and p.allows(B)
    assert not p.allows(EVIL)
    assert hdict(p.headers(B))['Access-Control-Allow-Origin'] == B
    assert p.headers(EVIL) == []


def test_callable_origin():
    seen = []

    def check(origin):
        seen.append(origin)
        return origin.endswith('.example') and 'evil' not in origin

    p = CorsPolicy(check)
    assert p.allows(A)
    assert not p.allows(EVIL)
    assert A in seen and EVIL in seen
    assert hdict(p.headers(A))['Access-Control-Allow-Origin'] == A
    assert p.headers(EVIL) == []


def test_credentials_echo_origin_never_wildcard():
    for policy in (CorsPolicy('*', credentials=True),
                   CorsPolicy(A, credentials=True),
                   CorsPolicy([A], credentials=True)):
        h = hdict(policy.headers(A))
        assert h['Access-Control-Allow-Origin'] == A
        assert h['Access-Control-Allow-Credentials'] == 'true'
        assert h['Vary'] == 'Origin'
    # Without an Origin header there is nothing to echo.
    assert 'Access-Control-Allow-Origin' not in hdict(
        CorsPolicy('*', credentials=True).headers(None))


def test_preflight_headers():
    p = CorsPolicy(A, max_age=600)
    h = hdict(p.headers(A, preflight=True,
                        request_headers='Content-Type, X-Token'))
    assert h['Access-Control-Allow-Origin'] == A
    methods = [m.strip() for m in h['Access-Control-Allow-Methods'].split(',')]
    assert set(methods) == {'GET', 'POST', 'OPTIONS'}
    assert h['Access-Control-Allow-Headers'] == 'Content-Type, X-Token'
    assert h['Access-Control-Max-Age'] == '600'


def test_preflight_configured_headers_win():
    p = CorsPolicy('*', allowed_headers=['X-A', 'X-B'], methods=['GET'])
    h = hdict(p.headers(A, preflight=True, request_headers='X-Other'))
    assert h['Access-Control-Allow-Headers'] == 'X-A, X-B'
    assert h['Access-Control-Allow-Methods'] == 'GET'
    assert 'Access-Control-Max-Age' not in h


def test_preflight_without_request_headers():
    h = hdict(CorsPolicy('*').headers(A, preflight=True))
    assert 'Access-Control-Allow-Headers' not in h
    assert 'Access-Control-Allow-Methods' in h


def test_exposed_headers_only_on_actual_requests():
    p = CorsPolicy('*', exposed_headers=['X-Id'])
    assert hdict(p.headers(A))['Access-Control-Expose-Headers'] == 'X-Id'
    assert 'Access-Control-Expose-Headers' not in hdict(
        p.headers(A, preflight=True))


def test_preflight_from_disallowed_origin_gets_nothing():
    assert CorsPolicy(A).headers(EVIL, preflight=True) == []


@pytest.mark.parametrize('origin', [5, [1], None])
def test_bad_origin_spec(origin):
    with pytest.raises(ValueError):
        CorsPolicy(origin)


@pytest.mark.parametrize('max_age', [-1, 1.5, '10'])
def test_bad_max_age(max_age):
    with pytest.raises(ValueError):
        CorsPolicy('*', max_age=max_age)


# -- same_origin (the default policy without CORS) ----------------------------

def test_same_origin():
    from engineio_sync.core.cors import same_origin
    assert same_origin('http://127.0.0.1:5000', '127.0.0.1:5000')
    assert same_origin('https://Example.COM', 'example.com')
    assert same_origin('http://a.example/', 'a.example')
    assert same_origin('http://a.example', 'proxy:80', 'a.example')
    assert same_origin('http://a.example', 'proxy', 'x.example, a.example')
    assert not same_origin('http://a.example', 'b.example')
    assert not same_origin('http://a.example:81', 'a.example:80')
    assert not same_origin('http://a.example', None)
    assert not same_origin('null', 'a.example')
    assert not same_origin('http://a.example.evil', 'a.example')


# -- values that would end up in a response header -----------------------------

MALFORMED = ['http://a.example\rX-Injected: yes', 'http://a.example\nX: y',
             'http://a.example X', 'http://a.\x00example', 'http://\u00e9.example',
             'a.example', '', 'http://']


@pytest.mark.parametrize('origin', MALFORMED)
@pytest.mark.parametrize('spec', ['*', A, [A], lambda o: True])
def test_malformed_origin_is_never_allowed_nor_echoed(spec, origin):
    for credentials in (False, True):
        policy = CorsPolicy(spec, credentials=credentials)
        assert not policy.allows(origin)
        assert policy.headers(origin) == []
        assert policy.headers(origin, preflight=True) == []


def test_null_origin_is_well_formed():
    assert CorsPolicy('*', credentials=True).headers('null') == [
        ('Access-Control-Allow-Origin', 'null'), ('Vary', 'Origin'),
        ('Access-Control-Allow-Credentials', 'true')]


def test_preflight_echoes_only_a_list_of_field_names():
    policy = CorsPolicy(A)
    good = hdict(policy.headers(A, preflight=True,
                                request_headers='content-type, x-token'))
    assert good['Access-Control-Allow-Headers'] == 'content-type, x-token'
    for bad in ('content-type\rX-Injected: yes', 'a b', 'x,', 'caf\u00e9'):
        headers = hdict(policy.headers(A, preflight=True,
                                       request_headers=bad))
        assert 'Access-Control-Allow-Headers' not in headers
    # Configured allowed headers are the server's own: sent as they are.
    configured = CorsPolicy(A, allowed_headers=['x-a'])
    assert hdict(configured.headers(A, preflight=True,
                                    request_headers='bad value'))[
        'Access-Control-Allow-Headers'] == 'x-a'


@pytest.mark.parametrize('origin', MALFORMED)
def test_malformed_origin_is_not_same_origin(origin):
    from engineio_sync.core.cors import same_origin
    assert not same_origin(origin, 'a.example')

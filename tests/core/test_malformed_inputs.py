"""Malformed client input to pure functions: declined or refused cleanly,
never an exception the caller did not expect (issue 14)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_sync.core.wsframes import negotiate_deflate
from engineio_sync.transports.wsgi_io import BadBody, BodyTooLarge, read_body


@pytest.mark.parametrize('offer', [
    'permessage-deflate; client_max_window_bits=\xb2',
    'permessage-deflate; client_max_window_bits=\u0663',
    'permessage-deflate; server_max_window_bits=\xb2',
    'permessage-deflate; server_max_window_bits=' + '9' * 5000,
    'permessage-deflate; client_max_window_bits=+9',
    'permessage-deflate; client_max_window_bits=09 9',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; client_max_window_bits=',
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_max_window_bits=10; '
    'client_max_window_bits=10',
])
def test_malformed_deflate_offer_is_declined(offer):
    assert negotiate_deflate(offer) is None


def test_a_later_good_offer_is_still_taken():
    deflate = negotiate_deflate(
        'permessage-deflate; client_max_window_bits=\xb2, '
        'permessage-deflate; client_max_window_bits="10"')
    assert deflate is not None
    assert deflate.response_header() == 'permessage-deflate'


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_offer_is_accepted_or_declined(offer):
    negotiate_deflate('permessage-deflate; ' + offer)
    negotiate_deflate(offer)


@pytest.mark.parametrize('declared', [
    '\xb2', '\u0663', '9' * 5000, '-1', '+5', '0x5', '5 5', '1_0', ' ',
    '5, 5',
])
def test_bad_content_length_is_bad_body(declared):
    environ = {'CONTENT_LENGTH': declared, 'wsgi.input': io.BytesIO(b'x')}
    with pytest.raises(BadBody):
        read_body(environ, 1000)


def test_content_length_over_the_limit_is_too_large():
    environ = {'CONTENT_LENGTH': '1001', 'wsgi.input': io.BytesIO(b'')}
    with pytest.raises(BodyTooLarge):
        read_body(environ, 1000)


def test_body_cut_short_is_bad_body():
    environ = {'CONTENT_LENGTH': '10', 'wsgi.input': io.BytesIO(b'hello')}
    with pytest.raises(BadBody):
        read_body(environ, 1000)


def test_stream_errors_are_bad_body():
    class Broken:
        def read(self, size=-1):
            raise ValueError('bad chunk size line')

    environ = {'HTTP_TRANSFER_ENCODING': 'chunked', 'wsgi.input': Broken()}
    with pytest.raises(BadBody):
        read_body(environ, 1000)


def test_good_body():
    environ = {'CONTENT_LENGTH': '005', 'wsgi.input': io.BytesIO(b'hello')}
    assert read_body(environ, 1000) == b'hello'

"""The long-polling transport in process: WSGI environs in, Responses
out, a real session engine (on fakes) behind it."""

from __future__ import annotations

import gzip
import io
import logging

import pytest

from engineio_sync.core.config import ServerConfig
from engineio_sync.core.handshake import RequestInfo
from engineio_sync.core.packets import Packet, PacketType
from engineio_sync.transports.polling import PollingTransport
from engineio_sync.wsgi_servers import native

from enginekit import SID, make_engine, message
from fakes import FakeSocket


def transport(driver, **options):
    return PollingTransport(ServerConfig.from_options(**options),
                            logging.getLogger('engineio_sync.unit'), driver)


def info(method='GET', protocol=4, jsonp=None):
    return RequestInfo(method, 'polling', SID, protocol, jsonp)


def environ(method='GET', body=b'', **extra):
    out = {'REQUEST_METHOD': method, 'wsgi.input': io.BytesIO(body),
           'CONTENT_LENGTH': str(len(body)) if body else ''}
    out.update(extra)
    return out


def answer(response):
    """(status line, headers, body) of a Response, its body closed as a
    WSGI server closes it after writing."""
    seen = {}

    def start_response(status, headers):
        seen['status'], seen['headers'] = status, dict(headers)
    body = response(start_response)
    data = b''.join(body)
    if hasattr(body, 'close'):
        body.close()
    return seen['status'], seen['headers'], data


def test_a_get_answers_what_is_queued_and_confirms_it_once_written():
    h = make_engine()
    h.take_open()
    confirmed = []
    h.engine.send(message('a'), callback=lambda: confirmed.append('a'))
    h.engine.send(message(b'\x01\x02'))
    get = transport(h.driver).handle(h.engine, info(), environ(), [])
    assert confirmed == []
    status, headers, body = answer(get)
    assert status.startswith('200')
    assert headers['Content-Type'].startswith('text/plain')
    assert body == b'4a\x1ebAQI='
    assert confirmed == ['a']


def test_jsonp_and_protocol_3_encodings():
    h = make_engine()
    h.take_open()
    h.engine.send(message('hi'))
    get = transport(h.driver).handle(h.engine, info(jsonp='2'),
                                         environ(), [])
    _, headers, body = answer(get)
    assert 'javascript' in headers['Content-Type']
    assert body == b'___eio[2]("4hi");'
    v3 = make_engine(protocol=3)
    v3.take_open()
    v3.engine.send(message('hi'))
    _, _, body = answer(transport(v3.driver).handle(
        v3.engine, info(protocol=3), environ(), []))
    assert body == b'3:4hi'


def test_a_big_answer_is_compressed_for_a_client_that_accepts_it():
    h = make_engine()
    h.take_open()
    h.engine.send(message('x' * 5000))
    get = transport(h.driver).handle(
        h.engine, info(), environ(HTTP_ACCEPT_ENCODING='gzip, deflate'), [])
    _, headers, body = answer(get)
    assert headers['Content-Encoding'] == 'gzip'
    assert gzip.decompress(body) == b'4' + b'x' * 5000


def test_an_answer_that_was_not_written_is_kept_for_the_next_get():
    h = make_engine()
    h.take_open()
    h.engine.send(message('again'))
    polling = transport(h.driver)
    get = polling.handle(h.engine, info(), environ(), [])
    body = get(lambda status, headers: None)
    # The server took the chunk, failed to write it and closed the body
    # without asking for more.
    assert next(iter(body)) == b'4again'
    body.close()
    _, _, data = answer(polling.handle(h.engine, info(), environ(), []))
    assert data == b'4again'


def test_a_parked_get_whose_client_left_answers_nobody():
    h = make_engine()
    h.take_open()
    client = FakeSocket()
    client.peer_gone = True
    polling = transport(h.driver)
    h.driver.meanwhile(lambda: h.engine.send(message('kept')))
    # The native server shows the request's socket in the environ.
    env = environ(**{native.ENVIRON_KEY: client})
    _, _, data = answer(polling.handle(h.engine, info(), env, []))
    assert data == b''
    _, _, data = answer(polling.handle(h.engine, info(), environ(), []))
    assert data == b'4kept'


def test_a_post_delivers_its_packets_and_says_ok():
    h = make_engine()
    h.take_open()
    post = transport(h.driver).handle(
        h.engine, info('POST'), environ('POST', b'4one\x1e4two\x1ebAQI='), [])
    status, headers, body = answer(post)
    assert (status[:3], body) == ('200', b'ok')
    assert h.delivered == ['one', 'two', b'\x01\x02']
    assert not h.session.post_active


def test_a_post_over_the_size_limit_is_413_and_ends_the_session():
    h = make_engine()
    h.take_open()
    post = transport(h.driver, max_http_buffer_size=10).handle(
        h.engine, info('POST'), environ('POST', b'4' + b'x' * 20), [])
    status, headers, _ = answer(post)
    assert status.startswith('413')
    assert headers['Connection'] == 'close'
    assert h.closed == ['transport error']
    assert h.session.close_description == 'payload too large'


@pytest.mark.parametrize('body', [b'zzz', b'bnot base64!', b'4ok\xc3'])
def test_an_undecodable_post_is_400_and_ends_the_session(body):
    h = make_engine()
    h.take_open()
    post = transport(h.driver).handle(h.engine, info('POST'),
                                           environ('POST', body), [])
    status, _, _ = answer(post)
    assert status.startswith('400')
    assert h.closed == ['transport error']
    assert h.session.close_description.startswith('parse error')


def test_a_body_cut_short_is_400_and_ends_the_session():
    h = make_engine()
    h.take_open()
    env = environ('POST', b'4abc')
    env['CONTENT_LENGTH'] = '10'
    status, _, _ = answer(transport(h.driver).handle(
        h.engine, info('POST'), env, []))
    assert status.startswith('400')
    assert h.closed == ['transport error']


def test_a_post_on_a_session_that_has_one_running_is_refused():
    h = make_engine()
    h.take_open()
    h.engine.begin_post()
    status, _, body = answer(transport(h.driver).handle(
        h.engine, info('POST'), environ('POST', b'4late'), []))
    assert status.startswith('400')
    assert h.delivered == []
    assert Packet(PacketType.MESSAGE, 'late') not in h.session.buffer


# -- GETs parked without a task (a WSGI server that answers later) -----------


class FakeDeferred(list):
    """What a WSGI server's ``environ[DEFER_KEY]()`` returns, recording
    what the transport asks of it; ``fire()`` runs its timer,
    ``leave()`` its client's departure."""

    def __init__(self):
        super().__init__()
        self.answers = []
        self.timers = []
        self.gone = []

    def respond(self, status, headers, body, done):
        self.answers.append((status, dict(headers), body, done))

    def on_gone(self, callback):
        self.gone.append(callback)

    def call_later(self, delay, fn):
        timer = FakeTimer(delay, fn)
        self.timers.append(timer)
        return timer


class FakeTimer:
    def __init__(self, delay, fn):
        self.delay, self.fn, self.cancelled = delay, fn, False

    def cancel(self):
        self.cancelled = True


def deferring(handles):
    def defer():
        handles.append(FakeDeferred())
        return handles[-1]
    return {'engineio_sync.defer': defer}


def test_a_parked_get_waits_without_a_task_and_a_send_answers_it():
    h = make_engine()
    h.take_open()
    handles = []
    get = transport(h.driver).handle(h.engine, info(),
                                     environ(**deferring(handles)), [])
    assert get(lambda *a: pytest.fail('no start_response')) is handles[0]
    handle = handles[0]
    assert h.driver.waits == 0 and not handle.answers
    assert handle.timers[0].delay == h.session.settings.poll_timeout
    confirmed = []
    h.engine.send(message('late'), callback=lambda: confirmed.append(1))
    ((status, headers, body, done),) = handle.answers
    assert status == '200 OK' and body == b'4late'
    assert headers['Content-Length'] == '5'
    assert handle.timers[0].cancelled
    assert confirmed == []
    done(True)
    assert confirmed == [1]


def test_a_parked_get_whose_time_is_up_gets_a_noop():
    h = make_engine()
    h.take_open()
    handles = []
    transport(h.driver).handle(h.engine, info(),
                               environ(**deferring(handles)), [])
    handles[0].timers[0].fn()
    assert handles[0].answers[0][2] == b'6'
    assert not h.session.poll_waiting


def test_a_parked_get_whose_client_left_takes_nothing():
    h = make_engine()
    h.take_open()
    handles = []
    transport(h.driver).handle(h.engine, info(),
                               environ(**deferring(handles)), [])
    handles[0].gone[0]()
    assert handles[0].timers[0].cancelled
    h.engine.send(message('kept'))
    assert handles[0].answers == []
    get = transport(h.driver).handle(h.engine, info(), environ(), [])
    assert answer(get)[2] == b'4kept'


def test_an_answer_that_was_not_delivered_goes_back_to_the_queue():
    h = make_engine()
    h.take_open()
    handles = []
    transport(h.driver).handle(h.engine, info(),
                               environ(**deferring(handles)), [])
    h.engine.send(message('again'))
    handles[0].answers[0][3](False)
    get = transport(h.driver).handle(h.engine, info(), environ(), [])
    assert answer(get)[2] == b'4again'

"""The user session dict (``get_session``/``save_session``/``session()``)
in a cluster: handlers run on the owner, so they read and write it there
whichever process the request landed on; another process asking for it
gets a clear KeyError naming the owner, never an empty dict."""

from __future__ import annotations

import pytest

from engineio_sync.cluster import SessionElsewhere

from clusterkit import Node, messages
from redisproc import redis_proc, redis_url  # noqa: F401  (fixtures)
from support.waiting import wait_until


def serve_session_data(node: Node) -> None:
    """The same application in every process: ``put:K=V`` stores V under
    K in the session's data, ``get:K`` answers ``K=V`` from it."""
    server = node.server

    @server.on('connect')
    def connect(sid: str, environ: dict) -> None:
        server.save_session(sid, {'opened on': node.name})

    @server.on('message')
    def message(sid: str, data: str) -> None:
        verb, _, rest = data.partition(':')
        if verb == 'put':
            key, _, value = rest.partition('=')
            with server.session(sid) as session:
                session[key] = value
            server.send(sid, 'stored')
        elif verb == 'get':
            server.send(sid, f'{rest}={server.get_session(sid).get(rest)}')


@pytest.fixture
def nodes(redis_url):
    made = {name: Node(name, redis_url) for name in 'ABC'}
    for node in made.values():
        serve_session_data(node)
    try:
        yield made
    finally:
        for node in made.values():
            node.stop()


def collect(client, sid: str, count: int) -> list[str]:
    got: list[str] = []
    for _ in range(count):
        status, body = client.get(sid)
        assert status == 200, body
        got += messages(body)
        if len(got) >= count:
            break
    return got


def test_handlers_keep_session_data_on_the_owner_wherever_requests_land(
        nodes, raw_client):
    a, b, c = (raw_client(nodes[name].port) for name in 'ABC')
    sid, _ = a.handshake()
    assert b.post(sid, '4put:color=red') == (200, b'ok')
    assert c.post(sid, '4put:size=9\x1e4get:color') == (200, b'ok')
    assert b.post(sid, '4get:size\x1e4get:opened on') == (200, b'ok')
    assert collect(c, sid, 5) == ['stored', 'stored', 'color=red', 'size=9',
                                  'opened on=A']
    # The data is the owner's, the one dict its handlers wrote.
    assert nodes['A'].server.get_session(sid) == {
        'opened on': 'A', 'color': 'red', 'size': '9'}


def test_another_process_gets_a_clear_key_error_naming_the_owner(
        nodes, raw_client):
    a = raw_client(nodes['A'].port)
    sid, _ = a.handshake()
    owner = nodes['A'].server.cluster.process_id
    server_b = nodes['B'].server
    for attempt in (lambda: server_b.get_session(sid),
                    lambda: server_b.save_session(sid, {}),
                    lambda: server_b.transport(sid)):
        with pytest.raises(SessionElsewhere) as caught:
            attempt()
        assert isinstance(caught.value, KeyError)
        assert caught.value.owner == owner and caught.value.sid == sid
        assert owner in str(caught.value) and sid in str(caught.value)
    with pytest.raises(SessionElsewhere):
        with server_b.session(sid) as session:
            session['lost'] = True  # never reached
    # Nothing was written over the owner's data.
    assert nodes['A'].server.get_session(sid) == {'opened on': 'A'}
    assert sid not in server_b.clients and sid in nodes['A'].server.clients
    # Unknown sessions, and sessions once they ended, are plain KeyErrors.
    with pytest.raises(KeyError) as caught:
        server_b.get_session('nosuchsession')
    assert not isinstance(caught.value, SessionElsewhere)
    assert a.post(sid, '1') == (200, b'ok')
    wait_until(lambda: sid not in nodes['A'].server.clients, what='closed')
    wait_until(lambda: not isinstance(_error(server_b, sid), SessionElsewhere),
               what='the directory entry gone')
    assert isinstance(_error(server_b, sid), KeyError)


def _error(server, sid: str) -> Exception | None:
    try:
        server.get_session(sid)
    except KeyError as exc:
        return exc
    return None

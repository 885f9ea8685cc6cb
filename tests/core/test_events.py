"""EventEmitter: handlers per emitter, the shared empty default never
written to."""

from __future__ import annotations

from engineio_sync.events import EventEmitter


def test_emitters_do_not_share_handlers():
    a, b = EventEmitter(), EventEmitter()
    assert not a.handlers and not b.handlers
    seen = []
    a.on('x', seen.append)
    assert 'x' in a.handlers and 'x' not in b.handlers
    b.emit('x', 1)
    a.emit('x', 2)
    assert seen == [2]
    assert not EventEmitter().handlers


def test_off_one_and_all_and_unknown():
    e = EventEmitter()
    e.off('nothing')                       # nothing registered: no error
    calls = []
    f, g = (lambda: calls.append('f')), (lambda: calls.append('g'))
    e.on('x', f)
    e.on('x', g)
    e.off('x', f)
    e.emit('x')
    assert calls == ['g']
    e.off('x')
    assert not e.has_listeners('x')
    e.off('x', g)
    assert not EventEmitter().handlers

"""The session's port: both implementations offer every call of it, with
the same parameters, and transports know nothing else of a session."""

from __future__ import annotations

import ast
import inspect
import os

import pytest

from engineio_sync.cluster.remote import RemoteSession
from engineio_sync.engine import SessionEngine
from engineio_sync.port import SessionPort

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSPORTS = os.path.join(os.path.dirname(os.path.dirname(HERE)),
                          'engineio_sync', 'transports')

CALLS = sorted(name for name, value in vars(SessionPort).items()
               if inspect.isfunction(value) and not name.startswith('_'))
FIELDS = sorted(SessionPort.__annotations__)


def test_the_port_lists_what_transports_use():
    assert 'poll' in CALLS and 'websocket_blocked' in CALLS
    assert FIELDS == ['b64', 'protocol', 'sid', 'write_lock']


@pytest.mark.parametrize('cls', [SessionEngine, RemoteSession])
@pytest.mark.parametrize('name', CALLS)
def test_both_sides_offer_each_call(cls, name):
    wanted = inspect.signature(getattr(SessionPort, name))
    offered = inspect.signature(getattr(cls, name))
    assert list(offered.parameters) == list(wanted.parameters), name
    for param in wanted.parameters.values():
        assert offered.parameters[param.name].kind == param.kind, name
        assert offered.parameters[param.name].default == param.default, name


@pytest.mark.parametrize('cls', [SessionEngine, RemoteSession])
def test_both_sides_hold_each_field(cls):
    for name in FIELDS:
        assert name in cls.__slots__, name


def _members_used(path: str) -> set[str]:
    """Attributes read on names called ``engine`` in a module."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == 'engine'}


@pytest.mark.parametrize('module', sorted(
    name for name in os.listdir(TRANSPORTS) if name.endswith('.py')))
def test_transports_use_only_the_port(module):
    used = _members_used(os.path.join(TRANSPORTS, module))
    assert used <= set(CALLS) | set(FIELDS)

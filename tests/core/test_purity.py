"""engineio_sync.core is Sans-IO: no sockets, threads, clocks or event loops.

Every module under engineio_sync/core/ is parsed (not imported) and each
import statement is checked, including relative ones and dynamic
``__import__`` / ``importlib.import_module`` calls with a literal name.
"""

from __future__ import annotations

import ast
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'engineio_sync',
                    'core')

FORBIDDEN = frozenset({'socket', 'threading', 'time', 'select', 'asyncio',
                       'eventlet', 'gevent', 'selectors', 'subprocess'})
ALLOWED_OUTSIDE_CORE = frozenset({'engineio_sync.exceptions'})


def core_modules() -> list[str]:
    out = []
    for root, _dirs, files in os.walk(CORE):
        for name in files:
            if name.endswith('.py'):
                out.append(os.path.join(root, name))
    return sorted(out)


def module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(os.path.dirname(CORE)))
    parts = rel[:-3].split(os.sep)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def imported_names(source: str, module: str, is_package: bool) -> list[str]:
    """Absolute names of everything ``source`` imports."""
    package = module if is_package else module.rpartition('.')[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                if node.level > 1:
                    base = base[:-(node.level - 1)]
                prefix = '.'.join(base)
                target = prefix + ('.' + node.module if node.module else '')
            else:
                target = node.module or ''
            if target != 'engineio_sync':
                names.append(target)
            # ``from .. import server`` imports a submodule (or a name of
            # the package); check what is imported, not just the package.
            names.extend(f'{target}.{alias.name}' for alias in node.names
                         if alias.name != '*')
            if target == 'engineio_sync' and any(
                    alias.name == '*' for alias in node.names):
                names.append(target)
        elif isinstance(node, ast.Call):
            func = node.func
            dynamic = (isinstance(func, ast.Name) and func.id == '__import__'
                       ) or (isinstance(func, ast.Attribute)
                             and func.attr == 'import_module')
            if dynamic:
                if node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    names.append(node.args[0].value)
                else:
                    names.append('<dynamic import>')
    return names


def violations(source: str, module: str, is_package: bool = False
               ) -> list[str]:
    bad = []
    for name in imported_names(source, module, is_package):
        top = name.split('.')[0]
        if name == '<dynamic import>':
            bad.append(name)
        elif top in FORBIDDEN:
            bad.append(name)
        elif top == 'engineio_sync':
            if name.startswith('engineio_sync.core.') or \
                    name == 'engineio_sync.core':
                continue
            if any(name == ok or name.startswith(ok + '.')
                   for ok in ALLOWED_OUTSIDE_CORE):
                continue
            bad.append(name)
    return bad


def test_core_modules_found():
    names = [os.path.basename(p) for p in core_modules()]
    for expected in ('session.py', 'handshake.py', 'config.py', 'cors.py',
                     'packets.py', 'payload.py'):
        assert expected in names


@pytest.mark.parametrize('path', core_modules(),
                         ids=lambda p: os.path.relpath(p, CORE))
def test_core_module_is_pure(path):
    with open(path, encoding='utf-8') as f:
        source = f.read()
    module = module_name(path)
    bad = violations(source, module, path.endswith('__init__.py'))
    assert not bad, f'{module} imports {bad}'


# The checker itself must be able to fail.

@pytest.mark.parametrize('source', [
    'import socket',
    'import time as _t',
    'import os, threading',
    'from select import select',
    'from asyncio import sleep',
    'import eventlet.green',
    'from gevent import monkey',
    'import selectors',
    'import subprocess',
    'def f():\n    import time\n',
    'from .. import server',
    'from ..server import Server',
    'from ..transports.polling import PollingTransport',
    'from ..drivers import get_driver',
    'from engineio_sync.app_socket import Socket',
    'from engineio_sync import timers',
    'import engineio_sync.wsgi',
    'import engineio_sync',
    'from engineio_sync import ConfigError',
    'from engineio_sync import *',
    '__import__("time")',
    'import importlib\nimportlib.import_module("socket")',
    'import importlib\nimportlib.import_module(name)',
])
def test_checker_flags_impure_sources(source):
    assert violations(source, 'engineio_sync.core.example')


@pytest.mark.parametrize('source', [
    'import json, enum, binascii',
    'from .packets import Packet',
    'from . import packets',
    'from ..exceptions import ProtocolError',
    'from .. import exceptions',
    'from engineio_sync.exceptions import ConfigError',
    'from engineio_sync.core.session import Session',
    'from typing import Any',
])
def test_checker_accepts_pure_sources(source):
    assert violations(source, 'engineio_sync.core.example') == []

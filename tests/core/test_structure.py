"""The package's shape: no import circles, no reading another's privates.

Every module of engineio_sync is parsed (not imported). A module that
imports another, directly or through others, must not be imported back;
and no code may read a private name (``x._name``) of anything but
``self``/``cls``/``super()``, nor import a private name from a sibling
module. Both keep each module's inside its own business, so that a
newcomer can change one file without reading the rest.
"""

from __future__ import annotations

import ast
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(os.path.dirname(HERE)),
                       'engineio_sync')


def _modules() -> dict[str, str]:
    """Dotted module name -> file path, for the whole package."""
    found = {}
    base = os.path.dirname(PACKAGE)
    for root, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(root, name)
            parts = os.path.relpath(path, base)[:-3].split(os.sep)
            if parts[-1] == '__init__':
                parts.pop()
            found['.'.join(parts)] = path
    return found


MODULES = _modules()


def _target(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ''
    base = module.split('.')
    if not MODULES[module].endswith('__init__.py'):
        base = base[:-1]
    if node.level > 1:
        base = base[:-(node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def _imports(module: str) -> set[str]:
    """Package modules that ``module`` imports (at any depth of its code)."""
    out = set()
    tree = ast.parse(open(MODULES[module]).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            target = _target(module, node)
            if target in MODULES:
                out.add(target)
            out.update(f'{target}.{a.name}' for a in node.names
                       if f'{target}.{a.name}' in MODULES)
    out.discard(module)
    # A package's __init__ is run by importing any of its modules: do not
    # count "imports my own package" as an edge (it would be a circle by
    # construction for every subpackage).
    return {m for m in out if not module.startswith(m + '.')}


def _private_reads(module: str) -> list[str]:
    tree = ast.parse(open(MODULES[module]).read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith('_') or name.startswith('__'):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in ('self', 'cls'):
                continue
            if isinstance(value, ast.Call) and \
                    isinstance(value.func, ast.Name) and \
                    value.func.id == 'super':
                continue
            found.append(f'line {node.lineno}: .{name}')
        elif isinstance(node, ast.ImportFrom):
            if _target(module, node) in MODULES:
                found.extend(f'line {node.lineno}: import {a.name}'
                             for a in node.names if a.name.startswith('_')
                             and not a.name.startswith('__'))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_is_found():
    assert 'engineio_sync.server' in MODULES
    assert 'engineio_sync.engine' in MODULES
    assert 'engineio_sync.core.session' in MODULES


def test_no_import_circles():
    graph = {m: _imports(m) for m in MODULES}
    assert _cycles(graph) == []


def test_the_checker_sees_a_circle():
    # The check above must be able to fail.
    assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == [
        ['a', 'b', 'c']]


@pytest.mark.parametrize('module', sorted(MODULES))
def test_no_module_reads_another_modules_private_names(module):
    assert _private_reads(module) == []


def test_the_checker_sees_a_private_read(tmp_path, monkeypatch):
    bad = tmp_path / 'bad.py'
    bad.write_text('from .core.session import _NOOP\n'
                   'def f(socket):\n    return socket._lock\n')
    monkeypatch.setitem(MODULES, 'engineio_sync.bad', str(bad))
    assert _private_reads('engineio_sync.bad') == [
        'line 1: import _NOOP', 'line 3: ._lock']


_REFUSALS = ('RemoteProtocolError', 'DecodeError')


def _refusals_passed_as_values(tree: ast.AST) -> list[int]:
    """Lines where a refusal is returned or tested with isinstance rather
    than raised and caught."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and \
                isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Name) and \
                node.value.func.id in _REFUSALS:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and \
                isinstance(node.func, ast.Name) and \
                node.func.id == 'isinstance' and len(node.args) == 2:
            names = {n.id for n in ast.walk(node.args[1])
                     if isinstance(n, ast.Name)}
            if names & set(_REFUSALS):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize('module', sorted(MODULES))
def test_refusals_are_raised_not_returned(module):
    # One way to fail: whatever decides a refusal raises it, and the
    # request's entry answers with it (server._handle,
    # PollingTransport.handle, the cluster owner's request runner).
    with open(MODULES[module], encoding='utf-8') as f:
        tree = ast.parse(f.read())
    assert _refusals_passed_as_values(tree) == []


def test_the_refusal_check_finds_a_returned_error():
    tree = ast.parse('def f():\n    return RemoteProtocolError(1)\n'
                     'def g(x):\n    return isinstance(x, DecodeError)\n')
    assert _refusals_passed_as_values(tree) == [2, 4]

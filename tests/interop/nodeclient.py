"""Run the scripted Node.js Engine.IO client (node/eio_client.js) from pytest.

Typical use::

    from nodeclient import node_available, run_node_client

    pytestmark = pytest.mark.skipif(not node_available(), reason='node client not installed')

    def test_echo(server_url):
        r = run_node_client(server_url, [
            {'wait': 'open'},
            {'send': 'hello'},
            {'expect': 'message', 'data': 'hello'},
        ], options={'transports': ['polling']})
        assert r.ok, r
        assert r.messages() == ['hello']

See README.md beside this file for the step format.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from typing import Any

__all__ = [
    'REPO',
    'CLIENT_JS',
    'BinaryDigest',
    'NodeResult',
    'node_available',
    'run_node_client',
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_JS = os.path.join(REPO, 'tests', 'interop', 'node', 'eio_client.js')
NODE_MODULES = os.path.join(REPO, 'node_modules')

# Extra wall-clock allowance on top of the spec's timeout before the Python
# side kills the node process (node itself gives up at timeout + 5 s).
_KILL_MARGIN = 10.0


def _node_executable() -> str | None:
    return shutil.which('node')


def node_available(client: str = 'v6') -> bool:
    """True if node is on PATH and the engine.io client package is installed."""
    if _node_executable() is None or not os.path.isfile(CLIENT_JS):
        return False
    package = 'engine.io-client-v3' if client == 'v3' else 'engine.io-client'
    return os.path.isfile(os.path.join(NODE_MODULES, package, 'package.json'))


class BinaryDigest:
    """A binary message longer than 64 bytes, reported by length and SHA-1.

    Compares equal to ``bytes`` with the same length and SHA-1, so
    ``result.messages() == [b'x' * 1000]`` works for long payloads too.
    """

    __slots__ = ('length', 'sha1')

    def __init__(self, length: int, sha1: str):
        self.length = length
        self.sha1 = sha1

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BinaryDigest):
            return (self.length, self.sha1) == (other.length, other.sha1)
        if isinstance(other, (bytes, bytearray, memoryview)):
            data = bytes(other)
            return len(data) == self.length and hashlib.sha1(data).hexdigest() == self.sha1
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.length, self.sha1))

    def __repr__(self) -> str:
        return f'BinaryDigest(length={self.length}, sha1={self.sha1!r})'


class NodeResult:
    """Outcome of one node client run."""

    def __init__(self, returncode: int, events: list[dict], stderr: str,
                 stdout_noise: list[str] | None = None, spec: dict | None = None):
        self.returncode = returncode
        self.events = events
        self.stderr = stderr
        self.stdout_noise = stdout_noise or []   # stdout lines that were not JSON
        self.spec = spec

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def names(self) -> list[str]:
        return [e.get('event') for e in self.events]

    def first(self, event_name: str) -> dict | None:
        for e in self.events:
            if e.get('event') == event_name:
                return e
        return None

    def all_of(self, event_name: str) -> list[dict]:
        return [e for e in self.events if e.get('event') == event_name]

    def messages(self) -> list[Any]:
        """Received message payloads in order: str, bytes, or BinaryDigest (> 64 bytes)."""
        out: list[Any] = []
        for e in self.events:
            if e.get('event') != 'message':
                continue
            if 'data' in e:
                out.append(e['data'])
            elif 'binary' in e:
                out.append(bytes(e['binary']))
            elif 'binary_len' in e:
                out.append(BinaryDigest(e['binary_len'], e['sha1']))
            else:
                out.append(e)
        return out

    @property
    def fail_reason(self) -> str | None:
        e = self.first('fail')
        return e.get('reason') if e else None

    def __repr__(self) -> str:
        lines = [f'NodeResult(returncode={self.returncode}, fail={self.fail_reason!r})']
        shown = self.events if len(self.events) <= 60 else self.events[:30] + [{'...': len(self.events) - 60}] + self.events[-30:]
        lines += ['  ' + json.dumps(e)[:300] for e in shown]
        lines += ['  stdout: ' + line[:300] for line in self.stdout_noise[:20]]
        if self.stderr.strip():
            lines.append('  stderr: ' + self.stderr.strip()[-3000:].replace('\n', '\n          '))
        return '\n'.join(lines)

    __str__ = __repr__


def _parse_stdout(stdout: str) -> tuple[list[dict], list[str]]:
    events: list[dict] = []
    noise: list[str] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            noise.append(line)
            continue
        if isinstance(obj, dict) and 'event' in obj:
            events.append(obj)
        else:
            noise.append(line)
    return events, noise


def _as_text(data: bytes | str | None) -> str:
    if data is None:
        return ''
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data


def run_node_client(url: str, steps: list[dict], *, options: dict | None = None,
                    client: str = 'v6', timeout: float = 10.0,
                    env: dict | None = None) -> NodeResult:
    """Run node/eio_client.js against ``url`` and return its events.

    ``timeout`` (seconds) is the overall budget for all steps inside node;
    the node process is killed if it is still running after timeout + 10 s.
    Never raises for a failing client: check ``result.ok`` / ``result.events``.
    """
    node = _node_executable()
    if node is None:
        raise RuntimeError('node is not on PATH')
    spec = {
        'url': url,
        'client': client,
        'options': options or {},
        'timeout_ms': int(timeout * 1000),
        'steps': steps,
    }
    run_env = dict(os.environ)
    run_env.pop('DEBUG', None)   # the clients log through "debug" to stderr when set
    if env:
        run_env.update(env)
    try:
        proc = subprocess.run(
            [node, CLIENT_JS, '-'],
            input=json.dumps(spec).encode('utf-8'),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env=run_env,
            timeout=timeout + _KILL_MARGIN,
        )
    except subprocess.TimeoutExpired as exc:
        # subprocess.run kills the child before re-raising.
        events, noise = _parse_stdout(_as_text(exc.stdout))
        events.append({'event': 'fail', 'reason': f'node client killed after {timeout + _KILL_MARGIN:.1f} s'})
        return NodeResult(-9, events, _as_text(exc.stderr), noise, spec)
    events, noise = _parse_stdout(_as_text(proc.stdout))
    return NodeResult(proc.returncode, events, _as_text(proc.stderr), noise, spec)

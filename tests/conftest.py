"""Fixtures: real server processes on 127.0.0.1 and a raw HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))

# Each end-to-end test runs once per entry; EIO_TEST_DRIVERS narrows it.
# 'native' is the eventlet driver behind engineio_sync's own HTTP server.
DRIVERS = os.environ.get('EIO_TEST_DRIVERS',
                         'eventlet threading gevent native').split()


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a server process, killing it if it does not exit in 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class ServerProcess:
    """A running ``tests/e2e/server_app.py`` (or another ``script`` of
    tests/e2e that prints ``LISTENING <port>`` first) and the events it
    printed."""

    def __init__(self, driver: str, options: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None,
                 script: str = 'server_app.py') -> None:
        self.driver = driver
        #: set True when the test expects tracebacks in the server's stderr
        self.allow_tracebacks = False
        self.options = options or {}
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'e2e', script),
             driver, json.dumps(self.options)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        line = self.proc.stdout.readline()
        if not line.startswith('LISTENING'):
            self.proc.kill()
            raise RuntimeError('server did not start: ' + line +
                               self.proc.stderr.read())
        self.port = int(line.split()[1])
        self.url = f'http://127.0.0.1:{self.port}'
        self.stderr_lines: list[str] = []
        self._pumps = [threading.Thread(target=self._pump, daemon=True),
                       threading.Thread(target=self._pump_err, daemon=True)]
        for pump in self._pumps:
            pump.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass

    def _pump_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def wait_event(self, timeout: float = 5.0, **match: Any) -> dict:
        """The first event (seen or upcoming) whose fields equal ``match``."""
        for event in self.seen:
            if all(event.get(k) == v for k, v in match.items()):
                self.seen.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no event {match} within {timeout}s; '
                                     f'seen {self.seen}')
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if all(event.get(k) == v for k, v in match.items()):
                return event
            self.seen.append(event)

    def drain_events(self) -> list[dict]:
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return list(self.seen)

    def wait_stderr(self, text: str, timeout: float = 5.0) -> str:
        """The first stderr line containing ``text``, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.stderr_lines):
                if text in line:
                    return line
            if time.monotonic() >= deadline:
                raise AssertionError(f'{text!r} not in server stderr within '
                                     f'{timeout}s:\n' +
                                     ''.join(self.stderr_lines[-50:]))
            time.sleep(0.02)

    def tracebacks(self) -> list[str]:
        """stderr lines mentioning a Traceback (after stop(), all of them)."""
        return [line for line in self.stderr_lines if 'Traceback' in line]

    def stop(self) -> None:
        stop_process(self.proc)
        for pump in getattr(self, '_pumps', ()):
            pump.join(2)


@pytest.fixture
def start_server():
    """``start_server(driver, **options)`` -> ServerProcess, stopped after.

    After the test, the server's stderr must hold no Traceback, unless the
    test passed ``allow_tracebacks=True`` (or set it on the ServerProcess).
    """
    servers: list[ServerProcess] = []

    def start(driver: str, env: dict[str, str] | None = None,
              allow_tracebacks: bool = False, script: str = 'server_app.py',
              **options: Any) -> ServerProcess:
        server = ServerProcess(driver, options, env, script)
        server.allow_tracebacks = allow_tracebacks
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        if server.allow_tracebacks:
            continue
        errors = server.tracebacks()
        assert not errors, ''.join(server.stderr_lines)


@pytest.fixture(scope='module')
def server_pool():
    """``server_pool(driver, **options)`` -> a ServerProcess shared by the
    tests of one module that ask for the same driver and options.

    Cheaper than ``start_server`` when many tests only need their own
    sessions on a default server. The servers stop when the module ends and
    must not have printed a Traceback.
    """
    servers: dict[str, ServerProcess] = {}
    started: list[ServerProcess] = []

    def get(driver: str, **options: Any) -> ServerProcess:
        key = driver + ' ' + json.dumps(options, sort_keys=True)
        server = servers.get(key)
        if server is None or server.proc.poll() is not None:
            server = servers[key] = ServerProcess(driver, options)
            started.append(server)
        return server

    yield get
    errors = []
    for server in started:
        server.stop()
        if server.tracebacks():
            errors.append(''.join(server.stderr_lines))
    assert not errors, '\n'.join(errors)


def raw_exchange(port: int, data: bytes, timeout: float = 5.0,
                 until_close: bool = True) -> bytes:
    """Send raw bytes on a new connection; what the server answers until
    it closes (or, without ``until_close``, up to the end of a head)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        sock.sendall(data)
        out = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not until_close and b'\r\n\r\n' in out:
                break
        return out
    finally:
        sock.close()


def reset_get(port: int, sid: str, query: str = 'EIO=4&transport=polling'
              ) -> None:
    """A long-poll GET whose client reads only the start of a big answer,
    then resets the connection while the server is still writing it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(('127.0.0.1', port))
    sock.sendall(f'GET /engine.io/?{query}&sid={sid} HTTP/1.1\r\n'
                 f'Host: 127.0.0.1:{port}\r\n\r\n'.encode())
    assert sock.recv(4096).startswith(b'HTTP/1.1 200')
    time.sleep(0.5)                     # the server is stuck in its write
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack('ii', 1, 0))
    sock.close()
    time.sleep(0.5)


class RawClient:
    """Plain HTTP requests against an Engine.IO endpoint."""

    def __init__(self, port: int, path: str = '/engine.io/') -> None:
        self.port = port
        self.path = path

    def request(self, method: str = 'GET', query: str = '',
                body: bytes | str | None = None,
                headers: dict[str, str] | None = None,
                timeout: float = 10.0) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, f'{self.path}?{query}', body=body,
                         headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in
                                 resp.getheaders()}, data
        finally:
            conn.close()

    def handshake(self, extra: str = '') -> tuple[str, dict]:
        status, _, body = self.request(
            'GET', 'EIO=4&transport=polling' + extra)
        assert status == 200, body
        text = body.decode()
        assert text[0] == '0', text
        first = text.split('\x1e')[0]
        info = json.loads(first[1:])
        return info['sid'], info

    def get(self, sid: str, timeout: float = 10.0) -> tuple[int, bytes]:
        status, _, body = self.request(
            'GET', f'EIO=4&transport=polling&sid={sid}', timeout=timeout)
        return status, body

    def post(self, sid: str, body: str | bytes,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        status, _, data = self.request(
            'POST', f'EIO=4&transport=polling&sid={sid}', body=body,
            headers=headers)
        return status, data


@pytest.fixture
def raw_client():
    return RawClient

"""A real redis-server on 127.0.0.1 for the cluster tests.

Debian's ``redis-server`` (``.ci/run`` installs it), started on a free
port in a temporary directory, without persistence, in the foreground as
a child of the test process, and stopped at the end; and the fixtures
``redis_proc`` and ``redis_url`` of the tests in this folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from typing import Iterator

import pytest

from support.waiting import wait_until

REDIS_SERVER = shutil.which('redis-server') or '/usr/bin/redis-server'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server answers PING on ``port`` (raw RESP)."""
    try:
        with socket.create_connection(('127.0.0.1', port),
                                      timeout=timeout) as sock:
            sock.sendall(b'*1\r\n$4\r\nPING\r\n')
            return sock.recv(64).startswith(b'+PONG')
    except OSError:
        return False


class RedisProcess:
    """One redis-server child process; :meth:`start` and :meth:`stop` may
    be called again (the port stays the same), for restart tests."""

    def __init__(self, port: int | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.url = f'redis://127.0.0.1:{self.port}/0'
        self.dir = tempfile.mkdtemp(prefix='eio-redis-')
        #: more command-line settings (``--replicaof``, ...)
        self.args = args
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.proc = subprocess.Popen(
            [REDIS_SERVER, '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', self.dir,
             '--daemonize', 'no', '--logfile', '', *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)
        def answering() -> bool:
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode(errors='replace')
                raise RuntimeError(f'redis-server exited: {output[-2000:]}')
            return ping(self.port)
        try:
            wait_until(answering, timeout, what='redis-server answering PING')
        except AssertionError:
            self.stop()
            raise RuntimeError('redis-server did not answer PING') from None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=5)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def available() -> bool:
    """True if redis-server is installed here."""
    return os.access(REDIS_SERVER, os.X_OK)


# Fixtures, imported by the test modules of this folder (a conftest.py
# here would clash with tests/conftest.py, which modules import by name).

@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    """A running redis-server of this test alone (stop/start it to test
    outages); stopped and removed afterwards."""
    if not available():
        pytest.fail('redis-server is not installed (.ci/run installs it)')
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_proc: RedisProcess) -> str:
    """The URL of a fresh, empty redis-server: ``redis://127.0.0.1:N/0``."""
    return redis_proc.url

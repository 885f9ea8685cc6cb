"""Fixtures of the cluster tests: a real redis-server per test."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redisproc import RedisProcess, available  # noqa: E402


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

"""Without redis-py the cluster option says what to install, and its URL
is still checked."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# redis-py made unimportable in a fresh interpreter.
CODE = '''
import sys
sys.modules['redis'] = None
import engineio_sync
from engineio_sync.cluster import ClusterOptions, Emitter
for make in (
        lambda: engineio_sync.Server(async_mode='threading',
                                     cluster='redis://127.0.0.1:1/0'),
        lambda: Emitter('redis://127.0.0.1:1/0'),
        lambda: engineio_sync.Server(async_mode='threading',
                                     cluster='http://127.0.0.1/0')):
    try:
        make()
    except engineio_sync.ConfigError as exc:
        print(exc)
'''


def test_without_redis_py_the_option_says_what_to_install():
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, 'PYTHONPATH': ROOT})
    assert out.returncode == 0, out.stderr
    needs = "the cluster option needs redis-py: pip install " \
        "'engineio_sync[redis]'"
    assert out.stdout.splitlines() == [
        needs, needs,
        "cluster must be a redis://, rediss://, unix:// or "
        "redis+sentinel:// URL, not 'http://127.0.0.1/0'"]

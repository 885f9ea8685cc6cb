"""The drivers keep to the Driver protocol, as mypy sees it.

tests/static/drivers_conform.py assigns each driver to a variable typed
``Driver``; mypy, configured by setup.cfg, must accept it. A driver whose
method drifts from the protocol must be refused, which the second test
shows with a copy of the threading driver whose ``listen`` returns the
wrong type. mypy runs in a child process from the repository's root, so
it checks this checkout's package with this checkout's settings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('mypy')

REPO = Path(__file__).resolve().parents[2]
CONFORM = REPO / 'tests' / 'static' / 'drivers_conform.py'

DRIFTED = '''\
from engineio_sync.drivers import Driver
from engineio_sync.drivers.threading import ThreadingDriver


class Drifted(ThreadingDriver):
    def listen(self, host: str, port: int,  # type: ignore[override]
               backlog: int = 1024) -> int:
        return 0


driver: Driver = Drifted()
'''


@pytest.fixture(scope='module')
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared by both tests: the second reuses what the first analysed.
    return tmp_path_factory.mktemp('mypy_cache')


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, '-m', 'mypy', '--cache-dir', str(cache),
         '--no-error-summary', str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=300)


def test_every_driver_is_a_driver(mypy_cache: Path) -> None:
    result = _mypy(CONFORM, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_driver_that_drifts_is_refused(mypy_cache: Path,
                                         tmp_path: Path) -> None:
    drifted = tmp_path / 'drifted.py'
    drifted.write_text(DRIFTED)
    result = _mypy(drifted, mypy_cache)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines()
              if ': error: ' in line]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith(f'{drifted}:11: ')
    assert 'variable has type "Driver"' in errors[0]
    assert '-> int' in result.stdout

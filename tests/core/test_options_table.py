"""README.rst's options table is generated from the option registry
(tools/options_table.py) and must not drift from it."""

from __future__ import annotations

import collections
import importlib.util
import inspect
import os
import subprocess
import sys
from types import ModuleType

import pytest

from engineio_sync.core.config import OPTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'tools', 'options_table.py')
README = os.path.join(ROOT, 'README.rst')


@pytest.fixture(scope='module')
def tool() -> ModuleType:
    # tools/ is not a package; load the script the way it is run.
    spec = importlib.util.spec_from_file_location('options_table', SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def readme() -> str:
    with open(README, encoding='utf-8') as f:
        return f.read()


def option_column(table: str) -> list[str]:
    """The option names of an RST table's rows, in order."""
    lines = table.splitlines()
    body = lines[3:-1]      # after the heading rows, before the last border
    return [line.split()[0].strip('`') for line in body
            if line and not line[0].isspace()]


def test_readme_table_is_the_generated_one(tool, readme):
    assert tool.readme_table(readme) == tool.render_table(), (
        'README.rst is out of date: run python tools/options_table.py '
        '--write')


def test_every_option_appears_once_in_the_readme(tool, readme):
    names = option_column(tool.readme_table(readme))
    counts = collections.Counter(names)
    assert {name: n for name, n in counts.items() if n != 1} == {}
    assert names == [o.name for o in OPTIONS]


def test_registry_covers_the_server_signature():
    import engineio_sync
    params = inspect.signature(engineio_sync.Server).parameters
    assert sorted(params) == sorted(o.name for o in OPTIONS)


def test_table_is_a_well_formed_simple_table(tool):
    lines = tool.render_table().splitlines()
    border = lines[0]
    assert lines[2] == lines[-1] == border
    assert set(border) == {'=', ' '}
    # Columns are separated by blanks in the border; no cell text of the
    # first two columns may cross them, or RST would read other columns.
    gaps = [i for i, c in enumerate(border) if c == ' ']
    for line in lines:
        assert all(i >= len(line) or line[i] == ' ' for i in gaps), line
    # A row continues on lines whose first column is blank.
    assert not lines[3][0].isspace()


def test_script_prints_the_table(tool):
    out = subprocess.run([sys.executable, SCRIPT], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert out == tool.render_table()


def test_check_and_write(tool, readme, tmp_path):
    stale = tmp_path / 'README.rst'
    table = tool.readme_table(readme)
    stale.write_text(readme.replace(table, table.replace(
        '``ping_timeout``', '``ping_timeou``'), 1), encoding='utf-8')

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, SCRIPT, *args,
                               '--readme', str(stale)],
                              capture_output=True, text=True, cwd=ROOT)
    result = run('--check')
    assert result.returncode == 1 and 'out of date' in result.stderr
    assert run('--write').returncode == 0
    assert run('--check').returncode == 0
    # Only the table changed: the rest of the README is as it was.
    assert stale.read_text(encoding='utf-8') == readme


def test_find_table_needs_the_section(tool):
    with pytest.raises(ValueError):
        tool.find_table('Intro\n-----\n\ntext\n')
    with pytest.raises(ValueError):
        tool.find_table('Server options\n--------------\n\nprose\n\n'
                        'Next\n----\n\n===  ===\na    b\n===  ===\n'
                        'c    d\n===  ===\n')

"""Child processes that serve on a port they announce.

:class:`ListeningProcess` is the one way the tests start a server process
and learn its address: the process binds port 0 and prints its port
(``LISTENING <port>`` for the test scripts, gunicorn's ``Listening at:``
line); both output streams are read as they come, so that a test can
wait for a line instead of sleeping.
"""

from __future__ import annotations

import re
import subprocess
import threading
from typing import Any, Callable, Sequence

__all__ = ['ListeningProcess', 'stop_process']


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a process, killing it if it does not exit in 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class ListeningProcess:
    """A server process and every line it wrote so far.

    ``address`` is a regular expression whose first group is the port,
    searched in ``address_stream`` ('out' or 'err'); the constructor
    returns once it matched (RuntimeError with the output if the process
    exits or ``startup_timeout`` passes first). ``on_line(line)`` sees
    each stdout line as it arrives (in a reader thread).
    """

    def __init__(self, argv: Sequence[str], *,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 address: str = r'^LISTENING (\d+)',
                 address_stream: str = 'out',
                 startup_timeout: float = 30.0,
                 on_line: Callable[[str], Any] | None = None) -> None:
        #: the lines of stdout and stderr, as they came
        self.out: list[str] = []
        self.err: list[str] = []
        self._on_line = on_line
        self._changed = threading.Condition()
        self._open = {'out': True, 'err': True}
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env, cwd=cwd)
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout,
                                                      self.out, 'out'),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr,
                                                      self.err, 'err'),
                             daemon=True)]
        for reader in self._readers:
            reader.start()
        try:
            match = self.wait_line(address, address_stream, startup_timeout)
        except AssertionError as exc:
            self.stop()
            raise RuntimeError(f'{argv[1:2]} did not start: {exc}') from None
        self.port = int(match.group(1))
        self.url = f'http://127.0.0.1:{self.port}'

    def _read(self, stream: Any, into: list[str], name: str) -> None:
        for line in stream:
            if name == 'out' and self._on_line is not None:
                self._on_line(line)
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._open[name] = False
            self._changed.notify_all()

    def wait_line(self, pattern: str, stream: str = 'out',
                  timeout: float = 30.0) -> re.Match:
        """The first line of ``stream`` ('out' or 'err') matching
        ``pattern``, waiting for it up to ``timeout`` seconds (and no
        longer than the stream stays open)."""
        lines = self.out if stream == 'out' else self.err
        regex = re.compile(pattern)
        found: list[re.Match] = []
        checked = 0

        def seen() -> bool:
            nonlocal checked
            while checked < len(lines):
                match = regex.search(lines[checked])
                checked += 1
                if match:
                    found.append(match)
                    return True
            return not self._open[stream]

        with self._changed:
            self._changed.wait_for(seen, timeout)
        if not found:
            raise AssertionError(
                f'no line matching {pattern!r} on std{stream} within '
                f'{timeout}s:\n{self.output()}')
        return found[0]

    @property
    def stdout(self) -> str:
        return ''.join(self.out)

    @property
    def stderr(self) -> str:
        return ''.join(self.err)

    def output(self) -> str:
        """Both streams so far (the end of each), for failure messages."""
        return ('--- stdout ---\n' + ''.join(self.out[-100:]) +
                '--- stderr ---\n' + ''.join(self.err[-100:]))

    def tracebacks(self) -> list[str]:
        """stderr lines mentioning a Traceback."""
        return [line for line in self.err if 'Traceback' in line]

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and its readers."""
        stop_process(self.proc)
        for reader in self._readers:
            reader.join(2)

"""A running ``tests/e2e/server_app.py`` and the events it prints."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import sys
import time
from typing import Any

from . import TESTS
from .httpclient import BackgroundGet
from .processes import ListeningProcess

__all__ = ['ServerProcess']

_TAGS = itertools.count(1)


class ServerProcess:
    """``tests/e2e/server_app.py`` (or another ``script`` of tests/e2e that
    prints ``LISTENING <port>`` first) on a driver, and the JSON events
    it printed."""

    def __init__(self, driver: str, options: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None,
                 script: str = 'server_app.py') -> None:
        self.driver = driver
        #: set True when the test expects tracebacks in the server's stderr
        self.allow_tracebacks = False
        self.options = options or {}
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        self.process = ListeningProcess(
            [sys.executable, os.path.join(TESTS, 'e2e', script), driver,
             json.dumps(self.options)],
            env={**os.environ, **(env or {})}, on_line=self._event_line)
        self.proc = self.process.proc
        self.port = self.process.port
        self.url = self.process.url
        #: the server's stderr, line by line, as it comes
        self.stderr_lines: list[str] = self.process.err

    def _event_line(self, line: str) -> None:
        try:
            self.events.put(json.loads(line))
        except ValueError:
            pass

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
        return self.process.wait_line(re.escape(text), 'err',
                                      timeout).string

    def watch_tag(self) -> dict[str, str]:
        """Headers that make server_app.py watch a polling request (see
        its docstring); :meth:`wait_watched` waits for the outcome."""
        return {'X-Test-Watch': str(next(_TAGS))}

    def wait_watched(self, headers: dict[str, str], event: str,
                     timeout: float = 10.0) -> dict:
        """Wait until the request sent with ``headers`` (from
        :meth:`watch_tag`) is ``event`` ('parked' or 'posting');
        AssertionError if it was answered first."""
        tag = headers['X-Test-Watch']
        seen = self.wait_event(timeout, tag=tag)
        assert seen['ev'] == event, \
            f'the request was answered before it was {event}'
        return seen

    def park_get(self, sid: str, query: str = 'EIO=4&transport=polling',
                 timeout: float = 10.0) -> BackgroundGet:
        """A GET for ``sid`` that the server parks: returns once the
        server says it is parked."""
        headers = self.watch_tag()
        get = BackgroundGet(self.port, f'{query}&sid={sid}',
                            headers=headers)
        try:
            self.wait_watched(headers, 'parked', timeout)
        except AssertionError as exc:
            raise AssertionError(f'{exc}: {get.result(5)}') from None
        return get

    def tracebacks(self) -> list[str]:
        """stderr lines mentioning a Traceback (after stop(), all of them)."""
        return self.process.tracebacks()

    def stop(self) -> None:
        self.process.stop()

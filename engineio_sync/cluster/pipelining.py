"""Many tasks' Redis commands, sent together.

A process of a cluster issues small Redis commands from many tasks at
once (one per request that crosses to another process, one per reply).
Sent one by one, each costs a round trip and a system call each way, and
those system calls were most of a crossing request's CPU. An
:class:`AutoPipeline` queues the commands that tasks issue and one
flusher task sends everything queued in a single pipeline, then hands
each caller its own result. Under load a batch holds many commands; a
lone command waits for nothing but a task switch. Commands leave in the
order they were issued, one batch at a time.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from ..drivers.base import Driver

__all__ = ['AutoPipeline']

# Commands sent in one pipeline at most: bounds the flusher's buffers.
_MAX_BATCH = 500
# How long a caller waits for its batch, beyond the client's own
# socket time-outs, before it gives up (seconds).
_CALL_TIMEOUT = 30.0


class _Call:
    __slots__ = ('args', 'done', 'result', 'error')

    def __init__(self, args: tuple, done: Any) -> None:
        self.args = args
        self.done = done
        self.result: Any = None
        self.error: BaseException | None = None


class AutoPipeline:
    """Sends the commands of many tasks in shared pipelines on ``client``
    (a redis-py client), using ``driver``'s tasks and events.

    The flusher task starts with the first command and ends after
    ``idle`` seconds without one (and in a forked child, whose parent's
    task did not come along)."""

    def __init__(self, client: Any, driver: Driver, *,
                 idle: float = 10.0) -> None:
        self.client = client
        self._driver = driver
        self._idle = idle
        self._lock = driver.lock()
        self._wake = driver.event()
        self._queued: list[_Call] = []
        self._running = False
        self._connection: Any = None
        reset = weakref.WeakMethod(self._forked)

        def after_fork() -> None:
            forked = reset()
            if forked is not None:
                forked()
        os.register_at_fork(after_in_child=after_fork)

    def _forked(self) -> None:
        self._lock = self._driver.lock()
        self._wake = self._driver.event()
        self._queued = []
        self._running = False
        # The parent's, with the parent's socket: never used here.
        self._connection = None

    def execute(self, *args: Any) -> Any:
        """Run one command (``'RPUSH', key, value``) in the next batch and
        return its reply; raises what redis-py raises for it."""
        return self.execute_all(args)[0]

    def execute_all(self, *commands: tuple) -> list:
        """Run ``commands`` one after the other in the next batch; their
        replies. Raises the first error."""
        calls = [_Call(args, self._driver.event()) for args in commands]
        with self._lock:
            self._queued.extend(calls)
            start = not self._running
            self._running = True
        if start:
            self._driver.start(self._flush)
        else:
            self._wake.set()
        for call in calls:
            if not call.done.wait(_CALL_TIMEOUT):
                raise RedisError('no reply from Redis within '
                                 f'{_CALL_TIMEOUT:.0f}s')
        for call in calls:
            if call.error is not None:
                raise call.error
        return [call.result for call in calls]

    def run_script(self, sha: str, source: str, keys: list, args: list
                   ) -> Any:
        """Run a Lua script by its SHA1, sending its ``source`` when Redis
        does not have it (as after a restart)."""
        try:
            return self.execute('EVALSHA', sha, len(keys), *keys, *args)
        except NoScriptError:
            return self.execute('EVAL', source, len(keys), *keys, *args)

    def _flush(self) -> None:
        wake = self._wake
        while True:
            # Cleared before the queue is read: a command queued after
            # the read sets it again, so no wake-up is lost.
            wake.clear()
            with self._lock:
                batch = self._queued[:_MAX_BATCH]
                del self._queued[:_MAX_BATCH]
            if batch:
                self._send(batch)
                continue
            if not wake.wait(self._idle):
                with self._lock:
                    if not self._queued:
                        self._running = False
                        self._release()
                        return

    def _send(self, batch: list[_Call]) -> None:
        replies, error = self._exchange(batch)
        if isinstance(error, RedisConnectionError) and not replies:
            # The held connection may have gone stale while it idled (Redis
            # restarted, a failover): once more on a new one. As when
            # redis-py retries a pipeline, a batch that Redis ran before
            # the connection broke may run twice (its commands are pushes
            # and reads).
            replies, error = self._exchange(batch)
        if error is not None:
            replies.extend([error] * (len(batch) - len(replies)))
        for call, reply in zip(batch, replies):
            if isinstance(reply, Exception):
                call.error = reply
            else:
                call.result = reply
            call.done.set()

    def _exchange(self, batch: list[_Call]
                  ) -> tuple[list, Exception | None]:
        """The replies read for the batch (an error reply in its place),
        and the exception that broke the connection before the rest."""
        # The flusher holds one connection of the client's pool while it
        # runs (checking one out per batch cost a system call of its own)
        # and reads the replies raw: callers take Redis' own types.
        replies: list = []
        try:
            if self._connection is None:
                self._connection = self.client.connection_pool \
                    .get_connection()
            connection = self._connection
            connection.send_packed_command(connection.pack_commands(
                [call.args for call in batch]))
            for _ in batch:
                try:
                    replies.append(connection.read_response())
                except ResponseError as exc:
                    replies.append(exc)
        except Exception as exc:
            # The next batch connects again.
            self._release(broken=True)
            return replies, exc
        return replies, None

    def _release(self, broken: bool = False) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            if broken:
                connection.disconnect()
            self.client.connection_pool.release(connection)

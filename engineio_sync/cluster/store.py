"""The cluster's keys in Redis and the only code that touches them.

Keys (``P`` is the prefix; every key expires):

``P:sid:<sid>``        hash: ``o`` owner process, ``p`` protocol, ``b`` v3
                       base64; the owner renews its TTL
``P:live:<process>``   the process is alive; it renews this often
``P:inbox:<process>``  list: requests for sessions the process owns
``P:wake:<process>``   list: replies for requests the process made (and
                       writes for WebSockets it holds); bounded

A request is pushed by one script that checks the session, its owner's
liveness and the inbox's bound and pushes, atomically: nothing can fall
between the check and the push (an owner that dies after the push leaves
a request that expires with its inbox).
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from .wire import OVERFLOW, encode_request

__all__ = ['Store', 'Forwarded', 'UNKNOWN', 'OWNER_GONE', 'FULL', 'QUEUED']

#: Outcomes of :meth:`Store.forward`.
UNKNOWN, OWNER_GONE, FULL, QUEUED = 0, -1, -2, 1

# Past the inbox limit only the overflow notices go in, and only this many
# more: a flood cannot grow an inbox without bound.
_OVERFLOW_ROOM = 100

_FORWARD = """
local info = redis.call('HMGET', KEYS[1], 'o', 'p', 'b')
local owner = info[1]
if not owner then return {0} end
if redis.call('EXISTS', ARGV[1] .. ':live:' .. owner) == 0 then
  return {-1, owner}
end
local inbox = ARGV[1] .. ':inbox:' .. owner
local length = redis.call('LLEN', inbox)
local limit = tonumber(ARGV[3])
local status = 1
if length >= limit then
  if length >= limit + tonumber(ARGV[6]) then return {-2, owner} end
  redis.call('RPUSH', inbox, ARGV[5])
  status = -2
else
  redis.call('RPUSH', inbox, ARGV[2])
end
redis.call('EXPIRE', inbox, ARGV[4])
return {status, owner, info[2], info[3]}
"""


_BROADCAST = """
local pushed = 0
for _, inbox in ipairs(KEYS) do
  if redis.call('LLEN', inbox) < tonumber(ARGV[2]) then
    redis.call('RPUSH', inbox, ARGV[1])
    redis.call('EXPIRE', inbox, ARGV[3])
    pushed = pushed + 1
  end
end
return pushed
"""


# A reply goes in only while its list is under the bound: a process that
# stops reading its replies (stopped, overloaded) cannot grow it.
_REPLY = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


# Compare-and-set of a directory entry's owner: a session moves only if
# its entry still names the owner that gives it away.
_SWITCH = """
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'o', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class Forwarded:
    """What became of a request: ``status`` (:data:`QUEUED`,
    :data:`UNKNOWN`, :data:`OWNER_GONE` or :data:`FULL`), the owner's
    process id and the session's protocol and base64 flag."""

    __slots__ = ('status', 'owner', 'protocol', 'b64')

    def __init__(self, reply: list) -> None:
        self.status = int(reply[0])
        self.owner = _text(reply[1]) if len(reply) > 1 else None
        self.protocol = int(reply[2]) if len(reply) > 2 and reply[2] else 4
        self.b64 = len(reply) > 3 and reply[3] == b'1'


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Store:
    """The cluster's view of one Redis (a redis-py client).

    With ``pipeline`` (an :class:`~.pipelining.AutoPipeline` on the same
    client) the commands of requests and replies go in shared pipelines;
    without it (an emitter) each is a round trip of its own."""

    def __init__(self, client: Any, prefix: str, *, directory_ttl: float,
                 inbox_limit: int, reply_limit: int = 100_000,
                 pipeline: Any = None) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = max(1, round(directory_ttl))
        self.inbox_limit = inbox_limit
        self.reply_limit = reply_limit
        self._forward = client.register_script(_FORWARD)
        self._broadcast = client.register_script(_BROADCAST)
        self._reply = client.register_script(_REPLY)
        self._switch = client.register_script(_SWITCH)
        self._pipeline = pipeline
        # Lists popped with BLMPOP (Redis 7) until Redis refuses it.
        self._multi_pop = True

    def _run(self, *commands: tuple) -> list:
        """The replies of ``commands``, sent together."""
        if self._pipeline is not None:
            return self._pipeline.execute_all(*commands)
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return pipe.execute()

    # -- key names ------------------------------------------------------------

    def session_key(self, sid: str) -> str:
        """The directory entry of ``sid``."""
        return f'{self.prefix}:sid:{sid}'

    def live_key(self, process: str) -> str:
        """The liveness key of ``process``."""
        return f'{self.prefix}:live:{process}'

    def inbox_key(self, process: str) -> str:
        """The inbox of ``process``."""
        return f'{self.prefix}:inbox:{process}'

    def wake_key(self, process: str) -> str:
        """The list of replies for ``process``."""
        return f'{self.prefix}:wake:{process}'

    # -- owners ---------------------------------------------------------------

    def register(self, sid: str, owner: str, protocol: int, b64: bool
                 ) -> None:
        """Enter a session in the directory, owned by ``owner``."""
        key = self.session_key(sid)
        self._run(('HSET', key, 'o', owner, 'p', protocol,
                   'b', '1' if b64 else '0'), ('EXPIRE', key, self.ttl))

    def switch_owner(self, sid: str, owner: str, new_owner: str) -> bool:
        """Make ``new_owner`` the owner of ``sid`` if ``owner`` still is
        (a session moving at upgrade); False if it is not."""
        return bool(self._script(self._switch, _SWITCH,
                                 [self.session_key(sid)],
                                 [owner, new_owner, self.ttl]))

    def unregister(self, sid: str) -> None:
        """Remove a session from the directory."""
        self._run(('DEL', self.session_key(sid)))

    def renew(self, sids: list[str]) -> list[str]:
        """Extend the directory TTL of sessions (in batches of 1000);
        returns those whose entry was gone (Redis restarted empty)."""
        missing: list[str] = []
        for at in range(0, len(sids), 1000):
            batch = sids[at:at + 1000]
            pipe = self.client.pipeline(transaction=False)
            for sid in batch:
                pipe.expire(self.session_key(sid), self.ttl)
            missing.extend(sid for sid, renewed in zip(batch, pipe.execute())
                           if not renewed)
        return missing

    def keep_alive(self, process: str, ttl: float) -> None:
        """Mark ``process`` alive for ``ttl`` seconds."""
        self.client.set(self.live_key(process), b'1',
                        px=max(1, round(ttl * 1000)))

    def is_alive(self, process: str) -> bool:
        """True while ``process`` renews its liveness key."""
        return bool(self._run(('EXISTS', self.live_key(process)))[0])

    def leave(self, process: str, sids: list[str]) -> None:
        """Remove the keys of ``process`` and of the sessions it owns (it
        stops serving)."""
        self.client.delete(self.live_key(process), self.inbox_key(process),
                           self.wake_key(process))
        for at in range(0, len(sids), 1000):
            self.client.delete(*(self.session_key(sid)
                                 for sid in sids[at:at + 1000]))

    def processes(self) -> list[str]:
        """The processes alive now."""
        start = len(self.live_key(''))
        return [_text(key)[start:] for key in self.client.scan_iter(
            match=self.live_key('*'), count=1000)]

    def broadcast(self, message: bytes) -> int:
        """Push ``message`` to the inbox of every live process (skipping
        full inboxes); returns how many took it."""
        inboxes = [self.inbox_key(process) for process in self.processes()]
        if not inboxes:
            return 0
        return int(self._broadcast(keys=inboxes, args=[
            message, self.inbox_limit, self.ttl]))

    def lookup(self, sid: str) -> tuple[str, int, bool] | None:
        """(owner, protocol, b64) of a session in the directory, or None."""
        owner, protocol, b64 = self._run(
            ('HMGET', self.session_key(sid), 'o', 'p', 'b'))[0]
        if owner is None:
            return None
        return _text(owner), int(protocol or 4), b64 == b'1'

    # -- messages -------------------------------------------------------------

    def forward(self, sid: str, message: bytes, overflow: bytes
                ) -> Forwarded:
        """Push ``message`` to the inbox of ``sid``'s owner if the session
        is known and its owner alive; ``overflow`` goes instead when the
        inbox is full."""
        keys = [self.session_key(sid)]
        args = [self.prefix, message, self.inbox_limit, self.ttl, overflow,
                _OVERFLOW_ROOM]
        return Forwarded(self._script(self._forward, _FORWARD, keys, args))

    def _script(self, script: Any, source: str, keys: list, args: list
                ) -> Any:
        """Run a registered script, with the pipeline's other commands
        when there is one."""
        if self._pipeline is not None:
            return self._pipeline.run_script(script.sha, source, keys, args)
        return script(keys=keys, args=args)

    def tell(self, sid: str, kind: bytes, body: bytes = b'',
             sender: str = '', token: str = '') -> bool:
        """Forward a request that needs no reply (``sender`` and
        ``token`` say where it comes from); False if the session is
        unknown, its owner gone or its inbox full."""
        return self.forward(sid, encode_request(kind, sid, body, sender,
                                                token),
                            encode_request(OVERFLOW, sid)).status == QUEUED

    def reply(self, process: str, message: bytes) -> bool:
        """Push a reply to ``process``'s wake list; False (and nothing
        pushed) if it holds ``reply_limit`` replies already."""
        return bool(self._script(self._reply, _REPLY,
                                 [self.wake_key(process)],
                                 [message, self.reply_limit, self.ttl]))

    def push_inbox(self, process: str, message: bytes) -> None:
        """Push straight to ``process``'s inbox (no checks)."""
        self._push(self.inbox_key(process), message)

    def nudge(self, key: str) -> None:
        """Push an empty item to list ``key``: it wakes a pop blocked
        there (readers skip empty items)."""
        self._push(key, b'')

    def _push(self, key: str, message: bytes) -> None:
        self._run(('RPUSH', key, message), ('EXPIRE', key, self.ttl))

    def pop(self, key: str, timeout: float, count: int = 100
            ) -> list[bytes]:
        """Up to ``count`` items from the head of list ``key``, waiting up
        to ``timeout`` seconds (whole seconds, at least one) for the first;
        [] if none came."""
        wait = max(1, round(timeout))
        if self._multi_pop:
            try:
                item = self.client.blmpop(wait, 1, key, direction='LEFT',
                                          count=count)
            except ResponseError as exc:
                if 'unknown command' not in str(exc).lower():
                    raise
                # Redis before 7.0: one item per round trip.
                self._multi_pop = False
            else:
                return [] if item is None else list(item[1])
        item = self.client.blpop([key], timeout=wait)
        return [] if item is None else [item[1]]

    def pop_ready(self, key: str, count: int = 100) -> list[bytes] | None:
        """Up to ``count`` items from the head of list ``key`` without
        waiting, sent with other commands when there is a pipeline; []
        if it is empty, None if only :meth:`pop` should be used."""
        if self._pipeline is None or not self._multi_pop:
            return None
        return self._pipeline.execute('LPOP', key, count) or []

"""How the owner of a session answers the processes that ask it: a reply
on the asker's wake list, which is bounded."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from .membership import Membership
from .store import Store
from .wire import Request, encode_reply

__all__ = ['Answers']


class Answers:
    """Replies from this process (``membership``) to others."""

    def __init__(self, store: Store, membership: Membership,
                 logger: logging.Logger) -> None:
        self.store = store
        self.membership = membership
        self.logger = logger
        # Processes whose reply list was found full (warned once a spell).
        self._full: set[str] = set()

    def answer(self, request: Request, status: bytes, body: bytes = b''
               ) -> bool:
        """Reply to the asker of ``request``, if it waits; False if the
        reply could not be pushed."""
        if not request.reply_to:
            return True
        return self.push(request.reply_to,
                         encode_reply(request.token, status, body))

    def push(self, process: str, message: bytes) -> bool:
        """Put ``message`` on ``process``'s wake list; False if Redis
        failed or the list is full (warned once until it is read again)."""
        try:
            pushed = self.store.reply(process, message)
        except RedisError as exc:
            self.membership.failed('answering a request', exc)
            return False
        full = self._full
        if not pushed:
            if process not in full:
                full.add(process)
                self.logger.warning(
                    'cluster: the reply list of %s is full (%d replies '
                    'unread: stopped or overloaded); replies to it are '
                    'dropped, its waits time out and the sessions of its '
                    'WebSockets close', process, self.store.reply_limit)
            return False
        if process in full:
            full.discard(process)
            self.logger.warning('cluster: %s reads its replies again',
                                process)
        return True

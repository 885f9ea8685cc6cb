"""What a process of a cluster raises when asked about a session that
another process owns."""

from __future__ import annotations

from ..exceptions import EngineIOError

__all__ = ['SessionElsewhere']


class SessionElsewhere(EngineIOError, KeyError):
    """The session is open, but owned by another process of the cluster:
    its user session dict (``get_session``/``save_session``), its
    ``Socket`` and its transport live there. Handlers run on the owner,
    so inside them ``get_session(sid)`` works; elsewhere, reach the
    session with ``send``/``disconnect`` (carried to its owner) or keep
    what must be shared in a store of your own. A ``KeyError``, as for an
    unknown session, so code that handles that handles this too."""

    def __init__(self, sid: str, owner: str) -> None:
        super().__init__(sid)
        #: the session's id
        self.sid = sid
        #: the process id of its owner (see ``ClusterOptions.process_id``)
        self.owner = owner

    def __str__(self) -> str:
        return (f'session {self.sid} is owned by cluster process '
                f'{self.owner}, not this one: its session data lives there '
                '(handlers run there)')

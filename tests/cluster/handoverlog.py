"""What the server processes of the cluster tests share (their apps
import it; it needs nothing but engineio_sync): the cluster option from
the environment, and the handover's log lines, which the tests count.
"""

from __future__ import annotations

import logging
import os
import re

from engineio_sync.cluster import ClusterOptions

MOVED_LINE = re.compile(r'(\S+): session moved from \S+ to \S+ \(its '
                        r'WebSocket is here\)')
PROXIED_LINE = re.compile(r'(\S+): stays with \S+ \(connect ran there\); '
                          r'its WebSocket here is served through Redis')


def cluster_options() -> ClusterOptions:
    """The cluster option of a server process under test: Redis at
    ``EIO_CLUSTER``, the handover window ``EIO_HANDOVER`` (default: the
    option's own)."""
    window = os.environ.get('EIO_HANDOVER')
    if window is None:
        return ClusterOptions(url=os.environ['EIO_CLUSTER'])
    return ClusterOptions(url=os.environ['EIO_CLUSTER'],
                          handover=float(window))


def log_handover() -> None:
    """In a server process under test: log the handover's lines (sessions
    moved to their WebSocket's process, WebSockets left on a non-owner)
    on stderr, for :func:`handover_counts`."""
    handler = logging.StreamHandler()
    handler.addFilter(lambda record: bool(
        MOVED_LINE.search(record.getMessage())
        or PROXIED_LINE.search(record.getMessage())))
    log = logging.getLogger('engineio_sync')
    log.setLevel(logging.INFO)
    log.addHandler(handler)


def handover_counts(output: str) -> tuple[int, int]:
    """(sessions moved to their WebSocket's process, sessions whose
    WebSocket stayed on a non-owner) in a server's output (a line may be
    logged by several handlers: sessions are counted once)."""
    return (len(set(MOVED_LINE.findall(output))),
            len(set(PROXIED_LINE.findall(output))))

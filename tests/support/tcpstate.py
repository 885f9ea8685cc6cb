"""What the kernel knows of a TCP connection on this host.

Both ends of a connection to 127.0.0.1 are listed in ``/proc/net/tcp``,
each with the bytes it has not sent yet and the bytes it has not read.
Once the server's end has nothing unread, the server holds the whole
request, whatever server, driver or worker process runs it; once that
end is gone from the table, the server has closed the connection. That
is what a test can observe of a server it does not control (gunicorn
running an example app) or of a connection its client already closed.
"""

from __future__ import annotations

import socket
import struct

__all__ = ['Address', 'queues', 'peer_queues', 'unread_by_peer']

Address = tuple[str, int]


def _proc_address(address: Address) -> str:
    """An IPv4 address as /proc/net/tcp writes it."""
    host, port = address[:2]
    number = struct.unpack('<I', socket.inet_aton(host))[0]
    return f'{number:08X}:{port:04X}'


def queues(local: Address, remote: Address) -> tuple[int, int] | None:
    """The end of a connection at ``local`` (talking to ``remote``): how
    many bytes it wrote that are not sent yet, and how many it has not
    read; None once that end is closed."""
    wanted = (_proc_address(local), _proc_address(remote))
    with open('/proc/net/tcp') as table:
        next(table)
        for line in table:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                unsent, unread = fields[4].split(':')
                return int(unsent, 16), int(unread, 16)
    return None


def peer_queues(sock: socket.socket) -> tuple[int, int] | None:
    """:func:`queues` of the other end of ``sock`` (a process on this
    host)."""
    return queues(sock.getpeername(), sock.getsockname())


def unread_by_peer(sock: socket.socket) -> int | None:
    """Bytes sent on ``sock`` that the other end has not read yet (None:
    that end is closed)."""
    found = peer_queues(sock)
    return None if found is None else found[1]

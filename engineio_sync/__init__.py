"""engineio_sync: an Engine.IO server for WSGI applications."""

from __future__ import annotations

import logging

from .app_socket import Socket
from .core.packets import Packet, PacketType
from .core.session import CloseReason
from .exceptions import (ConfigError, EngineIOError, LocalProtocolError,
                         ProtocolError, RemoteProtocolError, SendBufferFull)
from .server import Server
from .standalone import listen
from .wsgi import WSGIApp

__version__ = '0.1.0'

__all__ = ['Server', 'Socket', 'WSGIApp', 'listen', 'Packet', 'PacketType',
           'CloseReason', 'EngineIOError', 'LocalProtocolError',
           'RemoteProtocolError', 'ConfigError', 'ProtocolError',
           'SendBufferFull', '__version__']

logging.getLogger('engineio_sync').addHandler(logging.NullHandler())

"""Helpers shared by the test folders: waiting for events, server
processes, raw HTTP and WebSocket clients.

Test modules import them from here (``from support import ...`` or
``from support.processes import ...``); ``tests/conftest.py`` only holds
fixtures. ``tests/`` is on ``sys.path`` because pytest puts the folder of
the root conftest there.
"""

from __future__ import annotations

import os

#: the folder of the tests, and the repository above it
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)

#: Each end-to-end test runs once per entry; EIO_TEST_DRIVERS narrows it.
#: 'native' is the eventlet driver behind engineio_sync's own HTTP server,
#: 'native-threading' the threading driver behind it (on the I/O loop:
#: what ``listen()`` runs); 'threading' is the threading driver behind
#: werkzeug.
DRIVERS = os.environ.get(
    'EIO_TEST_DRIVERS',
    'eventlet threading gevent native native-threading').split()

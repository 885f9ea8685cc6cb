"""Every driver is a :class:`engineio_sync.drivers.Driver`.

Nothing runs this module: mypy checks it (``make lint``, and
tests/core/test_static_types.py), and an assignment below fails the
check as soon as a driver's method no longer matches the protocol.
"""

from __future__ import annotations

from engineio_sync.drivers import Driver
from engineio_sync.drivers.eventlet import EventletDriver
from engineio_sync.drivers.gevent import GeventDriver
from engineio_sync.drivers.threading import ThreadingDriver

eventlet_driver: Driver = EventletDriver()
gevent_driver: Driver = GeventDriver()
threading_driver: Driver = ThreadingDriver()

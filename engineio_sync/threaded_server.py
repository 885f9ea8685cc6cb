"""Backwards-compatible home of :func:`make_threaded_server`.

werkzeug's specifics now live in :mod:`engineio_sync.wsgi_servers.werkzeug`.
"""

from __future__ import annotations

from .wsgi_servers.werkzeug import make_threaded_server

__all__ = ['make_threaded_server']

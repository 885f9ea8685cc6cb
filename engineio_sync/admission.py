"""Who may connect, and which headers every answer carries.

:class:`Admission` applies the server's request policy before the protocol
is looked at: the CORS headers and the ``headers`` / ``initial_headers``
options that go on responses, the origin check (same-origin unless a CORS
policy says otherwise, which also stops cross-site WebSocket hijacking),
and the ``allow_request`` hook with the middlewares added by
``Server.use()``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from .core.config import header_pairs
from .core.cors import same_origin
from .exceptions import FORBIDDEN, RemoteProtocolError

__all__ = ['Admission']

Check = Callable[[dict], Any]


class Admission:
    """The request policy of one server (its ``config``)."""

    def __init__(self, config: Any, logger: logging.Logger) -> None:
        self.config = config
        self.logger = logger
        #: checks added with ``Server.use()``, run before ``allow_request``
        self.middlewares: list[Check] = []

    def response_headers(self, environ: dict, *, preflight: bool = False
                         ) -> list[tuple[str, str]]:
        """CORS headers and the ``headers`` option, for any response."""
        config = self.config
        cors = config.cors
        headers = [] if cors is None else cors.headers(
            environ.get('HTTP_ORIGIN'), preflight=preflight,
            request_headers=environ.get('HTTP_ACCESS_CONTROL_REQUEST_HEADERS'))
        if config.headers is not None:
            headers += self._extra(config.headers, environ)
        return headers

    def initial_headers(self, environ: dict) -> list[tuple[str, str]]:
        """The ``initial_headers`` option, for a handshake's response."""
        spec = self.config.initial_headers
        return [] if spec is None else self._extra(spec, environ)

    def _extra(self, spec: Any, environ: dict) -> list[tuple[str, str]]:
        if not callable(spec):
            return list(spec)
        try:
            value = spec(environ)
            return header_pairs('headers hook', value) if value else []
        except Exception:
            self.logger.exception('headers / initial_headers hook failed')
            return []

    def origin_allowed(self, environ: dict) -> bool:
        """False for a request whose ``Origin`` the policy refuses."""
        origin = environ.get('HTTP_ORIGIN')
        if origin is None:
            return True
        cors = self.config.cors
        if cors is not None:
            return cors.allows(origin)
        # Without a CORS policy only same-origin pages may connect.
        return same_origin(origin, environ.get('HTTP_HOST'),
                           environ.get('HTTP_X_FORWARDED_HOST'))

    def check(self, environ: dict, allow_request: Check | None) -> None:
        """Run the middlewares, then ``allow_request``; raises the 403 (a
        :class:`RemoteProtocolError`) to answer with if one refuses. A
        check refuses by returning False, a message, or ``(False,
        message)``; one that raises refuses too."""
        checks = list(self.middlewares)
        if allow_request is not None:
            checks.append(allow_request)
        for check in checks:
            try:
                verdict = check(environ)
            except Exception:
                self.logger.exception('allow_request / middleware raised')
                raise RemoteProtocolError(FORBIDDEN) from None
            message = None
            if isinstance(verdict, tuple):
                verdict, message = (verdict + (None,))[:2]
            elif isinstance(verdict, str):
                verdict, message = False, verdict
            if verdict is None or verdict is True:
                continue
            if not verdict:
                raise RemoteProtocolError(FORBIDDEN, message if isinstance(
                    message, str) and message else None)

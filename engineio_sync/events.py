"""A small event emitter shared by :class:`Server` and :class:`Socket`."""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any, Callable, Mapping, cast

__all__ = ['EventEmitter']

Handler = Callable[..., Any]

_NO_HANDLERS: Mapping[str, list[Handler]] = MappingProxyType({})


class EventEmitter:
    """``on(event, fn)`` / ``emit(event, *args)``; a raising handler is
    logged and does not stop the others or the caller."""

    __slots__ = ('handlers',)

    _logger: logging.Logger = logging.getLogger('engineio_sync')

    def __init__(self) -> None:
        #: event name -> its handlers, in registration order. Read it to
        #: check for listeners cheaply; change it with on() and off().
        #: Until the first on() it is a shared, read-only empty mapping:
        #: most of the thousands of sockets a server holds never get a
        #: handler, and an empty dict each would cost 64 bytes.
        self.handlers: Mapping[str, list[Handler]] = _NO_HANDLERS

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event``; usable as a decorator."""
        if handler is None:
            def decorator(fn: Handler) -> Handler:
                self.on(event, fn)
                return fn
            return decorator
        if not callable(handler):
            raise TypeError('handler must be callable')
        if self.handlers is _NO_HANDLERS:
            self.handlers = {}
        # A dict from here on (only the shared empty mapping is not).
        handlers = cast('dict[str, list[Handler]]', self.handlers)
        handlers.setdefault(event, []).append(handler)
        return handler

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove one handler, or every handler of ``event``."""
        if event not in self.handlers:
            return
        # on() made it a dict: the shared empty mapping has no events.
        table = cast('dict[str, list[Handler]]', self.handlers)
        handlers = table[event]
        if handler is None:
            del table[event]
        elif handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del table[event]

    def has_listeners(self, event: str) -> bool:
        """True when ``event`` has at least one handler."""
        return event in self.handlers

    def emit(self, event: str, *args: Any) -> Any:
        """Call the handlers of ``event``; return the last one's result."""
        handlers = self.handlers.get(event)
        if not handlers:
            return None
        result = None
        for handler in tuple(handlers):
            try:
                result = handler(*args)
            except Exception:
                self._log_handler_error(event)
        return result

    def _log_handler_error(self, event: str) -> None:
        self._logger.exception('%s handler raised', event)

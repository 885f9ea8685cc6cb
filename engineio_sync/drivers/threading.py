"""The standard library's threads."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable


class ThreadingDriver:
    """Real OS threads; every blocking call blocks one thread."""

    name = 'threading'

    def spawn(self, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> threading.Thread:
        thread = threading.Thread(target=fn, args=args, kwargs=kwargs,
                                  daemon=True)
        thread.start()
        return thread

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> threading.Event:
        return threading.Event()

    def lock(self) -> threading.Lock:
        return threading.Lock()

    def queue(self) -> queue.Queue:
        return queue.Queue()

    def thread_class(self) -> Any:
        return threading.Thread

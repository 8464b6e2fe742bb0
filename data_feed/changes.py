"""A change signal: the consumer bumps it after each applied batch; push streams wait on it.

One per runtime (nothing global). ``wait`` returns as soon as the version moves past the
caller's, at the timeout, or when the signal is closed (shutdown): no thread waits forever.
"""

from __future__ import annotations

import threading


class ChangeSignal:
    """A version counter with a wake-up event: ``notify`` after a change, ``wait`` for the next one.

    Each version has its own :class:`threading.Event`, replaced at every change: a change sets the
    old one and wakes every waiter at once. (A shared condition made each of a thousand waiters
    re-take one lock in turn, which under gevent workers was most of a push's fan-out time.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._version = 0
        self._closed = False

    @property
    def version(self) -> int:
        """How many changes were signalled so far."""
        return self._version

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (the runtime is stopping)."""
        return self._closed

    def _wake(self) -> None:
        # under the lock: a waiter holds either the event it will see set, or reads the new version
        woken, self._event = self._event, threading.Event()
        woken.set()

    def notify(self) -> None:
        """Signal one change to every waiter."""
        with self._lock:
            self._version += 1
            self._wake()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the version differs from ``seen``, ``timeout`` passes or the signal closes."""
        event = self._event  # taken before the check: a change after it sets this very event
        if self._version == seen and not self._closed:
            event.wait(timeout)
        return self._version

    def close(self) -> None:
        """Wake every waiter for good (shutdown)."""
        with self._lock:
            self._closed = True
            self._wake()

    def reopen(self) -> None:
        """Accept waiters again (a runtime started after a stop)."""
        with self._lock:
            self._closed = False

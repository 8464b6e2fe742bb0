"""A change signal: the consumer bumps it after each applied batch; push streams wait on it.

One per runtime (nothing global). ``wait`` returns as soon as the version moves past the
caller's, at the timeout, or when the signal is closed (shutdown): no thread waits forever.
"""

from __future__ import annotations

import threading


class ChangeSignal:
    """A version counter with a condition: ``notify`` after a change, ``wait`` for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
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

    def notify(self) -> None:
        """Signal one change to every waiter."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the version differs from ``seen``, ``timeout`` passes or the signal closes."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != seen or self._closed, timeout)
            return self._version

    def close(self) -> None:
        """Wake every waiter for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Accept waiters again (a runtime started after a stop)."""
        with self._cond:
            self._closed = False

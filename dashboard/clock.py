"""The one clock the app reads "now" from.

Production uses the wall clock. A simulation that runs faster than real time
(``simulate --live --speed 60``) stamps events ahead of the wall clock; with
``GRID_CLOCK=stream`` the app's "now" follows the newest event time it applied instead, so the
wall's round, day rollover, countdowns and alerts follow simulated time.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time in epoch seconds."""

    def now(self) -> float:
        """The current time."""


class WallClock:
    """Real time."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()


class StreamClock:
    """Simulated time: the newest event time the state applied (wall time before any event)."""

    def __init__(self, newest: _HasEventTime) -> None:
        self._source = newest

    def now(self) -> float:
        """The newest applied event time."""
        ts = self._source.event_time
        return time.time() if ts is None else ts


class _HasEventTime(Protocol):
    event_time: float | None

"""What one simulator run does: typed, validated options shared by the simulator's CLI and the demo."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from data_feed.simulator.presets import PRESETS


@dataclass(frozen=True)
class SimOptions:
    """One simulator run: which district, how much history, then live or not, and how fast."""

    preset: str = "district"
    """Preset name: ``district`` (the seed), ``city``, ``megacity`` or ``tiny``."""
    seed: int = 1
    """Random seed: same seed, same district and events."""
    start: date | None = None
    """First day of the backfill (None: the backfill ends now)."""
    backfill_days: float = 0.0
    """Days of history to write first (0: none)."""
    live: bool = False
    """Then write events in (accelerated) real time until stopped."""
    speed: float = 1.0
    """Simulated seconds per real second in live mode."""
    reference_dir: Path | None = None
    """Where to write the reference files (None: the folder the caller passes)."""
    run: str = ""
    """Tag of the run in case and event ids ("": derived from the first simulated second)."""

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset {self.preset!r} is unknown: use one of {', '.join(sorted(PRESETS))}")
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"--speed={self.speed} must be a number > 0 (e.g. 60 runs a minute per second)")
        if self.run and not (self.run.isascii() and self.run.isalnum()):
            raise ValueError(f"--run={self.run!r} must be letters and digits (it goes into case ids)")
        if not (math.isfinite(self.backfill_days) and self.backfill_days >= 0):
            raise ValueError(f"--backfill={self.backfill_days} must be a number of days >= 0")

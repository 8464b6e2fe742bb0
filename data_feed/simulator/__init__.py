"""District simulator: reference data and contract events at the seed's scale, from one fitted model.

The model (``params.py``, fitted values in ``fitted.py``) reproduces the seed's May figures.
``write_reference`` writes the files the app loads from ``GRID_REFERENCE_DIR``; ``backfill``
writes history (pipelined XADD); ``run_live`` writes events in (accelerated) real time;
``SimOptions`` describes one run of ``cli.run`` (backfill, then live).
Everything is deterministic for a preset and seed.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import redis

from data_feed.publish import publish_many
from data_feed.simulator.backfill import BackfillStats, plan_window, window_bounds, write_window
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.options import SimOptions
from data_feed.simulator.presets import PRESETS, Preset, get_preset
from data_feed.simulator.reference import write_documents
from data_feed.simulator.world import World, run_tag

__all__ = ["PRESETS", "BackfillStats", "Preset", "SimOptions", "World", "backfill", "get_preset", "run_live",
           "write_reference"]


def _preset(preset: Preset | str) -> Preset:
    return get_preset(preset) if isinstance(preset, str) else preset


def write_reference(reference_dir: Path, preset: Preset | str, seed: int) -> list[Path]:
    """Write the district's reference files (streets, communities, grids, categories, units) into ``reference_dir``."""
    return write_documents(Path(reference_dir), World(_preset(preset), seed).district)


def backfill(connection: redis.Redis, preset: Preset | str, seed: int, start: date | None, days: float,
             reference_dir: Path | None = None, *, now: float | None = None, run: str | None = None,
             progress: bool | None = None) -> BackfillStats:
    """Write ``days`` of history from ``start`` (or ending now) and return counts and timing.

    ``run`` tags the case and event ids (default: derived from the window's start, see ``world.run_tag``).
    """
    bounds = window_bounds(start, days, now)
    world = World(_preset(preset), seed, run_tag(bounds[0]) if run is None else run)
    if reference_dir is not None:
        write_documents(Path(reference_dir), world.district)
    t0 = time.perf_counter()
    window = plan_window(world, *bounds, now=now)
    stats = write_window(connection, window, progress=progress)
    stats.seconds = time.perf_counter() - t0
    return stats


def run_live(connection: redis.Redis, preset: Preset | str, seed: int, speed: float, stop: threading.Event,
             *, start: float | None = None, run: str | None = None) -> int:
    """Register the checkpoints, then write events as (``speed``× accelerated) time passes until ``stop``."""
    t0 = int(time.time() if start is None else start)
    world = World(_preset(preset), seed, run_tag(t0) if run is None else run)
    engine = LiveEngine(world, t0)
    publish_many(connection, engine.registrations())
    return run_engine(connection, engine, speed, stop)

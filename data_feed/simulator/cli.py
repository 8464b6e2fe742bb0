"""``python -m dashboard simulate``: command-line options and the run (backfill, then live)."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from datetime import date
from pathlib import Path

import redis

from data_feed.publish import publish_many
from data_feed.simulator.backfill import plan_window, window_bounds, write_window
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.presets import PRESETS, get_preset
from data_feed.simulator.reference import write_documents
from data_feed.simulator.world import World

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="district",
                        help="district (the seed's numbers), city (10x), megacity (100k checkpoints), tiny (tests)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: same seed, same district and events")
    parser.add_argument("--start", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="first day of the backfill (default: the backfill ends now)")
    parser.add_argument("--backfill", type=float, default=0.0, metavar="DAYS", help="write DAYS of history")
    parser.add_argument("--live", action="store_true", help="then run in (accelerated) real time until stopped")
    parser.add_argument("--speed", type=float, default=1.0, help="live speed-up factor (e.g. 60: a minute per second)")
    parser.add_argument("--reference-dir", type=Path, default=None,
                        help="where to write the reference files (default: the app's GRID_REFERENCE_DIR)")


def run(args: argparse.Namespace, connection: redis.Redis, reference_dir: Path,
        stop: threading.Event | None = None) -> None:
    """Write the reference files, then backfill and/or run live until ``stop`` is set (neither: files only)."""
    if args.start is not None and args.live and args.backfill:
        log.info("simulator: --start given, so live mode starts now, not where the backfill ends")
    if args.speed <= 0:
        raise ValueError(f"--speed={args.speed} must be > 0")
    world = World(get_preset(args.preset), args.seed)
    folder = Path(args.reference_dir) if getattr(args, "reference_dir", None) else Path(reference_dir)
    write_documents(folder, world.district)
    log.info("simulator: %s preset, seed %s: reference files written to %s", args.preset, args.seed, folder)
    if not args.backfill and not args.live:
        log.info("simulator: no --backfill DAYS and no --live: reference files only")
        return
    tail = None
    if args.backfill:
        t0 = time.perf_counter()
        start, end = window_bounds(args.start, args.backfill)
        window = plan_window(world, start, end, keep_tail=args.live and args.start is None)
        stats = write_window(connection, window)
        tail = window.tail
        log.info("simulator: backfilled %s days (%s cases accepted): %s entries in %.1f s", args.backfill,
                 stats.accepted, stats.written, time.perf_counter() - t0)
    if args.live:
        stop = stop or threading.Event()
        now = time.time()
        engine = LiveEngine(world, tail.end if tail else int(now), tail)
        if tail is None:
            publish_many(connection, engine.registrations())
        log.info("simulator: live at %sx", args.speed)
        run_engine(connection, engine, args.speed, stop, sim_start=now)


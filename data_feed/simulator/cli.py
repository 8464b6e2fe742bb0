"""``python -m dashboard simulate``: command-line options and the run (backfill, then live)."""

from __future__ import annotations

import argparse
import logging
import math
import threading
import time
from datetime import date
from pathlib import Path

import redis

from data_feed.publish import Route, publish_many
from data_feed.simulator.backfill import plan_window, window_bounds, write_window
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.options import SimOptions
from data_feed.simulator.presets import PRESETS, get_preset
from data_feed.simulator.reference import write_documents
from data_feed.simulator.world import World, run_tag

log = logging.getLogger(__name__)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a speed)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed: give a number > 0 (e.g. 60 runs a minute "
                                         "per second)")
    return value


def days(text: str) -> float:
    """argparse type: a finite number of days >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days: give a number >= 0 (e.g. 3)")
    return value


def add_district_arguments(parser: argparse.ArgumentParser, backfill_default: float) -> None:
    """The options ``simulate`` and ``demo`` share: --preset, --seed, --backfill, --speed."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="district",
                        help="district (the seed's numbers), city (10x), megacity (100k checkpoints), tiny (tests)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: same seed, same district and events")
    parser.add_argument("--backfill", type=days, default=backfill_default, metavar="DAYS",
                        help="write DAYS of history first")
    parser.add_argument("--speed", type=positive_float, default=1.0,
                        help="live speed-up factor (e.g. 60: a minute per second)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``."""
    add_district_arguments(parser, backfill_default=0.0)
    parser.add_argument("--start", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="first day of the backfill (default: the backfill ends now)")
    parser.add_argument("--live", action="store_true", help="then run in (accelerated) real time until stopped")
    parser.add_argument("--reference-dir", type=Path, default=None,
                        help="where to write the reference files (default: the app's GRID_REFERENCE_DIR)")
    parser.add_argument("--run", default="", metavar="TAG",
                        help="tag of this run in case and event ids (default: from its first simulated second)")


def options_from_args(args: argparse.Namespace) -> SimOptions:
    """The typed options of parsed ``simulate`` arguments."""
    return SimOptions(preset=args.preset, seed=args.seed, start=args.start, backfill_days=args.backfill,
                      live=args.live, speed=args.speed, reference_dir=args.reference_dir,
                      run=getattr(args, "run", ""))


def run(options: SimOptions, connection: redis.Redis, reference_dir: Path,
        stop: threading.Event | None = None, route: Route | None = None) -> None:
    """Write the reference files, then backfill and/or run live until ``stop`` is set (neither: files only);
    ``route`` names each entry's stream (streams split by street), else the two default ones."""
    stop = stop or threading.Event()
    if options.start is not None and options.live and options.backfill_days:
        log.info("simulator: --start given, so live mode starts now, not where the backfill ends")
    now = time.time()
    start, end = window_bounds(options.start, options.backfill_days, now)
    anchor = start if options.backfill_days else int(now)
    world = World(get_preset(options.preset), options.seed, options.run or run_tag(anchor))
    folder = Path(options.reference_dir) if options.reference_dir else Path(reference_dir)
    write_documents(folder, world.district)
    log.info("simulator: %s preset, seed %s: reference files written to %s", options.preset, options.seed, folder)
    if not options.backfill_days and not options.live:
        log.info("simulator: no --backfill DAYS and no --live: reference files only")
        return
    tail = None
    if options.backfill_days:
        t0 = time.perf_counter()
        window = plan_window(world, start, end, keep_tail=options.live and options.start is None, now=now)
        stats = write_window(connection, window, stop=stop, route=route)
        if stop.is_set():
            if stats.written:
                log.warning("simulator: stopped during the backfill after %s entries: the history is partial "
                            "(a restarted demo does not backfill again; empty the data folder for a full one)",
                            stats.written)
            return
        tail = window.tail
        log.info("simulator: backfilled %s days (%s cases accepted, %s stuck): %s entries in %.1f s",
                 options.backfill_days, stats.accepted, stats.stuck, stats.written, time.perf_counter() - t0)
    if options.live and not stop.is_set():
        now = time.time()  # the backfill took a while: live mode catches up from its end
        engine = LiveEngine(world, tail.end if tail else int(now), tail)
        if tail is None:
            publish_many(connection, engine.registrations(), route=route)
        log.info("simulator: live at %sx", options.speed)
        run_engine(connection, engine, options.speed, stop, sim_start=now, route=route)

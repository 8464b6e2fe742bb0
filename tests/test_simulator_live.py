"""Simulator live mode and command line: accelerated real time, hand-over from the backfill."""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

from data_feed.contract import parse_entry
from data_feed.simulator import cli
from data_feed.simulator.backfill import plan_window, window_bounds
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.presets import PRESETS
from data_feed.simulator.world import World

NOW = int(datetime.fromisoformat("2026-05-20T09:00:00+08:00").timestamp())


def _ts(e: dict[str, str]) -> float:
    return datetime.fromisoformat(e["ts"]).timestamp()


def test_engine_produces_ordered_valid_events_over_a_day() -> None:
    engine = LiveEngine(World(PRESETS["tiny"], 4), NOW)
    seen = []
    for step in range(1, 25):
        batch = engine.advance(NOW + step * 3600)
        assert all(NOW + (step - 1) * 3600 < _ts(e) <= NOW + step * 3600 for e in batch)
        seen += batch
    reported: set[str] = set()
    types = set()
    for e in seen:
        parse_entry(e, "positions" if e["type"] == "warden.position" else "events")
        types.add(e["type"])
        if e["type"] == "case.reported":
            reported.add(e["case_id"])
        elif e["type"].startswith("case."):
            assert e["case_id"] in reported  # cases reported before the start are not continued
    assert {"warden.position", "inspection.completed", "case.reported", "case.closed"} <= types
    assert [_ts(e) for e in seen] == sorted(_ts(e) for e in seen)


def test_engine_continues_the_backfill_tail() -> None:
    world = World(PRESETS["tiny"], 4)
    start, end = window_bounds(None, 1, NOW)
    window = plan_window(world, start, end, keep_tail=True)
    assert window.tail is not None and window.tail.pending
    engine = LiveEngine(world, end, window.tail)
    batch = engine.advance(end + 6 * 3600)
    ids = {e["case_id"] for e in batch if e["type"].startswith("case.") and e["type"] != "case.reported"}
    earlier = {c.case_id for p in window.days for item in p[1] if item[2] == "report" for c in [item[3]]}
    assert ids & earlier  # lifecycles of backfilled cases go on in live mode


def test_run_engine_writes_until_stopped(redis_conn: redis.Redis) -> None:
    engine = LiveEngine(World(PRESETS["tiny"], 4), NOW)
    stop = threading.Event()
    fake = iter(range(0, 10 ** 6, 1))  # each clock reading: one more real second
    thread = threading.Thread(target=run_engine, args=(redis_conn, engine, 600.0, stop),
                              kwargs={"clock": lambda: float(next(fake))})
    thread.start()
    deadline = time.time() + 10
    while redis_conn.xlen("grid:positions") == 0 and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert redis_conn.xlen("grid:positions") > 0


def test_cli_backfill_then_live(redis_conn: redis.Redis, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--preset", "tiny", "--seed", "2", "--backfill", "0.5", "--live", "--speed", "60"])
    stop = threading.Event()
    thread = threading.Thread(target=cli.run, args=(args, redis_conn, tmp_path / "ref", stop))
    thread.start()
    time.sleep(2.5)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert (tmp_path / "ref" / "grids.geojson").exists()
    entries = [f for _, f in redis_conn.xrange("grid:events")]
    assert sum(f["type"] == "checkpoint.registered" for f in entries) == 100  # registered once
    for f in entries:
        parse_entry(f, "events")


def test_cli_without_backfill_or_live_writes_reference_files_only(redis_conn: redis.Redis, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    cli.run(parser.parse_args(["--backfill", "0"]), redis_conn, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"streets.geojson", "communities.geojson", "grids.geojson",
                                                    "categories.json", "units.json", "district.json"}
    assert redis_conn.xlen("grid:events") == 0


def test_cli_rejects_a_bad_speed(redis_conn: redis.Redis, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(ValueError, match="--speed"):
        cli.run(parser.parse_args(["--live", "--speed", "0"]), redis_conn, tmp_path)

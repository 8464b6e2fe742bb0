"""Simulator live mode and command line: accelerated real time, hand-over from the backfill."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from data_feed.contract import parse_entry
from data_feed.simulator import cli
from data_feed.simulator.backfill import plan_window, window_bounds
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.options import SimOptions
from data_feed.simulator.presets import PRESETS
from data_feed.simulator.world import World
from tests.helpers import RedisProcess

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
    window = plan_window(world, start, end, keep_tail=True, now=end)
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


def _options(*argv: str) -> SimOptions:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.options_from_args(parser.parse_args(argv))


def test_cli_builds_typed_options() -> None:
    options = _options("--preset", "tiny", "--seed", "2", "--start", "2026-05-01", "--backfill", "0.5", "--live",
                       "--speed", "60", "--reference-dir", "/x", "--run", "r2")
    assert options == SimOptions(preset="tiny", seed=2, start=date(2026, 5, 1), backfill_days=0.5, live=True,
                                 speed=60.0, reference_dir=Path("/x"), run="r2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.speed = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("bad", [{"speed": 0.0}, {"speed": -1.0}, {"speed": float("nan")}, {"preset": "foo"},
                                 {"backfill_days": -1.0}, {"run": "a b"}, {"run": "x/y"}])
def test_options_reject_bad_values_naming_the_fix(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="speed|preset|backfill|run"):
        SimOptions(**bad)  # type: ignore[arg-type]


def test_cli_backfill_then_live(redis_conn: redis.Redis, tmp_path: Path) -> None:
    options = _options("--preset", "tiny", "--seed", "2", "--backfill", "0.5", "--live", "--speed", "60")
    stop = threading.Event()
    thread = threading.Thread(target=cli.run, args=(options, redis_conn, tmp_path / "ref", stop))
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
    cli.run(_options("--backfill", "0"), redis_conn, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"streets.geojson", "communities.geojson", "grids.geojson",
                                                    "categories.json", "units.json", "district.json"}
    assert redis_conn.xlen("grid:events") == 0


@pytest.mark.parametrize("speed", ["0", "-5", "fast", "inf"])
def test_cli_rejects_a_bad_speed_in_one_line(speed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _options("--live", "--speed", speed)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--speed" in err and "number > 0" in err


def test_a_stalled_redis_read_timeout_is_retried(redis_process: RedisProcess) -> None:
    """SIGSTOP the server: writes time out; the simulator waits and goes on once it answers again."""
    client = redis.Redis(port=redis_process.port, socket_timeout=0.3, retry=Retry(NoBackoff(), 0),
                         decode_responses=True)
    probe = redis.Redis(port=redis_process.port, decode_responses=True)
    engine = LiveEngine(World(PRESETS["tiny"], 4), NOW)
    stop = threading.Event()
    fake = iter(range(0, 10 ** 6, 1))
    thread = threading.Thread(target=run_engine, args=(client, engine, 600.0, stop),
                              kwargs={"clock": lambda: float(next(fake)), "backoff_initial_s": 0.1,
                                      "backoff_max_s": 0.4}, daemon=True)
    assert redis_process.proc is not None
    thread.start()
    try:
        deadline = time.time() + 10
        while probe.xlen("grid:positions") == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert probe.xlen("grid:positions") > 0
        os.kill(redis_process.proc.pid, signal.SIGSTOP)
        time.sleep(1.5)  # several writes time out meanwhile
        assert thread.is_alive(), "the simulator died on a read timeout"
        os.kill(redis_process.proc.pid, signal.SIGCONT)
        before = probe.xlen("grid:positions")
        deadline = time.time() + 10
        while probe.xlen("grid:positions") <= before and time.time() < deadline:
            time.sleep(0.05)
        assert probe.xlen("grid:positions") > before  # it went on writing
        assert thread.is_alive()
    finally:
        os.kill(redis_process.proc.pid, signal.SIGCONT)
        stop.set()
        thread.join(5)
    assert not thread.is_alive()

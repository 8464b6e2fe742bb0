"""Snapshot cold start: a state loaded from a snapshot and the streams' tail equals a full replay;
a corrupt, foreign or incompatible snapshot, or one a trimmed stream cannot continue, falls back
to a full replay with a warning."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from dashboard import kpis, snapshot
from dashboard.config import load_config
from dashboard.periods import Period
from dashboard.reference import load_reference
from dashboard.runtime import Runtime
from data_feed.contract import PERSONAL_FIELDS
from data_feed.errors import ConfigError
from data_feed.simulator import backfill
from tests.events import CST
from tests.helpers import drain, make_runtime

LEVELS = ("streets", "communities", "grids", "departments", "categories")
READ_COUNT = 400


@pytest.fixture
def history(redis_conn: redis.Redis, tmp_path: Path) -> Path:
    """Three simulated days of the tiny district; returns its reference folder."""
    backfill(redis_conn, "tiny", 5, None, 3, tmp_path / "ref")
    return tmp_path / "ref"


def runtime(conn: redis.Redis, ref: Path, data: Path, **extra: Any) -> Runtime:
    settings: dict[str, Any] = {"SNAPSHOT_INTERVAL_S": 300, "DATA_DIR": str(data), "READ_COUNT": READ_COUNT,
                                "REFERENCE_DIR": str(ref), **extra}
    return make_runtime(conn, load_reference(ref), **settings)


def snapshot_midway(conn: redis.Redis, ref: Path, data: Path, polls: int = 3, **extra: Any) -> Runtime:
    """Read part of the history, then snapshot it (the rest is the tail)."""
    rt = runtime(conn, ref, data, **extra)
    for _ in range(polls):
        rt.consumer.poll()
    assert not rt.consumer.status.caught_up  # a snapshot in the middle of the history
    assert rt.snapshots is not None
    rt.snapshots.save(rt.consumer.status.last_ids)
    return rt


def case_record(case: Any) -> dict[str, Any]:
    return {name: getattr(case, name, None) for name in type(case).__slots__}


def picture(rt: Runtime) -> dict[str, Any]:
    """Everything a viewer sees of the state, in comparable form."""
    state = rt.state
    now = time.time()
    today = datetime.fromtimestamp(now, CST).date()
    out: dict[str, Any] = {"kpis": [kpis.compute(state, Period(today - timedelta(days=back), today, "custom"),
                                                 now, LEVELS) for back in (0, 1, 2, 7)]}
    out["kpis"].append(kpis.compute(state, Period(None, None, "custom"), now, LEVELS))
    page, total = state.alert_page(now, 10_000)
    out["alerts"] = (total, [c.case_id for c, _ in page])  # (listed at: the wall time it was first seen)
    with state.lock:
        round_start = state.rounds.round_at(now).start
        out["statuses"] = {cid: state.checkpoint_status(cp, now, round_start)
                           for cid, cp in state.checkpoints.items()}
        out["cases"] = {cid: case_record(c) for cid, c in state.cases.items()}
        out["open"] = set(state.open_cases)
        out["overdue"] = state.book.deadlines.overdue(now, None)
        out["coverage"] = {d: bytes(b) for d, b in state.registry.coverage.items()}
        out["covered"] = {k: dict(v) for k, v in state.covered_by_street.items()}
    summary = state.summary()
    for volatile in ("version", "built_at", "wardens", "track_points", "last_event_at"):
        summary.pop(volatile)
    out["summary"] = summary
    return out


def test_snapshot_plus_tail_equals_a_full_replay(redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    snapshot_midway(redis_conn, history, data)
    resumed = runtime(redis_conn, history, data)
    tail = drain(resumed)
    assert resumed.consumer.status.resumed_from is not None
    full = runtime(redis_conn, history, tmp_path / "empty")
    everything = drain(full)
    assert full.consumer.status.resumed_from is None
    assert 0 < tail < everything
    assert resumed.state.cases  # the comparison compares something
    assert picture(resumed) == picture(full)


def test_catching_up_from_a_snapshot_reports_progress(redis_conn: redis.Redis, history: Path,
                                                      tmp_path: Path) -> None:
    data = tmp_path / "data"
    snapshot_midway(redis_conn, history, data, polls=1)
    resumed = runtime(redis_conn, history, data, READ_COUNT=100)
    seen = []
    while not resumed.consumer.status.caught_up:
        resumed.consumer.poll()
        seen.append(resumed.consumer.status.progress)
    assert resumed.consumer.status.resumed_from is not None
    assert len(seen) > 3 and seen[-1] == 1.0
    between = seen[:-1]
    assert all(p is not None and 0.0 <= p < 1.0 for p in between), between
    assert between == sorted(between) and between[-1] > between[0]  # it moves forward with the tail


def test_a_caught_up_snapshot_reads_nothing_again(redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    first = runtime(redis_conn, history, tmp_path)
    drain(first)
    first.stop()  # a clean stop saves the last snapshot
    assert len(list((tmp_path / "snapshots").glob("*.snap"))) == 1
    again = runtime(redis_conn, history, tmp_path)
    drain(again)  # only positions of the look-back window
    assert again.consumer.status.events_read == 0
    assert picture(again)["cases"] == picture(first)["cases"]


def newest(data: Path) -> Path:
    return sorted((data / "snapshots").glob("*.snap"))[-1]


def assert_full_replay(conn: redis.Redis, ref: Path, data: Path, caplog: pytest.LogCaptureFixture,
                       why: str, **extra: Any) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dashboard.snapshot"):
        rt = runtime(conn, ref, data, **extra)
        drain(rt)
    assert rt.consumer.status.resumed_from is None
    assert any(why in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    full = runtime(conn, ref, data.parent / "nothing", **extra)
    drain(full)
    assert picture(rt) == picture(full)


def test_a_corrupt_snapshot_falls_back_to_a_full_replay(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    snapshot_midway(redis_conn, history, tmp_path)
    path = newest(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    assert_full_replay(redis_conn, history, tmp_path, caplog, "bad signature")


def test_a_truncated_or_foreign_file_falls_back(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    snapshot_midway(redis_conn, history, tmp_path)
    newest(tmp_path).write_bytes(b"GRIDSNAP")
    assert_full_replay(redis_conn, history, tmp_path, caplog, "not a snapshot file")


def test_a_snapshot_signed_with_another_key_falls_back(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    snapshot_midway(redis_conn, history, tmp_path, SECRET_KEY="a" * 32)
    assert_full_replay(redis_conn, history, tmp_path, caplog, "bad signature", SECRET_KEY="b" * 32)


def test_a_snapshot_of_other_code_or_settings_falls_back(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    rt = snapshot_midway(redis_conn, history, tmp_path)
    assert rt.snapshots is not None
    store = rt.snapshots.snapshots
    for path in store.files():
        path.unlink()
    store.code = "0" * 32  # as if written by another version of the code
    store.save(rt.state, rt.consumer.status.last_ids)
    assert_full_replay(redis_conn, history, tmp_path, caplog, "another version of the code")
    for path in store.files():
        path.unlink()
    snapshot_midway(redis_conn, history, tmp_path)
    assert_full_replay(redis_conn, history, tmp_path, caplog, "other settings", LATE_WINDOW_S=60)


def test_a_format_change_falls_back(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot_midway(redis_conn, history, tmp_path)
    monkeypatch.setattr(snapshot, "FORMAT", snapshot.FORMAT + 1)  # the reader of a newer release
    assert_full_replay(redis_conn, history, tmp_path, caplog,
                      f"format {snapshot.FORMAT - 1} is not {snapshot.FORMAT}")


def test_an_older_valid_snapshot_is_used_when_the_newest_is_bad(
        redis_conn: redis.Redis, history: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rt = snapshot_midway(redis_conn, history, tmp_path, polls=2)
    rt.consumer.poll()
    assert rt.snapshots is not None
    rt.snapshots.save(rt.consumer.status.last_ids)
    newest(tmp_path).write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="dashboard.snapshot"):
        resumed = runtime(redis_conn, history, tmp_path)
        drain(resumed)
    assert resumed.consumer.status.resumed_from is not None
    assert any("refused" in r.getMessage() for r in caplog.records)
    full = runtime(redis_conn, history, tmp_path / "nothing")
    drain(full)
    assert picture(resumed) == picture(full)


def test_a_stream_trimmed_past_the_snapshot_falls_back(redis_conn: redis.Redis, history: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    rt = snapshot_midway(redis_conn, history, tmp_path, polls=1)
    events = rt.config.events_stream
    covered = rt.consumer.status.last_ids[events]
    after = redis_conn.xrange(events, min=f"({covered}", count=10)
    redis_conn.xtrim(events, minid=after[-1][0], approximate=False)  # entries after the snapshot's are gone
    assert_full_replay(redis_conn, history, tmp_path, caplog, "trimmed past the snapshot")


def test_only_the_newest_two_are_kept_and_the_file_holds_no_personal_data(
        redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    rt = snapshot_midway(redis_conn, history, tmp_path)
    assert rt.snapshots is not None
    for _ in range(3):
        rt.snapshots.save(rt.consumer.status.last_ids)
    files = list((tmp_path / "snapshots").glob("*"))
    assert len(files) == snapshot.KEEP
    raw = files[0].read_bytes()
    head = len(snapshot.MAGIC) + 32
    meta = json.loads(raw[head + 4:head + 4 + int.from_bytes(raw[head:head + 4], "big")])
    assert set(meta) == {"format", "code", "settings", "ids", "saved_at", "history_time"}
    checked = 0
    for _, fields in redis_conn.xrange(rt.config.events_stream, count=5000):
        for secret in PERSONAL_FIELDS:
            if len(fields.get(secret, "")) >= 6:
                assert fields[secret].encode() not in raw
                checked += 1
    assert checked


def test_saving_holds_the_lock_only_while_pickling(redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    rt = runtime(redis_conn, history, tmp_path)
    drain(rt)
    assert rt.snapshots is not None
    waits: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            with rt.state.lock:
                pass
            waits.append(time.perf_counter() - t0)
            time.sleep(0.001)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        saved = rt.snapshots.save(rt.consumer.status.last_ids)
    finally:
        stop.set()
        thread.join()
    assert saved.size > 0
    assert max(waits) <= saved.lock_s + 0.05  # nobody waited for the file to be written
    assert saved.lock_s < 1.0


def test_periodic_saving_waits_one_interval_after_catching_up(redis_conn: redis.Redis, history: Path,
                                                             tmp_path: Path) -> None:
    rt = runtime(redis_conn, history, tmp_path)
    assert rt.snapshots is not None
    drain(rt)
    periodic = rt.snapshots
    periodic(rt.consumer.status.last_ids)
    assert periodic.last is None  # the first call starts the clock
    periodic.fork = False
    periodic.last_at = time.monotonic() - periodic.interval_s
    periodic(rt.consumer.status.last_ids)
    assert periodic.last is not None and periodic.last.path.exists()


def test_a_periodic_save_forks_a_child_that_writes_it(redis_conn: redis.Redis, history: Path,
                                                      tmp_path: Path) -> None:
    rt = runtime(redis_conn, history, tmp_path)
    assert rt.snapshots is not None
    for _ in range(3):
        rt.consumer.poll()
    periodic = rt.snapshots
    assert periodic.fork
    periodic.last_at = time.monotonic() - periodic.interval_s
    periodic(rt.consumer.status.last_ids)
    assert periodic.child is not None
    periodic.child.join(30)
    assert not periodic.child.is_alive() and len(periodic.snapshots.files()) == 1
    held = periodic.last_fork_s
    assert held is not None
    saved = periodic.snapshots.save(rt.state, rt.consumer.status.last_ids)
    print(f"lock held {held * 1000:.1f} ms to fork, {saved.lock_s * 1000:.1f} ms to pickle in place")
    periodic.snapshots.files()[0].unlink()  # keep the child's file only
    resumed = runtime(redis_conn, history, tmp_path)
    drain(resumed)
    assert resumed.consumer.status.resumed_from == rt.consumer.status.last_ids
    full = runtime(redis_conn, history, tmp_path / "nothing")
    drain(full)
    assert picture(resumed) == picture(full)


@pytest.mark.parametrize("value", ["-1", "5", "x", str(8 * 86400)])
def test_bad_snapshot_intervals_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="SNAPSHOT_INTERVAL_S"):
        load_config({"SNAPSHOT_INTERVAL_S": value, "AUTH": "off"}, environ={})


def test_zero_turns_snapshots_off(redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    rt = runtime(redis_conn, history, tmp_path, SNAPSHOT_INTERVAL_S=0)
    assert rt.snapshots is None and rt.consumer.resume is None


def test_the_consumer_thread_hands_its_ids_after_each_read_once_caught_up(
        redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    rt = runtime(redis_conn, history, tmp_path, BLOCK_MS=50)
    seen: list[dict[str, str]] = []
    rt.consumer.after_read = lambda ids: seen.append(dict(ids))
    rt.start()
    try:
        assert rt.consumer.wait_caught_up(60)
        deadline = time.time() + 10
        while not seen and time.time() < deadline:
            time.sleep(0.05)
    finally:
        rt.consumer.stop()
    assert seen and seen[-1] == rt.consumer.status.last_ids


def test_positions_resume_from_the_look_back_when_the_snapshot_is_older(
        redis_conn: redis.Redis, history: Path, tmp_path: Path) -> None:
    rt = snapshot_midway(redis_conn, history, tmp_path, polls=1, POSITION_LOOKBACK_S=0)
    positions = rt.config.positions_stream
    time.sleep(0.05)
    before = int(time.time() * 1000)  # later than the snapshot's positions id (its look-back start)
    assert int(rt.consumer.status.last_ids[positions].split("-")[0]) < before
    resumed = runtime(redis_conn, history, tmp_path, POSITION_LOOKBACK_S=0)
    resumed.consumer.poll()
    assert resumed.consumer.status.resumed_from == rt.consumer.status.last_ids
    assert int(resumed.consumer.status.last_ids[positions].split("-")[0]) >= before  # not the snapshot's

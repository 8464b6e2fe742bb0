"""The wall's server tick without a browser: shared snapshot, no_update, small overlay, rebase."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import dash
import redis

from callbacks.wall import tick
from dashboard.reference import load_reference
from dashboard.status import STATUS_RANK, CheckpointStatus
from dashboard.wall_model import WallModel
from tests.browser import district
from tests.helpers import feed, make_runtime

NAMES = ("heartbeat", "have", "base", "cluster", "overlay", "wardens", "tiles", "table", "round",
         "alerts", "geo")


def _model(redis_conn: redis.Redis, tmp_path: Path, n: int = 300) -> tuple[WallModel, float]:
    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")))
    now = time.time()
    feed(redis_conn, runtime, district.events(n, now, cases=10, wardens=5))
    return WallModel(runtime), now


def test_unchanged_tick_sends_only_the_heartbeat(redis_conn: redis.Redis, tmp_path: Path) -> None:
    model, now = _model(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(model, {"lang": "zh"}, None, now), strict=True))
    assert all(first[k] is not dash.no_update for k in NAMES)
    assert first["base"]["n"] == 300
    again = dict(zip(NAMES, tick(model, {"lang": "zh"}, first["have"], now + 1), strict=True))
    # the consumer has just read Redis: the heartbeat says so, with the data's age and version
    assert again["heartbeat"]["ok"] is True and again["heartbeat"]["live"] is True
    assert 0 <= again["heartbeat"]["age"] < 60 and again["heartbeat"]["v"] == model.runtime.state.version
    assert again["heartbeat"]["t"] == round(now + 1, 3)
    assert [k for k in NAMES if again[k] is not dash.no_update] == ["heartbeat"]
    # another language re-renders the text, not the map
    en = dict(zip(NAMES, tick(model, {"lang": "en"}, first["have"], now + 1), strict=True))
    assert en["tiles"] is not dash.no_update and en["base"] is dash.no_update


def test_a_new_case_travels_in_the_overlay_only(redis_conn: redis.Redis, tmp_path: Path) -> None:
    model, now = _model(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(model, {"lang": "zh"}, None, now), strict=True))
    _, lat, lon = district.checkpoint_position(300, 5)
    feed(redis_conn, model.runtime, [{"type": "case.reported", "ts": district.iso(now), "case_id": "X1",
                                "channel": "web", "category": "lamp", "lat": str(lat), "lon": str(lon),
                                "checkpoint_id": "cp5"}])
    out = dict(zip(NAMES, tick(model, {"lang": "zh"}, first["have"], now + 1), strict=True))
    assert out["base"] is dash.no_update
    assert out["overlay"] == [[round(lon, 5), round(lat, 5), CheckpointStatus.OPEN.rank, "cp5"]]
    assert out["tiles"] is not dash.no_update


def test_large_diff_rebases(redis_conn: redis.Redis, tmp_path: Path) -> None:
    model, now = _model(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(model, {"lang": "zh"}, None, now), strict=True))
    base = model.cache.base
    assert base is not None
    # The tick builds the base's compact form on a thread, which looks the base up (and may
    # remember it again from Redis). Wait for it, or under load it undoes the pretence below.
    assert model.base_payload(base.base_id) is not None
    hazard = CheckpointStatus.HAZARD.rank  # pretend everything changed since the base
    model.cache.base = dataclasses.replace(base, ranks={cid: hazard for cid in base.ranks})
    model.cache.bases.clear()
    model.cache.snapshot = model.cache.ranks = None  # so the pretence is seen
    redis_conn.delete(*redis_conn.keys("grid:wall:base:*"))  # the shared copy would say otherwise
    out = dict(zip(NAMES, tick(model, {"lang": "zh"}, first["have"], now + 2), strict=True))
    assert out["base"] is not dash.no_update and out["overlay"] == []


def test_another_worker_diffs_against_the_base_the_browser_holds(redis_conn: redis.Redis,
                                                                  tmp_path: Path) -> None:
    reference = load_reference(district.write_reference(tmp_path / "ref"))
    worker_a = WallModel(make_runtime(redis_conn, reference))
    now = time.time()
    feed(redis_conn, worker_a.runtime, district.events(300, now, cases=10, wardens=5))
    worker_b = WallModel(make_runtime(redis_conn, reference))  # a second process: its own state and cache
    feed(redis_conn, worker_b.runtime, [])
    first = dict(zip(NAMES, tick(worker_a, {"lang": "zh"}, None, now), strict=True))
    _, lat, lon = district.checkpoint_position(300, 7)
    for worker in (worker_a, worker_b):
        feed(redis_conn, worker.runtime, [{"type": "case.reported", "ts": district.iso(now), "case_id": "X7",
                                   "channel": "web", "category": "lamp", "lat": str(lat), "lon": str(lon),
                                   "checkpoint_id": "cp7"}] if worker is worker_a else [])
    on_b = dict(zip(NAMES, tick(worker_b, {"lang": "zh"}, first["have"], now + 1), strict=True))
    assert on_b["base"] is dash.no_update, "worker B re-sent the whole layer"
    assert on_b["overlay"] == [[round(lon, 5), round(lat, 5), 2, "cp7"]]
    assert on_b["have"]["base"] == first["have"]["base"]
    # an unknown (expired) base is answered with a fresh one
    redis_conn.delete(*redis_conn.keys("grid:wall:base:*"))
    stranger = dict(first["have"], base="gone-1-1")
    fresh = dict(zip(NAMES, tick(worker_b, {"lang": "zh"}, stranger, now + 2), strict=True))
    assert fresh["base"] is not dash.no_update and fresh["base"]["n"] == 300


def test_incremental_ranks_equal_a_full_recompute(redis_conn: redis.Redis, tmp_path: Path) -> None:
    from dashboard import views

    model, now = _model(redis_conn, tmp_path)
    runtime = model.runtime
    first = model.snapshot(now)
    cat = runtime.reference.categories.get("lamp")
    limit_s = (cat.limit_hours["normal"] if cat else runtime.config.default_limit_hours["normal"]) * 3600
    events = []
    for n in range(40):  # cases opened, some closed, inspections: the usual traffic
        cid = f"cp{n * 7 % 300}"
        _, lat, lon = district.checkpoint_position(300, n * 7 % 300)
        # every fourth case reaches its deadline 20 s from now: it turns overdue with time alone
        reported = now - limit_s + 20 if n % 4 == 0 else now - 3600 * (n % 5)
        events.append({"type": "case.reported", "ts": district.iso(reported), "case_id": f"I{n}",
                       "channel": "web", "category": "lamp", "lat": str(lat), "lon": str(lon),
                       "checkpoint_id": cid, "priority": "hazard" if n % 9 == 1 else "normal"})
        if n % 3 == 1:
            events.append({"type": "case.closed", "ts": district.iso(now), "case_id": f"I{n}"})
        events.append({"type": "inspection.completed", "ts": district.iso(now), "warden_id": "w1",
                       "checkpoint_id": f"cp{(n * 11) % 300}", "result": "ok"})
    feed(redis_conn, runtime, events)
    model.snapshot(now + 1)  # sees every touched checkpoint: the near-deadline cases are open
    later = now + 30  # no event in between: only time turns them overdue
    if runtime.state.rounds.round_at(later).key != runtime.state.rounds.round_at(now).key:
        later = now + 1  # a round boundary in between would recompute everything anyway
    snap = model.snapshot(later)
    assert snap.base.base_id == first.base.base_id  # the incremental path was taken
    full = {cid: STATUS_RANK[s] for cid, s in views.checkpoint_statuses(runtime, later).items()}
    assert snap.ranks == full
    assert any(r == STATUS_RANK["overdue"] for r in full.values())
    assert sorted(row[3] for row in snap.overlay) == sorted(c for c in full if full[c] != snap.base.ranks.get(c))


def test_no_figures_while_the_history_is_read(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """Before the consumer has caught up, a tick sends the heartbeat (not live, with progress) only."""
    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")),
                           READ_COUNT=100)
    now = time.time()
    from data_feed.publish import publish_many

    publish_many(redis_conn, district.events(300, now, cases=10, wardens=5))
    model = WallModel(runtime)
    for _ in range(3):  # part of the history applied: half-replayed figures exist in the state
        runtime.consumer.poll()
    assert not runtime.consumer.status.caught_up and runtime.state.version > 0
    out = dict(zip(NAMES, tick(model, {"lang": "zh"}, None, now), strict=True))
    assert out["heartbeat"]["live"] is False
    progress = out["heartbeat"]["progress"]
    assert progress is None or 0 <= progress < 1
    assert [k for k in NAMES if out[k] is not dash.no_update] == ["heartbeat"]
    assert model.cache.snapshot is None  # nothing partial was even built
    while runtime.consumer.poll():
        pass
    assert runtime.consumer.status.caught_up
    live = dict(zip(NAMES, tick(model, {"lang": "zh"}, None, now + 1), strict=True))
    assert live["heartbeat"]["live"] is True
    assert live["tiles"] is not dash.no_update and live["base"]["n"] == 300


def test_alerts_listed_at_catch_up_do_not_flash_later_ones_do(redis_conn: redis.Redis, tmp_path: Path) -> None:
    model, now = _model(redis_conn, tmp_path)
    snap = model.snapshot(now)
    assert snap.alert_rows, "the synthetic district has overdue cases"
    assert not [r for r in snap.alert_rows if r["new"]], "replayed history flashed"
    _, lat, lon = district.checkpoint_position(300, 11)
    feed(redis_conn, model.runtime, [
        {"type": "case.reported", "ts": district.iso(now - 60), "case_id": "HZ1", "channel": "patrol",
         "category": "lamp", "lat": str(lat), "lon": str(lon), "checkpoint_id": "cp11", "priority": "hazard"},
        {"type": "case.dispatched", "ts": district.iso(now - 30), "case_id": "HZ1", "unit_id": "u1",
         "unit_type": "department", "deadline": district.iso(now - 10)}])
    later = model.snapshot(now + 1)
    rows = {r["case_id"]: r for r in later.alert_rows}
    assert rows["HZ1"]["new"] and rows["HZ1"]["hazard"]
    assert [r["case_id"] for r in later.alert_rows if r["new"]] == ["HZ1"]


def test_a_snapshot_never_changes_after_it_is_built(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """A request thread may still read the previous snapshot while the next one is built."""
    model, now = _model(redis_conn, tmp_path)
    first = model.snapshot(now)
    ranks_before = dict(first.ranks)
    _, lat, lon = district.checkpoint_position(300, 5)
    feed(redis_conn, model.runtime, [{"type": "case.reported", "ts": district.iso(now), "case_id": "X1",
                                      "channel": "web", "category": "lamp", "lat": str(lat), "lon": str(lon),
                                      "checkpoint_id": "cp5", "priority": "hazard"}])
    second = model.snapshot(now + 1)
    assert second.ranks["cp5"] == CheckpointStatus.HAZARD.rank != ranks_before["cp5"]
    assert dict(first.ranks) == ranks_before, "building a snapshot changed the previous one"
    try:
        first.ranks["cp5"] = 0  # type: ignore[index]
    except TypeError:
        pass
    else:
        raise AssertionError("a snapshot's ranks can be written")


def test_concurrent_ticks_and_a_writer_raise_nothing(redis_conn: redis.Redis, tmp_path: Path) -> None:
    import threading

    model, now = _model(redis_conn, tmp_path)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader(lang: str) -> None:
        have: dict[str, object] | None = None
        while not stop.is_set():
            try:
                out = tick(model, {"lang": lang}, None, time.time())  # a new browser every time
                assert out[2] is not dash.no_update
                out = tick(model, {"lang": lang}, have, time.time())
                if out[1] is not dash.no_update:
                    have = out[1]
            except BaseException as exc:  # noqa: B902 - collected and re-raised below
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader, args=(lang,)) for lang in ("zh", "en", "zh", "en")]
    for th in threads:
        th.start()
    try:
        for n in range(60):
            i = (n * 7) % 300
            _, lat, lon = district.checkpoint_position(300, i)
            feed(redis_conn, model.runtime, [
                {"type": "case.reported", "ts": district.iso(time.time()), "case_id": f"R{n}", "channel": "web",
                 "category": "lamp", "lat": str(lat), "lon": str(lon), "checkpoint_id": f"cp{i}"},
                {"type": "inspection.completed", "ts": district.iso(time.time()), "warden_id": "w1",
                 "checkpoint_id": f"cp{(i + 1) % 300}", "result": "ok"}])
    finally:
        stop.set()
        for th in threads:
            th.join(10)
    assert not errors, errors[:3]


def test_alerts_replayed_after_an_early_snapshot_do_not_flash(redis_conn: redis.Redis, tmp_path: Path) -> None:
    """A snapshot taken mid-replay must not make the rest of the history's alerts look new."""
    from data_feed.publish import publish_many

    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")),
                           READ_COUNT=50)
    now = time.time()
    events = district.events(300, now, cases=40, wardens=5)
    late = [e for e in events if e["type"].startswith("case.")]
    publish_many(redis_conn, [e for e in events if not e["type"].startswith("case.")] + late)
    model = WallModel(runtime)
    runtime.consumer.poll()
    assert not runtime.consumer.status.caught_up
    early = model.snapshot(now)  # e.g. a reader racing the replay: the cases are not read yet
    assert not early.alert_rows
    while runtime.consumer.poll():
        pass
    snap = model.snapshot(now + 1)
    assert snap.alert_rows, "the replayed history has overdue cases"
    assert not [r["case_id"] for r in snap.alert_rows if r["new"]], "replayed history flashed"

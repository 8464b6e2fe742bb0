"""The wall's server tick without a browser: shared snapshot, no_update, small overlay, rebase."""

from __future__ import annotations

import time
from pathlib import Path

import dash
import redis

from callbacks import snapshot
from callbacks.wall import tick
from dashboard.reference import load_reference
from tests.browser import district
from tests.helpers import feed, make_runtime

NAMES = ("heartbeat", "have", "base", "cluster", "overlay", "wardens", "tiles", "table", "round",
         "alerts", "geo")


def _runtime(redis_conn: redis.Redis, tmp_path: Path, n: int = 300) -> tuple[object, float]:
    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")))
    now = time.time()
    feed(redis_conn, runtime, district.events(n, now, cases=10, wardens=5))
    return runtime, now


def test_unchanged_tick_sends_only_the_heartbeat(redis_conn: redis.Redis, tmp_path: Path) -> None:
    runtime, now = _runtime(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, None, now), strict=True))
    assert all(first[k] is not dash.no_update for k in NAMES)
    assert len(first["base"]) == 300
    again = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, first["have"], now + 1), strict=True))
    assert again["heartbeat"]["ok"] in (True, False)
    assert [k for k in NAMES if again[k] is not dash.no_update] == ["heartbeat"]
    # another language re-renders the text, not the map
    en = dict(zip(NAMES, tick(runtime, {"lang": "en"}, first["have"], now + 1), strict=True))
    assert en["tiles"] is not dash.no_update and en["base"] is dash.no_update


def test_a_new_case_travels_in_the_overlay_only(redis_conn: redis.Redis, tmp_path: Path) -> None:
    runtime, now = _runtime(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, None, now), strict=True))
    _, lat, lon = district.checkpoint_position(300, 5)
    feed(redis_conn, runtime, [{"type": "case.reported", "ts": district.iso(now), "case_id": "X1",
                                "channel": "web", "category": "lamp", "lat": str(lat), "lon": str(lon),
                                "checkpoint_id": "cp5"}])
    out = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, first["have"], now + 1), strict=True))
    assert out["base"] is dash.no_update
    assert out["overlay"] == [[round(lon, 5), round(lat, 5), 2, "cp5"]]
    assert out["tiles"] is not dash.no_update


def test_large_diff_rebases(redis_conn: redis.Redis, tmp_path: Path) -> None:
    runtime, now = _runtime(redis_conn, tmp_path)
    first = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, None, now), strict=True))
    base = runtime.cache[snapshot.BASE_KEY]  # type: ignore[attr-defined]
    base.ranks.update({cid: 4 for cid in base.ranks})  # pretend everything changed since the base
    runtime.cache.pop(snapshot.SNAPSHOT_KEY)  # type: ignore[attr-defined]
    runtime.cache.pop(snapshot.RANKS_KEY)  # type: ignore[attr-defined]  # so the pretence is seen
    redis_conn.delete(*redis_conn.keys("grid:wall:base:*"))  # the shared copy would say otherwise
    out = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, first["have"], now + 2), strict=True))
    assert out["base"] is not dash.no_update and out["overlay"] == []


def test_another_worker_diffs_against_the_base_the_browser_holds(redis_conn: redis.Redis,
                                                                  tmp_path: Path) -> None:
    reference = load_reference(district.write_reference(tmp_path / "ref"))
    worker_a = make_runtime(redis_conn, reference)
    now = time.time()
    feed(redis_conn, worker_a, district.events(300, now, cases=10, wardens=5))
    worker_b = make_runtime(redis_conn, reference)  # a second process: its own state and cache
    feed(redis_conn, worker_b, [])
    first = dict(zip(NAMES, tick(worker_a, {"lang": "zh"}, None, now), strict=True))
    _, lat, lon = district.checkpoint_position(300, 7)
    for worker in (worker_a, worker_b):
        feed(redis_conn, worker, [{"type": "case.reported", "ts": district.iso(now), "case_id": "X7",
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
    assert fresh["base"] is not dash.no_update and len(fresh["base"]) == 300


def test_incremental_ranks_equal_a_full_recompute(redis_conn: redis.Redis, tmp_path: Path) -> None:
    from dashboard import views
    from layouts.map import STATUS_RANK

    runtime, now = _runtime(redis_conn, tmp_path)
    first = snapshot.get(runtime, now)
    cat = runtime.reference.categories.get("lamp")  # type: ignore[attr-defined]
    limit_s = (cat.limit_hours["normal"] if cat else runtime.config.default_limit_hours["normal"]) * 3600  # type: ignore[attr-defined]
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
    snapshot.get(runtime, now + 1)  # sees every touched checkpoint: the near-deadline cases are open
    later = now + 30  # no event in between: only time turns them overdue
    if runtime.state.rounds.round_at(later).key != runtime.state.rounds.round_at(now).key:  # type: ignore[attr-defined]
        later = now + 1  # a round boundary in between would recompute everything anyway
    snap = snapshot.get(runtime, later)
    assert snap.base.base_id == first.base.base_id  # the incremental path was taken
    full = {cid: STATUS_RANK[s] for cid, s in views.checkpoint_statuses(runtime, later).items()}
    assert snap.ranks == full
    assert any(r == STATUS_RANK["overdue"] for r in full.values())
    assert sorted(row[3] for row in snap.overlay) == sorted(c for c in full if full[c] != snap.base.ranks.get(c))

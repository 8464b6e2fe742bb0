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

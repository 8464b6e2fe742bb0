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
    base.ranks = {cid: 4 for cid in base.ranks}  # pretend everything changed since the base
    runtime.cache.pop(snapshot.SNAPSHOT_KEY)  # type: ignore[attr-defined]
    out = dict(zip(NAMES, tick(runtime, {"lang": "zh"}, first["have"], now + 2), strict=True))
    assert out["base"] is not dash.no_update and out["overlay"] == []

"""The wall's pushed data (dashboard.wall_data): figures not components, changed parts only,
countdowns from deadlines, warden positions sent only when (and where) they moved."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from dash import no_update

from callbacks.wall import tick
from dashboard.reference import load_reference
from dashboard.wall_data import warden_change
from dashboard.wall_model import WallModel
from dashboard.wall_push import WallPush
from layouts.panels import TILES, kpi_tiles
from tests.browser import district
from tests.helpers import feed, make_runtime


def _push(redis_conn: redis.Redis, tmp_path: Path) -> tuple[WallPush, float]:
    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")))
    now = time.time()
    feed(redis_conn, runtime, district.events(120, now, cases=12, wardens=6))
    runtime.consumer.status.caught_up = True
    return WallPush(WallModel(runtime)), now


def _body(event: tuple[str | None, str, dict[str, Any]]) -> dict[str, Any]:
    return json.loads(event[1])  # type: ignore[no-any-return]


def test_a_full_event_is_data_not_dash_components(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    event = push.event({}, now)
    body = _body(event)
    assert "props" not in event[1] and "namespace" not in event[1]  # no serialised Dash component
    assert len(body["tiles"]) == len(TILES)
    # the figures are what the poll's tiles show (the browser formats them the same way)
    snap = push.model.snapshot(now)
    shown = [tile.children[1].children for tile in kpi_tiles(snap.kpis, snap.coverage, "en")]
    accepted = dict(zip((spec[0] for spec in TILES), body["tiles"], strict=True))["accepted"][0]
    assert shown[0] == f"{accepted:,}"
    assert {row[0] for row in body["table"]["rows"]} <= set(push.model.runtime.reference.streets)
    assert body["alerts"]["rows"] and body["round"][0] in ("am", "pm")
    # the whole wall without the checkpoint layer is a few KB, not the ~21 KB of components
    assert len(json.dumps({k: v for k, v in body.items() if k not in ("base", "cluster")})) < 5000


def test_alert_rows_carry_deadlines_and_are_not_resent_as_time_passes(redis_conn: redis.Redis,
                                                                      tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    _, _, held = push.event({}, now)
    body = _body(push.event({}, now))
    runtime = push.model.runtime
    for row in body["alerts"]["rows"]:
        case = runtime.state.cases[row[0]]
        assert abs(row[6] - case.deadline) < 0.01 and abs(row[5] - case.reported_at) < 0.01
    later = now + 130  # two minute buckets later: the poll re-renders every countdown
    poll_have = tick(push.model, {"lang": "zh"}, {}, now)[1]
    assert tick(push.model, {"lang": "zh"}, poll_have, later)[9] is not no_update
    pushed = _body(push.event(held, later))
    assert "alerts" not in pushed  # the browser ticks the countdowns: nothing to resend


def test_only_changed_parts_go_and_a_quiet_second_is_a_heartbeat(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    _, _, held = push.event({}, now)
    assert set(_body(push.event(held, now + 1))) == {"hb"}
    sid, lat, lon = district.checkpoint_position(120, 7)
    feed(redis_conn, push.model.runtime, [
        {"type": "case.reported", "ts": district.iso(now + 1), "case_id": "N1", "channel": "web",
         "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "checkpoint_id": "cp7", "street_id": sid}])
    body = _body(push.event(held, now + 2))
    assert {"overlay", "tiles"} <= set(body) and not {"base", "wardens", "round"} & set(body)
    assert any(row[3] == "cp7" for row in body["overlay"])


def test_wardens_go_only_when_they_moved_and_only_those(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    _, _, held = push.event({}, now)
    first = _body(push.event({}, now))["wardens"]
    assert set(first) == {"all"} and len(first["all"]) == 6
    assert "wardens" not in _body(push.event(held, now + 1))  # no new position: nothing sent
    _, lat, lon = district.checkpoint_position(120, 99)
    feed(redis_conn, push.model.runtime, [{"type": "warden.position", "ts": district.iso(now + 1),
                                           "warden_id": "w3", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}])
    change = _body(push.event(held, now + 2))["wardens"]
    assert change == {"set": {"w3": [round(lon, 5), round(lat, 5), 0]}, "del": []}


def test_warden_change_sends_the_whole_set_when_unknown_or_mostly_changed() -> None:
    now = {f"w{i}": [1.0 * i, 2.0, 0] for i in range(10)}
    assert warden_change(now, None) == {"all": now}
    held = dict(now, w0=[9.0, 9.0, 0], gone=[0.0, 0.0, 1])
    assert warden_change(now, held) == {"set": {"w0": now["w0"]}, "del": ["gone"]}
    assert warden_change(now, {"w0": now["w0"]}) == {"all": now}  # nine new of ten: the whole set


def test_round_and_deadline_times_are_plain_numbers(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    body = _body(push.event({}, now))
    start, end = body["round"][1:]
    assert len(start) == 5 and start[2] == ":" and end[2] == ":"
    row = body["alerts"]["rows"][0]
    assert isinstance(row[6], float) and datetime.fromtimestamp(row[6]).year >= 2020

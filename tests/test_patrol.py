"""Patrol compliance (三定) on hand-made events: rounds per checkpoint and day, warden totals,
the last round's misses, warden tracks (downsampling and bounds) and the JSON API."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from dashboard import create_app, patrol
from dashboard.app import runtime_of
from dashboard.periods import Period
from dashboard.reference import Area, Category, Reference, Unit
from dashboard.scope import Scope
from dashboard.tracks import TrackStore
from data_feed.publish import publish_many
from tests.helpers import feed, make_runtime

TZ = ZoneInfo("Asia/Shanghai")
D1, D2 = "2026-05-09", "2026-05-10"


def at(day: str, clock: str) -> float:
    """Epoch seconds of a district time."""
    return datetime.fromisoformat(f"{day}T{clock}+08:00").timestamp()


def reference() -> Reference:
    """One grid with a warden, one category with a department, one named unit."""
    return Reference(
        grids={"g1": Area("g1", "一网格", "Grid 1", street_id="s1", community_id="c1", warden_id="wg")},
        categories={"lamp": Category("lamp", "路灯", "Street lamp", department_id="d9",
                                     limit_hours={"normal": 72, "urgent": 24, "hazard": 4})},
        units={"d9": Unit("d9", "department", "城管局", "Urban management"),
               "d1": Unit("d1", "department", "水务局", "Water bureau")})


def registered(cp: str, street: str = "s1", **extra: str) -> dict[str, str]:
    return {"type": "checkpoint.registered", "ts": f"{D1}T00:10:00+08:00", "checkpoint_id": cp,
            "category": extra.pop("category", "bin"), "lat": "41.12", "lon": "122.07", "street_id": street,
            "community_id": "c1" if street == "s1" else "c2", **extra}


def inspected(cp: str, day: str, clock: str, warden: str = "w1") -> dict[str, str]:
    return {"type": "inspection.completed", "ts": f"{day}T{clock}+08:00", "checkpoint_id": cp,
            "warden_id": warden, "result": "ok"}


def hand_made() -> list[dict[str, str]]:
    """cp0 2+1 rounds, cp1 1+0, cp2 0+0, cp3 1+2, cp4 2+1 (on D1, D2)."""
    return [
        registered("cp0", warden_id="w1", department_id="d1", grid_id="g1"),
        registered("cp1", warden_id="w1", grid_id="g1"),
        registered("cp2", warden_id="w2", grid_id="g1"),
        registered("cp3", category="lamp", grid_id="g1"),  # warden and unit from the reference
        registered("cp4", street="s2", warden_id="w3"),  # unit: its street
        inspected("cp0", D1, "08:00"), inspected("cp0", D1, "15:00"), inspected("cp0", D2, "09:00"),
        inspected("cp1", D1, "10:00"), inspected("cp1", D1, "11:00"),  # twice in one round: one round
        inspected("cp3", D1, "13:00"), inspected("cp3", D2, "07:00"), inspected("cp3", D2, "14:00"),
        inspected("cp4", D1, "09:00"), inspected("cp4", D1, "16:00"), inspected("cp4", D2, "09:30"),
    ]


@pytest.fixture
def runtime(redis_conn: redis.Redis):  # type: ignore[no-untyped-def]
    rt = make_runtime(redis_conn, reference())
    feed(redis_conn, rt, hand_made())
    return rt


def scope(start: str, end: str, **area: str) -> Scope:
    return Scope(Period(date.fromisoformat(start), date.fromisoformat(end), "custom"), **area)


def by(rows: list[dict], key: str) -> dict:  # type: ignore[type-arg]
    return {r[key]: r for r in rows}


def test_rounds_per_checkpoint_with_0_1_and_2_rounds_and_the_responsible_warden_and_unit(runtime) -> None:  # type: ignore[no-untyped-def]
    report = patrol.patrol_report(runtime, scope(D1, D2), now=at(D2, "15:00"))
    assert report.days == (date(2026, 5, 9), date(2026, 5, 10)) and report.due_per_day == (2, 2)
    rows = by(patrol.checkpoint_rows(runtime, report, "zh"), "checkpoint_id")
    assert {k: (r["rounds_done"], r["days_0"], r["days_1"], r["days_2"]) for k, r in rows.items()} == {
        "cp0": (3, 0, 1, 1), "cp1": (1, 1, 1, 0), "cp2": (0, 2, 0, 0), "cp3": (3, 0, 1, 1), "cp4": (3, 0, 1, 1)}
    assert all(r["rounds_due"] == 4 for r in rows.values())
    assert rows["cp1"]["rate"] == 0.25 and rows["cp2"]["rate"] == 0.0
    assert (rows["cp0"]["warden_id"], rows["cp0"]["unit_id"], rows["cp0"]["unit"]) == ("w1", "d1", "水务局")
    assert (rows["cp3"]["warden_id"], rows["cp3"]["unit_id"], rows["cp3"]["unit"]) == ("wg", "d9", "城管局")
    assert (rows["cp4"]["unit_id"], rows["cp4"]["street_id"]) == ("s2", "s2")
    assert rows["cp3"]["grid"] == "一网格"
    en = by(patrol.checkpoint_rows(runtime, report, "en"), "checkpoint_id")
    assert en["cp3"]["unit"] == "Urban management" and en["cp3"]["category"] == "Street lamp"


def test_warden_grid_street_and_day_totals(runtime) -> None:  # type: ignore[no-untyped-def]
    report = patrol.patrol_report(runtime, scope(D1, D2), now=at(D2, "15:00"))
    wardens = by(patrol.warden_rows(runtime, report), "warden_id")
    assert {w: (r["checkpoints"], r["rounds_done"], r["rounds_due"], r["missed_last_round"])
            for w, r in wardens.items()} == {"w1": (2, 4, 8, 1), "w2": (1, 0, 4, 1), "wg": (1, 3, 4, 0),
                                             "w3": (1, 3, 4, 0)}
    assert wardens["w1"]["rate"] == 0.5 and wardens["w1"]["days_0"] == 1 and wardens["w1"]["grids"] == "g1"
    streets = by(patrol.area_rows(runtime, report, "streets"), "street_id")
    assert (streets["s1"]["rounds_done"], streets["s1"]["rounds_due"]) == (7, 16)
    assert (streets["s2"]["rounds_done"], streets["s2"]["rounds_due"]) == (3, 4)
    grids = by(patrol.area_rows(runtime, report, "grids"), "grid_id")
    assert grids["g1"]["checkpoints"] == 4 and grids["g1"]["warden_id"] == "wg"
    communities = by(patrol.area_rows(runtime, report, "communities"), "community_id")
    assert communities["c1"]["rounds_done"] == 7
    days = by(patrol.day_rows(report), "day")
    assert (days[D1]["rounds_done"], days[D1]["rounds_due"], days[D1]["checkpoints_2"]) == (6, 10, 2)
    assert (days[D2]["rounds_done"], days[D2]["checkpoints_0"]) == (4, 2)
    total = patrol.summary(report)
    assert {w: r["rounds_missed"] for w, r in wardens.items()} == {"w1": 2, "w2": 3, "wg": 1, "w3": 0}
    assert (total["rounds_done"], total["rounds_due"], total["wardens"], total["wardens_short"]) == (10, 20, 4, 3)
    assert total["rounds_missed"] == 6  # the afternoon round in progress is not missed yet


def test_scope_area_filters_the_checkpoints(runtime) -> None:  # type: ignore[no-untyped-def]
    report = patrol.patrol_report(runtime, scope(D1, D2, street="s2"), now=at(D2, "15:00"))
    assert [f.checkpoint_id for f in report.checkpoints] == ["cp4"]
    report = patrol.patrol_report(runtime, scope(D1, D2, street="s1", grid="g1"), now=at(D2, "15:00"))
    assert {f.checkpoint_id for f in report.checkpoints} == {"cp0", "cp1", "cp2", "cp3"}


def test_missed_in_the_last_completed_round_with_warden_and_unit(runtime) -> None:  # type: ignore[no-untyped-def]
    report = patrol.patrol_report(runtime, scope(D1, D2), now=at(D2, "15:00"))
    assert (report.last_round.day, report.last_round.name) == (date(2026, 5, 10), "am")
    missed = patrol.missed_rows(runtime, report)
    assert [(r["checkpoint_id"], r["warden_id"], r["unit_id"]) for r in missed] == [
        ("cp1", "w1", "s1"), ("cp2", "w2", "s1")]
    # in the morning the last completed round is yesterday afternoon's
    report = patrol.patrol_report(runtime, scope(D1, D2), now=at(D2, "10:00"))
    assert (report.last_round.day, report.last_round.name) == (date(2026, 5, 9), "pm")
    assert [r["checkpoint_id"] for r in patrol.missed_rows(runtime, report)] == ["cp1", "cp2"]


def test_today_counts_only_rounds_ended_or_in_progress(runtime) -> None:  # type: ignore[no-untyped-def]
    report = patrol.patrol_report(runtime, scope(D2, D2), now=at(D2, "10:00"))
    assert report.due_per_day == (1,)
    rows = by(patrol.checkpoint_rows(runtime, report), "checkpoint_id")
    assert (rows["cp0"]["rounds_done"], rows["cp0"]["rounds_due"], rows["cp0"]["rate"]) == (1, 1, 1.0)
    assert rows["cp1"]["rounds_missed"] == 0  # the morning round is still in progress
    assert patrol.summary(report)["today_rounds_due"] == 1
    # a period reaching past the first day with data starts there; days after today are not due
    report = patrol.patrol_report(runtime, scope("2026-05-01", "2026-05-31"), now=at(D2, "15:00"))
    assert report.days == (date(2026, 5, 9), date(2026, 5, 10))


def test_rows_are_flat_with_stable_keys(runtime) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="level='cities'"):
        patrol.patrol_rows(runtime, scope(D1, D2), "cities")
    for level in (*patrol.LEVELS, "missed"):
        rows = patrol.patrol_rows(runtime, scope(D1, D2), level, "en", now=at(D2, "15:00"))
        assert rows and all(list(r) == list(rows[0]) for r in rows), level
        assert all(not isinstance(v, dict | list) for r in rows for v in r.values()), level


# ---------------------------------------------------------------------- tracks
def test_tracks_are_downsampled_and_kept_for_a_few_days() -> None:
    store = TrackStore(TZ, days=3, interval_s=60)
    start = at(D1, "08:00")
    for k in range(2 * 3600 // 10):  # a position every 10 s for two hours
        store.add("w1", 41.12 + k * 1e-5, 122.07, start + k * 10)
    points = store.track("w1", date(2026, 5, 9))
    assert len(points) == 2 * 60
    assert all(b[0] - a[0] >= 60 for a, b in zip(points, points[1:], strict=False))
    assert points[0] == (start, pytest.approx(41.12), pytest.approx(122.07))
    assert not store.add("w1", 41.0, 122.0, start + 30)  # a late, older upload does not go back
    for n in range(1, 5):  # four more days: only the newest three are kept
        store.add("w1", 41.12, 122.07, start + n * 86400)
    assert store.kept_days() == [date(2026, 5, 13), date(2026, 5, 12), date(2026, 5, 11)]
    assert not store.add("w1", 41.12, 122.07, start + 86400)  # a day before the window


def test_track_memory_is_bounded_by_interval_days_and_wardens() -> None:
    store = TrackStore(TZ, days=3, interval_s=60)
    start = at(D1, "00:00")
    wardens, days = 8, 5
    for k in range(days * 86400 // 20):  # every warden, all day, every 20 s, for five days
        ts = start + k * 20
        for w in range(wardens):
            store.add(f"w{w}", 41.12, 122.07, ts)
    points, nbytes = store.size()
    assert points <= wardens * 3 * (86400 // 60 + 1)
    assert nbytes == points * 12  # three 4-byte columns, no object per point
    assert len(store.kept_days()) == 3


def test_positions_feed_tracks_and_housekeeping_prunes_them(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, reference(), TRACK_DAYS=2, TRACK_INTERVAL_S=30)
    base = time.time() - 3 * 86400
    events = [{"type": "warden.position", "ts": datetime.fromtimestamp(base + k * 10, TZ).isoformat(),
               "warden_id": "w1", "lat": "41.12", "lon": "122.07"} for k in range(60)]
    feed(redis_conn, rt, events)
    day = datetime.fromtimestamp(base, TZ).date()
    kept = patrol.track(rt, "w1", day)
    assert len(kept["points"]) == 20 and kept["interval_s"] == 30
    # events of today move the history clock: the housekeeping drops tracks beyond two days
    feed(redis_conn, rt, [inspected("cp0", datetime.fromtimestamp(time.time(), TZ).date().isoformat(),
                                    datetime.fromtimestamp(time.time(), TZ).strftime("%H:%M:%S"))])
    assert patrol.track(rt, "w1", day)["points"] == []


# ---------------------------------------------------------------------- API
def test_patrol_and_track_api(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    publish_many(redis_conn, hand_made())
    now = time.time()
    publish_many(redis_conn, [{"type": "warden.position", "ts": datetime.fromtimestamp(now - 300 + k * 10, TZ)
                               .isoformat(), "warden_id": "w1", "lat": f"{41.12 + k * 1e-4:.6f}",
                               "lon": "122.07"} for k in range(30)])
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100})
    rt = runtime_of(app)
    try:
        assert rt.consumer.wait_caught_up(10)
        deadline = time.time() + 10
        while rt.state.quality.applied < 46 and time.time() < deadline:
            time.sleep(0.05)
        client = app.server.test_client()
        body = client.get(f"/api/v1/patrol?from={D1}&to={D2}").get_json()
        assert (body["summary"]["rounds_done"], body["summary"]["rounds_due"]) == (10, 20)
        wardens = {w["warden_id"]: w for w in body["wardens"]}
        assert (wardens["w1"]["rounds_done"], wardens["w2"]["rounds_done"]) == (4, 0)
        assert {s["street_id"] for s in body["streets"]} == {"s1", "s2"}
        assert len(body["missed_last_round"]) == 5  # nothing was inspected in the last real round
        assert "description" not in str(body) and "reporter_phone" not in str(body)
        narrow = client.get(f"/api/v1/patrol?from={D1}&to={D2}&street=s2").get_json()
        assert [c["checkpoint_id"] for c in narrow["checkpoints"]] == ["cp4"]
        assert client.get("/api/v1/patrol?period=fortnight").status_code == 400
        assert client.get("/api/v1/patrol?from=20260509").status_code == 400
        assert client.get("/api/v1/patrol?street=nowhere").status_code == 404
        assert client.get("/api/v1/patrol?grid=nowhere").status_code == 404
        today = datetime.fromtimestamp(now, TZ).date().isoformat()
        track = client.get(f"/api/v1/wardens/w1/track?day={today}").get_json()
        assert 1 <= len(track["points"]) <= 11 and track["day"] == today
        assert client.get("/api/v1/wardens/w2/track").status_code == 200  # known by its checkpoint
        assert client.get("/api/v1/wardens/nobody/track").status_code == 404
        assert client.get("/api/v1/wardens/w1/track?day=2026-5-1").status_code == 400
    finally:
        rt.stop()


def test_patrol_apis_answer_503_while_catching_up(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "START_CONSUMER": False})
    client = app.server.test_client()
    for path in ("/api/v1/patrol", "/api/v1/wardens/w1/track"):
        response = client.get(path)
        assert response.status_code == 503 and response.headers["Retry-After"] == "2", path


def test_a_history_that_starts_in_the_afternoon_owes_no_morning_that_day(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, reference())
    feed(redis_conn, rt, [registered("cp0", warden_id="w1"), registered("cp1", warden_id="w1"),
                          inspected("cp0", D1, "15:00"), inspected("cp0", D2, "09:00"), inspected("cp1", D2, "16:00")])
    report = patrol.patrol_report(rt, scope(D1, D2), now=at("2026-05-11", "09:00"))
    assert report.due_per_day == (1, 2)
    rows = by(patrol.checkpoint_rows(rt, report), "checkpoint_id")
    assert (rows["cp0"]["rounds_done"], rows["cp0"]["rounds_due"]) == (2, 3)
    assert (rows["cp1"]["rounds_done"], rows["cp1"]["days_0"], rows["cp1"]["days_1"]) == (1, 1, 1)

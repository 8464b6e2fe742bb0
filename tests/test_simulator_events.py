"""Simulator events: deterministic, valid under contract v1 (zero dead letters), plausible patrols and cases."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
import redis

from bench.calibration import tally
from dashboard.reference import load_reference
from data_feed.contract import CITIZEN_CHANNELS, PERSONAL_FIELDS, parse_entry
from data_feed.simulator import backfill, write_reference
from data_feed.simulator.backfill import generate, window_bounds
from data_feed.simulator.presets import PRESETS
from data_feed.simulator.world import World, run_tag
from tests.helpers import drain, make_runtime

NOW = datetime.fromisoformat("2026-05-20T15:30:00+08:00").timestamp()


@pytest.fixture(scope="module")
def tiny_events() -> list[dict[str, str]]:
    """Three days of the tiny preset ending mid-afternoon (wardens on their afternoon round)."""
    return list(generate(World(PRESETS["tiny"], 11), *window_bounds(None, 3, NOW), now=NOW))


def test_same_seed_same_events(tiny_events: list[dict[str, str]]) -> None:
    again = list(generate(World(PRESETS["tiny"], 11), *window_bounds(None, 3, NOW), now=NOW))
    assert again == tiny_events
    other = list(generate(World(PRESETS["tiny"], 12), *window_bounds(None, 3, NOW), now=NOW))
    assert other != tiny_events


def test_nothing_is_stamped_after_now(tiny_events: list[dict[str, str]]) -> None:
    assert max(datetime.fromisoformat(e["ts"]).timestamp() for e in tiny_events) <= NOW


def test_every_event_is_valid_and_time_ordered(tiny_events: list[dict[str, str]]) -> None:
    last = {"positions": 0.0, "events": 0.0}
    ids = Counter(e.get("event_id") for e in tiny_events if e.get("event_id"))
    assert max(ids.values()) == 1
    for fields in tiny_events:
        kind = "positions" if fields["type"] == "warden.position" else "events"
        assert all(isinstance(v, str) for v in fields.values())
        assert fields["ts"].endswith("+08:00")
        event = parse_entry(fields, kind)
        assert event.ts >= last[kind]
        last[kind] = event.ts


def test_case_events_follow_their_report(tiny_events: list[dict[str, str]]) -> None:
    reported: set[str] = set()
    for e in tiny_events:
        if e["type"] == "case.reported":
            reported.add(e["case_id"])
        elif e["type"].startswith("case."):
            assert e["case_id"] in reported, e
        elif e["type"] == "inspection.completed" and e["result"] == "problem":
            assert e["case_id"]


def test_personal_data_only_on_citizen_reports(tiny_events: list[dict[str, str]]) -> None:
    citizen = [e for e in tiny_events if e["type"] == "case.reported" and e["channel"] in CITIZEN_CHANNELS]
    assert citizen
    for e in citizen:
        assert e["query_code"] and e["description"] and e["reporter_phone"].isdigit()
        assert "street_id" not in e  # the app derives it from the boundaries
    for e in tiny_events:
        if not (e["type"] == "case.reported" and e["channel"] in CITIZEN_CHANNELS):
            assert not PERSONAL_FIELDS & set(e), e


def test_patrols_twice_a_day_with_positions_for_the_whole_current_day(tiny_events: list[dict[str, str]]) -> None:
    world = World(PRESETS["tiny"], 11)
    start, end = window_bounds(None, 3, NOW)
    day = "2026-05-19"  # a whole day inside the window
    visits = [e for e in tiny_events if e["type"] == "inspection.completed" and e["ts"].startswith(day)]
    per_checkpoint = Counter(e["checkpoint_id"] for e in visits)
    # Two rounds a day; a few rounds are missed or cut short, so some checkpoints are seen once (or not).
    assert max(per_checkpoint.values()) == 2
    assert sum(per_checkpoint.values()) > 0.85 * 2 * len(world.district.checkpoints)
    grid_warden = {g.warden_id for g in world.district.grids}
    assert {e["warden_id"] for e in visits} <= grid_warden
    positions = [e for e in tiny_events if e["type"] == "warden.position"]
    assert positions
    first = min(datetime.fromisoformat(e["ts"]).timestamp() for e in positions)
    assert first >= datetime.fromisoformat("2026-05-20T00:00:00+08:00").timestamp()
    assert first < datetime.fromisoformat("2026-05-20T10:00:00+08:00").timestamp()  # the morning round is there
    by_warden: dict[str, list[dict[str, str]]] = defaultdict(list)
    for e in positions:
        by_warden[e["warden_id"]].append(e)
    for track in by_warden.values():
        for a, b in itertools.pairwise(track):
            dt = datetime.fromisoformat(b["ts"]).timestamp() - datetime.fromisoformat(a["ts"]).timestamp()
            assert dt >= 10
            metres = (((float(a["lat"]) - float(b["lat"])) * 110574) ** 2
                      + ((float(a["lon"]) - float(b["lon"])) * 84000) ** 2) ** 0.5
            assert metres / dt < 2.5  # walking speed


def test_rounds_last_two_hours_and_respect_the_split() -> None:
    from data_feed.simulator.clock import day_start
    from data_feed.simulator.patrol import plan_rounds

    world = World(PRESETS["district"], 3)
    day0 = day_start(date(2026, 5, 4))
    rounds = plan_rounds(world.district, world.routes, day0, world.rng(date(2026, 5, 4), "rounds"), world.params)
    assert len(rounds) == 2 * 599
    statuses = Counter(r.status for r in rounds)
    assert set(statuses) == {"done", "late", "partial", "missed"}
    for r in rounds:
        split = day0 + 12 * 3600
        assert (r.t_end <= split) if r.index == 0 else (r.t0 >= split)
        planned = sorted(world.district.grid_checkpoints[r.grid])
        visited = sorted(c for _, c in r.visits)
        if r.status in ("done", "late"):
            assert r.t_end - r.t0 >= 2 * 3600
            assert visited == planned
        elif r.status == "partial":
            assert 0 < len(visited) <= len(planned) and set(visited) < set(planned) or len(planned) == 1
        else:
            assert visited == [] and r.t_end == r.t0
        assert all(r.t0 < ts <= r.t_end for ts, _ in r.visits)
    late_starts = [r for r in rounds if r.status == "late"]
    assert all((r.t0 - day0) % 43200 > (9 * 3600 + 15 * 60 if r.index == 0 else 3 * 3600) for r in late_starts)


def test_shares_follow_the_seed(tiny_events: list[dict[str, str]]) -> None:
    kpis = tally(tiny_events, date(2026, 5, 18), date(2026, 5, 19))
    assert kpis["accepted"] > 40
    assert kpis["citizen_reported"] >= 1
    assert kpis["self_handled"] <= kpis["accepted"]


def test_backfill_to_redis_zero_dead_letters(redis_conn: redis.Redis, tmp_path: Path) -> None:
    write_reference(tmp_path, "tiny", 11)
    start, end = window_bounds(None, 3, NOW)
    stats = backfill(redis_conn, "tiny", 11, None, 3, now=NOW)
    assert stats.written == redis_conn.xlen("grid:events") + redis_conn.xlen("grid:positions")
    assert stats.by_type["checkpoint.registered"] == 100
    runtime = make_runtime(redis_conn, load_reference(tmp_path), TZ="Asia/Shanghai")
    assert drain(runtime) == stats.written
    assert redis_conn.xlen("grid:deadletter") == 0
    assert runtime.consumer.status.deadlettered == 0
    stored = [fields for _, fields in redis_conn.xrange("grid:events")]
    assert stored == [e for e in generate(World(PRESETS["tiny"], 11, run_tag(start)), start, end, now=NOW)
                      if e["type"] != "warden.position"]

"""The simulator's generative model: lifecycles run to their end, patrols miss and cut rounds, ids, live rates."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
import redis

from bench.calibration import stream_events
from data_feed.simulator.backfill import Window, plan_window, window_bounds, window_events, write_window
from data_feed.simulator.clock import day_start
from data_feed.simulator.live import LiveEngine, run_engine
from data_feed.simulator.params import FITTED, ModelParams, load_params
from data_feed.simulator.presets import PRESETS, SEED_FIGURES
from data_feed.simulator.world import World

NOW = int(datetime.fromisoformat("2026-05-20T15:30:00+08:00").timestamp())
CLOSED = ("case.resolved_on_site", "case.closed")
STATE = frozenset({"case.resolved_on_site", "case.escalated", "case.dispatched", "case.processed", "case.returned",
                   "case.closed"})


def _ts(e: dict[str, str]) -> float:
    return datetime.fromisoformat(e["ts"]).timestamp()


@pytest.fixture(scope="module")
def month() -> tuple[Window, list[dict[str, str]]]:
    """30 days of the district ending now (mid-afternoon), without positions."""
    window = plan_window(World(PRESETS["district"], 7), *window_bounds(None, 30, NOW), positions_s=0, now=NOW)
    return window, list(window_events(window))


def test_after_a_backfill_open_cases_are_in_progress_not_frozen(month: tuple[Window, list[dict[str, str]]]) -> None:
    window, events = month
    cats = {c.category_id: c for c in window.world.district.categories}
    reported: dict[str, dict[str, str]] = {}
    state: dict[str, str] = {}
    voided: set[str] = set()
    for e in events:
        if e["type"] == "case.reported":
            reported[e["case_id"]] = e
        elif e["type"] == "case.voided":
            voided.add(e["case_id"])
        elif e["type"] in STATE:
            state[e["case_id"]] = e["type"]
    stuck = set(window.stuck)
    open_cases = [c for c in reported if c not in voided and state.get(c) not in CLOSED]
    assert open_cases, "cases reported in the last hours are still in progress"
    for cid in open_cases:
        e = reported[cid]
        age_h = (NOW - _ts(e)) / 3600
        if e["priority"] == "hazard":
            assert age_h <= 24, f"hazard {cid} open for {age_h:.0f} h"
        elif cid not in stuck:
            limit = cats[e["category"]].limits[("normal", "urgent", "hazard").index(e["priority"])]
            assert age_h <= 3 * limit, f"{cid} open for {age_h:.0f} h, limit {limit} h"
    # The stuck share is small, documented (params.stuck_share) and flagged (Window.stuck, BackfillStats.stuck).
    accepted = len(reported) - len(voided)
    assert 0 < len(stuck) <= 1.2 * window.world.params.stuck_share * accepted
    assert stuck & set(open_cases)  # the stuck ones reported in the last weeks are still open
    # Hazards are all handled within a day, whenever they were reported.
    hazards = [c for c, e in reported.items() if e["priority"] == "hazard" and c not in voided]
    assert hazards and all(state.get(c) in CLOSED for c in hazards if NOW - _ts(reported[c]) > 24 * 3600)


def test_missed_and_partial_rounds_at_the_documented_rates(month: tuple[Window, list[dict[str, str]]]) -> None:
    window, events = month
    district = window.world.district
    per_warden = {g.warden_id: len(district.grid_checkpoints[n]) for n, g in enumerate(district.grids)}
    seen: Counter[tuple[str, str, str]] = Counter()
    for e in events:
        if e["type"] == "inspection.completed":
            day, rnd = e["event_id"].rsplit("-", 2)[-2:]
            seen[(e["warden_id"], day, rnd)] += 1
    days = [(date(2026, 4, 21) + timedelta(days=k)).strftime("%Y%m%d") for k in range(29)]  # whole days only
    rounds = [(w, d, r) for w in per_warden for d in days for r in "01"]
    missed = sum(1 for key in rounds if seen[key] == 0) / len(rounds)
    partial = sum(1 for key in rounds if 0 < seen[key] < per_warden[key[0]]) / len(rounds)
    p = window.world.params
    assert abs(missed - p.missed_share) < 0.003, missed
    # Grids with a single checkpoint cannot show a partial round: a little under the rate.
    assert p.partial_share * 0.85 < partial < p.partial_share * 1.1, partial


def test_positions_for_every_patrolling_warden_of_the_current_day() -> None:
    world = World(PRESETS["tiny"], 5)
    start, end = window_bounds(None, 2, NOW)
    window = plan_window(world, start, end, now=NOW)
    positions: defaultdict[str, list[float]] = defaultdict(list)
    for e in window_events(window):
        if e["type"] == "warden.position":
            positions[e["warden_id"]].append(_ts(e))
    today = day_start(date(2026, 5, 20))
    patrolling = {r.warden_id for r in world.plan(date(2026, 5, 20)).rounds if r.status != "missed" and r.t0 < NOW}
    assert patrolling and patrolling <= set(positions)
    assert min(min(ts) for ts in positions.values()) >= today  # the current day, from midnight
    for track in positions.values():
        gaps = [b - a for a, b in zip(track, track[1:], strict=False) if b - a < 600]
        assert gaps and min(gaps) >= 15 and max(gaps) <= 30  # a handheld's reporting interval


def test_ids_differ_across_seeds_and_runs() -> None:
    day = date(2026, 5, 4)
    ids = {}
    for seed, run in ((1, ""), (2, ""), (1, "a"), (1, "b")):
        ids[(seed, run)] = {c.case_id for c in World(PRESETS["tiny"], seed, run).plan(day).cases}
    keys = list(ids)
    for n, a in enumerate(keys):
        assert ids[a]
        for b in keys[n + 1:]:
            assert not ids[a] & ids[b], (a, b)
    start, end = window_bounds(day, 1)
    events = {run: {e["event_id"] for e in window_events(plan_window(World(PRESETS["tiny"], 1, run), start, end,
                                                                     positions_s=0, now=end)) if "event_id" in e}
              for run in ("a", "b")}
    assert not events["a"] & events["b"]


def test_the_model_parameters_come_from_one_file() -> None:
    params = load_params()
    from data_feed.simulator.fitted import FITTED_VALUES

    assert set(FITTED_VALUES) == set(FITTED)
    assert all(getattr(params, k) == v for k, v in FITTED_VALUES.items())
    assert load_params({"missed_share": 0.2}).missed_share == 0.2
    with pytest.raises(ValueError, match="unknown"):
        load_params({"no_such_rate": 1.0})
    # A different parameter set changes the world's draws (the model really is driven by it).
    day = date(2026, 5, 4)
    base = World(PRESETS["tiny"], 1).plan(day)
    more = World(PRESETS["tiny"], 1, params=ModelParams(patrol_find_rate=0.4)).plan(day)
    assert len(more.cases) > len(base.cases)


def test_progress_bar_only_on_a_terminal(redis_conn: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(PRESETS["tiny"], 3)
    window = plan_window(world, *window_bounds(None, 1, NOW), positions_s=0, now=NOW)
    write_window(redis_conn, window)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    redis_conn.flushdb()
    write_window(redis_conn, plan_window(world, *window_bounds(None, 1, NOW), positions_s=0, now=NOW),
                 progress=True)
    err = capsys.readouterr().err
    assert "backfill" in err and "entries" in err


def test_live_week_at_speed_1000_lands_on_the_fitted_rates(redis_conn: redis.Redis) -> None:
    start = day_start(date(2026, 6, 1))  # a Monday: one whole week
    week = 7 * 86400
    world = World(PRESETS["district"], 9, "live")
    # As in the demo, live mode goes on from a backfill (here only planned): a steady state, not an empty district.
    history = plan_window(world, start - 14 * 86400, start, positions_s=0, keep_tail=True, now=start)
    engine = LiveEngine(world, start, history.tail, positions=False)
    stop = threading.Event()
    real = iter(range(0, 10 ** 6, 100))  # each clock reading: 100 more real seconds, 100,000 simulated
    thread = threading.Thread(target=run_engine, args=(redis_conn, engine, 1000.0, stop),
                              kwargs={"clock": lambda: float(next(real))})
    thread.start()
    deadline = time.monotonic() + 120
    while engine.cursor < start + week + 86400 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and engine.cursor >= start + week
    reported: dict[str, str] = {}
    voided: set[str] = set()
    mobile: set[str] = set()
    department: set[str] = set()
    rated = satisfied = 0
    for e in stream_events(redis_conn):
        if not e["type"].startswith("case."):
            continue
        ts = _ts(e)
        if e["type"] == "case.reported" and start <= ts < start + week:
            reported[e["case_id"]] = e["channel"]
        elif e["type"] == "case.voided":
            voided.add(e["case_id"])
        elif e["type"] == "case.dispatched":
            (mobile if e["unit_type"] == "mobile_team" else department if e["unit_type"] == "department"
             else set()).add(e["case_id"])
        elif e["type"] == "case.rated" and start <= ts < start + week:
            rated += 1
            satisfied += e["satisfied"] == "true"
    accepted = [c for c in reported if c not in voided]
    days = SEED_FIGURES["accepted"] / 31
    measured = {
        "accepted": len(accepted) / 7 / days,
        "self_handled": sum(c not in department for c in accepted) / len(accepted)
        / (SEED_FIGURES["self_handled"] / SEED_FIGURES["accepted"]),
        "mobile_disposal": sum(c in mobile for c in accepted) / 7 / (SEED_FIGURES["mobile_disposal"] / 31),
        "citizen_reported": sum(reported[c] != "patrol" for c in accepted) / 7
        / (SEED_FIGURES["citizen_reported"] / 31),
        "satisfaction_rate": satisfied / rated / SEED_FIGURES["satisfaction_rate"],
    }
    assert all(abs(ratio - 1) <= 0.03 for ratio in measured.values()), measured


def test_two_simulators_in_one_redis_share_no_id(redis_conn: redis.Redis) -> None:
    from data_feed.simulator import backfill

    # The same seed started a minute apart (two demos on one Redis): default run tags differ.
    first = backfill(redis_conn, "tiny", 1, None, 1, now=NOW)
    second = backfill(redis_conn, "tiny", 1, None, 1, now=NOW + 60)
    reported = Counter(e["case_id"] for e in stream_events(redis_conn) if e["type"] == "case.reported")
    assert reported and max(reported.values()) == 1
    assert sum(reported.values()) == first.by_type["case.reported"] + second.by_type["case.reported"]
    event_ids = Counter(e["event_id"] for e in stream_events(redis_conn) if e["type"] != "checkpoint.registered")
    assert max(event_ids.values()) == 1


def test_citizen_reports_lie_inside_their_grid() -> None:
    """A report placed between two checkpoints of a concave grid must not fall outside it (the
    dashboard would then count the case under no street)."""
    import random

    import shapely
    import shapely.geometry

    from data_feed.simulator.cases import _citizen_case
    from data_feed.simulator.params import load_params
    from data_feed.simulator.presets import PRESETS
    from data_feed.simulator.world import World

    district = World(PRESETS["district"], 1).district
    params = load_params()
    rng = random.Random(5)
    shapes = [shapely.geometry.shape(g.geometry()) for g in district.grids]
    outside = 0
    for n in range(3000):
        grid = n % len(district.grids)
        case = _citizen_case(district, "hotline", 0, district.checkpoints[district.grid_checkpoints[grid][0]].category,
                             grid, params, rng)
        outside += not shapely.contains_xy(shapes[grid], case.lon, case.lat)
    assert outside == 0

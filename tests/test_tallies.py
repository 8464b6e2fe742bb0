"""The KPI engine's day tallies agree with a naive scan of every case, on every level and period."""

from __future__ import annotations

import pickle
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import kpis, tallies
from dashboard.periods import Period
from dashboard.reference import load_reference
from data_feed.simulator import backfill
from tests.events import CST
from tests.helpers import drain, feed, make_runtime
from tests.kpi_oracle import scan
from tests.test_kpis import scenario

LEVELS = ("streets", "communities", "grids", "departments", "categories")


def assert_agree(state, start: date | None, end: date | None, now: float) -> int:  # type: ignore[no-untyped-def]
    expected = scan(state, start, end, now)
    levels = tuple(sorted({level for level, _ in expected if level != "district"} | set(LEVELS)))
    assert {tallies.kind_of(level) for level in levels} <= set(tallies.KINDS)
    report = kpis.compute(state, Period(start, end, "custom"), now, levels)
    checked = 0
    for (level, key), counts in expected.items():
        got = report["district"] if level == "district" else report[level].get(key)
        for name in kpis.COUNTS:
            if counts.get(name, 0):
                assert got is not None and got[name] == counts[name], (level, key, name, start, end)
                checked += 1
    for level in levels:
        for key, got in report[level].items():
            for name in kpis.COUNTS:
                assert got[name] == expected.get((level, key), {}).get(name, 0), (level, key, name)
    return checked


def test_tallies_match_the_scan_on_the_hand_made_scenario(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, CASE_RETENTION_DAYS=400)  # the naive scan sees only cases in memory
    feed(redis_conn, rt, scenario())
    now = datetime(2026, 6, 2, 12, tzinfo=CST).timestamp()
    for start, end in ((date(2026, 5, 1), date(2026, 5, 31)), (date(2026, 5, 20), date(2026, 5, 20)),
                       (date(2026, 4, 30), date(2026, 4, 30)), (None, None), (date(2026, 6, 1), None)):
        assert_agree(rt.state, start, end, now)


@pytest.mark.slow
def test_tallies_match_the_scan_on_a_simulated_week(redis_conn: redis.Redis, tmp_path: Path) -> None:
    backfill(redis_conn, "district", 3, None, 7, tmp_path / "ref")
    rt = make_runtime(redis_conn, load_reference(tmp_path / "ref"))
    drain(rt)
    now = time.time()
    today = datetime.fromtimestamp(now, CST).date()
    checked = 0
    for back in (0, 1, 3, 6, 8):
        checked += assert_agree(rt.state, today - timedelta(days=back), today, now)
    checked += assert_agree(rt.state, None, None, now)
    assert checked > 1000  # every level had something to compare


# --- the compact cells against a plain model: random contributions in and out -------------------------

DAYS = [date(2026, 5, 1) + timedelta(days=i) for i in range(4)]
GROUPS = [("district", ""), ("streets", "S1"), ("streets", "S2"), ("grids", "G1"),
          (tallies.cross_level("street_categories", "S1"), "c1"), ("departments", "D1")]


def _parts(width: int, big: bool) -> st.SearchStrategy[Any]:
    value = st.integers(0, 5_000_000_000 if big else 3)  # seconds to close outgrow 32 bits
    return st.one_of(st.none(), st.tuples(st.sampled_from(DAYS), st.lists(st.sampled_from(GROUPS), min_size=1,
                                                                         max_size=4, unique=True).map(tuple),
                                          st.lists(value, min_size=width, max_size=width).map(tuple)))


@st.composite
def _contributions(draw: st.DrawFn) -> Any:
    """A case part, a rating part, and (when the case part has one) a closure on a later day
    built from it, as :func:`tallies.contribution` makes them."""
    case = draw(_parts(len(tallies.CASE_COUNTS), True))
    closure = None
    if case is not None and draw(st.booleans()):
        later = case[0] + timedelta(days=draw(st.integers(1, 2)))
        flags = case[2]
        closure = ((case[0], later), case[1], (flags[tallies.CLOSED_AT], flags[tallies.ON_TIME_AT],
                                                flags[tallies.CLOSE_S_AT]))
    return case, draw(_parts(2, False)), closure, None


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), _contributions()), min_size=1, max_size=25))
def test_compact_cells_sum_like_a_plain_model_and_survive_pickling(steps: list[tuple[int, Any]]) -> None:
    t = tallies.Tallies()
    current: dict[int, Any] = {}  # case -> its contribution now
    for n, (case, new) in enumerate(steps):
        if n == len(steps) // 2:
            t.compact(DAYS[2])  # older days lose their row index: later changes rebuild it
        t.shift(current.get(case, (None, None, None, None)), new)
        current[case] = new
    expected: dict[int, dict[tuple[date, tallies.Group], list[int]]] = {0: {}, 1: {}}
    for contribution in current.values():
        for table in (0, 1):
            part = contribution[table]
            if part is not None:
                for group in part[1]:
                    acc = expected[table].setdefault((part[0], group), [0] * len(part[2]))
                    acc[:] = [a + v for a, v in zip(acc, part[2], strict=True)]
    for copy in (t, pickle.loads(pickle.dumps(t, protocol=5))):
        for start, end, closed_by in ((None, None, None), (DAYS[1], DAYS[2], None), (DAYS[3], DAYS[3], None),
                                      (DAYS[0], DAYS[1], DAYS[1]), (None, None, DAYS[2])):
            got = copy.totals(start, end, closed_by)
            for table in (0, 1):
                want: dict[tallies.Group, list[int]] = {}
                for (day, group), cell in expected[table].items():
                    if (start is None or day >= start) and (end is None or day <= end):
                        acc = want.setdefault(group, [0] * len(cell))
                        acc[:] = [a + v for a, v in zip(acc, cell, strict=True)]
                if table == 0 and closed_by is not None:  # closed after closed_by: not closed as of then
                    for contribution in current.values():
                        closure = contribution[2]
                        if closure is None or closure[0][1] <= closed_by:
                            continue
                        reported = closure[0][0]
                        if (start is not None and reported < start) or (end is not None and reported > end):
                            continue
                        for group in closure[1]:
                            for at, v in zip((tallies.CLOSED_AT, tallies.ON_TIME_AT, tallies.CLOSE_S_AT), closure[2],
                                             strict=True):
                                want[group][at] -= v
                # a row that came back to zero stays (as the dict cells did): compare the non-zero ones
                assert {g: c for g, c in got[table].items() if any(c)} == {g: c for g, c in want.items() if any(c)}
        for group in GROUPS:
            series = copy.series(DAYS[0], DAYS[-1], group)
            assert {d: c for d, c in series.items() if any(c)} == {
                d: c for (d, g), c in expected[0].items() if g == group and any(c)}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.tuples(
    st.sampled_from([(DAYS[0], DAYS[1]), (DAYS[1], DAYS[1])]),
    st.lists(st.sampled_from(GROUPS[:4]), min_size=1, max_size=3, unique=True).map(tuple),
    st.tuples(st.integers(0, 200))))), min_size=1, max_size=25))
def test_compact_histograms_count_like_a_plain_model(steps: list[tuple[int, Any]]) -> None:
    t = tallies.Tallies()
    current: dict[int, Any] = {}
    for case, part in steps:
        t.shift(current.get(case, (None, None, None, None)), (None, None, None, part))
        current[case] = (None, None, None, part)
    want: dict[tallies.Group, dict[int, int]] = {}
    for _, _, _, part in current.values():
        if part is not None:
            for group in part[1]:
                hist = want.setdefault(group, {})
                hist[part[2][0]] = hist.get(part[2][0], 0) + 1
    levels = frozenset(level for level, _ in GROUPS)
    for copy in (t, pickle.loads(pickle.dumps(t, protocol=5))):
        assert copy.close_time_histograms(None, None, None, levels) == want
    if not want:
        assert not t.durations  # nothing left behind once every case is out

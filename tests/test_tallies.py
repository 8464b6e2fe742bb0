"""The KPI engine's day tallies agree with a naive scan of every case, on every level and period."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import redis

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

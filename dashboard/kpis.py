"""KPI engine: the contract's KPI definitions over any period, at every level.

Counts come from the tallies the state keeps per district day (see :mod:`dashboard.tallies`):
a period sums its days' counters, so its cost grows with the number of days and groups, not
with the number of cases. Overdue is counted now, from the open cases' deadline index. Every rate is shown
with its numerator and denominator, and is None when the denominator is 0.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from dashboard.periods import Period, district_day
from dashboard.state import State
from dashboard.tallies import CASE_COUNTS, DISTRICT, DURATION_KINDS, RATING_COUNTS, UNASSIGNED, kind_of, median_of

__all__ = ["COUNTS", "RATES", "UNASSIGNED", "compute", "finish"]

COUNTS = (*CASE_COUNTS, *RATING_COUNTS, "overdue")
"""Counters of one KPI record."""

RATES = {
    "closure_rate": ("closed", "accepted"),
    "on_time_closure_rate": ("on_time_closed", "accepted"),
    "rework_rate": ("returned", "accepted"),
    "satisfaction_rate": ("satisfied", "rated"),
    "on_time_processing_rate": ("on_time_processed", "accepted"),
}
"""Each rate with its (numerator, denominator) counters."""


def finish(counts: list[int], median_close_s: float | None = None) -> dict[str, Any]:
    """Turn raw counters (in ``COUNTS`` order) into a KPI record with rates and times to close
    (hours; the median is read from a histogram, within about 5 %)."""
    out: dict[str, Any] = dict(zip(COUNTS, counts, strict=True))
    for rate, (num, den) in RATES.items():
        out[rate] = out[num] / out[den] if out[den] else None
    out["mean_close_h"] = out["close_s"] / out["closed"] / 3600.0 if out["closed"] else None
    out["median_close_h"] = None if median_close_s is None else median_close_s / 3600.0
    return out


def compute(state: State, period: Period, now: float, levels: tuple[str, ...] = (
        "streets", "communities", "departments")) -> dict[str, Any]:
    """KPIs of ``period`` for the district and each requested level (read under the lock)."""
    n_case, n_rating = len(CASE_COUNTS), len(RATING_COUNTS)
    records: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    wanted = frozenset(("district", *levels))
    with state.lock:
        today = district_day(now, state.config.tz)
        # closure as of the period's end (as of now for a period that includes today)
        closed_by = closed_by_of(period, today)
        cases, ratings = state.tallies.totals(period.start, period.end, closed_by, wanted)
        timed = frozenset(level for level in wanted if kind_of(level) in DURATION_KINDS)
        medians = {group: median_of(hist) for group, hist in state.tallies.close_time_histograms(
            period.start, period.end, closed_by, timed).items()}
        # a binary search per group: no scan of the backlog
        overdue = state.overdue_by_group(now, wanted)
    for group, cell in cases.items():
        records[group][:n_case] = cell
    for group, cell in ratings.items():
        records[group][n_case:n_case + n_rating] = cell
    for group, n in overdue.items():
        records[group][-1] = n
    result: dict[str, Any] = {"period": period.as_dict(),
                              "district": finish(records[DISTRICT], medians.get(DISTRICT))}
    for level in levels:
        result[level] = {key: finish(counts, medians.get((lvl, key)))
                         for (lvl, key), counts in sorted(records.items()) if lvl == level}
    return result


def closed_by_of(period: Period, today: date) -> date | None:
    """The day closure is counted by: the period's end when it has ended, else None (now)."""
    return period.end if period.end is not None and period.end < today else None


def daily(state: State, period: Period, now: float, group: tuple[str, str]) -> list[dict[str, Any]]:
    """One record per day of ``period`` for one group (its daily trend), closure counted as
    for the whole period, so the days add up to the period's figures."""
    if period.start is None or period.end is None:
        raise ValueError("a daily series needs a bounded period")
    with state.lock:
        closed_by = closed_by_of(period, district_day(now, state.config.tz))
        cells = state.tallies.series(period.start, period.end, group, closed_by)
    out = []
    day = period.start
    while day <= period.end:
        counts = cells.get(day, [0] * len(CASE_COUNTS))
        out.append({"day": day.isoformat(), **dict(zip(CASE_COUNTS, counts, strict=True))})
        day += timedelta(days=1)
    return out

"""KPI engine: the contract's KPI definitions over any period, at every level.

Counts come from the tallies the state keeps per district day (see :mod:`dashboard.tallies`):
a period sums its days' counters, so its cost grows with the number of days and groups, not
with the number of cases. Overdue is counted now, from the open cases' deadline index. Every rate is shown
with its numerator and denominator, and is None when the denominator is 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dashboard.periods import Period, district_day
from dashboard.state import State
from dashboard.tallies import CASE_COUNTS, DISTRICT, RATING_COUNTS, UNASSIGNED

__all__ = ["COUNTS", "RATES", "UNASSIGNED", "compute", "finish"]

COUNTS = (*CASE_COUNTS, *RATING_COUNTS, "overdue")
"""Counters of one KPI record."""

RATES = {
    "closure_rate": ("closed", "accepted"),
    "on_time_closure_rate": ("on_time_closed", "accepted"),
    "rework_rate": ("returned", "accepted"),
    "satisfaction_rate": ("satisfied", "rated"),
}
"""Each rate with its (numerator, denominator) counters."""


def finish(counts: list[int]) -> dict[str, Any]:
    """Turn raw counters (in ``COUNTS`` order) into a KPI record with rates."""
    out: dict[str, Any] = dict(zip(COUNTS, counts, strict=True))
    for rate, (num, den) in RATES.items():
        out[rate] = out[num] / out[den] if out[den] else None
    return out


def compute(state: State, period: Period, now: float, levels: tuple[str, ...] = (
        "streets", "communities", "departments")) -> dict[str, Any]:
    """KPIs of ``period`` for the district and each requested level (read under the lock)."""
    n_case, n_rating = len(CASE_COUNTS), len(RATING_COUNTS)
    records: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    with state.lock:
        today = district_day(now, state.config.tz)
        # closure as of the period's end (as of now for a period that includes today)
        closed_by = period.end if period.end is not None and period.end < today else None
        cases, ratings = state.tallies.totals(period.start, period.end, closed_by)
        overdue = state.overdue_by_group(now)  # a binary search per group: no scan of the backlog
    for group, cell in cases.items():
        records[group][:n_case] = cell
    for group, cell in ratings.items():
        records[group][n_case:n_case + n_rating] = cell
    for group, n in overdue.items():
        records[group][-1] = n
    result: dict[str, Any] = {"period": period.as_dict(), "district": finish(records[DISTRICT])}
    for level in levels:
        result[level] = {key: finish(counts) for (lvl, key), counts in sorted(records.items()) if lvl == level}
    return result

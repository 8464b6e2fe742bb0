"""An independent, deliberately naive KPI computation: scan every case, apply the contract's
definitions literally. The engine's day tallies must always agree with it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from dashboard.periods import district_day
from dashboard.state import State

CITIZEN = {"hotline", "wechat", "web"}


def scan(state: State, start: date | None, end: date | None, now: float) -> dict[tuple[str, str], dict[str, int]]:
    """KPI counters per (level, key) by scanning all cases."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    today = district_day(now, state.config.tz)
    # closure as of the period's end (the contract since 2026-11-30), as of now when it includes today
    closed_by = end if end is not None and end < today else None

    def closed_in_time(case: Any) -> bool:
        return case.state == "closed" and (
            closed_by is None or district_day(case.closed_at, state.config.tz) <= closed_by)

    def inside(day: date | None) -> bool:
        return day is not None and (start is None or day >= start) and (end is None or day <= end)

    for case in state.cases.values():
        if case.state == "voided":
            continue
        street, community = case.street_id or "unassigned", case.community_id or "unassigned"
        groups = [("district", ""), ("streets", street), ("communities", community),
                  ("grids", case.grid_id or "unassigned"), ("categories", case.category),
                  (f"street_categories/{street}", case.category),
                  (f"community_categories/{community}", case.category)]
        grid = case.grid_id or "unassigned"
        for d in case.departments:
            groups += [("departments", d), (f"street_departments/{street}", d),
                       (f"community_departments/{community}", d), (f"grid_departments/{grid}", d)]
        counts: dict[str, Any] = {}
        if inside(case.day):
            counts["accepted"] = 1
            counts["self_handled"] = "department" not in case.dispatched_types
            counts["mobile_disposal"] = "mobile_team" in case.dispatched_types
            counts["citizen_reported"] = case.channel in CITIZEN
            counts["closed"] = closed_in_time(case)
            counts["on_time_closed"] = closed_in_time(case) and case.closed_at <= case.deadline
            counts["returned"] = case.returned_count > 0
            counts["close_s"] = round(case.closed_at - case.reported_at) if closed_in_time(case) else 0
            counts["processed"] = case.processed_at is not None
            counts["on_time_processed"] = case.processed_at is not None and case.processed_at <= case.deadline
            counts[f"ch_{case.channel}"] = 1
        if inside(case.rating_day):
            counts["rated"] = 1
            counts["satisfied"] = bool(case.satisfied)
        if case.state not in ("closed", "voided") and now > case.deadline:
            counts["overdue"] = 1
        for group in groups:
            for name, value in counts.items():
                out[group][name] += int(value)
    return out

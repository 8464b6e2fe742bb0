"""KPI engine: the contract's KPI definitions over any period, at every level.

Counts are gathered in one pass over the cases reported in the period (and the ratings
given in it), grouped by district, street, community and department. Every rate is shown
with its numerator and denominator, and is None when the denominator is 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dashboard.cases import CaseState
from dashboard.periods import Period
from dashboard.state import State
from data_feed.contract import CITIZEN_CHANNELS

UNASSIGNED = "unassigned"
"""Group key for cases whose street/community could not be determined."""

COUNTS = ("accepted", "self_handled", "mobile_disposal", "citizen_reported", "closed",
          "on_time_closed", "returned", "rated", "satisfied", "overdue")
"""Counters of one KPI record."""

RATES = {
    "closure_rate": ("closed", "accepted"),
    "on_time_closure_rate": ("on_time_closed", "accepted"),
    "rework_rate": ("returned", "accepted"),
    "satisfaction_rate": ("satisfied", "rated"),
}
"""Each rate with its (numerator, denominator) counters."""


def _new() -> list[int]:
    return [0] * len(COUNTS)


_I = {name: i for i, name in enumerate(COUNTS)}


def finish(counts: list[int]) -> dict[str, Any]:
    """Turn raw counters into a KPI record with rates (None when the denominator is 0)."""
    out: dict[str, Any] = dict(zip(COUNTS, counts, strict=True))
    for rate, (num, den) in RATES.items():
        out[rate] = out[num] / out[den] if out[den] else None
    return out


def compute(state: State, period: Period, now: float, levels: tuple[str, ...] = (
        "streets", "communities", "departments")) -> dict[str, Any]:
    """KPIs of ``period`` for the district and each requested level (read under the lock)."""
    district = _new()
    groups: dict[str, dict[str, list[int]]] = {lvl: defaultdict(_new) for lvl in levels}
    by_street = groups.get("streets")
    by_comm = groups.get("communities")
    by_dept = groups.get("departments")
    a, sh, md, cr, cl, ot, rt = (_I["accepted"], _I["self_handled"], _I["mobile_disposal"],
                                 _I["citizen_reported"], _I["closed"], _I["on_time_closed"],
                                 _I["returned"])
    voided, closed = CaseState.VOIDED, CaseState.CLOSED

    def targets(case: Any) -> list[list[int]]:
        out = [district]
        if by_street is not None:
            out.append(by_street[case.street_id or UNASSIGNED])
        if by_comm is not None:
            out.append(by_comm[case.community_id or UNASSIGNED])
        if by_dept is not None:
            for dept in case.departments:
                out.append(by_dept[dept])
        return out

    with state.lock:
        for case in state.cases_in(period.start, period.end):
            if case.state is voided:
                continue
            flags = [a]
            if "department" not in case.dispatched_types:
                flags.append(sh)
            if "mobile_team" in case.dispatched_types:
                flags.append(md)
            if case.channel in CITIZEN_CHANNELS:
                flags.append(cr)
            if case.state is closed:
                flags.append(cl)
                if case.closed_at is not None and case.closed_at <= case.deadline:
                    flags.append(ot)
            if case.returned_count:
                flags.append(rt)
            for rec in targets(case):
                for f in flags:
                    rec[f] += 1
        ra, sa = _I["rated"], _I["satisfied"]
        for case in state.rated_in(period.start, period.end):
            if case.state is voided:
                continue
            for rec in targets(case):
                rec[ra] += 1
                if case.satisfied:
                    rec[sa] += 1
        od = _I["overdue"]
        for case_id in state.open_cases:
            case = state.cases[case_id]
            if now > case.deadline:
                for rec in targets(case):
                    rec[od] += 1
    result: dict[str, Any] = {"period": period.as_dict(), "district": finish(district)}
    for lvl in levels:
        result[lvl] = {key: finish(c) for key, c in sorted(groups[lvl].items())}
    return result

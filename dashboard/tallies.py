"""KPI tallies kept as events arrive: counters per district day and group.

Every case contributes a row of counters (accepted, self-handled, …) to the day it was
reported, in each of its groups (district, street, community, the departments it was
dispatched to); its latest rating contributes (rated, satisfied) to the day of the rating; and
its closure is also kept under (report day, close day), so that closure can be counted as of
the end of a past period (the contract's rule since 2026-11-30).
When an event changes a case, its old contribution is taken out and the new one put in, so
a KPI query for any period sums a few counters per day instead of scanning cases, and the
cost of an event does not grow with the history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from dashboard.cases import Case, CaseState
from data_feed.contract import CITIZEN_CHANNELS

UNASSIGNED = "unassigned"
"""Group key for cases whose street/community could not be determined."""

CASE_COUNTS = ("accepted", "self_handled", "mobile_disposal", "citizen_reported", "closed",
               "on_time_closed", "returned")
"""Counters a case adds to the day it was reported."""

RATING_COUNTS = ("rated", "satisfied")
"""Counters a rating adds to the day it was given."""

Group = tuple[str, str]
"""(level, key): ("district", ""), ("streets", id), ("communities", id) or ("departments", id)."""

Part = tuple[Any, tuple[Group, ...], tuple[int, ...]]
"""(table key, groups, counters) of one part of a case's contribution."""

Contribution = tuple[Part | None, Part | None, Part | None]
"""What one case adds: (report-day counters, rating-day counters, (report day, close day)
closure counters); None where nothing."""

CLOSED_AT = CASE_COUNTS.index("closed")
ON_TIME_AT = CASE_COUNTS.index("on_time_closed")

DISTRICT: Group = ("district", "")


def groups_of(case: Case) -> tuple[Group, ...]:
    """Every group a case counts in."""
    return (DISTRICT, ("streets", case.street_id or UNASSIGNED),
            ("communities", case.community_id or UNASSIGNED),
            *(("departments", d) for d in sorted(case.departments)))


def contribution(case: Case | None) -> Contribution:
    """The counters a case adds now, by the contract's definitions (voided: nothing)."""
    if case is None or case.state is CaseState.VOIDED or case.day is None:
        return None, None, None
    closed = case.state is CaseState.CLOSED
    flags = (1,
             int("department" not in case.dispatched_types),
             int("mobile_team" in case.dispatched_types),
             int(case.channel in CITIZEN_CHANNELS),
             int(closed),
             int(closed and case.closed_at is not None and case.closed_at <= case.deadline),
             int(case.returned_count > 0))
    groups = case.groups
    if groups is None:
        groups = case.groups = groups_of(case)
    rating = None
    if case.rating_day is not None:
        rating = (case.rating_day, groups, (1, int(bool(case.satisfied))))
    closure = None
    # a closure on the report day itself is inside every period that counts the case: only
    # later closures can fall after a period's end (most cases close the day they are reported)
    if closed and case.closed_day is not None and case.closed_day > case.day:
        closure = ((case.day, case.closed_day), groups, (flags[CLOSED_AT], flags[ON_TIME_AT]))
    return (case.day, groups, flags), rating, closure


class Tallies:
    """Counters per district day and group, for cases (by report day) and ratings (by rating day)."""

    def __init__(self) -> None:
        self.cases: dict[date, dict[Group, list[int]]] = defaultdict(dict)
        self.ratings: dict[date, dict[Group, list[int]]] = defaultdict(dict)
        # (report day, close day) -> closed and on-time closed: "closed as of a past period's end"
        self.closures: dict[tuple[date, date], dict[Group, list[int]]] = defaultdict(dict)

    def shift(self, before: Contribution, after: Contribution) -> None:
        """Replace a case's old contribution by its new one."""
        if before == after:
            return
        for table, old, new in ((self.cases, before[0], after[0]), (self.ratings, before[1], after[1]),
                                (self.closures, before[2], after[2])):
            if old == new:
                continue
            if old is not None and new is not None and old[0] == new[0] and old[1] == new[1]:
                self._add_delta(table, new[0], new[1], old[2], new[2])  # the usual case: a few flags
                continue
            if old is not None:
                self._add(table, old, -1)
            if new is not None:
                self._add(table, new, 1)

    @staticmethod
    def _add(table: dict[Any, dict[Group, list[int]]], part: Part, sign: int) -> None:
        day, groups, values = part
        cells = table[day]
        for group in groups:
            cell = cells.get(group)
            if cell is None:
                cell = cells[group] = [0] * len(values)
            for i, v in enumerate(values):
                if v:
                    cell[i] += sign * v

    @staticmethod
    def _add_delta(table: dict[Any, dict[Group, list[int]]], day: Any, groups: tuple[Group, ...],
                   old: tuple[int, ...], new: tuple[int, ...]) -> None:
        changes = [(i, n - o) for i, (o, n) in enumerate(zip(old, new, strict=True)) if n != o]
        cells = table[day]
        for group in groups:
            cell = cells[group]  # present: the old contribution put it there
            for i, d in changes:
                cell[i] += d

    def prune(self, before: date) -> None:
        """Forget the days reported (or rated) before ``before``: beyond the KPI window."""
        for table in (self.cases, self.ratings):
            for day in [d for d in table if d < before]:
                del table[day]
        for key in [k for k in self.closures if k[0] < before]:
            del self.closures[key]

    def totals(self, start: date | None, end: date | None, closed_by: date | None = None,
               ) -> tuple[dict[Group, list[int]], dict[Group, list[int]]]:
        """Summed case and rating counters per group over district days ``start``..``end``.

        With ``closed_by`` (the last day of a period that has ended), a case counts as closed
        only when it was closed by the end of that day, not as of now: a published month does
        not change when its last cases close in the next one.
        """
        out = []
        for table in (self.cases, self.ratings):
            summed: dict[Group, list[int]] = {}
            for day, cells in table.items():
                if (start is not None and day < start) or (end is not None and day > end):
                    continue
                for group, cell in cells.items():
                    acc = summed.get(group)
                    if acc is None:
                        summed[group] = list(cell)
                    else:
                        for i, v in enumerate(cell):
                            acc[i] += v
            out.append(summed)
        if closed_by is not None:
            cases = out[0]
            for (reported, closed), cells in self.closures.items():
                if closed <= closed_by or (start is not None and reported < start) \
                        or (end is not None and reported > end):
                    continue
                for group, (n, on_time) in cells.items():
                    acc = cases[group]  # present: the case's report day put it there
                    acc[CLOSED_AT] -= n
                    acc[ON_TIME_AT] -= on_time
        return out[0], out[1]

"""Deadline-ordered indexes of the open cases: overdue counts and the alert list without a scan.

* ``overdue``: per KPI group, the open cases sorted by deadline; "overdue at now" per group is
  one binary search, whatever the backlog.
* alerts: open cases past or near their deadline (yellow or red countdown), plus every open
  hazard at once, ordered hazard first then by deadline (most overdue first). Cases wait in a
  list sorted by the time they turn yellow and move to the alert list as readers' clocks pass
  that time, so each case moves once: the cost of a read grows with the page it returns.

Every method runs under the state's lock (the caller's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from sortedcontainers import SortedList

from dashboard.cases import Case

HAZARD = "hazard"

Group = tuple[str, str]
AlertKey = tuple[int, float, str]
"""(0 for a hazard else 1, deadline, case_id): the order of the alert list."""


class _Entry:
    """Where one open case sits in the indexes (to take it out exactly)."""

    __slots__ = ("deadline", "groups", "alert_key", "near_at", "listed_at")

    def __init__(self, deadline: float, groups: tuple[Group, ...], alert_key: AlertKey,
                 near_at: float) -> None:
        self.deadline = deadline
        self.groups = groups
        self.alert_key = alert_key
        self.near_at = near_at
        self.listed_at: float | None = None  # wall time this process put it in the alert list


class DeadlineIndex:
    """Open cases by deadline, per KPI group, and the alert list."""

    def __init__(self, near_fraction: float) -> None:
        self.near_fraction = near_fraction
        self.by_level: dict[str, dict[str, SortedList]] = {}  # level -> key -> (deadline, case_id)
        self.alerting: SortedList = SortedList()  # AlertKey of listed cases
        self.waiting: SortedList = SortedList()  # (near_at, case_id) of cases not yet near
        self.horizon = float("-inf")  # latest clock a reader advanced the alert list to
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def update(self, case: Case, groups: tuple[Group, ...]) -> None:
        """Put ``case`` where it belongs now (out of every index once it is closed)."""
        old = self._entries.get(case.case_id)
        if not case.is_open:
            if old is not None:
                self._remove(case.case_id, old)
            return
        deadline = case.deadline
        rank = 0 if case.priority == HAZARD else 1
        if old is not None and old.deadline == deadline and old.groups == groups and old.alert_key[0] == rank:
            return  # the usual event: nothing that orders the case changed
        if old is not None:
            self._remove(case.case_id, old)
        entry = _Entry(deadline, groups, (rank, deadline, case.case_id), case.near_at(self.near_fraction))
        self._entries[case.case_id] = entry
        key = (deadline, case.case_id)
        for level, name in groups:
            indexes = self.by_level.get(level)
            if indexes is None:
                indexes = self.by_level[level] = {}
            index = indexes.get(name)
            if index is None:
                index = indexes[name] = SortedList()
            index.add(key)
        if rank == 0 or entry.near_at <= self.horizon:
            self.alerting.add(entry.alert_key)
            entry.listed_at = old.listed_at if old is not None and old.listed_at is not None else time.time()
        else:
            self.waiting.add((entry.near_at, case.case_id))

    def _remove(self, case_id: str, entry: _Entry) -> None:
        del self._entries[case_id]
        key = (entry.deadline, case_id)
        for level, name in entry.groups:
            indexes = self.by_level[level]
            index = indexes[name]
            index.remove(key)
            if not index:
                del indexes[name]
                if not indexes:
                    del self.by_level[level]
        if entry.alert_key in self.alerting:
            self.alerting.remove(entry.alert_key)
        else:
            self.waiting.discard((entry.near_at, case_id))

    def overdue(self, now: float, levels: frozenset[str] | None = None) -> dict[Group, int]:
        """Open cases past their deadline at ``now``, per group (groups with none left out), of
        the ``levels`` given (default: all)."""
        out = {}
        probe = (now, "")
        for level in (self.by_level if levels is None else levels):
            for name, index in self.by_level.get(level, {}).items():
                n = index.bisect_left(probe)
                if n:
                    out[(level, name)] = n
        return out

    def advance(self, now: float) -> None:
        """Move cases that are near their deadline at ``now`` into the alert list."""
        if now <= self.horizon:
            return
        self.horizon = now
        waiting = self.waiting
        while waiting and waiting[0][0] <= now:
            _, case_id = waiting.pop(0)
            entry = self._entries[case_id]
            self.alerting.add(entry.alert_key)
            entry.listed_at = time.time()

    def alerts(self, now: float, after: AlertKey | None = None) -> Iterator[AlertKey]:
        """Alert keys in order (after ``after``, for paging), as of ``now``."""
        self.advance(now)
        start = 0 if after is None else self.alerting.bisect_right(after)
        for i in range(start, len(self.alerting)):
            key = self.alerting[i]
            entry = self._entries[key[2]]
            if key[0] == 0 or entry.near_at <= now:  # a reader with an older clock skips new ones
                yield key

    def listed_at(self, case_id: str) -> float | None:
        """Wall time this process put the case in the alert list (for "new" highlighting)."""
        entry = self._entries.get(case_id)
        return entry.listed_at if entry is not None else None

    def alert_count(self, now: float) -> int:
        """How many cases the alert list holds at ``now``."""
        self.advance(now)
        return len(self.alerting)

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

import math
import operator
import sys
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from functools import partial
from typing import Any

from dashboard.cases import Case, CaseState
from data_feed.contract import CITIZEN_CHANNELS

UNASSIGNED = "unassigned"
"""Group key for cases whose street/community could not be determined."""

CHANNELS = ("patrol", "hotline", "wechat", "web", "department")
"""Report channels, each counted (``ch_<channel>``) for the daily trends."""

CASE_COUNTS = ("accepted", "self_handled", "mobile_disposal", "citizen_reported", "closed",
               "on_time_closed", "returned", "close_s", "processed", "on_time_processed",
               *(f"ch_{c}" for c in CHANNELS))
"""Counters a case adds to the day it was reported. ``close_s`` sums the seconds from report to
close of the closed ones (their mean time to close); ``processed`` counts the cases a unit
reported done (``case.processed``), ``on_time_processed`` those whose first such report came
by the deadline (departments' on-time processing)."""

RATING_COUNTS = ("rated", "satisfied")
"""Counters a rating adds to the day it was given."""

Group = tuple[str, str]
"""(level, key): ("district", ""), ("streets", id), ("communities", id), ("grids", id),
("departments", id), ("categories", id), and per area ("street_categories/<street>", category),
("community_categories/<community>", category), ("<street|community|grid>_departments/<area>",
department)."""

KINDS = ("district", "streets", "communities", "grids", "departments", "categories",
         "street_categories", "community_categories", "street_departments",
         "community_departments", "grid_departments")
"""Every kind of level a case counts in (the cross kinds have one level per area)."""

CROSS = "/"
"""Separator of a cross kind and its area in a level name."""

DURATION_KINDS = frozenset({"district", "streets", "communities", "grids", "departments",
                            "street_departments", "community_departments", "grid_departments"})
"""Kinds of levels whose times to close are kept as histograms (for medians)."""

Part = tuple[Any, tuple[Group, ...], tuple[int, ...]]
"""(table key, groups, counters) of one part of a case's contribution."""

Contribution = tuple[Part | None, Part | None, Part | None, Part | None]
"""What one case adds: (report-day counters, rating-day counters, (report day, close day)
closure counters, (report day, close day) time-to-close bucket); None where nothing."""

CLOSED_AT = CASE_COUNTS.index("closed")
ON_TIME_AT = CASE_COUNTS.index("on_time_closed")
CLOSE_S_AT = CASE_COUNTS.index("close_s")

_CHANNEL_FLAGS = {c: tuple(int(c == other) for other in CHANNELS) for c in CHANNELS}
_NO_CHANNEL = (0,) * len(CHANNELS)

BUCKET_BASE = 1.1
"""Width of a time-to-close histogram bucket: each is 10 % wider than the one before, so a
median read from the histogram is within about 5 % of the exact one."""

DISTRICT: Group = ("district", "")


def cross_level(kind: str, area: str) -> str:
    """Level of a cross tally inside one area: ``street_categories/ST05`` holds that street's
    categories (a query for one area sums only its own cells)."""
    return f"{kind}{CROSS}{area}"


def kind_of(level: str) -> str:
    """The kind of a level: ``street_categories`` for ``street_categories/ST05``."""
    return level.split(CROSS, 1)[0]


def groups_of(case: Case) -> tuple[Group, ...]:
    """Every group a case counts in."""
    street, community = case.street_id or UNASSIGNED, case.community_id or UNASSIGNED
    grid = case.grid_id or UNASSIGNED
    departments = sorted(case.departments)  # few cases have any: the cross groups cost little
    return (DISTRICT, ("streets", street), ("communities", community), ("grids", grid),
            *(("departments", d) for d in departments),
            *((cross_level("street_departments", street), d) for d in departments),
            *((cross_level("community_departments", community), d) for d in departments),
            *((cross_level("grid_departments", grid), d) for d in departments),
            ("categories", case.category),
            (cross_level("street_categories", street), case.category),
            (cross_level("community_categories", community), case.category))


def duration_groups(groups: tuple[Group, ...]) -> tuple[Group, ...]:
    """The groups whose times to close are kept: all but the category ones, which
    :func:`groups_of` puts last."""
    if len(groups) >= 3 and groups[-3][0] == "categories" and kind_of(groups[-1][0]) == "community_categories":
        return groups[:-3]
    return tuple(g for g in groups if kind_of(g[0]) in DURATION_KINDS)


def bucket_of(seconds: float) -> int:
    """Histogram bucket of a time to close (bucket 0: up to a minute)."""
    return max(0, int(math.log(max(seconds, 60.0) / 60.0, BUCKET_BASE)))


def bucket_value(bucket: int) -> float:
    """Seconds a bucket stands for: the geometric middle of its bounds."""
    return 60.0 * BUCKET_BASE ** (bucket + 0.5) if bucket else 60.0


def contribution(case: Case | None) -> Contribution:
    """The counters a case adds now, by the contract's definitions (voided: nothing)."""
    if case is None or case.state is CaseState.VOIDED or case.day is None:
        return None, None, None, None
    closed = case.state is CaseState.CLOSED and case.closed_at is not None
    close_s = int(round(case.closed_at - case.reported_at)) if closed and case.closed_at is not None else 0
    processed = case.processed_at
    flags = (1,
             int("department" not in case.dispatched_types),
             int("mobile_team" in case.dispatched_types),
             int(case.channel in CITIZEN_CHANNELS),
             int(closed),
             int(closed and case.closed_at is not None and case.closed_at <= case.deadline),
             int(case.returned_count > 0),
             max(0, close_s),
             int(processed is not None),
             int(processed is not None and processed <= case.deadline),
             *_CHANNEL_FLAGS.get(case.channel, _NO_CHANNEL))
    groups = case.groups
    if groups is None:
        groups = case.groups = groups_of(case)
    rating = None
    if case.rating_day is not None:
        rating = (case.rating_day, groups, (1, int(bool(case.satisfied))))
    closure = duration = None
    # a closure on the report day itself is inside every period that counts the case: only
    # later closures can fall after a period's end (most cases close the day they are reported)
    if closed and case.closed_day is not None and case.closed_day > case.day:
        closure = ((case.day, case.closed_day), groups, (flags[CLOSED_AT], flags[ON_TIME_AT], flags[CLOSE_S_AT]))
    if closed and case.closed_day is not None:
        duration = ((case.day, case.closed_day), duration_groups(groups), (bucket_of(close_s),))
    return (case.day, groups, flags), rating, closure, duration


ZEROS = array("i", bytes(4 * 32))
"""Zero counters to copy a new row from (rows are at most 32 wide)."""

RECENT_DAYS = 2
"""Days (before the newest) whose cells keep a row index: most changes land on them."""

BUCKET_BITS = 16
"""A histogram entry's code is ``key id << BUCKET_BITS | bucket``."""


class Keys:
    """The keys of one level, numbered in order of first appearance (shared by every day's cells
    of the level, so a day stores 4-byte ids instead of a dict of strings)."""

    __slots__ = ("ids", "names")

    def __init__(self, names: list[Any] | None = None) -> None:
        self.names: list[Any] = [] if names is None else names  # str keys, or (level, key) groups
        self.ids: dict[Any, int] = {name: i for i, name in enumerate(self.names)}

    def __reduce__(self) -> tuple[Any, ...]:
        return Keys, (self.names,)

    def id_of(self, key: Any) -> int:
        """The key's id (a new one for a key never seen)."""
        i = self.ids.get(key)
        if i is None:
            key = sys.intern(key) if isinstance(key, str) else tuple(sys.intern(k) for k in key)
            i = self.ids[key] = len(self.names)
            self.names.append(key)
        return i


class Cells:
    """One day's (or one (report day, close day)'s) counters of one level: a row of ``width``
    counters per key, in two arrays (key ids in the order they came, and the rows end to end).
    Counters are 32-bit until one outgrows that (seconds to close summed), then 64-bit. A dict
    from key id to row (``index``) is kept while the day is recent (most changes land there) and
    dropped for older days (:meth:`Tallies.compact`); it is rebuilt when an old day changes."""

    __slots__ = ("keys", "width", "ids", "data", "index")

    def __init__(self, keys: Keys, width: int, ids: array[int] | None = None,
                 data: array[int] | None = None) -> None:
        self.keys = keys
        self.width = width
        self.ids: array[int] = array("I") if ids is None else ids
        self.data: array[int] = array("i") if data is None else data
        self.index: dict[int, int] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return Cells, (self.keys, self.width, self.ids, self.data)  # the index is rebuilt when needed

    def _row(self, key: Any, create: bool) -> int:
        """Index of the key's first counter (-1 when absent and not ``create``)."""
        gid = self.keys.ids.get(key)
        index = self.index
        if index is None:
            if not create:  # a read of an old day: a scan at C speed, no index kept for it
                return -1 if gid is None or gid not in self.ids else self.ids.index(gid) * self.width
            index = self.index = {gid: j for j, gid in enumerate(self.ids)}
        j = -1 if gid is None else index.get(gid, -1)
        if j >= 0:
            return j * self.width
        if not create:
            return -1
        if gid is None:
            gid = self.keys.id_of(key)
        j = index[gid] = len(self.ids)
        self.ids.append(gid)
        w = self.width
        self.data.extend(ZEROS[:w] if self.data.typecode == "i" else array("q", bytes(8 * w)))
        return j * w

    def add(self, key: Any, changes: Iterable[tuple[int, int]]) -> None:
        """Add ``(counter index, amount)`` changes to the key's row (made when new)."""
        base = self._row(key, True)
        data = self.data
        for i, d in changes:
            try:
                data[base + i] += d
            except OverflowError:
                self.data = data = array("q", data)
                data[base + i] += d

    def get(self, key: Any) -> list[int] | None:
        """A copy of the key's counters (None when the key has none here)."""
        base = self._row(key, False)
        return None if base < 0 else self.data[base:base + self.width].tolist()

    def __contains__(self, key: object) -> bool:
        return self._row(key, False) >= 0

    def __len__(self) -> int:
        return len(self.ids)

    def items(self) -> Iterator[tuple[Any, list[int]]]:
        """(key, counters) of every row, in the order the keys came."""
        names, w, flat = self.keys.names, self.width, self.data.tolist()
        for j, gid in enumerate(self.ids):
            yield names[gid], flat[j * w:(j + 1) * w]


class Hist:
    """Time-to-close histograms of one level for one (report day, close day): a sorted array of
    ``key id << 16 | bucket`` codes and one of their counts (no zero counts kept)."""

    __slots__ = ("keys", "codes", "counts")

    def __init__(self, keys: Keys, codes: array[int] | None = None, counts: array[int] | None = None) -> None:
        self.keys = keys
        self.codes: array[int] = array("Q") if codes is None else codes
        self.counts: array[int] = array("i") if counts is None else counts

    def __reduce__(self) -> tuple[Any, ...]:
        return Hist, (self.keys, self.codes, self.counts)

    def add(self, key: str, bucket: int, sign: int) -> None:
        """Count one case in (``sign`` 1) or out (-1) of the key's bucket."""
        code = self.keys.id_of(key) << BUCKET_BITS | bucket
        codes = self.codes
        j = bisect_left(codes, code)
        if j < len(codes) and codes[j] == code:
            n = self.counts[j] + sign
            if n:
                self.counts[j] = n
            else:
                del codes[j]
                del self.counts[j]
        else:
            codes.insert(j, code)
            self.counts.insert(j, sign)

    def __len__(self) -> int:
        return len(self.codes)

    def items(self) -> Iterator[tuple[str, dict[int, int]]]:
        """(key, {bucket: cases}) of every key."""
        names, mask = self.keys.names, (1 << BUCKET_BITS) - 1
        hist: dict[int, int] = {}
        gid = -1
        for code, n in zip(self.codes, self.counts, strict=True):
            if code >> BUCKET_BITS != gid:
                if hist:
                    yield names[gid], hist
                gid, hist = code >> BUCKET_BITS, {}
            hist[code & mask] = n
        if hist:
            yield names[gid], hist


Levels = dict[str, Cells]
"""level -> its cells (one day's, or one (report day, close day)'s)."""


class Tallies:
    """Counters per district day, level and key, for cases (by report day) and ratings (by
    rating day). Cells are nested by level so that a query reads only the levels it asks for;
    each level's cells are compact arrays (:class:`Cells`), so a year's tallies stay small."""

    def __init__(self) -> None:
        self.keys: dict[str, Keys] = {}  # level -> its keys, shared by every table and day
        self.cases: dict[date, Levels] = defaultdict(dict)
        self.ratings: dict[date, Levels] = defaultdict(dict)
        # (report day, close day) -> closed, on-time closed, seconds to close: "closed as of a
        # past period's end"; one set of cells per pair for all levels (a pair has few cases in
        # many sparse levels: cells per level would cost more in objects than in counters)
        self.groups = Keys()  # the (level, key) groups of the closures
        self.closures: dict[tuple[date, date], Cells] = {}
        # (report day, close day) -> level -> key -> {time-to-close bucket: cases}: medians
        self.durations: dict[tuple[date, date], dict[str, Hist]] = defaultdict(dict)

    def _keys(self, level: str) -> Keys:
        keys = self.keys.get(level)
        if keys is None:
            keys = self.keys[sys.intern(level)] = Keys()
        return keys

    def shift(self, before: Contribution, after: Contribution) -> None:
        """Replace a case's old contribution by its new one."""
        if before == after:
            return
        if before[3] != after[3]:
            self._move_duration(before[3], after[3])
        for table, old, new in ((self.cases, before[0], after[0]), (self.ratings, before[1], after[1]),
                                (None, before[2], after[2])):
            if old == new:
                continue
            add = self._add_closures if table is None else partial(self._add, table)
            if old is not None and new is not None and old[0] == new[0] and old[1] == new[1]:
                # the usual case: a few flags
                changes = [(i, n - o) for i, (o, n) in enumerate(zip(old[2], new[2], strict=True)) if n != o]
                add(new[0], new[1], len(new[2]), changes)
                continue
            if old is not None:
                add(old[0], old[1], len(old[2]), [(i, -v) for i, v in enumerate(old[2]) if v])
            if new is not None:
                add(new[0], new[1], len(new[2]), [(i, v) for i, v in enumerate(new[2]) if v])

    def _add_closures(self, days: Any, groups: tuple[Group, ...], width: int,
                      changes: list[tuple[int, int]]) -> None:
        cells = self.closures.get(days)
        if cells is None:
            cells = self.closures[days] = Cells(self.groups, width)
        for group in groups:
            cells.add(group, changes)

    def _move_duration(self, old: Part | None, new: Part | None) -> None:
        for part, sign in ((old, -1), (new, 1)):
            if part is None:
                continue
            key, groups, (bucket,) = part
            levels = self.durations[key]
            for level, name in groups:
                hist = levels.get(level)
                if hist is None:
                    hist = levels[sys.intern(level)] = Hist(self._keys(level))
                hist.add(name, bucket, sign)
                if not hist:
                    del levels[level]
            if not levels:
                del self.durations[key]

    def _add(self, table: dict[Any, Levels], day: Any, groups: tuple[Group, ...], width: int,
             changes: list[tuple[int, int]]) -> None:
        """Add ``changes`` to the row of each group on ``day`` (rows are made when new, and stay
        when they come back to zero, as the dict cells did)."""
        levels = table[day]
        for level, key in groups:
            cells = levels.get(level)
            if cells is None:
                cells = levels[sys.intern(level)] = Cells(self._keys(level), width)
            # Cells.add, inlined: this runs for every group of every case event
            index, gid = cells.index, cells.keys.ids.get(key)
            j = -1 if index is None or gid is None else index.get(gid, -1)
            base = j * width if j >= 0 else cells._row(key, True)
            data = cells.data
            for i, d in changes:
                try:
                    data[base + i] += d
                except OverflowError:
                    cells.data = data = array("q", data)
                    data[base + i] += d

    def prune(self, before: date) -> None:
        """Forget the days reported (or rated) before ``before``: beyond the KPI window; drop the
        row indexes of days that are no longer recent (:meth:`compact`)."""
        for table in (self.cases, self.ratings):
            for day in [d for d in table if d < before]:
                del table[day]
        for closing in (self.closures, self.durations):
            for key in [k for k in closing if k[0] < before]:
                del closing[key]
        if self.cases:
            self.compact(max(self.cases) - timedelta(days=RECENT_DAYS))

    def compact(self, before: date) -> None:
        """Drop the row indexes of the cells of days before ``before`` (rebuilt if one changes)."""
        for table in (self.cases, self.ratings):
            for day, levels in table.items():
                if day < before:
                    for cells in levels.values():
                        cells.index = None
        for days, cells in self.closures.items():
            if days[0] < before:
                cells.index = None

    def totals(self, start: date | None, end: date | None, closed_by: date | None = None,
               levels: frozenset[str] | None = None,
               ) -> tuple[dict[Group, list[int]], dict[Group, list[int]]]:
        """Summed case and rating counters per group over district days ``start``..``end``
        (of the groups in ``levels`` only, when given).

        With ``closed_by`` (the last day of a period that has ended), a case counts as closed
        only when it was closed by the end of that day, not as of now: a published month does
        not change when its last cases close in the next one.
        """
        out = []
        for table in (self.cases, self.ratings):
            summed: dict[Group, list[int]] = {}
            for day, day_levels in table.items():
                if (start is not None and day < start) or (end is not None and day > end):
                    continue
                for level in (day_levels if levels is None else levels):
                    cells = day_levels.get(level)
                    if cells is None:
                        continue
                    for key, cell in cells.items():
                        group = (level, key)
                        acc = summed.get(group)
                        if acc is None:
                            summed[group] = list(cell)
                        else:
                            acc[:] = map(operator.add, acc, cell)
            out.append(summed)
        if closed_by is not None:
            self._unclose(out[0], start, end, closed_by, levels)
        return out[0], out[1]

    def _unclose(self, cases: dict[Any, list[int]], start: date | None, end: date | None,
                 closed_by: date, levels: frozenset[str] | None, by_day: bool = False) -> None:
        """Take out the closures after ``closed_by`` of cases reported in ``start``..``end``
        (``cases`` keyed by group, or by (day, group) with ``by_day``)."""
        for (reported, closed), cells in self.closures.items():
            if closed <= closed_by or (start is not None and reported < start) \
                    or (end is not None and reported > end):
                continue
            for group, (n, on_time, secs) in cells.items():
                if levels is not None and group[0] not in levels:
                    continue
                acc = cases.get((reported, group) if by_day else group)
                if acc is None:
                    continue  # a group the caller did not ask for
                acc[CLOSED_AT] -= n
                acc[ON_TIME_AT] -= on_time
                acc[CLOSE_S_AT] -= secs

    def series(self, start: date, end: date, group: Group, closed_by: date | None = None,
               ) -> dict[date, list[int]]:
        """Case counters of one group for each day ``start``..``end`` that has any."""
        level, key = group
        out: dict[tuple[date, Group], list[int]] = {}
        day = start
        while day <= end:
            cells = self.cases.get(day, {}).get(level)
            cell = None if cells is None else cells.get(key)
            if cell is not None:
                out[(day, group)] = cell
            day += timedelta(days=1)
        if closed_by is not None:
            self._unclose(out, start, end, closed_by, frozenset({level}), by_day=True)
        return {day: cell for (day, _), cell in out.items()}

    def close_time_histograms(self, start: date | None, end: date | None, closed_by: date | None,
                              levels: frozenset[str]) -> dict[Group, dict[int, int]]:
        """Time-to-close histograms per group of the cases reported in the period and closed
        (by ``closed_by`` when given, else by now)."""
        out: dict[Group, dict[int, int]] = {}
        for (reported, closed), day_levels in self.durations.items():
            if (start is not None and reported < start) or (end is not None and reported > end) \
                    or (closed_by is not None and closed > closed_by):
                continue
            for level in levels:
                for key, hist in day_levels.get(level, {}).items():
                    acc = out.setdefault((level, key), {})
                    for bucket, n in hist.items():
                        acc[bucket] = acc.get(bucket, 0) + n
        return out

    def covers(self, start: date) -> bool:
        """True when the tallies reach back to ``start``: a comparison period that begins
        before the history does would compare a full period with a partial one."""
        return bool(self.cases) and min(self.cases) <= start

    def knows(self, group: Group) -> bool:
        """True when some day's tallies hold ``group`` (a case named that area)."""
        level, key = group
        return any(key in levels.get(level, ()) for levels in self.cases.values())


def median_of(hist: dict[int, int]) -> float | None:
    """Median seconds of a time-to-close histogram (None when empty)."""
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen * 2 >= total:
            return bucket_value(bucket)
    return None  # unreachable: the loop reaches the total

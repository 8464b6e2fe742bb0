"""Patrol compliance (三定: 定点、定人、定责): who answers for each checkpoint, and whether it was
inspected in both of each day's rounds.

* Responsible warden of a checkpoint: its own ``warden_id``, else its grid's warden (reference).
* Responsible unit: its ``department_id``, else its category's department (reference), else its
  street.
* Rounds due: two a day (morning, afternoon: ``GRID_ROUND_SPLIT``). Today counts only the rounds
  that have ended or are in progress (one in the morning, two from the split on). A period is
  counted from the first round with any patrol data the process holds (its day's morning is not
  due when nobody was recorded in it: the history starts that afternoon), up to today.
* Rounds done: read from the registry's per-day coverage bits (0, 1 or 2 per checkpoint and day).
* Rounds missed: rounds due that have ended and were not done (the round in progress is not
  missed yet); a warden "missed rounds" when any checkpoint of theirs has one.

:func:`patrol_report` reads the state once under its lock and computes outside it (numpy over
days x checkpoints). The ``*_rows`` functions give each table as flat dicts with stable keys
(the page, the API and the exports read the same rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from dashboard.periods import Period, Round, district_day
from dashboard.reference import Reference
from dashboard.registry import ROUND_BITS, Checkpoint
from dashboard.runtime import Runtime
from dashboard.scope import Scope

ROUNDS_PER_DAY = 2
"""Rounds due per checkpoint and full day."""

LEVELS = ("checkpoints", "wardens", "grids", "communities", "streets", "days")
"""The tables of the compliance section (``patrol_rows(..., level)``)."""

STATS = ("rounds_done", "days_0", "days_1", "days_2", "rounds_missed", "missed_last_round")
"""Rows of :attr:`PatrolReport.stats`: per checkpoint, summed per group."""

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class CheckpointFacts:
    """What the compliance tables need of one checkpoint (a copy made under the lock)."""

    checkpoint_id: str
    index: int
    name: str | None
    category: str
    street_id: str | None
    community_id: str | None
    grid_id: str | None
    warden_id: str | None
    unit_id: str | None
    unit_type: str  # "department" or "street"
    last_inspected_at: float | None


@dataclass(frozen=True)
class PatrolReport:
    """Rounds done per checkpoint and day over a scope's period, with the last round's misses."""

    scope: Scope
    today: date
    days: tuple[date, ...]
    due_per_day: tuple[int, ...]
    checkpoints: tuple[CheckpointFacts, ...]
    counts: Any  # numpy uint8 [day, checkpoint]: rounds done (capped at that day's rounds due)
    last_round: Round
    missed_last: Any  # numpy bool [checkpoint]: not inspected in the last completed round
    rounds_missed: Any  # numpy int [checkpoint]: rounds due that have ended and were not done
    stats: Any  # numpy int [STATS, checkpoint]: per checkpoint over the period (group sums are one op)
    generated_at: float

    @property
    def rounds_due(self) -> int:
        """Rounds due per checkpoint over the period."""
        return sum(self.due_per_day)


def responsible_warden(cp: Checkpoint, reference: Reference) -> str | None:
    """The checkpoint's warden, else its grid's warden (定人)."""
    if cp.warden_id:
        return cp.warden_id
    grid = reference.grids.get(cp.grid_id) if cp.grid_id else None
    return grid.warden_id if grid is not None else None


def responsible_unit(cp: Checkpoint, reference: Reference) -> tuple[str | None, str]:
    """(unit id, "department" or "street"): the checkpoint's department, else its category's,
    else its street (定责)."""
    if cp.department_id:
        return cp.department_id, "department"
    category = reference.categories.get(cp.category)
    if category is not None and category.department_id:
        return category.department_id, "department"
    return cp.street_id, "street"


def last_completed_round(runtime: Runtime, now: float) -> Round:
    """The round that ended last before ``now``."""
    current = runtime.state.rounds.round_at(now)
    return runtime.state.rounds.round_at(current.start - 1)


def _in_scope(cp: Checkpoint, scope: Scope) -> bool:
    return (cp.registered and (scope.street is None or cp.street_id == scope.street)
            and (scope.community is None or cp.community_id == scope.community)
            and (scope.grid is None or cp.grid_id == scope.grid))


def _days(period: Period, first: date | None, today: date) -> list[date]:
    if first is None:
        return []
    start = max(period.start or first, first)
    end = min(period.end or today, today)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)] if start <= end else []


def patrol_report(runtime: Runtime, scope: Scope, now: float | None = None) -> PatrolReport:
    """Rounds done per checkpoint and day in the scope's area and period (one read under the lock)."""
    now = runtime.now() if now is None else now
    state, reference, tz = runtime.state, runtime.reference, runtime.config.tz
    today = district_day(now, tz)
    last = last_completed_round(runtime, now)
    with state.lock:
        registry = state.registry
        facts = []
        for cp in registry.checkpoints.values():
            if not _in_scope(cp, scope):
                continue
            unit_id, unit_type = responsible_unit(cp, reference)
            facts.append(CheckpointFacts(cp.checkpoint_id, cp.index, cp.name, cp.category, cp.street_id,
                                         cp.community_id, cp.grid_id, responsible_warden(cp, reference),
                                         unit_id, unit_type, cp.last_inspected_at))
        first = min(registry.coverage, default=None)
        days = _days(scope.period, first, today)
        bits = {d: bytes(registry.coverage[d]) for d in days if d in registry.coverage}
        last_bits = bytes(registry.coverage.get(last.day, b""))
        # the data may start in the afternoon: a morning nobody was recorded in is not due
        skip_morning = first is not None and not (np.frombuffer(bytes(registry.coverage[first]), dtype=np.uint8)
                                                  & ROUND_BITS["am"]).any()
    facts.sort(key=lambda f: f.checkpoint_id)
    index = np.array([f.index for f in facts], dtype=np.int64)
    width = int(index.max()) + 1 if len(index) else 0
    in_progress = state.rounds.round_at(now)
    due = tuple((ROUNDS_PER_DAY if d != today else (1 if in_progress.name == "am" else 2))
                - (1 if skip_morning and d == first else 0) for d in days)
    counts = np.zeros((len(days), len(facts)), dtype=np.uint8)
    rounds_missed = np.zeros(len(facts), dtype=np.int64)
    for row, (day, day_due) in enumerate(zip(days, due, strict=True)):
        marks = _padded(bits.get(day, b""), width)[index]
        counts[row] = np.minimum(_POPCOUNT[marks], day_due)
        if day != today:
            rounds_missed += day_due - counts[row]
        elif in_progress.name == "pm" and not (skip_morning and day == first):
            rounds_missed += (marks & ROUND_BITS["am"]) == 0  # today's ended round: the morning
    bit = ROUND_BITS[last.name]
    missed = (_padded(last_bits, width)[index] & bit) == 0
    stats = np.vstack([counts.sum(axis=0, dtype=np.int64), (counts == 0).sum(axis=0), (counts == 1).sum(axis=0),
                       (counts == 2).sum(axis=0), rounds_missed, missed]).astype(np.int64)
    return PatrolReport(scope, today, tuple(days), due, tuple(facts), counts, last, missed, rounds_missed,
                        stats, now)


def _padded(raw: bytes, width: int) -> Any:
    """A day's coverage bytes as a uint8 array at least ``width`` long (new checkpoints, or a
    day without data: 0)."""
    arr = np.frombuffer(raw, dtype=np.uint8)
    if len(arr) >= width:
        return arr
    out = np.zeros(width, dtype=np.uint8)
    out[:len(arr)] = arr
    return out


# ---------------------------------------------------------------------- rows
def _rate(done: int, due: int) -> float | None:
    return round(done / due, 4) if due else None


def _area_name(reference: Reference, level: str, key: str | None, lang: str) -> str:
    if not key:
        return ""
    area = getattr(reference, level).get(key)
    return area.name(lang) if area is not None else key


def unit_name(reference: Reference, unit_id: str | None, unit_type: str, lang: str) -> str:
    """A responsible unit's display name (a street answers as its street office)."""
    if not unit_id:
        return ""
    unit = reference.units.get(unit_id)
    if unit is not None:
        return unit.name(lang)
    if unit_type == "street":
        return _area_name(reference, "streets", unit_id, lang)
    return unit_id


def _iso(ts: float | None, runtime: Runtime) -> str | None:
    return datetime.fromtimestamp(ts, runtime.config.tz).isoformat(timespec="seconds") if ts is not None else None


def _tallies(report: PatrolReport, members: Any) -> dict[str, Any]:
    """Rounds done and due, rounds missed, checkpoint-days with 0, 1, 2 rounds and last-round misses of
    the checkpoints ``members`` (indexes)."""
    sums = dict(zip(STATS, report.stats[:, members].sum(axis=1).tolist(), strict=True))
    n = len(members)
    due = report.rounds_due * n
    return {"checkpoints": n, "rounds_done": sums["rounds_done"], "rounds_due": due,
            "rate": _rate(sums["rounds_done"], due), "rounds_missed": sums["rounds_missed"],
            "days_0": sums["days_0"], "days_1": sums["days_1"], "days_2": sums["days_2"],
            "missed_last_round": sums["missed_last_round"]}


def _groups(keys: Iterable[str | None]) -> dict[str | None, list[int]]:
    out: dict[str | None, list[int]] = {}
    for n, key in enumerate(keys):
        out.setdefault(key, []).append(n)
    return out


def _checkpoint_row(runtime: Runtime, report: PatrolReport, n: int, lang: str) -> dict[str, Any]:
    ref = runtime.reference
    f = report.checkpoints[n]
    done, d0, d1, d2, rounds_missed, missed_last = report.stats[:, n].tolist()
    due = report.rounds_due
    category = ref.categories.get(f.category)
    return {
        "checkpoint_id": f.checkpoint_id, "name": f.name or "",
        "category_id": f.category, "category": category.name(lang) if category else f.category,
        "street_id": f.street_id, "street": _area_name(ref, "streets", f.street_id, lang),
        "community_id": f.community_id, "community": _area_name(ref, "communities", f.community_id, lang),
        "grid_id": f.grid_id, "grid": _area_name(ref, "grids", f.grid_id, lang),
        "warden_id": f.warden_id, "unit_id": f.unit_id, "unit": unit_name(ref, f.unit_id, f.unit_type, lang),
        "rounds_done": done, "rounds_due": due, "rate": _rate(done, due),
        "rounds_missed": rounds_missed, "days_0": d0, "days_1": d1, "days_2": d2,
        "missed_last_round": bool(missed_last), "last_inspected_at": _iso(f.last_inspected_at, runtime)}


def checkpoint_rows(runtime: Runtime, report: PatrolReport, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per checkpoint: its responsible warden and unit, rounds done, days with 0/1/2 rounds."""
    return [_checkpoint_row(runtime, report, n, lang) for n in range(len(report.checkpoints))]


def _common(values: Iterable[str | None]) -> str | None:
    found = Counter(v for v in values if v)
    return found.most_common(1)[0][0] if found else None


def warden_rows(runtime: Runtime, report: PatrolReport, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per responsible warden, those who missed most rounds first, then the lowest share
    done (checkpoints without a warden are grouped under ``warden_id`` None)."""
    ref = runtime.reference
    rows = []
    for warden, members in sorted(_groups(f.warden_id for f in report.checkpoints).items(),
                                  key=lambda kv: kv[0] or "~"):
        facts = [report.checkpoints[n] for n in members]
        street = _common(f.street_id for f in facts)
        rows.append({"warden_id": warden, "street_id": street,
                     "street": _area_name(ref, "streets", street, lang),
                     "grids": ",".join(sorted({f.grid_id for f in facts if f.grid_id})),
                     **_tallies(report, members)})
    rows.sort(key=lambda r: (-r["rounds_missed"], 2.0 if r["rate"] is None else r["rate"], r["warden_id"] or "~"))
    return rows


def area_rows(runtime: Runtime, report: PatrolReport, level: str, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per grid, community or street (``level`` plural) of the checkpoints in scope."""
    ref = runtime.reference
    attr = {"grids": "grid_id", "communities": "community_id", "streets": "street_id"}[level]
    rows = []
    for key, members in sorted(_groups(getattr(f, attr) for f in report.checkpoints).items(),
                               key=lambda kv: kv[0] or "~"):
        first = report.checkpoints[members[0]]
        row: dict[str, Any] = {attr: key, level[:-1] if level != "communities" else "community":
                               _area_name(ref, level, key, lang)}
        if level in ("grids", "communities"):
            if level == "grids":
                row.update(community_id=first.community_id,
                           community=_area_name(ref, "communities", first.community_id, lang))
                grid = ref.grids.get(key) if key else None
                row["warden_id"] = (grid.warden_id if grid is not None else None) or _common(
                    report.checkpoints[n].warden_id for n in members)
            row.update(street_id=first.street_id, street=_area_name(ref, "streets", first.street_id, lang))
        rows.append({**row, **_tallies(report, members)})
    return rows


def day_rows(report: PatrolReport) -> list[dict[str, Any]]:
    """One row per district day: rounds done of the scope's checkpoints, and how many had 0/1/2."""
    n = len(report.checkpoints)
    rows = []
    for row, (day, due) in enumerate(zip(report.days, report.due_per_day, strict=True)):
        counts = report.counts[row]
        done = int(counts.sum())
        rows.append({"day": day.isoformat(), "checkpoints": n, "rounds_done": done, "rounds_due": due * n,
                     "rate": _rate(done, due * n), "checkpoints_0": int((counts == 0).sum()),
                     "checkpoints_1": int((counts == 1).sum()), "checkpoints_2": int((counts == 2).sum())})
    return rows


def missed_rows(runtime: Runtime, report: PatrolReport, lang: str = "zh") -> list[dict[str, Any]]:
    """Checkpoints not inspected in the last completed round, with their warden and unit."""
    keep = ("checkpoint_id", "name", "category_id", "category", "street_id", "street", "community_id",
            "community", "grid_id", "grid", "warden_id", "unit_id", "unit", "last_inspected_at")
    rows = (_checkpoint_row(runtime, report, int(n), lang) for n in np.flatnonzero(report.missed_last))
    return [{k: row[k] for k in keep} for row in rows]


def patrol_rows(runtime: Runtime, scope: Scope, level: str, lang: str = "zh",
                now: float | None = None) -> list[dict[str, Any]]:
    """The rows of one compliance table of a scope (for exports): a level of :data:`LEVELS` or
    ``"missed"``; flat dicts with stable keys, the same rows the page and the API show."""
    return report_rows(runtime, patrol_report(runtime, scope, now), level, lang)


def report_rows(runtime: Runtime, report: PatrolReport, level: str, lang: str = "zh") -> list[dict[str, Any]]:
    """The rows of one compliance table of a computed report: a level of :data:`LEVELS` or ``"missed"``."""
    if level == "checkpoints":
        return checkpoint_rows(runtime, report, lang)
    if level == "wardens":
        return warden_rows(runtime, report, lang)
    if level in ("grids", "communities", "streets"):
        return area_rows(runtime, report, level, lang)
    if level == "days":
        return day_rows(report)
    if level == "missed":
        return missed_rows(runtime, report, lang)
    raise ValueError(f"level={level!r} is not one of {', '.join(LEVELS)} or missed")


def summary(report: PatrolReport) -> dict[str, Any]:
    """The scope's totals: rounds done of due, checkpoint-days with 0/1/2 rounds, last-round misses."""
    all_members = np.arange(len(report.checkpoints))
    totals = _tallies(report, all_members)
    wardens = _groups(f.warden_id for f in report.checkpoints)
    short = sum(1 for w, members in wardens.items() if w and int(report.rounds_missed[members].sum()))
    return {**totals, "days": len(report.days),
            "from": report.days[0].isoformat() if report.days else None,
            "to": report.days[-1].isoformat() if report.days else None,
            "today_rounds_due": report.due_per_day[-1] if report.days and report.days[-1] == report.today else None,
            "wardens": sum(1 for w in wardens if w), "wardens_short": short,
            "last_round": {"day": report.last_round.day.isoformat(), "round": report.last_round.name,
                           "missed": totals["missed_last_round"]}}


def report_json(runtime: Runtime, report: PatrolReport, lang: str = "zh") -> dict[str, Any]:
    """The API's answer: the summary, each aggregate table and the last round's misses."""
    return {"scope": report.scope.as_dict(), "rounds_per_day": ROUNDS_PER_DAY, "summary": summary(report),
            "daily": day_rows(report),
            "wardens": warden_rows(runtime, report, lang),
            "grids": area_rows(runtime, report, "grids", lang),
            "communities": area_rows(runtime, report, "communities", lang),
            "streets": area_rows(runtime, report, "streets", lang),
            "checkpoints": checkpoint_rows(runtime, report, lang),
            "missed_last_round": missed_rows(runtime, report, lang)}


# ---------------------------------------------------------------------- tracks
def known_warden(runtime: Runtime, warden_id: str) -> bool:
    """A warden with a position, a track, a checkpoint or a grid."""
    state = runtime.state
    if any(g.warden_id == warden_id for g in runtime.reference.grids.values()):
        return True
    with state.lock:
        registry = state.registry
        if warden_id in registry.wardens or any(warden_id in by for by in registry.tracks.tracks.values()):
            return True
        checkpoints = list(registry.checkpoints.values())
    return any(cp.warden_id == warden_id for cp in checkpoints)


def track(runtime: Runtime, warden_id: str, day: date) -> dict[str, Any]:
    """A warden's kept track of a district day: ``points`` as [epoch seconds, lat, lon]."""
    state = runtime.state
    with state.lock:
        tracks = state.registry.tracks
        points = tracks.track(warden_id, day)
        kept = [d.isoformat() for d in tracks.kept_days()]
        interval = tracks.interval_s
    return {"warden_id": warden_id, "day": day.isoformat(), "interval_s": interval, "kept_days": kept,
            "points": [[ts, lat, lon] for ts, lat, lon in points],
            "times": [_iso(ts, runtime) for ts, _lat, _lon in points]}


def track_days(runtime: Runtime) -> list[date]:
    """District days whose tracks are kept, newest first."""
    with runtime.state.lock:
        return runtime.state.registry.tracks.kept_days()


def warden_checkpoints(runtime: Runtime, warden_id: str, day: date) -> list[dict[str, Any]]:
    """The checkpoints a warden answers for, with their position and rounds done on ``day``."""
    state, reference = runtime.state, runtime.reference
    with state.lock:
        registry = state.registry
        return [{"checkpoint_id": cp.checkpoint_id, "lat": cp.lat, "lon": cp.lon, "grid_id": cp.grid_id,
                 "rounds_done": registry.rounds_done(day, cp.checkpoint_id)}
                for cp in registry.checkpoints.values()
                if cp.registered and cp.lat is not None and cp.lon is not None
                and responsible_warden(cp, reference) == warden_id]

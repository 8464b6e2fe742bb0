"""The case lifecycle: one handler per case event type, applied all-or-nothing.

Before a handler runs, the case's fields are saved; a handler that raises (a rejection, or a
bug) gets every field put back, so nothing is half-applied. :meth:`CaseBook.commit` then moves
every index with the case: the KPI tallies, the open set, the checkpoints' open cases and the
deadline indexes.

Memory is bounded by construction: a case closed (or voided) longer than the retention ago is
retired: its KPI counters stay in the day tallies, its record goes, and only its id is kept
(until it leaves the history window) so that a repeated report is still recognised. Events
for a retired case are rejected with a reason saying so.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import logging
import operator
import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.cases import Case, CaseState, Step, step_of
from dashboard.deadlines import DeadlineIndex
from dashboard.ingestion import Finding
from dashboard.periods import district_day
from dashboard.reference import Reference
from dashboard.registry import Registry
from dashboard.retired import RetiredIds
from dashboard.tallies import Contribution, Tallies, contribution, groups_of
from data_feed.contract import Event, EventType
from data_feed.errors import MalformedEvent

log = logging.getLogger(__name__)

UNKNOWN_CATEGORY_IDS = 100
"""Distinct unknown category ids remembered for /healthz (the rest are only counted)."""


def phone_digest(salt: bytes, phone: str) -> str:
    """Salted digest of a phone number: lets a citizen query check a pair without keeping it.

    Spaces and dashes do not count ("139 1234-5678" is 13912345678)."""
    return hmac.new(salt, re.sub(r"[\s-]", "", phone).encode(), hashlib.sha256).hexdigest()


class CaseBook:
    """Every case still in memory, with the indexes derived from them."""

    def __init__(self, reference: Reference, registry: Registry, tz: ZoneInfo,
                 default_limit_s: dict[str, float], near_fraction: float, retention_s: float,
                 salt: bytes) -> None:
        self.reference = reference
        self.registry = registry
        self.tz = tz
        self.default_limit_s = default_limit_s
        self.retention_s = retention_s
        self.salt = salt
        self.cases: dict[str, Case] = {}
        self.open_cases: set[str] = set()
        self.retired = RetiredIds()
        self.by_code: dict[str, str] = {}  # citizen query code -> case id (leaves with its case)
        self.tallies = Tallies()
        self.deadlines = DeadlineIndex(near_fraction)
        self.version = 0  # bumped whenever a case changes: KPI caches key on it
        self.unknown_categories: set[str] = set()
        self.unknown_category_events = 0
        self._days: dict[date, date] = {}
        self._closing: list[tuple[float, str]] = []  # heap of (closed at, case_id)
        # cases changed in the batch being applied: their deadline entries move once, at its end
        # (a case reported and closed within one batch never enters the indexes)
        self._dirty: dict[str, Case] = {}
        self._handlers = self.handlers()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a snapshot without the reference data, the salt and the bound handlers
        (the loader puts the live ones back: :func:`dashboard.snapshot.restore`)."""
        kept = dict(self.__dict__)
        for name in ("reference", "salt", "_handlers"):
            kept.pop(name, None)
        return kept

    def handlers(self) -> dict[str, Callable[[Case, Event], None]]:
        """The handler of each case event type, bound to this book (rebuilt after a snapshot load:
        the handlers are not pickled)."""
        return {
            EventType.CASE_RESOLVED_ON_SITE.value: self._on_resolved_on_site,
            EventType.CASE_ESCALATED.value: self._on_escalated,
            EventType.CASE_DISPATCHED.value: self._on_dispatched,
            EventType.CASE_PROCESSED.value: self._on_processed,
            EventType.CASE_RETURNED.value: self._on_returned,
            EventType.CASE_CLOSED.value: _moves(CaseState.CLOSED),
            EventType.CASE_RATED.value: self._on_rated,
            EventType.CASE_VOIDED.value: _moves(CaseState.VOIDED),
        }

    # ------------------------------------------------------------------ entry points
    def day_of(self, ts: float) -> date:
        """The district day of ``ts``, one shared object per day (a case holds up to three)."""
        day = district_day(ts, self.tz)
        return self._days.setdefault(day, day)

    def limit_for(self, category: str, priority: str) -> float:
        """Time limit (s) of a category and priority; unknown categories get the defaults."""
        cat = self.reference.categories.get(category)
        if cat is None:
            self.unknown_category_events += 1
            if category not in self.unknown_categories and len(self.unknown_categories) < UNKNOWN_CATEGORY_IDS:
                self.unknown_categories.add(category)
                log.warning("unknown category %r: default time limits applied", category[:100])
            return self.default_limit_s[priority]
        return float(cat.limit_hours[priority]) * 3600.0

    def report(self, event: Event, hint: Finding | None) -> None:
        """Open a case from a validated ``case.reported``."""
        d = event.data
        case_id = d["case_id"]
        if case_id in self.cases or case_id in self.retired:
            raise MalformedEvent(f"case_id={case_id!r} was already reported (a second case.reported)")
        case = Case(case_id, d["channel"], d["category"], d["priority"], d["lat"], d["lon"],
                    event.ts, self.limit_for(d["category"], d["priority"]))
        case.checkpoint_id = d.get("checkpoint_id") or (hint[0] if hint else None)
        cp = self.registry.checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
        street, community, grid = d.get("street_id"), d.get("community_id"), d.get("grid_id")
        if cp is not None:
            street, community, grid = street or cp.street_id, community or cp.community_id, grid or cp.grid_id
        if street is None or community is None:
            found = self.reference.locate(case.lat, case.lon)
            street, community, grid = street or found[0], community or found[1], grid or found[2]
        case.street_id, case.community_id, case.grid_id = street, community, grid
        case.day = self.day_of(event.ts)
        case.query_code = d.get("query_code")
        if d.get("reporter_phone"):
            case.phone_digest = phone_digest(self.salt, d["reporter_phone"])
        case.timeline = (step_of(event.ts, event.type, d),)
        if hint is not None:
            case.timeline = tuple(sorted((*case.timeline, _found_step(hint)), key=operator.itemgetter(0)))
        case.groups = groups_of(case)  # may fail on bad data: before anything is indexed
        self.commit(case, (None, None, None, None), False, None)
        if case.query_code:
            self.by_code[case.query_code] = case_id

    def apply(self, event: Event) -> None:
        """Apply a validated case event to its (reported) case, all or nothing."""
        case = self.cases[event.data["case_id"]]
        before = contribution(case)
        saved = _save(case)
        try:
            self._handlers[event.type](case, event)
            step = step_of(event.ts, event.type, event.data)
            timeline = case.timeline
            if timeline and step[0] < timeline[-1][0]:  # a late upload: keep time order
                case.timeline = tuple(sorted((*timeline, step), key=operator.itemgetter(0)))
            else:
                case.timeline = (*timeline, step)
            self.commit(case, before, saved[_OPEN_AT], saved[_CHECKPOINT_AT])
        except BaseException:
            _restore(case, saved)  # the handler (or a bug) failed halfway: put every field back
            raise

    def link_checkpoint(self, case_id: str, finding: Finding) -> None:
        """An inspection named a reported case: its timeline notes it, and the case takes
        the checkpoint when it had none."""
        case = self.cases[case_id]
        saved = _save(case)
        try:
            case.timeline = tuple(sorted((*case.timeline, _found_step(finding)), key=operator.itemgetter(0)))
            if case.checkpoint_id is None:
                before = contribution(case)
                case.checkpoint_id = finding[0]
                self.commit(case, before, saved[_OPEN_AT], None)
        except BaseException:
            _restore(case, saved)
            raise

    def commit(self, case: Case, before: Contribution, was_open: bool, old_checkpoint: str | None) -> None:
        """``case`` changed (or is new): move every index with it.

        The steps that can fail on bad data come first; the index moves after them are plain
        dictionary and sorted-list updates.
        """
        if case.groups is None:
            case.groups = groups_of(case)
        closed_day = self.day_of(case.closed_at) if case.closed_at is not None else None
        if closed_day != case.closed_day:
            case.closed_day = closed_day
        after = contribution(case)
        self._dirty[case.case_id] = case
        self.cases[case.case_id] = case
        if was_open != case.is_open or old_checkpoint != case.checkpoint_id:
            self._move_open(was_open, old_checkpoint, case)
        self.tallies.shift(before, after)
        if was_open and not case.is_open:
            heapq.heappush(self._closing, (case.state_ts, case.case_id))
        self.version += 1

    def flush(self) -> None:
        """Move the deadline entries of the cases changed since the last flush (the batch's end:
        readers, who take the state's lock, never see the indexes between two flushes)."""
        dirty, self._dirty = self._dirty, {}
        for case in dirty.values():
            try:
                self.deadlines.update(case, case.groups or groups_of(case))
            except Exception:  # a bug must not stop the batch: the case stays out of the alert indexes
                log.error("internal error indexing the deadline of case %s (%s)", case.case_id,
                          type(sys.exc_info()[1]).__name__)

    def _move_open(self, was_open: bool, old_checkpoint: str | None, case: Case) -> None:
        checkpoints = self.registry.checkpoints
        if was_open:
            self.open_cases.discard(case.case_id)
            cp = checkpoints.get(old_checkpoint) if old_checkpoint else None
            if cp is not None:
                cp.open_cases.discard(case.case_id)
                if not cp.open_cases:
                    self.registry.with_open_cases.discard(cp.checkpoint_id)
                self.registry.touch(cp.checkpoint_id)
        if case.is_open:
            self.open_cases.add(case.case_id)
            cp = checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
            if cp is not None:
                cp.open_cases.add(case.case_id)
                self.registry.with_open_cases.add(cp.checkpoint_id)
                self.registry.touch(cp.checkpoint_id)

    def retire(self, horizon: float) -> int:
        """Retire the cases closed longer than the retention before ``horizon`` (event time)."""
        cutoff = horizon - self.retention_s
        closing = self._closing
        n = 0
        while closing and closing[0][0] < cutoff:
            ts, case_id = heapq.heappop(closing)
            case = self.cases.get(case_id)
            if case is None or case.is_open or case.state_ts != ts:
                continue  # reopened (it will be queued again when it closes) or gone
            del self.cases[case_id]
            if case.query_code and self.by_code.get(case.query_code) == case_id:
                del self.by_code[case.query_code]
            self.retired.add(case_id, case.day or date.min)
            n += 1
        return n

    def by_query_code(self, code: str) -> Case | None:
        """The case a citizen's query code names, while its record is kept (None otherwise)."""
        case_id = self.by_code.get(code)
        return self.cases.get(case_id) if case_id is not None else None

    def prune(self, before: date) -> None:
        """Forget retired ids and day tallies older than the history window."""
        self.tallies.prune(before)
        self.retired.prune(before)
        for day in [d for d in self._days if d < before]:
            del self._days[day]

    # ------------------------------------------------------------------ handlers (on a copy)
    def _on_resolved_on_site(self, case: Case, event: Event) -> None:
        case.resolved_on_site = True
        _move(case, CaseState.CLOSED, event.ts)

    def _on_escalated(self, case: Case, event: Event) -> None:
        deadline_ts, level_ts = case.fields_ts
        if event.ts >= level_ts:  # a late, older escalation does not overwrite a newer level
            case.escalation_level = event.data["level"]
            case.fields_ts = (deadline_ts, event.ts)
        _move(case, CaseState.ESCALATED, event.ts)

    def _on_dispatched(self, case: Case, event: Event) -> None:
        d = event.data
        case.dispatched_types = case.dispatched_types | {d["unit_type"]}
        if d["unit_type"] == "department" and d["unit_id"] not in case.departments:
            case.departments = case.departments | {d["unit_id"]}
            case.groups = None  # a new department group: recompute
        deadline_ts, level_ts = case.fields_ts
        if "deadline" in d and event.ts >= deadline_ts:  # the latest dispatch's deadline holds
            case.deadline_override = d["deadline"]
            case.fields_ts = (event.ts, level_ts)
        _move(case, CaseState.DISPATCHED, event.ts)

    def _on_processed(self, case: Case, event: Event) -> None:
        if case.processed_at is None or event.ts < case.processed_at:
            case.processed_at = event.ts  # the first report of the work done counts
        _move(case, CaseState.PROCESSED, event.ts)

    def _on_returned(self, case: Case, event: Event) -> None:
        case.returned_count += 1
        _move(case, CaseState.RETURNED, event.ts)

    def _on_rated(self, case: Case, event: Event) -> None:
        if case.rated_at is not None and event.ts < case.rated_at:
            return  # an older rating uploaded late never overwrites a newer one
        d = event.data
        case.rated_at = event.ts
        case.rating_day = self.day_of(event.ts)
        case.satisfied = d["satisfied"]
        case.score = d.get("score")


def _found_step(finding: Finding) -> Step:
    checkpoint_id, warden_id, ts = finding
    return step_of(ts, EventType.INSPECTION_COMPLETED.value,
                   {"checkpoint_id": checkpoint_id, "warden_id": warden_id})


_fields = operator.attrgetter(*Case.__slots__)
_OPEN_AT = -1  # position of the extra "was open" value in a saved record
_CHECKPOINT_AT = Case.__slots__.index("checkpoint_id")


def _save(case: Case) -> tuple[Any, ...]:
    return (*_fields(case), case.is_open)


def _restore(case: Case, saved: tuple[Any, ...]) -> None:
    for name, value in zip(Case.__slots__, saved, strict=False):
        setattr(case, name, value)


def _move(case: Case, state: CaseState, ts: float) -> None:
    # The last state is the one of the latest event by ``ts``: an event uploaded late
    # (older than the one that set the current state) is recorded but does not rewind it.
    if ts < case.state_ts:
        return
    case.state_ts = ts
    case.state = state
    case.closed_at = ts if state == CaseState.CLOSED else None


def _moves(state: CaseState) -> Callable[[Case, Event], None]:
    def handler(case: Case, event: Event) -> None:
        _move(case, state, event.ts)

    return handler

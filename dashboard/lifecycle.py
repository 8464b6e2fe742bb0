"""The case lifecycle: one handler per case event type, applied all-or-nothing.

A handler works on a copy of the case and may raise (a rejection, or a bug) without changing
anything; :meth:`CaseBook.commit` then puts the new record in place and moves every index with
it: the open set, the checkpoints' open cases, the KPI tallies and the deadline indexes.

Memory is bounded by construction: a case closed (or voided) longer than the retention ago is
retired: its KPI counters stay in the day tallies, its record goes, and only its id is kept
(until it leaves the history window) so that a repeated report is still recognised. Events
for a retired case are rejected with a reason saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import deque
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from dashboard.cases import Case, CaseState
from dashboard.deadlines import DeadlineIndex
from dashboard.periods import district_day
from dashboard.reference import Reference
from dashboard.registry import Registry
from dashboard.tallies import Tallies, contribution, groups_of
from data_feed.contract import Event, EventType
from data_feed.errors import MalformedEvent

log = logging.getLogger(__name__)

UNKNOWN_CATEGORY_IDS = 100
"""Distinct unknown category ids remembered for /healthz (the rest are only counted)."""


def phone_digest(salt: bytes, phone: str) -> str:
    """Salted digest of a phone number: lets a citizen query check a pair without keeping it."""
    return hmac.new(salt, phone.strip().encode(), hashlib.sha256).hexdigest()


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
        self.retired: dict[str, date] = {}
        self.tallies = Tallies()
        self.deadlines = DeadlineIndex(near_fraction)
        self.version = 0  # bumped whenever a case changes: KPI caches key on it
        self.unknown_categories: set[str] = set()
        self.unknown_category_events = 0
        self._closing: deque[tuple[float, str]] = deque()
        self._handlers: dict[str, Callable[[Case, Event], None]] = {
            EventType.CASE_RESOLVED_ON_SITE.value: self._on_resolved_on_site,
            EventType.CASE_ESCALATED.value: self._on_escalated,
            EventType.CASE_DISPATCHED.value: self._on_dispatched,
            EventType.CASE_PROCESSED.value: _moves(CaseState.PROCESSED),
            EventType.CASE_RETURNED.value: self._on_returned,
            EventType.CASE_CLOSED.value: _moves(CaseState.CLOSED),
            EventType.CASE_RATED.value: self._on_rated,
            EventType.CASE_VOIDED.value: _moves(CaseState.VOIDED),
        }

    # ------------------------------------------------------------------ entry points
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

    def report(self, event: Event, hint: str | None) -> None:
        """Open a case from a validated ``case.reported``."""
        d = event.data
        case_id = d["case_id"]
        if case_id in self.cases or case_id in self.retired:
            raise MalformedEvent(f"case_id={case_id!r} was already reported (a second case.reported)")
        case = Case(case_id, d["channel"], d["category"], d["priority"], d["lat"], d["lon"],
                    event.ts, self.limit_for(d["category"], d["priority"]))
        case.checkpoint_id = d.get("checkpoint_id") or hint
        cp = self.registry.checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
        street, community, grid = d.get("street_id"), d.get("community_id"), d.get("grid_id")
        if cp is not None:
            street, community, grid = street or cp.street_id, community or cp.community_id, grid or cp.grid_id
        if street is None or community is None:
            found = self.reference.locate(case.lat, case.lon)
            street, community, grid = street or found[0], community or found[1], grid or found[2]
        case.street_id, case.community_id, case.grid_id = street, community, grid
        case.day = district_day(event.ts, self.tz)
        case.query_code = d.get("query_code")
        if d.get("reporter_phone"):
            case.phone_digest = phone_digest(self.salt, d["reporter_phone"])
        self.commit(None, case)

    def apply(self, event: Event) -> None:
        """Apply a validated case event to its (reported) case, all or nothing."""
        old = self.cases[event.data["case_id"]]
        new = old.copy()
        self._handlers[event.type](new, event)
        self.commit(old, new)

    def link_checkpoint(self, case_id: str, checkpoint_id: str) -> None:
        """An inspection named the checkpoint of a case that had none."""
        old = self.cases[case_id]
        if old.checkpoint_id is None:
            new = old.copy()
            new.checkpoint_id = checkpoint_id
            self.commit(old, new)

    def commit(self, old: Case | None, new: Case) -> None:
        """Put ``new`` in place of ``old`` and move every index with it."""
        if new.groups is None:
            new.groups = groups_of(new)
        before, after = contribution(old), contribution(new)  # pure: may fail, nothing changed yet
        self.tallies.shift(before, after)
        self.cases[new.case_id] = new
        was_open = old is not None and old.is_open
        if was_open != new.is_open or (old is not None and old.checkpoint_id != new.checkpoint_id):
            self._move_open(old, new)
        self.deadlines.update(new, new.groups)
        if not new.is_open and (old is None or old.is_open):
            self._closing.append((new.state_ts, new.case_id))
        self.version += 1

    def _move_open(self, old: Case | None, new: Case) -> None:
        checkpoints = self.registry.checkpoints
        if old is not None and old.is_open:
            self.open_cases.discard(old.case_id)
            cp = checkpoints.get(old.checkpoint_id) if old.checkpoint_id else None
            if cp is not None:
                cp.open_cases.discard(old.case_id)
                if not cp.open_cases:
                    self.registry.with_open_cases.discard(cp.checkpoint_id)
                self.registry.touch(cp.checkpoint_id)
        if new.is_open:
            self.open_cases.add(new.case_id)
            cp = checkpoints.get(new.checkpoint_id) if new.checkpoint_id else None
            if cp is not None:
                cp.open_cases.add(new.case_id)
                self.registry.with_open_cases.add(cp.checkpoint_id)
                self.registry.touch(cp.checkpoint_id)

    def retire(self, horizon: float) -> int:
        """Retire the cases closed longer than the retention before ``horizon`` (event time)."""
        cutoff = horizon - self.retention_s
        closing = self._closing
        n = 0
        while closing and closing[0][0] < cutoff:
            ts, case_id = closing.popleft()
            case = self.cases.get(case_id)
            if case is None or case.is_open or case.state_ts != ts:
                continue  # reopened (it will be queued again when it closes) or gone
            del self.cases[case_id]
            self.retired[case_id] = case.day or date.min
            n += 1
        return n

    def prune(self, before: date) -> None:
        """Forget retired ids and day tallies older than the history window."""
        self.tallies.prune(before)
        for case_id in [c for c, day in self.retired.items() if day < before]:
            del self.retired[case_id]

    # ------------------------------------------------------------------ handlers (on a copy)
    def _on_resolved_on_site(self, case: Case, event: Event) -> None:
        case.resolved_on_site = True
        _move(case, CaseState.CLOSED, event.ts)

    def _on_escalated(self, case: Case, event: Event) -> None:
        case.escalation_level = event.data["level"]
        _move(case, CaseState.ESCALATED, event.ts)

    def _on_dispatched(self, case: Case, event: Event) -> None:
        d = event.data
        case.dispatched_types = case.dispatched_types | {d["unit_type"]}
        if d["unit_type"] == "department" and d["unit_id"] not in case.departments:
            case.departments = case.departments | {d["unit_id"]}
            case.groups = None  # a new department group: recompute
        if "deadline" in d:
            case.deadline_override = d["deadline"]
        _move(case, CaseState.DISPATCHED, event.ts)

    def _on_returned(self, case: Case, event: Event) -> None:
        case.returned_count += 1
        _move(case, CaseState.RETURNED, event.ts)

    def _on_rated(self, case: Case, event: Event) -> None:
        if case.rated_at is not None and event.ts < case.rated_at:
            return  # an older rating uploaded late never overwrites a newer one
        d = event.data
        case.rated_at = event.ts
        case.rating_day = district_day(event.ts, self.tz)
        case.satisfied = d["satisfied"]
        case.score = d.get("score")


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

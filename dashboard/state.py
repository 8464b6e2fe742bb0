"""The materialized view of the district, fed by the stream consumer.

One :class:`State` per process, built only from the streams (so every process converges on
the same picture). The consumer thread calls :meth:`State.apply_batch`; request threads read
under :attr:`State.lock`. KPI counters are kept per district day and group as events arrive
(:mod:`dashboard.tallies`), so KPIs can be asked for any period, not only live counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import date
from typing import Any

from dashboard.cases import Case, CaseState
from dashboard.config import Config
from dashboard.periods import Round, RoundClock, district_day
from dashboard.reference import Reference
from dashboard.tallies import Tallies, contribution
from data_feed.consumer import Entry, Rejection
from data_feed.contract import (
    CASE_TYPES,
    PERSONAL_FIELDS,
    Event,
    EventType,
    fast_position,
    parse_entry,
)
from data_feed.errors import MalformedEvent

log = logging.getLogger(__name__)

PRIVATE_FIELDS = PERSONAL_FIELDS | {"query_code"}
"""Fields kept only in the internal store, never in the public case record."""

_CASE_EVENTS = CASE_TYPES | {EventType.CASE_REPORTED.value}  # every event about one case
_UNCOUNTED = object()  # "not registered before": nothing to move away from

TOUCH_LOG = 50_000
"""Checkpoint changes remembered for incremental readers; one further behind recomputes all."""
_REPORTED = EventType.CASE_REPORTED.value


class Checkpoint:
    """One registered checkpoint and its latest inspection."""

    __slots__ = ("checkpoint_id", "category", "lat", "lon", "name", "street_id", "community_id",
                 "grid_id", "warden_id", "department_id", "last_inspected_at", "last_result",
                 "open_cases", "registered")

    def __init__(self, checkpoint_id: str) -> None:
        self.checkpoint_id = checkpoint_id
        self.category = ""
        self.lat: float | None = None
        self.lon: float | None = None
        self.name: str | None = None
        self.street_id: str | None = None
        self.community_id: str | None = None
        self.grid_id: str | None = None
        self.warden_id: str | None = None
        self.department_id: str | None = None
        self.last_inspected_at: float | None = None
        self.last_result: str | None = None
        self.open_cases: set[str] = set()
        self.registered = False


@dataclass
class Quality:
    """Data-quality counters shown in /healthz."""

    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    held_late: int = 0
    late_applied: int = 0
    unknown_categories: int = 0
    unregistered_inspections: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return dict(self.__dict__)


class Pending:
    """A case event waiting for its ``case.reported``."""

    __slots__ = ("entry", "event", "entry_ms")

    def __init__(self, entry: Entry, event: Event, entry_ms: int) -> None:
        self.entry = entry
        self.event = event
        self.entry_ms = entry_ms


def entry_ms(entry_id: str) -> int:
    """Milliseconds part of a stream entry id."""
    return int(entry_id.split("-", 1)[0])


class State:
    """Checkpoints, wardens and cases of the district, with indexes for KPIs."""

    def __init__(self, config: Config, reference: Reference) -> None:
        self.config = config
        self.reference = reference
        self.rounds = RoundClock(config.tz, config.round_split)
        self.lock = threading.RLock()
        self.version = 0
        self.case_version = 0  # bumped only when a case changes: KPI caches key on it
        self.registry_version = 0  # bumped when a checkpoint is registered or moves
        # checkpoints whose status inputs changed, in order: lets the wall recompute only those
        self.touch_seq = 0
        self.touched: deque[tuple[int, str]] = deque(maxlen=TOUCH_LOG)
        self.last_event_at: float | None = None
        self.checkpoints: dict[str, Checkpoint] = {}
        self.wardens: dict[str, tuple[float, float, float]] = {}
        self.cases: dict[str, Case] = {}
        self.open_cases: set[str] = set()
        self.coverage: dict[tuple[date, str], set[str]] = defaultdict(set)
        # counters kept as events arrive, so a wall tick never loops over every checkpoint
        self.registered_by_street: dict[str | None, int] = defaultdict(int)
        self.covered_by_street: dict[tuple[date, str], dict[str | None, int]] = defaultdict(
            lambda: defaultdict(int))
        self.private: dict[str, dict[str, str]] = {}
        self.quality = Quality()
        self.tallies = Tallies()
        self.unknown_categories: set[str] = set()
        # event_id -> entry ms, and the same in arrival order, for a bounded dedupe window
        self._seen_ids: dict[str, int] = {}
        self._seen_order: deque[tuple[int, str]] = deque()
        self._pending: dict[str, list[Pending]] = {}
        self._case_hints: dict[str, str] = {}
        self._round: Round | None = None
        self._limit_s = {k: v * 3600.0 for k, v in config.default_limit_hours.items()}
        self._handlers = {
            EventType.CHECKPOINT_REGISTERED.value: self._on_checkpoint,
            EventType.INSPECTION_COMPLETED.value: self._on_inspection,
            EventType.CASE_REPORTED.value: self._on_reported,
            EventType.CASE_RESOLVED_ON_SITE.value: self._on_resolved_on_site,
            EventType.CASE_ESCALATED.value: self._on_escalated,
            EventType.CASE_DISPATCHED.value: self._on_dispatched,
            EventType.CASE_PROCESSED.value: self._on_processed,
            EventType.CASE_RETURNED.value: self._on_returned,
            EventType.CASE_CLOSED.value: self._on_closed,
            EventType.CASE_RATED.value: self._on_rated,
            EventType.CASE_VOIDED.value: self._on_voided,
        }

    # ---------------------------------------------------------------- batch entry point
    def apply_batch(self, positions: list[Entry], events: list[Entry],
                    clock_ms: int | None = None) -> list[Rejection]:
        """Validate and apply one batch of entries; return the ones to dead-letter.

        ``clock_ms`` (Redis time when the consumer is caught up) lets held late events expire.
        """
        rejected: list[Rejection] = []
        with self.lock:
            if positions:
                self._apply_positions(positions, rejected)
            for entry in events:
                self._apply_event_entry(entry, rejected)
            newest = max((entry_ms(e[1]) for e in (positions[-1:] + events[-1:])), default=0)
            horizon = max(newest, clock_ms or 0)
            if self._pending and horizon:
                self._expire_pending(horizon, rejected)
            if self._seen_order and newest:
                self._forget_old_ids(newest)
            if positions or events or rejected:
                self.version += 1
                if newest:
                    self.last_event_at = max(self.last_event_at or 0.0, newest / 1000.0)
            self.quality.rejected += len(rejected)
        return rejected

    def _apply_positions(self, entries: list[Entry], rejected: list[Rejection]) -> None:
        wardens = self.wardens
        applied = 0
        for entry in entries:
            fields = entry[2]
            pos = fast_position(fields)
            if pos is None:
                try:
                    event = parse_entry(fields, "positions")
                except MalformedEvent as exc:
                    rejected.append((entry[0], entry[1], fields, str(exc)))
                    continue
                d = event.data
                pos = (d["warden_id"], d["lat"], d["lon"], event.ts)
            wid = pos[0]
            old = wardens.get(wid)
            if old is None or pos[3] >= old[2]:
                wardens[wid] = pos[1:]
            applied += 1
        self.quality.applied += applied

    def _apply_event_entry(self, entry: Entry, rejected: list[Rejection]) -> None:
        stream, entry_id, fields = entry
        try:
            event = parse_entry(fields, "events")
        except MalformedEvent as exc:
            rejected.append((stream, entry_id, fields, str(exc)))
            return
        if event.event_id is not None:
            if event.event_id in self._seen_ids:
                self.quality.duplicates += 1
                return
        if event.type in CASE_TYPES and event.data["case_id"] not in self.cases:
            case_id = event.data["case_id"]
            self._pending.setdefault(case_id, []).append(Pending(entry, event, entry_ms(entry_id)))
            self.quality.held_late += 1
            self._seen(event.event_id, entry_id)
            return
        if not self._handle(event, entry, rejected):
            return
        self._seen(event.event_id, entry_id)
        self.quality.applied += 1
        if event.type == _REPORTED:
            waiting = self._pending.pop(event.data["case_id"], None)
            if waiting:
                self._release(waiting, entry_ms(entry_id), rejected)

    def _handle(self, event: Event, entry: Entry, rejected: list[Rejection]) -> bool:
        """Run the event's handler; a rejection or an internal error dead-letters the entry.

        Around a case event, the case's KPI contribution is taken before and after, and the
        tallies shifted by the difference (and the case version bumped for KPI caches).
        """
        case_id = event.data.get("case_id") if event.type in _CASE_EVENTS else None
        try:
            before = contribution(self.cases.get(case_id)) if case_id else None
            self._handlers[event.type](event)
            if case_id:
                self.tallies.shift(before, contribution(self.cases.get(case_id)))  # type: ignore[arg-type]
                self.case_version += 1
        except MalformedEvent as exc:
            rejected.append((entry[0], entry[1], entry[2], str(exc)))
            return False
        except Exception as exc:  # a bug must not stall the stream on one entry forever
            # Type only: an exception's text could quote a field value (personal data).
            log.error("internal error applying %s %s: %s", entry[0], entry[1], type(exc).__name__)
            rejected.append((entry[0], entry[1], entry[2],
                             f"internal error while applying ({type(exc).__name__}); please report it"))
            return False
        return True

    def _seen(self, event_id: str | None, entry_id: str) -> None:
        if event_id is not None:
            ms = entry_ms(entry_id)
            self._seen_ids[event_id] = ms
            self._seen_order.append((ms, event_id))

    def _forget_old_ids(self, horizon_ms: int) -> None:
        """Drop event ids older than the dedupe window (producers retry within minutes)."""
        oldest = horizon_ms - self.config.dedupe_window_s * 1000
        order = self._seen_order
        while order and order[0][0] < oldest:
            ms, event_id = order.popleft()
            if self._seen_ids.get(event_id) == ms:
                del self._seen_ids[event_id]

    def _release(self, waiting: list[Pending], report_ms: int, rejected: list[Rejection]) -> None:
        window_ms = self.config.late_window_s * 1000
        for p in waiting:
            stream, entry_id, fields = p.entry
            if report_ms - p.entry_ms > window_ms:
                rejected.append((stream, entry_id, fields, self._late_reason(p)))
                continue
            if not self._handle(p.event, p.entry, rejected):
                continue
            self.quality.applied += 1
            self.quality.late_applied += 1

    def _late_reason(self, p: Pending) -> str:
        return (f"case_id={p.event.data['case_id']!r}: no case.reported within the late window "
                f"of {self.config.late_window_s:g} s")

    def _expire_pending(self, horizon_ms: int, rejected: list[Rejection]) -> None:
        window_ms = self.config.late_window_s * 1000
        for case_id in list(self._pending):
            keep = []
            for p in self._pending[case_id]:
                if horizon_ms - p.entry_ms > window_ms:
                    rejected.append((p.entry[0], p.entry[1], p.entry[2], self._late_reason(p)))
                else:
                    keep.append(p)
            if keep:
                self._pending[case_id] = keep
            else:
                del self._pending[case_id]

    @property
    def pending_count(self) -> int:
        """Case events held while waiting for their report."""
        return sum(len(v) for v in self._pending.values())

    # ---------------------------------------------------------------- handlers
    def _limit_for(self, category: str, priority: str) -> float:
        cat = self.reference.categories.get(category)
        if cat is None:
            if category not in self.unknown_categories:
                self.unknown_categories.add(category)
                log.warning("unknown category %r: default time limits applied", category)
            self.quality.unknown_categories += 1
            return self._limit_s[priority]
        return cat.limit_hours[priority] * 3600.0

    def _on_checkpoint(self, event: Event) -> None:
        d = event.data
        cp = self.checkpoints.get(d["checkpoint_id"])
        if cp is None:
            cp = self.checkpoints[d["checkpoint_id"]] = Checkpoint(d["checkpoint_id"])
        old_street = cp.street_id if cp.registered else _UNCOUNTED
        cp.category = d["category"]
        cp.lat, cp.lon = d["lat"], d["lon"]
        cp.registered = True
        for name in ("name", "street_id", "community_id", "grid_id", "warden_id", "department_id"):
            if name in d:
                setattr(cp, name, d[name])
        if cp.street_id is None or cp.community_id is None:
            street, community, grid = self.reference.locate(cp.lat, cp.lon)
            cp.street_id = cp.street_id or street
            cp.community_id = cp.community_id or community
            cp.grid_id = cp.grid_id or grid
        if cp.category not in self.reference.categories:
            self._limit_for(cp.category, "normal")
        self.registry_version += 1
        if old_street != cp.street_id:
            self._recount(cp, old_street)

    def _recount(self, cp: Checkpoint, old_street: str | None | object) -> None:
        """Move a checkpoint's registered and covered counts to its (new) street."""
        if old_street is not _UNCOUNTED:
            self.registered_by_street[old_street] -= 1  # type: ignore[index]
        self.registered_by_street[cp.street_id] += 1
        if cp.last_inspected_at is None:
            return  # never inspected: in no round's coverage (the usual case for a new checkpoint)
        for key, ids in self.coverage.items():
            if cp.checkpoint_id in ids:
                counts = self.covered_by_street[key]
                if old_street is not _UNCOUNTED:
                    counts[old_street] -= 1  # type: ignore[index]
                counts[cp.street_id] += 1

    def _on_inspection(self, event: Event) -> None:
        d = event.data
        cp = self.checkpoints.get(d["checkpoint_id"])
        if cp is None:
            cp = self.checkpoints[d["checkpoint_id"]] = Checkpoint(d["checkpoint_id"])
        if not cp.registered:
            self.quality.unregistered_inspections += 1
        if cp.last_inspected_at is None or event.ts >= cp.last_inspected_at:
            cp.last_inspected_at = event.ts
            self._touch(cp.checkpoint_id)
            cp.last_result = d["result"]
        rnd = self._round
        if rnd is None or not (rnd.start <= event.ts < rnd.end):
            rnd = self._round = self.rounds.round_at(event.ts)  # rounds change rarely: cache
        covered = self.coverage[rnd.key]
        if cp.checkpoint_id not in covered:
            covered.add(cp.checkpoint_id)
            if cp.registered:  # unregistered ones are counted when they register
                self.covered_by_street[rnd.key][cp.street_id] += 1
        case_id = d.get("case_id")
        if case_id:
            case = self.cases.get(case_id)
            if case is None:
                self._case_hints[case_id] = cp.checkpoint_id
            elif case.checkpoint_id is None:
                case.checkpoint_id = cp.checkpoint_id
                if case.is_open:
                    cp.open_cases.add(case_id)
                    self._touch(cp.checkpoint_id)

    def _on_reported(self, event: Event) -> None:
        d = event.data
        case_id = d["case_id"]
        if case_id in self.cases:
            raise MalformedEvent(f"case_id={case_id!r} was already reported (a second case.reported)")
        case = Case(case_id, d["channel"], d["category"], d["priority"], d["lat"], d["lon"],
                    event.ts, self._limit_for(d["category"], d["priority"]))
        case.checkpoint_id = d.get("checkpoint_id") or self._case_hints.pop(case_id, None)
        cp = self.checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
        case.street_id = d.get("street_id") or (cp.street_id if cp else None)
        case.community_id = d.get("community_id") or (cp.community_id if cp else None)
        case.grid_id = d.get("grid_id") or (cp.grid_id if cp else None)
        if case.street_id is None or case.community_id is None:
            street, community, grid = self.reference.locate(case.lat, case.lon)
            case.street_id = case.street_id or street
            case.community_id = case.community_id or community
            case.grid_id = case.grid_id or grid
        case.day = district_day(event.ts, self.config.tz)
        private = {k: d[k] for k in PRIVATE_FIELDS if k in d}
        if private:
            self.private[case_id] = private
        self.cases[case_id] = case
        self.open_cases.add(case_id)
        if cp is not None:
            cp.open_cases.add(case_id)
            self._touch(cp.checkpoint_id)

    def _set_open(self, case: Case, is_open: bool) -> None:
        cp = self.checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
        if is_open:
            self.open_cases.add(case.case_id)
            if cp is not None:
                cp.open_cases.add(case.case_id)
                self._touch(cp.checkpoint_id)
        else:
            self.open_cases.discard(case.case_id)
            if cp is not None:
                cp.open_cases.discard(case.case_id)
                self._touch(cp.checkpoint_id)

    def _move(self, case: Case, state: CaseState, ts: float) -> None:
        # The last state is the one of the latest event by ``ts``: an event uploaded late
        # (older than the one that set the current state) is recorded but does not rewind it.
        if ts < case.state_ts:
            return
        case.state_ts = ts
        case.state = state
        if state == CaseState.CLOSED:
            case.closed_at = ts
            self._set_open(case, False)
        elif state == CaseState.VOIDED:
            self._set_open(case, False)
        else:
            case.closed_at = None
            self._set_open(case, True)

    def _on_resolved_on_site(self, event: Event) -> None:
        case = self.cases[event.data["case_id"]]
        case.resolved_on_site = True
        self._move(case, CaseState.CLOSED, event.ts)

    def _on_escalated(self, event: Event) -> None:
        case = self.cases[event.data["case_id"]]
        case.escalation_level = event.data["level"]
        self._move(case, CaseState.ESCALATED, event.ts)

    def _on_dispatched(self, event: Event) -> None:
        d = event.data
        case = self.cases[d["case_id"]]
        case.dispatched_types.add(d["unit_type"])
        if d["unit_type"] == "department" and d["unit_id"] not in case.departments:
            case.departments.add(d["unit_id"])
            case.groups = None  # a new department group: recompute
        if "deadline" in d:
            case.deadline_override = d["deadline"]
        self._move(case, CaseState.DISPATCHED, event.ts)

    def _on_processed(self, event: Event) -> None:
        self._move(self.cases[event.data["case_id"]], CaseState.PROCESSED, event.ts)

    def _on_returned(self, event: Event) -> None:
        case = self.cases[event.data["case_id"]]
        case.returned_count += 1
        self._move(case, CaseState.RETURNED, event.ts)

    def _on_closed(self, event: Event) -> None:
        self._move(self.cases[event.data["case_id"]], CaseState.CLOSED, event.ts)

    def _on_voided(self, event: Event) -> None:
        self._move(self.cases[event.data["case_id"]], CaseState.VOIDED, event.ts)

    def _on_rated(self, event: Event) -> None:
        d = event.data
        case = self.cases[d["case_id"]]
        case.rated_at = event.ts
        case.rating_day = district_day(event.ts, self.config.tz)
        case.satisfied = d["satisfied"]
        case.score = d.get("score")

    def _touch(self, checkpoint_id: str) -> None:
        self.touch_seq += 1
        self.touched.append((self.touch_seq, checkpoint_id))

    # ---------------------------------------------------------------- reads
    def touched_since(self, seq: int) -> set[str] | None:
        """Checkpoints whose status inputs changed after ``seq``; None when the log no longer
        reaches back that far (recompute everything)."""
        if seq == self.touch_seq:
            return set()
        if not self.touched or self.touched[0][0] > seq + 1:
            return None
        out: set[str] = set()
        for s, checkpoint_id in reversed(self.touched):
            if s <= seq:
                break
            out.add(checkpoint_id)
        return out

    def open_case_checkpoints(self) -> set[str]:
        """Checkpoints with an open case (their status can change with time alone)."""
        out = set()
        for case_id in self.open_cases:
            checkpoint_id = self.cases[case_id].checkpoint_id
            if checkpoint_id is not None:
                out.add(checkpoint_id)
        return out

    def checkpoint_status(self, cp: Checkpoint, now: float, round_start: float) -> str:
        """Status of one checkpoint: hazard, overdue, open, ok or pending."""
        if cp.open_cases:
            worst = "open"
            for case_id in cp.open_cases:
                case = self.cases[case_id]
                if case.priority == "hazard":
                    return "hazard"
                if now > case.deadline:
                    worst = "overdue"
            return worst
        if cp.last_inspected_at is not None and cp.last_inspected_at >= round_start:
            return "ok"
        return "pending"

    def summary(self) -> dict[str, Any]:
        """Counts for health checks and logs (no personal data)."""
        return {
            "version": self.version,
            "checkpoints": len(self.checkpoints),
            "wardens": len(self.wardens),
            "cases": len(self.cases),
            "open_cases": len(self.open_cases),
            "held_late": self.pending_count,
            "quality": self.quality.as_dict(),
            "unknown_category_ids": sorted(self.unknown_categories)[:50],
            "last_event_at": self.last_event_at,
            "built_at": time.time(),
        }

"""The materialized view of the district, fed by the stream consumer.

One :class:`State` per process, built only from the streams (so every process converges on
the same picture). It is a thin front that owns the lock (``State.lock``) and dispatches each
validated entry to the part that holds its idea:

* :mod:`dashboard.ingestion`: time sanity, dedupe window, late buffer;
* :mod:`dashboard.registry`: checkpoints, coverage, warden positions, touch log;
* :mod:`dashboard.lifecycle`: cases, their KPI tallies and deadline indexes.

The consumer thread calls :meth:`State.apply_batch`; request threads read under the lock
(every public read here takes it) and never iterate the live dicts outside it.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dashboard.cases import Case
from dashboard.config import Config
from dashboard.ingestion import Entry, Ingestion, Pending, entry_ms
from dashboard.lifecycle import CaseBook
from dashboard.periods import RoundClock, district_day
from dashboard.reference import Reference
from dashboard.registry import Checkpoint, Registry
from dashboard.status import CheckpointStatus
from dashboard.tracks import TrackStore
from data_feed.consumer import Rejection
from data_feed.contract import (
    CASE_TYPES,
    Event,
    EventType,
    Priority,
    fast_position,
    parse_entry,
)
from data_feed.errors import MalformedEvent

__all__ = ["Checkpoint", "Quality", "State", "entry_ms"]

log = logging.getLogger(__name__)

_REPORTED = EventType.CASE_REPORTED.value
_REGISTERED = EventType.CHECKPOINT_REGISTERED.value
_INSPECTION = EventType.INSPECTION_COMPLETED.value


@dataclass
class Quality:
    """Data-quality counters shown in /healthz."""

    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    held_late: int = 0
    late_applied: int = 0
    internal_errors: int = 0
    retired: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return dict(self.__dict__)


def _traceback_without_data() -> str:
    """The current exception's stack (file, line, function) and type, without its message or
    source text: either could quote a field value, and a log line never holds personal data."""
    exc = sys.exc_info()[1]
    frames = traceback.extract_tb(exc.__traceback__ if exc else None)
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames[-8:]]
    return "Traceback (most recent call last):\n" + "\n".join(lines) + f"\n{type(exc).__name__}"


class State:
    """Checkpoints, wardens and cases of the district, with indexes for KPIs and alerts."""

    def __init__(self, config: Config, reference: Reference, salt: bytes | None = None) -> None:
        self.config = config
        self.reference = reference
        self.rounds = RoundClock(config.tz, config.round_split)
        self.lock = threading.RLock()
        self.version = 0
        self.last_event_at: float | None = None
        self.event_time: float | None = None  # newest event time applied (the stream clock)
        # newest event time on the events stream: retention and dedupe follow it, never the
        # positions (a replay reads recent positions first; decisions must not depend on that)
        self.history_time: float | None = None
        self._pruned_day: date | None = None
        self.last_internal_error_at: float | None = None
        self.quality = Quality()
        self.ingestion = Ingestion(late_window_s=config.late_window_s,
                                   dedupe_window_s=config.dedupe_window_s,
                                   max_future_s=config.max_future_s, max_age_s=config.max_age_days * 86400)
        self.registry = Registry(reference, self.rounds,
                                 TrackStore(config.tz, config.track_days, config.track_interval_s))
        self.book = CaseBook(reference, self.registry, config.tz,
                             {k: v * 3600.0 for k, v in config.default_limit_hours.items()},
                             config.near_deadline_fraction, config.case_retention_days * 86400,
                             salt if salt is not None else secrets.token_bytes(16))

    # ---------------------------------------------------------------- the parts' data, by name
    @property
    def cases(self) -> dict[str, Case]:
        """Cases in memory by id (read under :attr:`lock`)."""
        return self.book.cases

    @property
    def open_cases(self) -> set[str]:
        """Ids of the open cases (read under :attr:`lock`)."""
        return self.book.open_cases

    @property
    def checkpoints(self) -> dict[str, Checkpoint]:
        """Checkpoints by id (read under :attr:`lock`)."""
        return self.registry.checkpoints

    @property
    def wardens(self) -> dict[str, tuple[float, float, float]]:
        """(lat, lon, ts) of each warden's newest position (read under :attr:`lock`)."""
        return self.registry.wardens

    @property
    def tallies(self) -> Any:
        """KPI counters per district day and group."""
        return self.book.tallies

    @property
    def case_version(self) -> int:
        """Bumped whenever a case changes (KPI caches key on it)."""
        return self.book.version

    @property
    def registry_version(self) -> int:
        """Bumped when a checkpoint is registered or moves."""
        return self.registry.version

    @property
    def touch_seq(self) -> int:
        """Sequence number of the latest checkpoint change."""
        return self.registry.touch_seq

    @property
    def registered_by_street(self) -> dict[str | None, int]:
        """Registered checkpoints per street."""
        return self.registry.registered_by_street

    @property
    def covered_by_street(self) -> dict[Any, dict[str | None, int]]:
        """Covered checkpoints per (day, round) and street."""
        return self.registry.covered_by_street

    # ---------------------------------------------------------------- batch entry point
    def apply_batch(self, positions: list[Entry], events: list[Entry],
                    clock_ms: int | None = None) -> list[Rejection]:
        """Validate and apply one batch of entries; return the ones to dead-letter.

        Never raises for one entry: a rejection or an internal error dead-letters that entry
        and the rest of the batch goes on. ``clock_ms`` (Redis time when the consumer is caught
        up) lets held late events expire.
        """
        rejected: list[Rejection] = []
        with self.lock:
            if positions:
                self._apply_positions(positions, rejected)
            for entry in events:
                self._apply_event_entry(entry, rejected)
            self.book.flush()
            newest = max((entry_ms(e[1]) for e in (positions[-1:] + events[-1:])), default=0)
            horizon = max(newest, clock_ms or 0)
            if self.ingestion.pending and horizon:
                for p in self.ingestion.expire(horizon):
                    self._reject_held(p, self.ingestion.late_reason(p), rejected)
            if newest:
                self.ingestion.forget_old(self.history_time, newest)
            self._housekeeping()
            if positions or events or rejected:
                self.version += 1
                if newest:
                    self.last_event_at = max(self.last_event_at or 0.0, newest / 1000.0)
            self.quality.rejected += len(rejected)
        return rejected

    def _apply_positions(self, entries: list[Entry], rejected: list[Rejection]) -> None:
        registry = self.registry
        max_future = self.ingestion.max_future_s or float("inf")
        max_age = self.ingestion.max_age_s or float("inf")
        # every entry of the batch was written between its first and last id: a ts inside
        # [last - max_age, first + max_future] is inside its own entry's window too
        latest_ok = entry_ms(entries[0][1]) / 1000.0 + max_future
        earliest_ok = entry_ms(entries[-1][1]) / 1000.0 - max_age
        applied = 0
        for entry in entries:
            fields = entry[2]
            pos = fast_position(fields)
            if pos is not None and not (earliest_ok <= pos[3] <= latest_ok) \
                    and not (-max_age <= pos[3] - entry_ms(entry[1]) / 1000.0 <= max_future):
                pos = None  # too far from its entry's time: take the long path for the precise reason
            if pos is None:
                try:
                    event = parse_entry(fields, "positions")
                    self.ingestion.check_time(event.ts, entry_ms(entry[1]))
                except MalformedEvent as exc:
                    rejected.append((entry[0], entry[1], fields, str(exc)))
                    continue
                except Exception:
                    self._internal_error(entry, rejected)
                    continue
                d = event.data
                pos = (d["warden_id"], d["lat"], d["lon"], event.ts)
            registry.position(*pos)
            if self.event_time is None or pos[3] > self.event_time:
                self.event_time = pos[3]
            applied += 1
        self.quality.applied += applied

    def _apply_event_entry(self, entry: Entry, rejected: list[Rejection]) -> None:
        stream, entry_id, fields = entry
        ms = entry_ms(entry_id)
        try:
            event = parse_entry(fields, "events")
            self.ingestion.check_time(event.ts, ms)
        except MalformedEvent as exc:
            rejected.append((stream, entry_id, fields, str(exc)))
            return
        except Exception:
            self._internal_error(entry, rejected)
            return
        if self.ingestion.seen(event.event_id):
            self.quality.duplicates += 1
            return
        if event.type in CASE_TYPES and event.data["case_id"] not in self.book.cases:
            case_id = event.data["case_id"]
            if case_id in self.book.retired:
                rejected.append((stream, entry_id, fields, self._retired_reason(case_id)))
                return
            self.ingestion.hold(case_id, entry, event, ms)
            self.quality.held_late += 1
            return
        if not self._handle(event, entry, rejected):
            return
        self.ingestion.remember(event.event_id, event.ts)
        self.quality.applied += 1
        if self.history_time is None or event.ts > self.history_time:
            self.history_time = event.ts
            if self.event_time is None or event.ts > self.event_time:
                self.event_time = event.ts
        if event.type == _REPORTED:
            for p in self.ingestion.release(event.data["case_id"]):
                if self.ingestion.too_late(p, ms):
                    self._reject_held(p, self.ingestion.late_reason(p), rejected)
                elif self._handle(p.event, p.entry, rejected):
                    self.quality.applied += 1
                    self.quality.late_applied += 1
                else:
                    self.ingestion.forget(p.event.event_id)

    def _retired_reason(self, case_id: str) -> str:
        return (f"case_id={case_id!r} was closed more than {self.config.case_retention_days:g} days "
                "before the newest event; its record is no longer kept (GRID_CASE_RETENTION_DAYS)")

    def _reject_held(self, p: Pending, reason: str, rejected: list[Rejection]) -> None:
        self.ingestion.forget(p.event.event_id)
        rejected.append((p.entry[0], p.entry[1], p.entry[2], reason))

    def _handle(self, event: Event, entry: Entry, rejected: list[Rejection]) -> bool:
        """Apply one event, all or nothing; a rejection or an internal error dead-letters it."""
        try:
            self._dispatch(event, entry_ms(entry[1]))
        except MalformedEvent as exc:
            rejected.append((entry[0], entry[1], entry[2], str(exc)))
            return False
        except Exception:  # a bug must not stall the stream on one entry, nor half-apply it
            self._internal_error(entry, rejected)
            return False
        return True

    def _internal_error(self, entry: Entry, rejected: list[Rejection]) -> None:
        kind = type(sys.exc_info()[1]).__name__
        self.quality.internal_errors += 1
        self.last_internal_error_at = time.time()
        log.error("internal error applying %s %s (dead-lettered):\n%s", entry[0], entry[1],
                  _traceback_without_data())
        rejected.append((entry[0], entry[1], entry[2],
                         f"internal error while applying ({kind}); please report it"))

    def _dispatch(self, event: Event, ms: int) -> None:
        d = event.data
        if event.type == _INSPECTION:
            case_id = d.get("case_id")
            case = self.book.cases.get(case_id) if case_id else None
            if case_id and case is None and case_id in self.book.retired:
                case_id = None  # the case is long closed: the inspection itself still counts
            cp = self.registry.inspect(d, event.ts)
            if case_id:
                if case is None:
                    self.ingestion.hint(case_id, (cp.checkpoint_id, d["warden_id"], event.ts), ms)
                else:
                    self.book.link_checkpoint(case_id, (cp.checkpoint_id, d["warden_id"], event.ts))
        elif event.type == _REPORTED:
            self.book.report(event, self.ingestion.take_hint(d["case_id"]))
        elif event.type == _REGISTERED:
            cp = self.registry.register(d)
            if cp.category not in self.reference.categories:
                self.book.limit_for(cp.category, "normal")  # counted as an unknown category
        else:
            self.book.apply(event)

    def _housekeeping(self) -> None:
        """Retire long-closed cases and forget days beyond the history window (by event time)."""
        horizon = self.history_time
        if horizon is None:
            return
        self.quality.retired += self.book.retire(horizon)  # a look at a heap's top when idle
        today = district_day(horizon, self.config.tz)
        if today != self._pruned_day:
            self._pruned_day = today
            before = today - timedelta(days=self.config.history_days)
            self.book.prune(before)
            self.registry.prune(before, tracks_before=today - timedelta(days=self.config.track_days - 1))

    # ---------------------------------------------------------------- reads (each under the lock)
    @property
    def pending_count(self) -> int:
        """Case events held while waiting for their report."""
        with self.lock:
            return self.ingestion.pending_count

    def touched_since(self, seq: int) -> set[str] | None:
        """Checkpoints whose status inputs changed after ``seq`` (None: recompute all)."""
        with self.lock:
            return self.registry.touched_since(seq)

    def open_case_checkpoints(self) -> set[str]:
        """Checkpoints with an open case (their status can change with time alone)."""
        with self.lock:
            return set(self.registry.with_open_cases)

    def checkpoint_status(self, cp: Checkpoint, now: float, round_start: float) -> CheckpointStatus:
        """Status of one checkpoint: hazard, overdue, open, ok or pending (call under the lock)."""
        if cp.open_cases:
            worst = CheckpointStatus.OPEN
            for case_id in cp.open_cases:
                case = self.book.cases[case_id]
                if case.priority == Priority.HAZARD:
                    return CheckpointStatus.HAZARD
                if now > case.deadline:
                    worst = CheckpointStatus.OVERDUE
            return worst
        if cp.last_inspected_at is not None and cp.last_inspected_at >= round_start:
            return CheckpointStatus.OK
        return CheckpointStatus.PENDING

    def overdue_by_group(self, now: float, levels: frozenset[str] | None = None) -> dict[tuple[str, str], int]:
        """Open cases past their deadline at ``now`` per KPI group (a search per group), of the
        groups in ``levels`` only when given."""
        with self.lock:
            return self.book.deadlines.overdue(now, levels)

    def alert_page(self, now: float, limit: int, after: tuple[int, float, str] | None = None,
                   categories: frozenset[str] | None = None) -> tuple[list[tuple[Case, float | None]], int]:
        """Up to ``limit`` alerting cases (with the wall time each was listed) in order after
        ``after``, and the total alerting now; only ``categories`` when given (a department)."""
        with self.lock:
            out = []
            index = self.book.deadlines
            cases = self.book.cases
            if categories is not None:
                keys = [k for k in index.alerts(now, None) if cases[k[2]].category in categories]
                total = len(keys)
                picked: Iterable[tuple[int, float, str]] = (k for k in keys if after is None or k > after)
            else:
                total, picked = index.alert_count(now), index.alerts(now, after)
            for key in picked:
                out.append((cases[key[2]], index.listed_at(key[2])))
                if len(out) >= limit:
                    break
            return out, total

    def case_by_query_code(self, code: str) -> Case | None:
        """The case a citizen's query code names (None when unknown or retired)."""
        with self.lock:
            return self.book.by_query_code(code)

    def case_category(self, case_id: str) -> str | None:
        """The category of a case in memory (None when unknown)."""
        with self.lock:
            case = self.book.cases.get(case_id)
            return case.category if case is not None else None

    def summary(self) -> dict[str, Any]:
        """Counts for health checks and logs (no personal data)."""
        with self.lock:
            unknown = sorted(self.book.unknown_categories)
            return {
                "version": self.version,
                "checkpoints": len(self.registry.checkpoints),
                "wardens": len(self.registry.wardens),
                "track_points": self.registry.tracks.size()[0],
                "cases": len(self.book.cases),
                "open_cases": len(self.book.open_cases),
                "retired_case_ids": len(self.book.retired),
                "held_late": self.ingestion.pending_count,
                "event_ids_remembered": self.ingestion.seen_count,
                "quality": {**self.quality.as_dict(),
                            "unknown_categories": self.book.unknown_category_events,
                            "unregistered_inspections": self.registry.unregistered_inspections},
                "unknown_category_ids": [c[:64] for c in unknown[:20]],
                "unknown_category_ids_total": len(unknown),
                "last_event_at": self.last_event_at,
                "built_at": time.time(),
            }

"""Case records: lifecycle state, deadline and countdown colour (the public projection).

A case holds no personal data: ``description`` is never kept, and ``reporter_phone`` only as a
salted digest beside the citizen's ``query_code`` (what a citizen query needs to check a pair).
The set-like fields are frozensets (an event replaces them), so a saved record of a case's
fields can be put back whole when a handler fails halfway (see :mod:`dashboard.lifecycle`).
"""

from __future__ import annotations

import operator
import sys
from datetime import date
from enum import Enum
from typing import Any

_EMPTY: frozenset[str] = frozenset()


class CaseState(str, Enum):
    """Where a case stands in its lifecycle (its last state-changing event)."""

    REPORTED = "reported"
    ESCALATED = "escalated"
    DISPATCHED = "dispatched"
    PROCESSED = "processed"
    RETURNED = "returned"
    CLOSED = "closed"
    VOIDED = "voided"


CLOSED_STATES = frozenset({CaseState.CLOSED, CaseState.VOIDED})


class Colour(str, Enum):
    """Countdown colour: green below the near-deadline fraction, yellow up to 100 %, red past."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def intern(value: str | None) -> str | None:
    """Share one copy of a repeated short string (category, channel, ids of places)."""
    return sys.intern(value) if value is not None else None


Step = tuple[float, str, tuple[tuple[str, object], ...]]
"""One event of a case's timeline: (ts, event type, ((field, value), …))."""

STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "inspection.completed": ("checkpoint_id", "warden_id"),
    "case.reported": ("channel", "priority", "checkpoint_id"),
    "case.resolved_on_site": ("warden_id",),
    "case.escalated": ("level",),
    "case.dispatched": ("unit_id", "unit_type", "deadline"),
    "case.processed": ("unit_id",),
    "case.returned": ("reason",),
    "case.closed": ("verified_by",),
    "case.rated": ("satisfied", "score"),
    "case.voided": ("reason",),
}
"""The fields a timeline keeps of each event type: never ``description`` or ``reporter_phone``."""

REASON_CHARS = 200
"""Longest return/void reason kept in a timeline (a staff note, not a document)."""


def step_of(ts: float, event_type: str, data: dict[str, object]) -> Step:
    """The timeline step of an event (only the fields in :data:`STEP_FIELDS`)."""
    fields = []
    for name in STEP_FIELDS.get(event_type, ()):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            value = sys.intern(value) if name != "reason" else value[:REASON_CHARS]
        fields.append((name, value))
    return (ts, sys.intern(event_type), tuple(fields))


class Case:
    """The public record of one case."""

    __slots__ = (
        "case_id", "channel", "category", "priority", "lat", "lon", "checkpoint_id",
        "street_id", "community_id", "grid_id", "reported_at", "day", "state",
        "resolved_on_site", "closed_at", "limit_s", "deadline_override", "dispatched_types",
        "departments", "returned_count", "rated_at", "rating_day", "satisfied", "score",
        "escalation_level", "state_ts", "groups", "query_code", "phone_digest", "closed_day",
        "fields_ts", "processed_at", "timeline",
    )

    def __init__(self, case_id: str, channel: str, category: str, priority: str, lat: float,
                 lon: float, reported_at: float, limit_s: float) -> None:
        self.case_id = case_id
        self.channel = sys.intern(channel)
        self.category = sys.intern(category)
        self.priority = sys.intern(priority)
        self.lat = lat
        self.lon = lon
        self.checkpoint_id: str | None = None
        self.street_id: str | None = None
        self.community_id: str | None = None
        self.grid_id: str | None = None
        self.reported_at = reported_at
        self.day: date | None = None  # district day of the report, set by the state
        self.state = CaseState.REPORTED
        self.state_ts = reported_at  # ts of the event that set ``state``: late uploads cannot rewind it
        self.resolved_on_site = False
        self.closed_at: float | None = None
        self.closed_day: date | None = None  # district day of ``closed_at``, set by the case book
        # ts of the events that set the deadline and the escalation level: the latest ts wins
        self.fields_ts: tuple[float, float] = (float("-inf"), float("-inf"))
        self.limit_s = limit_s
        self.deadline_override: float | None = None
        self.dispatched_types: frozenset[str] = _EMPTY
        self.departments: frozenset[str] = _EMPTY
        self.returned_count = 0
        self.rated_at: float | None = None
        self.rating_day: date | None = None
        self.satisfied: bool | None = None
        self.score: int | None = None
        self.escalation_level: str | None = None
        self.groups: tuple[tuple[str, str], ...] | None = None  # KPI groups, cached by the tallies
        self.query_code: str | None = None
        self.phone_digest: str | None = None  # salted digest: the phone number itself is never kept
        self.processed_at: float | None = None  # first ``case.processed`` (a unit reported it done)
        # every event of the case in time order, with its non-personal fields (see STEP_FIELDS)
        self.timeline: tuple[Step, ...] = ()

    def __getstate__(self) -> tuple[Any, ...]:
        """The fields as one tuple (a snapshot pickles a case about twice as fast as by slot names)."""
        return _CASE_FIELDS(self)  # type: ignore[no-any-return]

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for put, value in zip(_CASE_SETTERS, state, strict=True):
            put(self, value)

    @property
    def is_open(self) -> bool:
        """True while the case is neither closed nor voided."""
        return self.state not in CLOSED_STATES

    @property
    def deadline(self) -> float:
        """Dispatch deadline when given, else report time plus the category's limit."""
        if self.deadline_override is not None:
            return self.deadline_override
        return self.reported_at + self.limit_s

    def near_at(self, near: float) -> float:
        """When the countdown turns yellow: ``near`` of the time limit used."""
        return self.reported_at + near * max(0.0, self.deadline - self.reported_at)

    def used_fraction(self, now: float) -> float:
        """Share of the time limit used at ``now`` (1.0 = deadline reached)."""
        span = self.deadline - self.reported_at
        if span <= 0:
            return float("inf") if now >= self.deadline else 0.0
        return (now - self.reported_at) / span

    def colour(self, now: float, near: float) -> Colour:
        """Countdown colour at ``now``; ``near`` is the yellow threshold (e.g. 0.8)."""
        if now > self.deadline:
            return Colour.RED
        if self.used_fraction(now) >= near:
            return Colour.YELLOW
        return Colour.GREEN


_CASE_FIELDS = operator.attrgetter(*Case.__slots__)
_CASE_SETTERS = tuple(getattr(Case, name).__set__ for name in Case.__slots__)

"""Case records: lifecycle state, deadline and countdown colour (the public projection).

Personal data (``description``, ``reporter_phone``) and the citizen ``query_code`` are
never stored here; they live in the separate internal store ``State.private``.
"""

from __future__ import annotations

from datetime import date
from enum import Enum


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


class Case:
    """The public record of one case."""

    __slots__ = (
        "case_id", "channel", "category", "priority", "lat", "lon", "checkpoint_id",
        "street_id", "community_id", "grid_id", "reported_at", "day", "state",
        "resolved_on_site", "closed_at", "limit_s", "deadline_override", "dispatched_types",
        "departments", "returned_count", "rated_at", "rating_day", "satisfied", "score",
        "escalation_level", "state_ts", "groups",
    )

    def __init__(self, case_id: str, channel: str, category: str, priority: str, lat: float,
                 lon: float, reported_at: float, limit_s: float) -> None:
        self.case_id = case_id
        self.channel = channel
        self.category = category
        self.priority = priority
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
        self.limit_s = limit_s
        self.deadline_override: float | None = None
        self.dispatched_types: set[str] = set()
        self.departments: set[str] = set()
        self.returned_count = 0
        self.rated_at: float | None = None
        self.rating_day: date | None = None
        self.satisfied: bool | None = None
        self.score: int | None = None
        self.escalation_level: str | None = None
        self.groups: tuple[tuple[str, str], ...] | None = None  # KPI groups, cached by the tallies

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

"""Ingestion rules that sit in front of the state: time sanity, dedupe, and the late buffer.

* Time: an event stamped further than ``max_future_s`` after the moment its entry was written
  (the stream id's time), or more than ``max_age_s`` before it, is rejected with a reason. The
  check compares with the entry's own id, so a replay decides exactly as the live run did.
* Dedupe: a repeated ``event_id`` is applied once within a window of event time before the
  newest event applied (a week by default), so a backfill of a year keeps a week of ids.
  An entry that ends up dead-lettered does not count as seen, so the producer's retry applies.
* Late buffer: case events that arrive before their ``case.reported`` wait up to the late
  window (by stream time), then go to the dead letters with a reason.

Everything here runs under the state's lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from data_feed.contract import PERSONAL_FIELDS, Event
from data_feed.errors import MalformedEvent

Entry = tuple[str, str, Mapping[str, str]]


def entry_ms(entry_id: str) -> int:
    """Milliseconds part of a stream entry id."""
    return int(entry_id.split("-", 1)[0])


Finding = tuple[str, str, float]
"""What an inspection found a case at: (checkpoint_id, warden_id, ts)."""


class Pending:
    """A case event waiting for its ``case.reported``."""

    __slots__ = ("entry", "event", "entry_ms")

    def __init__(self, entry: Entry, event: Event, ms: int) -> None:
        self.entry = entry
        self.event = event
        self.entry_ms = ms

    def __getstate__(self) -> tuple[Entry, Event, int]:
        """Pickled for a snapshot without personal fields (a snapshot file never holds them)."""
        stream, entry_id, fields = self.entry
        kept = {k: v for k, v in fields.items() if k not in PERSONAL_FIELDS}
        event = Event(self.event.type, self.event.ts, self.event.event_id,
                      {k: v for k, v in self.event.data.items() if k not in PERSONAL_FIELDS})
        return (stream, entry_id, kept), event, self.entry_ms

    def __setstate__(self, state: tuple[Entry, Event, int]) -> None:
        self.entry, self.event, self.entry_ms = state


class Ingestion:
    """Time checks, the dedupe window and the late buffer."""

    def __init__(self, *, late_window_s: float, dedupe_window_s: float, max_future_s: float,
                 max_age_s: float) -> None:
        self.late_window_ms = int(late_window_s * 1000)
        self.dedupe_window_s = dedupe_window_s
        self.late_window_s = late_window_s
        self.max_future_s = max_future_s
        self.max_age_s = max_age_s
        self.pending: dict[str, list[Pending]] = {}
        self.pending_count = 0
        self.hints: dict[str, tuple[Finding, int]] = {}  # case_id -> (what the inspection found, entry ms)
        self._hint_order: deque[tuple[int, str]] = deque()
        self._seen: dict[str, int] = {}  # event_id -> day of its event time
        self._by_day: dict[int, list[str]] = {}

    # ------------------------------------------------------------------ time
    def check_time(self, ts: float, ms: int) -> None:
        """Reject a timestamp too far from the time its entry was written."""
        written = ms / 1000.0
        if self.max_future_s and ts > written + self.max_future_s:
            raise MalformedEvent(
                f"ts is {ts - written:.0f} s after the entry was written (more than "
                f"GRID_MAX_FUTURE_S={self.max_future_s:g}); fix the terminal's clock")
        if self.max_age_s and ts < written - self.max_age_s:
            raise MalformedEvent(
                f"ts is {(written - ts) / 86400:.0f} days before the entry was written (more than "
                f"GRID_MAX_AGE_DAYS={self.max_age_s / 86400:g})")

    # ------------------------------------------------------------------ dedupe
    def seen(self, event_id: str | None) -> bool:
        """True when this event id was applied (or is held) within the window."""
        return event_id is not None and event_id in self._seen

    def remember(self, event_id: str | None, ts: float) -> None:
        """Count an event id as seen; it is kept while its event time is inside the window."""
        if event_id is not None:
            day = int(ts // 86400)
            self._seen[event_id] = day
            bucket = self._by_day.get(day)
            if bucket is None:
                bucket = self._by_day[day] = []
            bucket.append(event_id)

    def forget(self, event_id: str | None) -> None:
        """An entry that was dead-lettered does not count as seen: its retry must apply."""
        if event_id is not None:
            self._seen.pop(event_id, None)

    def forget_old(self, newest_ts: float | None, horizon_ms: int) -> None:
        """Drop event ids whose event time is older than the dedupe window before the newest
        event time (whole days at a time), and inspection hints older than the late window."""
        if newest_ts is not None:
            oldest_day = int((newest_ts - self.dedupe_window_s) // 86400)
            for day in [d for d in self._by_day if d < oldest_day]:
                for event_id in self._by_day.pop(day):
                    if self._seen.get(event_id) == day:
                        del self._seen[event_id]
        hints = self._hint_order
        while hints and hints[0][0] < horizon_ms - self.late_window_ms:
            ms, case_id = hints.popleft()
            if self.hints.get(case_id, (None, -1))[1] == ms:
                del self.hints[case_id]

    @property
    def seen_count(self) -> int:
        """Event ids remembered."""
        return len(self._seen)

    # ------------------------------------------------------------------ late buffer
    def hold(self, case_id: str, entry: Entry, event: Event, ms: int) -> None:
        """Keep a case event until its report arrives (or the late window passes)."""
        self.pending.setdefault(case_id, []).append(Pending(entry, event, ms))
        self.pending_count += 1
        self.remember(event.event_id, event.ts)  # a duplicate of a held entry is still a duplicate

    def release(self, case_id: str) -> list[Pending]:
        """The events that waited for ``case_id``'s report."""
        waiting = self.pending.pop(case_id, [])
        self.pending_count -= len(waiting)
        return waiting

    def too_late(self, p: Pending, report_ms: int) -> bool:
        """True when ``p`` waited longer than the late window for a report at ``report_ms``."""
        return report_ms - p.entry_ms > self.late_window_ms

    def expire(self, horizon_ms: int) -> list[Pending]:
        """Take out the held events whose late window has passed at stream time ``horizon_ms``."""
        out: list[Pending] = []
        if not self.pending:
            return out
        for case_id in list(self.pending):
            keep: list[Pending] = []
            for p in self.pending[case_id]:
                (out if self.too_late(p, horizon_ms) else keep).append(p)
            if keep:
                self.pending[case_id] = keep
            else:
                del self.pending[case_id]
        self.pending_count -= len(out)
        return out

    def late_reason(self, p: Pending) -> str:
        """Why a held event was dead-lettered."""
        return (f"case_id={p.event.data['case_id']!r}: no case.reported within the late window "
                f"of {self.late_window_s:g} s")

    def hint(self, case_id: str, finding: Finding, ms: int) -> None:
        """An inspection named a case not reported yet: remember what it found for a while."""
        self.hints[case_id] = (finding, ms)
        self._hint_order.append((ms, case_id))

    def take_hint(self, case_id: str) -> Finding | None:
        """What an inspection found for ``case_id`` (checkpoint, warden, ts), once."""
        found = self.hints.pop(case_id, None)
        return found[0] if found else None

"""History backfill: plan a window of days, calibrate it to the seed, write it time-ordered.

Inspections, registrations and cases cover the whole window; positions only its last part
(the positions stream is capped at about a day). Lifecycle events after the window's end are
not written (they have not happened yet); with ``keep_tail`` they are handed to live mode.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import redis

from data_feed.publish import publish_many
from data_feed.simulator.cases import CasePlan, Quotas, closed_at, set_rating
from data_feed.simulator.clock import DAY_S, day_of, day_start
from data_feed.simulator.patrol import RoundPlan
from data_feed.simulator.presets import SEED_FIGURES
from data_feed.simulator.world import Pending, World

log = logging.getLogger(__name__)

DEFAULT_POSITIONS_S = 3600
"""A backfill writes positions for the last hour of its window only."""

POSITIONS_MAXLEN = 1_000_000
"""Cap of the positions stream (``MAXLEN ~``), about a day at the seed's scale."""

MIN_STUCK_SHARE = 0.01
"""At least this share of a window's cases is left open past its deadline (overdue alerts)."""


@dataclass
class Tail:
    """What a backfill planned after its end, for live mode to write when its time comes."""

    end: int
    pending: list[Pending]
    rounds: list[RoundPlan]
    next_day: date
    quotas: Quotas


@dataclass
class BackfillStats:
    """Counts and timing of one backfill."""

    start: int
    end: int
    accepted: int = 0
    written: int = 0
    seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)


@dataclass
class Window:
    """A planned window: day plans in order, plus the tail after its end."""

    world: World
    start: int
    end: int
    days: list[tuple[date, list[Pending]]]
    registrations: list[Pending]
    accepted: int
    tail: Tail | None


def window_bounds(start: date | None, days: float, now: float | None = None) -> tuple[int, int]:
    """[start, end) epoch of a backfill: whole days from ``start``, else ``days`` ending now."""
    if start is not None:
        s = day_start(start)
        return s, s + int(round(days * DAY_S))
    end = int(time.time() if now is None else now)
    return end - int(round(days * DAY_S)), end


def positions_span(world: World) -> int:
    """Seconds of positions a backfill writes: the last hour, less when that would overflow half the cap."""
    return min(DEFAULT_POSITIONS_S, int(POSITIONS_MAXLEN / 2 * 10 / max(len(world.district.grids), 1)))


def plan_window(world: World, start: int, end: int, positions_s: int | None = None,
                keep_tail: bool = False) -> Window:
    """Plan every day touching [start, end), calibrated to the seed's shares, in time order."""
    if positions_s is None:
        positions_s = positions_span(world)
    preset = world.preset
    first, last = day_of(start), day_of(end - 1)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    # Whole-day windows get exactly cases_per_day × days cases (weights normalised over the window).
    weights = [world.volume_weight(d) for d in days]
    scale = len(days) / sum(weights)
    quotas = Quotas()
    plans = [world.plan(d, preset.cases_per_day * w * scale, quotas, (start, end if not keep_tail else 2 ** 62))
             for d, w in zip(days, weights, strict=True)]
    cases = [c for p in plans for c in p.cases]
    window_cases = [c for c in cases if c.ts < end and not c.voided]
    rng = random.Random(f"{world.key}:{start}:{end}:calibration")
    _leave_open(window_cases, end, rng)
    _rate(cases, end, rng)

    seq = 0
    buckets: dict[date, list[Pending]] = {d: [] for d in days}
    tail: list[Pending] = []
    day_of_ts = _DayIndex(first)

    def put(item: Pending) -> None:
        if item[0] >= end:
            tail.append(item)
        elif item[0] >= start:
            buckets[days[day_of_ts(item[0])]].append(item)

    for p in plans:
        for r in p.rounds:
            for ts, c in r.visits:
                seq += 1
                put((ts, seq, "insp", (c, r.warden_id, r.index, p.visit_cases.get((ts, c), "")), 0))
        for case in p.cases:
            seq += 1
            put((case.ts, seq, "report", case, 0))
            for n, step in enumerate(case.steps):
                seq += 1
                put((step[0], seq, "step", case, n))
    # Positions: the window's last part only.
    pos_from = max(start, end - positions_s)
    last_rounds = [r for p in plans[-2:] for r in p.rounds if r.t_end > pos_from and r.t0 < end]
    for r in last_rounds:
        for ts, lat, lon, speed, battery in r.positions(world.routes[r.grid], pos_from, end):
            seq += 1
            buckets[days[day_of_ts(ts)]].append((ts, seq, "pos", (r, (lat, lon, speed, battery)), 0))
    reg_rng = random.Random(f"{world.key}:registrations")
    registrations: list[Pending] = sorted(
        (start - reg_rng.randrange(3600, 6 * 3600), n, "reg", n, 0) for n in range(len(world.district.checkpoints)))
    result_tail = None
    if keep_tail:
        tail.sort(key=lambda item: (item[0], item[1]))
        live_rounds = [r for r in plans[-1].rounds if r.t_end > end]
        result_tail = Tail(end, tail, live_rounds, days[-1] + timedelta(days=1), quotas)
    return Window(world, start, end, [(d, buckets[d]) for d in days], registrations, len(window_cases), result_tail)


class _DayIndex:
    """Day offset of an epoch time from the first day (district time)."""

    def __init__(self, first: date) -> None:
        self.origin = day_start(first)

    def __call__(self, ts: int) -> int:
        return (ts - self.origin) // DAY_S


def _leave_open(cases: list[CasePlan], end: int, rng: random.Random) -> None:
    """Leave enough dispatched cases open (stuck past their deadline) for the seed's closure rate."""
    natural_open = sum(1 for c in cases if not closed_at(c, end))
    target_open = len(cases) - round(len(cases) * SEED_FIGURES["closure_rate"])
    extra = max(target_open - natural_open, round(len(cases) * MIN_STUCK_SHARE))
    eligible = [c for c in cases if c.cut_at and c.steps[c.cut_at - 1][0] < end and closed_at(c, end)]
    for case in rng.sample(eligible, min(extra, len(eligible))):
        del case.steps[case.cut_at:]


def _rate(cases: list[CasePlan], end: int, rng: random.Random) -> None:
    """Satisfied or not: exactly the seed's satisfaction over the window's ratings, reworked cases first to complain."""
    inside = [fields for c in cases for ts, etype, fields in c.steps if etype == "case.rated" and ts < end]
    reworked = {id(fields) for c in cases if c.reworked for _, etype, fields in c.steps if etype == "case.rated"}
    unsatisfied = len(inside) - round(len(inside) * SEED_FIGURES["satisfaction_rate"])
    order = sorted(inside, key=lambda f: (id(f) not in reworked or rng.random() < 0.5, rng.random()))
    for n, fields in enumerate(order):
        set_rating(fields, n >= unsatisfied, rng)
    for c in cases:
        for ts, etype, fields in c.steps:
            if etype == "case.rated" and ts >= end:
                set_rating(fields, rng.random() < SEED_FIGURES["satisfaction_rate"], rng)


def render(world: World, item: Pending) -> dict[str, str]:
    """The contract entry of one scheduled item."""
    ts, _, kind, subject, n = item
    b = world.builder
    data: Any = subject
    if kind == "step":
        return b.step(data, n)
    if kind == "insp":
        c, warden, index, case_id = data
        return b.inspection(ts, c, warden, index, case_id)
    if kind == "report":
        return b.reported(data)
    if kind == "pos":
        r, (lat, lon, speed, battery) = data
        return b.position(r.warden_id, ts, lat, lon, speed, battery, 4 + (ts // 10 + r.grid) % 9)
    if kind == "reg":
        return b.registration(data, ts)
    raise ValueError(f"unknown scheduled item kind {kind!r}")


def window_events(window: Window) -> Iterator[dict[str, str]]:
    """Every entry of the window in time order: registrations first, then day by day."""
    for item in window.registrations:
        yield render(window.world, item)
    for _, items in window.days:
        items.sort(key=lambda item: (item[0], item[1]))
        for item in items:
            yield render(window.world, item)


def generate(world: World, start: int, end: int, positions_s: int | None = None) -> Iterator[dict[str, str]]:
    """Plan and yield a window's entries (for tests and tools; nothing is written)."""
    return window_events(plan_window(world, start, end, positions_s))


def write_window(connection: redis.Redis, window: Window, batch: int = 5000,
                 stop: threading.Event | None = None) -> BackfillStats:
    """XADD a planned window (pipelined) and return its statistics; stops early once ``stop`` is set."""
    stats = BackfillStats(window.start, window.end, accepted=window.accepted)
    t0 = time.perf_counter()

    def counted() -> Iterator[dict[str, str]]:
        for event in window_events(window):
            if stop is not None and stop.is_set():  # Ctrl-C: a shutdown must not wait for days of history
                return
            stats.by_type[event["type"]] += 1
            yield event

    stats.written = publish_many(connection, counted(), batch=batch, positions_maxlen=POSITIONS_MAXLEN)
    stats.seconds = time.perf_counter() - t0
    return stats

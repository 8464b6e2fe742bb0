"""History backfill: plan a window of days with the model and write it in time order.

Registrations, inspections and case reports cover the window; every case reported in it runs
its lifecycle to the end, so lifecycle events after the window's end are written too, but
never after now (what has not happened yet is handed to live mode with ``keep_tail``, else
dropped). Positions cover the whole current day (the window's last day) at each handheld's
reporting interval, less (the latest hours) when that would exceed ``POSITIONS_BUDGET``.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import redis

from data_feed.publish import Route, publish_many
from data_feed.simulator.clock import DAY_S, day_of, day_start
from data_feed.simulator.patrol import RoundPlan
from data_feed.simulator.world import Pending, World

log = logging.getLogger(__name__)

POSITIONS_MAXLEN = 1_000_000
"""Cap of the positions stream (``MAXLEN ~``), about a day and a half at the seed's scale."""

POSITIONS_BUDGET = 600_000
"""Most positions a backfill writes (the stream keeps ``POSITIONS_MAXLEN``; live mode needs room too)."""

PROGRESS_MIN_ENTRIES = 200_000
"""Backfills with more entries than this show a progress bar (on a terminal only)."""


@dataclass
class Tail:
    """What a backfill planned after its end, for live mode to write when its time comes."""

    end: int
    pending: list[Pending]
    rounds: list[RoundPlan]
    next_day: date


@dataclass
class BackfillStats:
    """Counts and timing of one backfill."""

    start: int
    end: int
    accepted: int = 0
    stuck: int = 0
    written: int = 0
    seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)


@dataclass
class Window:
    """A planned window: entries bucketed by district day, plus the tail after now."""

    world: World
    start: int
    end: int
    days: list[tuple[date, list[Pending]]]
    registrations: list[Pending]
    accepted: int
    tail: Tail | None
    stuck: list[str] = field(default_factory=list)
    """Ids of the window's cases the model left stuck (open for good: the documented stuck share)."""

    @property
    def size(self) -> int:
        """Entries the window will write."""
        return len(self.registrations) + sum(len(items) for _, items in self.days)


def window_bounds(start: date | None, days: float, now: float | None = None) -> tuple[int, int]:
    """[start, end) epoch of a backfill: whole days from ``start``, else ``days`` ending now."""
    if start is not None:
        s = day_start(start)
        return s, s + int(round(days * DAY_S))
    end = int(time.time() if now is None else now)
    return end - int(round(days * DAY_S)), end


def positions_from(rounds: list[RoundPlan], start: int, end: int) -> int:
    """First second of positions: the window's last day from midnight, later if that would exceed the budget."""
    first = max(start, day_start(day_of(end - 1)))

    def count(t: int) -> float:
        return sum(max(0, min(r.t_end, end) - max(r.t0, t)) / r.interval for r in rounds if r.status != "missed")

    if count(first) <= POSITIONS_BUDGET:
        return first
    lo, hi = first, end  # the latest hours of a large city: bisect for the budget
    while hi - lo > 60:
        mid = (lo + hi) // 2
        if count(mid) > POSITIONS_BUDGET:
            lo = mid
        else:
            hi = mid
    return hi


def plan_window(world: World, start: int, end: int, positions_s: int | None = None,
                keep_tail: bool = False, now: float | None = None) -> Window:
    """Plan every day touching [start, end) and every lifecycle of its cases up to now, in time order.

    ``positions_s`` limits positions to the window's last seconds (default: the whole last day);
    entries after ``now`` (default: the clock) go to the tail with ``keep_tail``, else are dropped.
    """
    horizon = int(time.time() if now is None else now)
    if keep_tail:
        horizon = min(horizon, end)  # live mode goes on from the window's end
    first, last = day_of(start), day_of(end - 1)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    plans = [world.plan(d) for d in days]
    origin = day_start(first)
    buckets: dict[int, list[Pending]] = defaultdict(list)
    tail: list[Pending] = []
    seq = 0
    accepted = 0
    stuck: list[str] = []

    def put(item: Pending) -> None:
        if item[0] > horizon:
            if keep_tail:
                tail.append(item)
        else:
            buckets[(item[0] - origin) // DAY_S].append(item)

    for p in plans:
        for r in p.rounds:
            for ts, c in r.visits:
                if start <= ts < end or (keep_tail and ts >= end):
                    seq += 1
                    put((ts, seq, "insp", (c, r.warden_id, r.index, p.visit_cases.get((ts, c), "")), 0))
        for case in p.cases:
            if case.ts < start or (case.ts >= end and not keep_tail):
                continue
            if case.ts < end and not case.voided:
                accepted += 1
                if case.stuck:
                    stuck.append(case.case_id)
            seq += 1
            put((case.ts, seq, "report", case, 0))
            for n, step in enumerate(case.steps):
                seq += 1
                put((step[0], seq, "step", case, n))
    pos_end = min(end, horizon + 1)
    last_rounds = [r for p in plans[-2:] for r in p.rounds]
    pos_start = end - positions_s if positions_s is not None else positions_from(last_rounds, start, pos_end)
    for r in last_rounds:
        if r.t_end > pos_start and r.t0 < pos_end:
            for ts, lat, lon, speed, battery in r.positions(world.routes[r.grid], max(pos_start, start), pos_end):
                seq += 1
                buckets[(ts - origin) // DAY_S].append((ts, seq, "pos", (r, (lat, lon, speed, battery)), 0))
    reg_rng = random.Random(f"{world.key}:registrations")
    registrations: list[Pending] = sorted(
        (start - reg_rng.randrange(3600, 6 * 3600), n, "reg", n, 0) for n in range(len(world.district.checkpoints)))
    result_tail = None
    if keep_tail:
        tail.sort(key=lambda item: (item[0], item[1]))
        live_rounds = [r for r in plans[-1].rounds if r.t_end > end]
        result_tail = Tail(end, tail, live_rounds, days[-1] + timedelta(days=1))
    ordered = [(origin_day(origin, k), buckets[k]) for k in sorted(buckets)]
    return Window(world, start, end, ordered, registrations, accepted, result_tail, stuck)


def origin_day(origin: int, k: int) -> date:
    """The district date ``k`` days after the day starting at ``origin``."""
    return day_of(origin + k * DAY_S)


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


def generate(world: World, start: int, end: int, positions_s: int | None = None,
             now: float | None = None) -> Iterator[dict[str, str]]:
    """Plan and yield a window's entries (for tests and tools; nothing is written)."""
    return window_events(plan_window(world, start, end, positions_s, now=now))


def write_window(connection: redis.Redis, window: Window, batch: int = 5000,
                 stop: threading.Event | None = None, progress: bool | None = None,
                 route: Route | None = None) -> BackfillStats:
    """XADD a planned window (pipelined) and return its statistics; stops early once ``stop`` is set.
    ``route`` names each entry's stream (streams split by street), else the two default ones.

    A long window shows a progress bar (entries, rate, time left) on standard error when that is
    a terminal (``progress`` None), always (True) or never (False).
    """
    stats = BackfillStats(window.start, window.end, accepted=window.accepted, stuck=len(window.stuck))
    t0 = time.perf_counter()
    total = window.size
    show = (sys.stderr.isatty() and total >= PROGRESS_MIN_ENTRIES) if progress is None else progress
    bar: Any = None
    if show:
        from tqdm import tqdm  # only a terminal needs it

        bar = tqdm(total=total, unit=" entries", unit_scale=True, desc="backfill", file=sys.stderr,
                   mininterval=0.5, smoothing=0.1)

    def counted() -> Iterator[dict[str, str]]:
        n = 0
        for event in window_events(window):
            if stop is not None and stop.is_set():  # Ctrl-C: a shutdown must not wait for days of history
                return
            stats.by_type[event["type"]] += 1
            n += 1
            if bar is not None and n % batch == 0:
                bar.update(batch)
            yield event
        if bar is not None:
            bar.update(n % batch)

    try:
        stats.written = publish_many(connection, counted(), batch=batch, positions_maxlen=POSITIONS_MAXLEN,
                                     route=route)
    finally:
        if bar is not None:
            bar.close()
    stats.seconds = time.perf_counter() - t0
    return stats

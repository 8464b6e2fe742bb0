"""Live mode: the simulated district in (accelerated) real time, written as it happens.

It draws from the same model as the backfill (``World.plan`` of each day), only paced by the clock.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import redis

from data_feed.connection import describe
from data_feed.publish import Route, publish_many
from data_feed.simulator.backfill import POSITIONS_MAXLEN, Tail, render
from data_feed.simulator.clock import day_of
from data_feed.simulator.patrol import RoundPlan
from data_feed.simulator.world import Pending, World

log = logging.getLogger(__name__)

TICK_S = 1.0
"""Real seconds between two writes in live mode."""

BACKOFF_INITIAL_S = 0.5
"""First retry delay after a lost Redis connection or a read timeout."""

BACKOFF_MAX_S = 15.0
"""Cap of the retry delay after a lost Redis connection or a read timeout."""


class LiveEngine:
    """Produces the entries of simulated time, tick by tick, from ``start`` on."""

    def __init__(self, world: World, start: int, tail: Tail | None = None, *, positions: bool = True) -> None:
        self.world = world
        self.with_positions = positions  # tools measuring case rates over simulated weeks turn them off
        self.cursor = start  # everything at or before the cursor has been produced
        self.heap: list[Pending] = []
        self.rounds: list[RoundPlan] = []
        self.seq = 0
        if tail is not None:
            self.heap = [item for item in tail.pending if item[0] > start]
            heapq.heapify(self.heap)
            self.rounds = list(tail.rounds)
            self.next_day = tail.next_day
            self.seq = max((item[1] for item in self.heap), default=0)
        else:
            self.next_day = day_of(start)

    def registrations(self) -> list[dict[str, str]]:
        """``checkpoint.registered`` for every checkpoint, stamped at the start (ids make repeats harmless)."""
        b = self.world.builder
        return [b.registration(n, self.cursor) for n in range(len(self.world.district.checkpoints))]

    def _plan_next_day(self) -> None:
        world = self.world
        day = self.next_day
        plan = world.plan(day)
        for r in plan.rounds:
            for ts, c in r.visits:
                if ts > self.cursor:
                    self._push((ts, 0, "insp", (c, r.warden_id, r.index, plan.visit_cases.get((ts, c), "")), 0))
            if r.t_end > self.cursor:
                self.rounds.append(r)
        for case in plan.cases:
            if case.ts <= self.cursor:
                continue  # reported before live mode started (a backfill wrote it, or it is not continued)
            self._push((case.ts, 0, "report", case, 0))
            for n, step in enumerate(case.steps):
                self._push((step[0], 0, "step", case, n))
        self.next_day = day + timedelta(days=1)

    def _push(self, item: Pending) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (item[0], self.seq, item[2], item[3], item[4]))

    def advance(self, to: int) -> list[dict[str, str]]:
        """Entries with ts in (cursor, to], in time order; moves the cursor to ``to``."""
        if to <= self.cursor:
            return []
        while day_of(to + 3600) >= self.next_day:
            self._plan_next_day()
        items: list[Pending] = []
        while self.heap and self.heap[0][0] <= to:
            items.append(heapq.heappop(self.heap))
        active = []
        for r in self.rounds:
            if r.t0 <= to and self.with_positions:
                route = self.world.routes[r.grid]
                for ts, lat, lon, speed, battery in r.positions(route, self.cursor + 1, to + 1):
                    items.append((ts, 0, "pos", (r, (lat, lon, speed, battery)), 0))
            if r.t_end > to:
                active.append(r)
        self.rounds = active
        self.cursor = to
        items.sort(key=lambda item: (item[0], item[1]))
        return [render(self.world, item) for item in items]


def run_engine(connection: redis.Redis, engine: LiveEngine, speed: float, stop: threading.Event,
               sim_start: float | None = None, clock: Callable[[], float] = time.monotonic, *,
               backoff_initial_s: float = BACKOFF_INITIAL_S, backoff_max_s: float = BACKOFF_MAX_S,
               route: Route | None = None) -> int:
    """Write the engine's entries as simulated time passes (``speed``× real time) until ``stop``; return the count.

    Simulated time starts at ``sim_start`` (default: the engine's cursor); when that is later
    than the cursor, the first tick catches up. A lost connection or a timeout (a stalled or
    overloaded Redis) is retried with capped exponential backoff; unsent entries are kept.
    """
    real0 = clock()
    sim0 = engine.cursor if sim_start is None else int(sim_start)
    written = 0
    backoff = backoff_initial_s
    unsent: list[dict[str, str]] = []
    while not stop.is_set():
        target = sim0 + int((clock() - real0) * speed)
        try:
            unsent.extend(engine.advance(target))
            if unsent:
                written += publish_many(connection, unsent, positions_maxlen=POSITIONS_MAXLEN, route=route)
                unsent = []
            backoff = backoff_initial_s
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("simulator: Redis at %s unavailable (%s: %s); retrying in %.1f s", describe(connection),
                        type(exc).__name__, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, backoff_max_s)
            continue
        stop.wait(TICK_S)
    return written

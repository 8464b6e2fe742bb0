"""Warden patrols: two rounds a day through every checkpoint of the grid, with GPS positions.

Each warden walks a snake through the cells of their grid (a plausible street-by-street
path), detouring to each checkpoint, dwelling there to inspect it; after the checkpoints the
warden keeps patrolling the grid until the round has lasted at least two hours. Some rounds
start late, some are cut short (partial: only the checkpoints reached are inspected) and a
few are not walked at all (missed), at the rates of ``params.ModelParams``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from data_feed.simulator.geography import M_PER_DEG_LAT, M_PER_DEG_LON, District
from data_feed.simulator.params import ModelParams

POSITION_INTERVAL_S = 10
"""Rounds start on a multiple of 10 s (each handheld then reports every ``RoundPlan.interval`` s)."""

MIN_ROUND_S = 2 * 3600
"""Each round lasts at least two hours (the seed)."""

MORNING = (7 * 3600 + 30 * 60, 9 * 3600 + 15 * 60, 11 * 3600 + 55 * 60)
"""Morning round: earliest start, latest start, must end by (seconds after midnight)."""

AFTERNOON = (13 * 3600 + 30 * 60, 15 * 3600, 17 * 3600 + 50 * 60)
"""Afternoon round: earliest start, latest start, must end by."""

LATE_BY_S = (10 * 60, 30 * 60)
"""A late round starts this much after the latest scheduled start."""

PARTIAL_SHARE_WALKED = (0.3, 0.85)
"""A partial round inspects this share of its checkpoints (at least one), then ends."""

STATUSES = ("done", "late", "partial", "missed")
"""A round's status: on time and complete, started late (complete), cut short, not walked."""

OFFLINE_SHARE = 0.03
"""Share of rounds during which the handheld drops offline for a while (no positions)."""


@dataclass
class Route:
    """A grid's patrol path: waypoints (lat, lon), cumulative metres, checkpoint stops."""

    points: list[tuple[float, float]]
    cum: list[float]
    stops: list[tuple[int, int]]  # (waypoint index, checkpoint index)


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * M_PER_DEG_LAT, (a[1] - b[1]) * M_PER_DEG_LON)


def build_routes(district: District) -> list[Route]:
    """One snake route per grid through its cells, with a detour to each checkpoint."""
    routes: list[Route] = []
    for g, grid in enumerate(district.grids):
        i0, i1, j0, j1 = grid.rect
        by_cell: dict[tuple[int, int], list[int]] = {}
        for c in district.grid_checkpoints[g]:
            by_cell.setdefault(district.checkpoints[c].cell, []).append(c)
        points: list[tuple[float, float]] = []
        stops: list[tuple[int, int]] = []
        for row, j in enumerate(range(j0, j1)):
            cols = range(i0, i1) if row % 2 == 0 else range(i1 - 1, i0 - 1, -1)
            for i in cols:
                center = district.point(i + 0.5, j + 0.5)
                points.append(center)
                for c in by_cell.get((i, j), []):
                    cp = district.checkpoints[c]
                    stops.append((len(points), c))
                    points.append((cp.lat, cp.lon))
                    points.append(center)
        cum = [0.0]
        for a, b in itertools.pairwise(points):
            cum.append(cum[-1] + _dist(a, b))
        routes.append(Route(points, cum, stops))
    return routes


@dataclass
class RoundPlan:
    """One warden's patrol round: timing, walking speed, visits and an offline gap."""

    grid: int
    warden_id: str
    index: int  # 0 morning, 1 afternoon
    t0: int
    t_end: int
    speed: float
    dwell: list[int]
    visits: list[tuple[int, int]] = field(default_factory=list)  # (ts, checkpoint)
    offline: tuple[int, int] = (0, 0)
    battery0: float = 100.0
    status: str = "done"
    interval: int = POSITION_INTERVAL_S

    def positions(self, route: Route, t_from: int, t_to: int) -> Iterator[tuple[int, float, float, float, float]]:
        """(ts, lat, lon, speed_mps, battery) every ``interval`` s in [t_from, t_to) ∩ round, minus offline."""
        if self.status == "missed":
            return
        start = max(t_from, self.t0)
        phase = (start - self.t0) % self.interval
        if phase:
            start += self.interval - phase
        end = min(t_to, self.t_end)
        if start >= end:
            return
        # Timeline: forward lap with dwell at stops, then back and forth without stops.
        pts, cum = route.points, route.cum
        length = cum[-1] or 1.0
        stop_dwell = {w: d for (w, _), d in zip(route.stops, self.dwell, strict=True)}
        events: list[tuple[float, float, int]] = []  # (t at waypoint arrival, t leaving, waypoint)
        t = float(self.t0)
        for w in range(len(pts)):
            if w:
                t += (cum[w] - cum[w - 1]) / self.speed
            leave = t + stop_dwell.get(w, 0)
            events.append((t, leave, w))
            t = leave
        lap_end = t
        k = 0
        for ts in range(start, end, self.interval):
            if self.offline[0] <= ts < self.offline[1]:
                continue
            battery = max(5.0, self.battery0 - (ts - self.t0) / 3600 * 4.0)
            if ts < lap_end:
                while k + 1 < len(events) and events[k + 1][0] <= ts:
                    k += 1
                arrive, leave, w = events[k]
                if ts < leave or w + 1 >= len(pts):
                    yield ts, pts[w][0], pts[w][1], 0.0, battery
                    continue
                nxt = events[k + 1][0]
                f = (ts - leave) / max(nxt - leave, 1e-9)
                a, b = pts[w], pts[w + 1]
                yield ts, a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, self.speed, battery
            else:
                # Keep patrolling the grid: walk the route back and forth at the same speed.
                p = ((ts - lap_end) * self.speed) % (2 * length)
                d = length - p if p <= length else p - length
                lo, hi = 0, len(cum) - 1
                while lo < hi - 1:
                    mid = (lo + hi) // 2
                    if cum[mid] <= d:
                        lo = mid
                    else:
                        hi = mid
                seg = cum[hi] - cum[lo] or 1.0
                f = (d - cum[lo]) / seg
                a, b = pts[lo], pts[hi]
                yield ts, a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, self.speed, battery


def plan_rounds(district: District, routes: list[Route], day0: int, rng: random.Random,
                params: ModelParams | None = None) -> list[RoundPlan]:
    """Both rounds of every warden on the day starting at epoch ``day0`` (missed ones have no visits)."""
    p = params or ModelParams()
    status_w = (1.0 - p.late_share - p.partial_share - p.missed_share, p.late_share, p.partial_share,
                p.missed_share)
    plans: list[RoundPlan] = []
    for g, grid in enumerate(district.grids):
        route = routes[g]
        for index, (earliest, latest, end_by) in enumerate((MORNING, AFTERNOON)):
            status = rng.choices(STATUSES, weights=status_w)[0]
            speed = rng.uniform(0.9, 1.4)
            dwell = [rng.randrange(150, 540) for _ in route.stops]
            if status == "late":
                earliest = latest + rng.randrange(*LATE_BY_S)
                latest = earliest
            available = end_by - earliest - 600
            if route.cum[-1] / speed > 0.75 * available:  # a large village grid (or a late start): walk briskly
                speed = min(1.8, route.cum[-1] / (0.75 * available))
            spare = available - route.cum[-1] / speed
            if sum(dwell) > spare:  # many checkpoints: shorter inspections
                dwell = [max(60, int(d * spare / sum(dwell))) for d in dwell]
            lap = route.cum[-1] / speed + sum(dwell)
            duration = max(MIN_ROUND_S + rng.randrange(300, 2400), int(lap) + 300)
            latest_start = min(latest, end_by - duration)
            offset = rng.randrange(earliest, max(earliest, latest_start) + 1)
            t0 = day0 + offset - offset % POSITION_INTERVAL_S
            if t0 + duration > day0 + end_by:  # a late start: the round still ends in its half of the day
                duration = max(MIN_ROUND_S, day0 + end_by - t0)
            plan = RoundPlan(g, grid.warden_id, index, t0, t0 + duration, speed, dwell,
                             battery0=rng.uniform(70, 100) if index == 0 else rng.uniform(45, 95),
                             status=status, interval=rng.choice(p.position_intervals))
            if status == "missed":
                plan.t_end = t0
                plans.append(plan)
                continue
            # Visit times: arrival at each stop plus its dwell (the inspection is completed then).
            stop_at = {w: (c, d) for (w, c), d in zip(route.stops, dwell, strict=True)}
            t = float(t0)
            for w in range(len(route.points)):
                if w:
                    t += (route.cum[w] - route.cum[w - 1]) / speed
                if w in stop_at:
                    c, d = stop_at[w]
                    t += d
                    plan.visits.append((int(t), c))
            if status == "partial" and plan.visits:  # called away: ends a little after its last inspection
                plan.visits = plan.visits[:max(1, int(len(plan.visits) * rng.uniform(*PARTIAL_SHARE_WALKED)))]
                plan.t_end = min(plan.t_end, plan.visits[-1][0] + rng.randrange(300, 900))
                duration = plan.t_end - t0
            if rng.random() < OFFLINE_SHARE:
                gap_start = rng.randrange(t0, t0 + max(duration - 600, 1))
                plan.offline = (gap_start, gap_start + rng.randrange(600, 2400))
            plans.append(plan)
    return plans

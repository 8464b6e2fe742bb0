"""Cases: one day's arrivals (patrol finds and citizen reports), routing and lifecycles.

Every rate, share and duration comes from ``params.ModelParams`` (the one generative model
that backfill and live mode share); nothing here knows the seed's figures. Counts per stratum
are randomised roundings of the model's expectation (see ``params``); durations are lognormal.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import shapely
import shapely.geometry

from data_feed.simulator import catalog
from data_feed.simulator.geography import District
from data_feed.simulator.params import ModelParams
from data_feed.simulator.patrol import RoundPlan

H = 3600
"""Seconds per hour."""

CITIZEN_CHANNELS = ("hotline", "wechat", "web")
"""Channels of reports by the public."""

STATE_STEPS = frozenset({"case.resolved_on_site", "case.escalated", "case.dispatched", "case.processed",
                         "case.returned", "case.closed"})
"""Lifecycle events that change a case's state (ratings and voids do not reopen or close)."""

_PHONE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                   "158", "159", "186", "187", "188", "189")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ASKS = ("请尽快处理。", "影响居民出行，希望尽快解决。", "已持续多日，盼处理。", "存在安全隐患，请相关部门处理。",
         "影响市容，请处理。")
_RETURN_REASONS = ("现场复核未通过", "整改不彻底", "居民反映问题仍存在", "照片与现场不符")


def rounded(expected: float, rng: random.Random) -> int:
    """Randomised rounding: ``floor(expected + U)``, unbiased with variance at most 1/4."""
    return math.floor(expected + rng.random())


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A lognormal draw with the given median and log-scale spread."""
    return rng.lognormvariate(math.log(median), sigma)


@dataclass
class CasePlan:
    """One case: where and how it was reported, its route and its lifecycle steps."""

    case_id: str
    ts: int
    channel: str
    category: int
    priority: str
    lat: float
    lon: float
    street: int
    grid: int
    checkpoint: int = -1
    warden_id: str = ""
    visit_ts: int = 0
    voided: bool = False
    route: str = ""
    steps: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    reworked: bool = False
    stuck: bool = False
    query_code: str = ""
    description: str = ""
    phone: str = ""

    @property
    def citizen(self) -> bool:
        """Reported by the public (hotline, WeChat or web)."""
        return self.channel in CITIZEN_CHANNELS


def limit_hours(case: CasePlan, district: District) -> float:
    """The case's time limit in hours (its category's, by priority)."""
    return district.categories[case.category].limits[("normal", "urgent", "hazard").index(case.priority)]


def _priority(cat: catalog.CategoryInfo, p: ModelParams, rng: random.Random, hazard_factor: float = 1.0) -> str:
    r = rng.random()
    if cat.hazard and r < p.hazard_share * hazard_factor:
        return "hazard"
    return "urgent" if r < p.hazard_share + p.urgent_share else "normal"


def _weighted_sample(items: list[int], weights: list[float], k: int, rng: random.Random) -> list[int]:
    """``k`` items without replacement, each chosen with probability proportional to its weight."""
    if k <= 0:
        return []
    keys = sorted(((rng.random() ** (1.0 / w), n) for n, w in zip(items, weights, strict=True) if w > 0),
                  reverse=True)
    return [n for _, n in keys[:k]]


def find_probabilities(district: District, p: ModelParams) -> list[float]:
    """Per checkpoint: probability that an inspection finds a problem (mean over the district: the find rate)."""
    factors = p.find_factors()
    raw = [factors.get(district.categories[cp.category].group, 1.0) for cp in district.checkpoints]
    mean = sum(raw) / max(len(raw), 1)
    return [min(1.0, p.patrol_find_rate * f / mean) for f in raw]


def plan_day(district: District, rounds: list[RoundPlan], day0: int, weekday: int, p: ModelParams,
             find: list[float], rng: random.Random) -> list[CasePlan]:
    """The day's cases (without ids): patrol finds at inspected checkpoints, citizen reports and their duplicates.

    ``find`` is each checkpoint's find probability (``find_probabilities``).
    """
    cats = district.categories
    cps = district.checkpoints
    grids = district.grids
    comms = district.communities
    scale = district.preset.scale
    cases: list[CasePlan] = []
    # Patrol finds: per street, a randomised rounding of the expected finds over the day's visits.
    by_street: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for plan in rounds:
        for ts, c in plan.visits:
            by_street[grids[cps[c].grid].street].append((ts, c, plan.warden_id))
    for street in sorted(by_street):
        visits = sorted(by_street[street])
        weights = [find[c] for _, c, _ in visits]
        for v in sorted(_weighted_sample(list(range(len(visits))), weights, rounded(sum(weights), rng), rng)):
            ts, c, warden = visits[v]
            cp = cps[c]
            cases.append(CasePlan("", ts + rng.randrange(20, 150), "patrol", cp.category,
                                  _priority(cats[cp.category], p, rng), cp.lat, cp.lon, street, cp.grid, c,
                                  warden, ts))
    # Citizen reports: per channel, the day's expected count; hours from the daily profile.
    citizen_w = [(6.0 if c.citizen else 0.6) * c.weight for c in cats]
    grid_w = [0.3 if comms[g.community].kind == "village" else 1.0 for g in grids]
    weekday_f = p.citizen_weekday[weekday]
    for channel, share in p.channel_shares:
        for _ in range(rounded(p.citizen_per_day * share * weekday_f * scale, rng)):
            ts = day0 + rng.choices(range(24), weights=p.citizen_hours)[0] * H + rng.randrange(H)
            case = _citizen_case(district, channel, ts, rng.choices(range(len(cats)), weights=citizen_w)[0],
                                 rng.choices(range(len(grids)), weights=grid_w)[0], p, rng)
            cases.append(case)
            if rng.random() < p.duplicate_share:  # the same problem reported again: voided as a duplicate
                dup = _citizen_case(district, rng.choice(CITIZEN_CHANNELS), ts + int(lognormal(rng, 2 * H, 1.0)),
                                    case.category, case.grid, p, rng)
                dup.lat, dup.lon, dup.priority, dup.voided = case.lat, case.lon, case.priority, True
                cases.append(dup)
    cases.sort(key=lambda x: (x.ts, x.channel, x.checkpoint, x.grid))
    return cases


def _inside(area: Any, lat: float, lon: float) -> bool:
    """Whether a point lies inside an area's polygons (so the dashboard can place the case)."""
    return bool(shapely.contains_xy(shapely.geometry.shape(area.geometry()), lon, lat))


def _citizen_case(district: District, channel: str, ts: int, category: int, grid: int, p: ModelParams,
                  rng: random.Random) -> CasePlan:
    """A citizen report near the facilities of ``grid``: between two of its checkpoints."""
    cats = district.categories
    grid_cps = district.grid_checkpoints[grid]
    a = district.checkpoints[rng.choice(grid_cps)]
    b = district.checkpoints[rng.choice(grid_cps)]
    f = rng.uniform(0.0, 0.5)
    lat, lon = a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f
    g = district.grids[grid]
    if not _inside(g, lat, lon):
        lat, lon = a.lat, a.lon  # the grid is concave there: report at the checkpoint (no extra draw)
    case = CasePlan("", ts, channel, category, _priority(cats[category], p, rng, 0.5), round(lat, 6), round(lon, 6),
                    g.street, grid)
    comm = district.communities[g.community]
    if case.priority == "hazard":
        case.description = f"{comm.name_zh}：{rng.choice(catalog.HAZARD_STORIES)}。"
    else:
        problem = rng.choice(catalog.PROBLEMS[cats[category].group])
        case.description = f"{comm.name_zh}附近{cats[category].name_zh}{problem}，{rng.choice(_ASKS)}"
    case.query_code = "".join(rng.choices(_CODE_ALPHABET, k=8))
    case.phone = f"{rng.choice(_PHONE_PREFIXES)}{rng.randrange(10 ** 8):08d}"
    return case


def assign_routes(cases: list[CasePlan], p: ModelParams, scale: float, rng: random.Random) -> None:
    """Route the day's cases: on the spot, street team, mobile team (daily capacity) or department."""
    escalated: list[CasePlan] = []
    for case in cases:
        if case.voided:
            case.route = "void"
        elif case.channel == "patrol" and case.priority != "hazard" and rng.random() < p.on_site_share:
            case.route = "onsite"
        elif case.priority == "hazard" or rng.random() < p.department_share:
            case.route = "department"
        else:
            case.route = "street"
            escalated.append(case)
    jobs = rounded(p.mobile_jobs_per_day * scale, rng)
    order = sorted(escalated, key=lambda c: (c.priority != "urgent", rng.random()))
    for case in order[:jobs]:
        case.route = "mobile"


def build_lifecycle(case: CasePlan, district: District, p: ModelParams, rng: random.Random) -> None:
    """Fill ``case.steps`` (every event after the report): lognormal durations, rework, ratings."""
    steps = case.steps
    t = case.ts
    cat = district.categories[case.category]
    hazard = case.priority == "hazard"
    limit_h = limit_hours(case, district)
    deadline = case.ts + int(limit_h * H)

    def add(delay: float, etype: str, **fields: str) -> None:
        nonlocal t
        t += max(1, int(delay))
        steps.append((t, etype, fields))

    def dispatch(unit_type: str) -> str:
        nonlocal deadline
        if unit_type == "department":
            unit = cat.department_id
            add(lognormal(rng, p.escalate_median_s, 0.7), "case.escalated", level="district")
            hours = 24.0 if hazard else limit_h
            add(lognormal(rng, p.dispatch_median_s, 0.7), "case.dispatched", unit_id=unit, unit_type=unit_type,
                deadline=f"@{t + int(hours * H)}")
            deadline = t + int(hours * H)
            return unit
        unit = (district.street_team(case.street) if unit_type == "street_team"
                else f"mobile-{rng.randrange(district.preset.mobile_teams) + 1:02d}")
        add(lognormal(rng, p.escalate_median_s, 0.7), "case.escalated", level="street")
        add(lognormal(rng, p.dispatch_median_s * (0.5 if unit_type == "mobile_team" else 1.0), 0.7),
            "case.dispatched", unit_id=unit, unit_type=unit_type)
        return unit

    def process(unit: str, unit_type: str) -> None:
        if hazard:
            hours = lognormal(rng, p.hazard_median_h, 0.5)
        elif unit_type == "department":
            hours = lognormal(rng, p.department_median, 0.6) * limit_h
        elif unit_type == "mobile_team":
            hours = lognormal(rng, p.mobile_median_h, 0.6)
        else:
            hours = lognormal(rng, p.street_team_median, p.street_team_sigma) * limit_h
        add(hours * H, "case.processed", unit_id=unit)
        if rng.random() < p.rework_share:
            case.reworked = True
            add(lognormal(rng, 2 * H, 0.6), "case.returned", reason=rng.choice(_RETURN_REASONS))
            add(max(H, lognormal(rng, 0.2, 0.6) * limit_h * H), "case.processed", unit_id=unit)
        verifier = "district" if unit_type == "department" else district.streets[case.street].area_id
        add(lognormal(rng, p.verify_median_s, 0.7), "case.closed", verified_by=verifier)

    if case.route == "void":
        add(lognormal(rng, 1800, 0.7), "case.voided", reason="重复投诉")
        return
    if case.route == "onsite":
        add(min(lognormal(rng, p.on_site_median_s, 0.6), 2 * H), "case.resolved_on_site", warden_id=case.warden_id)
        rated = p.rated_on_site
        if rng.random() < p.on_site_recheck_share:
            case.reworked = True
            add(lognormal(rng, 3 * H, 0.6), "case.returned", reason=rng.choice(_RETURN_REASONS))
            process(dispatch("street_team"), "street_team")
    else:
        unit_type = {"street": "street_team", "mobile": "mobile_team", "department": "department"}[case.route]
        unit = dispatch(unit_type)
        if not hazard and rng.random() < p.stuck_share:
            # The unit does not report back: open and overdue for weeks, until the monthly review forces it.
            case.stuck = True
            t += int(limit_h * H * rng.uniform(*p.stuck_factor))
        process(unit, unit_type)
        rated = p.rated_citizen if case.citizen else p.rated_dispatched
    if rng.random() < p.reopen_share:
        case.reworked = True
        add(rng.uniform(24 * H, 72 * H), "case.returned", reason="问题复发")
        unit = district.street_team(case.street)
        add(lognormal(rng, 8 * H, 0.6), "case.processed", unit_id=unit)
        add(lognormal(rng, p.verify_median_s, 0.7), "case.closed", verified_by=district.streets[case.street].area_id)
    if not case.stuck:
        _fold_tail(case, (p.hazard_max_h if hazard else p.max_age_factor * limit_h) * H)
    closed = steps[-1][0]
    if rng.random() < rated:
        satisfied = p.satisfied_base
        if case.reworked:
            satisfied *= p.satisfied_reworked
        if closed > deadline:
            satisfied *= p.satisfied_late
        ok = rng.random() < satisfied
        steps.append((closed + int(min(lognormal(rng, 6 * H, 1.0), 72 * H)), "case.rated",
                      {"satisfied": "true" if ok else "false",
                       "score": str(rng.choice((4, 5, 5)) if ok else rng.choice((1, 2, 3, 3)))}))


def _fold_tail(case: CasePlan, max_s: float) -> None:
    """Compress a lifecycle longer than ``max_s`` (supervision presses late units) keeping its order."""
    span = case.steps[-1][0] - case.ts
    if span <= max_s:
        return
    f = max_s / span
    folded: list[tuple[int, str, dict[str, str]]] = []
    last = case.ts
    for ts, etype, fields in case.steps:
        last = max(last + 1, case.ts + int((ts - case.ts) * f))
        folded.append((last, etype, fields))
    case.steps[:] = folded


def closed_at(case: CasePlan, end: int) -> bool:
    """Whether the case's last state at or before ``end`` is closed (resolved on site or closed)."""
    state = False
    for ts, etype, _ in case.steps:
        if ts > end:
            break
        if etype in ("case.resolved_on_site", "case.closed"):
            state = True
        elif etype in STATE_STEPS:
            state = False
    return state

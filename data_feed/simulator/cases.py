"""Cases: daily case planning (patrol finds and citizen reports), routing and lifecycles.

Routing shares come from the seed's figures (department, mobile team, citizen channels)
through cumulative quotas, so a window of days lands on the seed's proportions exactly
rather than only on average.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from data_feed.simulator import catalog
from data_feed.simulator.geography import District
from data_feed.simulator.patrol import RoundPlan

H = 3600
"""Seconds per hour."""

ON_SITE_SHARE = 0.70
"""Share of patrol cases (not sent to departments or mobile teams) fixed on the spot by the warden."""

REWORK_SHARE = 0.05
"""Share of dispatched cases whose disposal fails the check and is returned for rework."""

REOPEN_SHARE = 0.005
"""Share of closed cases re-opened later (the problem came back)."""

ON_SITE_RECHECK_SHARE = 0.01
"""Share of on-site fixes that fail the command center's check and go to the street team."""

VOID_SHARE = 0.003
"""Extra duplicate citizen reports, voided (excluded from every KPI)."""

HAZARD_SHARE = 0.004
"""Share of cases in hazard-capable categories that are hazards (a few a month)."""

URGENT_SHARE = 0.05
"""Share of cases that are urgent."""

RATED_SHARE = {"citizen": 0.90, "dispatched": 0.15, "onsite": 0.02}
"""Share of closed cases rated (citizens rate their cases; residents are asked about some others)."""

CHANNEL_WEIGHTS = (("hotline", 0.55), ("wechat", 0.27), ("web", 0.18))
"""Citizen channels: the 6522222 hotline, the 民声热点 WeChat account, the 民声网 web portal."""

WEEKDAY_WEIGHTS = (1.04, 1.03, 1.02, 1.03, 1.01, 0.95, 0.92)
"""Relative case volume Monday … Sunday."""

CITIZEN_HOURS = (0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 5, 5, 7, 7, 6, 5, 4, 4, 3, 2, 1, 0)
"""Relative citizen report volume per hour of the day."""

_PHONE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                   "158", "159", "186", "187", "188", "189")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ASKS = ("请尽快处理。", "影响居民出行，希望尽快解决。", "已持续多日，盼处理。", "存在安全隐患，请相关部门处理。",
         "影响市容，请处理。")
_RETURN_REASONS = ("现场复核未通过", "整改不彻底", "居民反映问题仍存在", "照片与现场不符")


class Quotas:
    """Cumulative rounding of expected counts: totals over any run of days stay exact."""

    def __init__(self) -> None:
        self._expected: dict[str, float] = {}

    def take(self, name: str, expected: float) -> int:
        """Add ``expected`` to the running total of ``name`` and return this step's integer share."""
        before = self._expected.get(name, 0.0)
        after = before + expected
        self._expected[name] = after
        return math.floor(after + 0.5) - math.floor(before + 0.5)


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
    cut_at: int = 0
    reworked: bool = False
    query_code: str = ""
    description: str = ""
    phone: str = ""

    @property
    def citizen(self) -> bool:
        """Reported by the public (hotline, WeChat or web)."""
        return self.channel in ("hotline", "wechat", "web")


def day_weight(day_rng: random.Random, weekday: int) -> float:
    """Relative case volume of one day: weekday pattern and a little day-to-day noise."""
    return WEEKDAY_WEIGHTS[weekday] * day_rng.uniform(0.94, 1.06)


def _priority(cat: catalog.CategoryInfo, rng: random.Random, hazard_factor: float = 1.0) -> str:
    r = rng.random()
    if cat.hazard and r < HAZARD_SHARE * hazard_factor:
        return "hazard"
    return "urgent" if r < HAZARD_SHARE + URGENT_SHARE else "normal"


def plan_day(district: District, rounds: list[RoundPlan], day0: int, day_label: str, total: int,
             citizen: int, rng: random.Random) -> list[CasePlan]:
    """The day's cases: ``total - citizen`` found on patrol, ``citizen`` from the public, plus voided duplicates."""
    cats = district.categories
    cps = district.checkpoints
    grids = district.grids
    comms = district.communities
    visits = sorted((ts, c, plan.warden_id) for plan in rounds for ts, c in plan.visits)
    patrol = min(max(total - citizen, 0), len(visits))
    cases: list[CasePlan] = []
    for v in sorted(rng.sample(range(len(visits)), patrol)):
        ts, c, warden = visits[v]
        cp = cps[c]
        cat = cats[cp.category]
        cases.append(CasePlan("", ts + rng.randrange(20, 150), "patrol", cp.category, _priority(cat, rng),
                              cp.lat, cp.lon, grids[cp.grid].street, cp.grid, c, warden, ts))
    citizen_w = [(6.0 if c.citizen else 0.6) * c.weight for c in cats]
    grid_w = [0.3 if comms[g.community].kind == "village" else 1.0 for g in grids]
    channels = [c for c, _ in CHANNEL_WEIGHTS]
    channel_w = [w for _, w in CHANNEL_WEIGHTS]
    voids = sum(1 for _ in range(total) if rng.random() < VOID_SHARE)
    for k in range(citizen + voids):
        hour = rng.choices(range(24), weights=CITIZEN_HOURS)[0]
        ts = day0 + hour * H + rng.randrange(H)
        c = rng.choices(range(len(cats)), weights=citizen_w)[0]
        g = rng.choices(range(len(grids)), weights=grid_w)[0]
        i0, i1, j0, j1 = grids[g].rect
        lat, lon = district.point(rng.randrange(i0, i1) + rng.uniform(0.05, 0.95),
                                  rng.randrange(j0, j1) + rng.uniform(0.05, 0.95))
        case = CasePlan("", ts, rng.choices(channels, weights=channel_w)[0], c,
                        _priority(cats[c], rng, 0.5), round(lat, 6), round(lon, 6), grids[g].street, g,
                        voided=k >= citizen)
        comm = comms[grids[g].community]
        if case.priority == "hazard":
            case.description = f"{comm.name_zh}：{rng.choice(catalog.HAZARD_STORIES)}。"
        else:
            problem = rng.choice(catalog.PROBLEMS[cats[c].group])
            case.description = f"{comm.name_zh}附近{cats[c].name_zh}{problem}，{rng.choice(_ASKS)}"
        case.query_code = "".join(rng.choices(_CODE_ALPHABET, k=8))
        case.phone = f"{rng.choice(_PHONE_PREFIXES)}{rng.randrange(10 ** 8):08d}"
        cases.append(case)
    cases.sort(key=lambda x: (x.ts, x.channel, x.checkpoint, x.grid))
    for n, case in enumerate(cases):
        case.case_id = f"XL{day_label}{n + 1:05d}"
    return cases


def assign_routes(cases: list[CasePlan], quotas: Quotas, dept_rate: float, mobile_rate: float,
                  rng: random.Random) -> None:
    """Route accepted cases: department and mobile-team counts by quota, the rest by the street."""
    accepted = [c for c in cases if not c.voided]
    n_dept = min(quotas.take("department", dept_rate * len(accepted)), len(accepted))
    order = sorted(accepted, key=lambda c: (c.priority != "hazard", rng.random() * (0.35 if c.citizen else 1.0)))
    for case in order[:n_dept]:
        case.route = "department"
    rest = sorted(order[n_dept:], key=lambda c: (c.priority != "urgent", rng.random()))
    n_mobile = min(quotas.take("mobile", mobile_rate * len(accepted)), len(rest))
    for case in rest[:n_mobile]:
        case.route = "mobile"
    for case in rest[n_mobile:]:
        case.route = "street" if case.citizen or rng.random() >= ON_SITE_SHARE else "onsite"
    for case in cases:
        if case.voided:
            case.route = "void"


def build_lifecycle(case: CasePlan, district: District, rng: random.Random) -> None:
    """Fill ``case.steps`` (every event after the report) with realistic delays."""
    steps = case.steps
    t = case.ts
    cat = district.categories[case.category]
    hazard = case.priority == "hazard"

    def add(delay: float, etype: str, **fields: str) -> None:
        nonlocal t
        t += max(1, int(delay))
        steps.append((t, etype, fields))

    def limit_h() -> float:
        return cat.limits[("normal", "urgent", "hazard").index(case.priority)]

    def dispatch(unit_type: str) -> str:
        if unit_type == "street_team":
            unit = district.street_team(case.street)
            add(rng.uniform(60, 900), "case.escalated", level="street")
            add(rng.uniform(300, 2700), "case.dispatched", unit_id=unit, unit_type=unit_type)
        elif unit_type == "mobile_team":
            unit = f"mobile-{rng.randrange(district.preset.mobile_teams) + 1:02d}"
            add(rng.uniform(60, 900), "case.escalated", level="street")
            add(rng.uniform(300, 1800), "case.dispatched", unit_id=unit, unit_type=unit_type)
        else:
            unit = cat.department_id
            add(rng.uniform(600, 3600), "case.escalated", level="district")
            hours = 24.0 if hazard else limit_h()
            add(rng.uniform(600, 7200), "case.dispatched", unit_id=unit, unit_type=unit_type,
                deadline=f"@{t + int(hours * H)}")
        case.cut_at = len(steps)
        return unit

    def process(unit: str, unit_type: str) -> None:
        if hazard:
            delay = rng.uniform(1 * H, 20 * H)
        elif unit_type == "department":
            delay = rng.uniform(0.1, 0.85) * limit_h() * H
        elif unit_type == "mobile_team":
            delay = min(rng.lognormvariate(math.log(1.5 * H), 0.6), 12 * H)
        else:
            delay = min(rng.lognormvariate(math.log(3 * H), 0.8), 0.8 * limit_h() * H)
        add(delay, "case.processed", unit_id=unit)
        if rng.random() < REWORK_SHARE:
            case.reworked = True
            add(rng.uniform(0.5 * H, 4 * H), "case.returned", reason=rng.choice(_RETURN_REASONS))
            add(rng.uniform(2 * H, 24 * H), "case.processed", unit_id=unit)
        verifier = "district" if unit_type == "department" else district.streets[case.street].area_id
        add(rng.uniform(600, 3 * H), "case.closed", verified_by=verifier)

    if case.route == "void":
        add(rng.uniform(600, 5400), "case.voided", reason="重复投诉")
        return
    if case.route == "onsite":
        add(rng.uniform(120, 1500), "case.resolved_on_site", warden_id=case.warden_id)
        if rng.random() < ON_SITE_RECHECK_SHARE:
            case.reworked = True
            add(rng.uniform(1 * H, 6 * H), "case.returned", reason=rng.choice(_RETURN_REASONS))
            unit = dispatch("street_team")
            process(unit, "street_team")
        rated = RATED_SHARE["onsite"]
    else:
        unit_type = {"street": "street_team", "mobile": "mobile_team", "department": "department"}[case.route]
        unit = dispatch(unit_type)
        process(unit, unit_type)
        rated = RATED_SHARE["citizen" if case.citizen else "dispatched"]
    if rng.random() < REOPEN_SHARE:
        case.reworked = True
        add(rng.uniform(24 * H, 72 * H), "case.returned", reason="问题复发")
        unit = district.street_team(case.street)
        add(rng.uniform(4 * H, 24 * H), "case.processed", unit_id=unit)
        add(rng.uniform(600, 3 * H), "case.closed", verified_by=district.streets[case.street].area_id)
    if rng.random() < rated:
        add(rng.uniform(1 * H, 48 * H), "case.rated", satisfied="", score="")


def closed_at(case: CasePlan, end: int) -> bool:
    """Whether the case's last state before ``end`` is closed (resolved on site or closed)."""
    state = False
    for ts, etype, _ in case.steps:
        if ts >= end:
            break
        if etype in ("case.resolved_on_site", "case.closed"):
            state = True
        elif etype in ("case.returned", "case.escalated", "case.dispatched", "case.processed"):
            state = False
    return state


def set_rating(fields: dict[str, str], satisfied: bool, rng: random.Random) -> None:
    """Fill a rating step: satisfied cases score 4–5, unsatisfied 1–3."""
    fields["satisfied"] = "true" if satisfied else "false"
    fields["score"] = str(rng.choice((4, 5, 5)) if satisfied else rng.choice((1, 2, 3, 3)))

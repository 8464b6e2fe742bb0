"""The simulated world of one preset and seed: district, patrol routes, daily plans."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from data_feed.simulator.cases import CasePlan, Quotas, assign_routes, build_lifecycle, day_weight, plan_day
from data_feed.simulator.clock import day_start
from data_feed.simulator.events import EventBuilder
from data_feed.simulator.geography import District, build_district
from data_feed.simulator.patrol import RoundPlan, Route, build_routes, plan_rounds
from data_feed.simulator.presets import Preset

Pending = tuple[int, int, str, object, int]
"""A scheduled entry: (ts, tie-breaker, kind, subject, index); kinds: insp, report, step, pos."""


@dataclass
class DayPlan:
    """One simulated day: patrol rounds, cases (with lifecycles) and which visits found them."""

    day: date
    rounds: list[RoundPlan]
    cases: list[CasePlan]
    visit_cases: dict[tuple[int, int], str] = field(default_factory=dict)


class World:
    """District, routes and event builder for one preset and seed (deterministic)."""

    def __init__(self, preset: Preset, seed: int) -> None:
        self.preset = preset
        self.seed = seed
        self.key = f"{seed}:{preset.name}"
        self.district: District = build_district(preset, seed)
        self.routes: list[Route] = build_routes(self.district)
        self.builder = EventBuilder(self.district, seed)

    def rng(self, day: date, purpose: str) -> random.Random:
        """An independent random stream for one day and purpose."""
        return random.Random(f"{self.key}:{day.isoformat()}:{purpose}")

    def volume_weight(self, day: date) -> float:
        """Relative case volume of ``day``."""
        return day_weight(self.rng(day, "volume"), day.weekday())

    def plan(self, day: date, expected_cases: float, quotas: Quotas, keep: tuple[int, int]) -> DayPlan:
        """Plan ``day``: rounds, then cases reported within ``keep`` = [from, to) epoch, routed and aged."""
        d = self.district
        day0 = day_start(day)
        rounds = plan_rounds(d, self.routes, day0, self.rng(day, "rounds"))
        total = quotas.take("cases", expected_cases)
        citizen = quotas.take("citizen", self.preset.rate("citizen_reported") * total)
        rng = self.rng(day, "cases")
        cases = plan_day(d, rounds, day0, day.strftime("%Y%m%d"), total, citizen, rng)
        cases = [c for c in cases if keep[0] <= c.ts < keep[1]]
        dept_rate = 1.0 - self.preset.rate("self_handled")
        assign_routes(cases, quotas, dept_rate, self.preset.rate("mobile_disposal"), rng)
        for case in cases:
            build_lifecycle(case, d, rng)
        visit_cases = {(c.visit_ts, c.checkpoint): c.case_id for c in cases if c.checkpoint >= 0}
        return DayPlan(day, rounds, cases, visit_cases)

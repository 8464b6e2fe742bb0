"""The simulated world of one preset, seed and run: district, patrol routes, daily plans."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from data_feed.simulator.cases import CasePlan, assign_routes, build_lifecycle, find_probabilities, plan_day
from data_feed.simulator.clock import day_start
from data_feed.simulator.events import EventBuilder
from data_feed.simulator.geography import District, build_district
from data_feed.simulator.params import ModelParams, load_params
from data_feed.simulator.patrol import RoundPlan, Route, build_routes, plan_rounds
from data_feed.simulator.presets import Preset

Pending = tuple[int, int, str, object, int]
"""A scheduled entry: (ts, tie-breaker, kind, subject, index); kinds: insp, report, step, pos, reg."""

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def run_tag(anchor: int) -> str:
    """A run's tag from its anchor (the epoch its history starts at): base 36, lower case."""
    n, out = max(int(anchor), 0), ""
    while True:
        n, r = divmod(n, 36)
        out = _BASE36[r] + out
        if not n:
            return out


@dataclass
class DayPlan:
    """One simulated day: patrol rounds, cases (with lifecycles) and which visits found them."""

    day: date
    rounds: list[RoundPlan]
    cases: list[CasePlan]
    visit_cases: dict[tuple[int, int], str] = field(default_factory=dict)


class World:
    """District, routes, model parameters and event builder for one preset, seed and run (deterministic).

    Case ids are ``XL<seed>-<run>-<yyyymmdd>-<nnnnn>`` and event ids start ``sim-<seed>-<run>``, so two
    simulators writing into one Redis never share an id unless they are the same run.
    """

    def __init__(self, preset: Preset, seed: int, run: str = "", params: ModelParams | None = None) -> None:
        self.preset = preset
        self.seed = seed
        self.run = run
        self.key = f"{seed}:{preset.name}"
        self.params = params if params is not None else load_params()
        self.district: District = build_district(preset, seed)
        self.routes: list[Route] = build_routes(self.district)
        self.find = find_probabilities(self.district, self.params)
        tag = f"{seed}-{run}" if run else f"{seed}"
        self.case_prefix = f"XL{tag}-"
        self.builder = EventBuilder(self.district, tag)

    def rng(self, day: date, purpose: str) -> random.Random:
        """An independent random stream for one day and purpose (the run does not change the draws)."""
        return random.Random(f"{self.key}:{day.isoformat()}:{purpose}")

    def plan(self, day: date) -> DayPlan:
        """Plan ``day`` whole: rounds, then every case reported that day, routed and with its lifecycle."""
        d = self.district
        day0 = day_start(day)
        rounds = plan_rounds(d, self.routes, day0, self.rng(day, "rounds"), self.params)
        rng = self.rng(day, "cases")
        cases = plan_day(d, rounds, day0, day.weekday(), self.params, self.find, rng)
        label = f"{self.case_prefix}{day.strftime('%Y%m%d')}-"
        for n, case in enumerate(cases):
            case.case_id = f"{label}{n + 1:05d}"
        assign_routes(cases, self.params, self.preset.scale, rng)
        for case in cases:
            build_lifecycle(case, d, self.params, rng)
        visit_cases = {(c.visit_ts, c.checkpoint): c.case_id for c in cases if c.checkpoint >= 0}
        return DayPlan(day, rounds, cases, visit_cases)

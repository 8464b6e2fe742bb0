"""The simulator's one generative model: every parameter, documented, in one place.

Backfill and live mode draw from the same model (live is the model paced by the clock). The
parameters marked *fitted* are searched by ``python -m bench.fit_calibration`` so that May 2026
of the ``district`` preset reproduces the seed's table; their current values are stored in
``fitted.py`` next to this file and loaded by :func:`load_params` (docs/calibration.md lists
them and how to refit). Everything else is set by hand from the seed article or plain sense.

Counts per stratum (a street's patrol finds of a day, a channel's reports of a day, the mobile
teams' jobs of a day) are the model's expected count rounded at random (floor of expectation
plus a uniform number): unbiased, with at most a quarter case of variance per stratum, so a
month's totals land within a few cases of the model's expectation whatever the seed. Which
visits find problems, which cases go where and every duration are independent draws.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

FITTED_PATH = Path(__file__).with_name("fitted.py")
"""The module holding the fitted values (rewritten by ``python -m bench.fit_calibration --write``)."""

FITTED = ("patrol_find_rate", "citizen_per_day", "department_share", "mobile_jobs_per_day",
          "street_team_median", "satisfied_base")
"""Names of the parameters the fitting command searches (one per seed figure)."""


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the district model (rates are for the seed's scale; presets scale them by checkpoints)."""

    # --- arrivals ---------------------------------------------------------------------------
    patrol_find_rate: float = 0.17
    """*Fitted.* Probability that an inspection finds a problem, on average over the district's checkpoints."""
    find_factor: tuple[tuple[str, float], ...] = (("INF", 1.0), ("ENV", 1.25), ("APP", 1.2), ("FDR", 1.1),
                                                  ("ILL", 0.45), ("SMV", 0.7))
    """Relative find rate per category group (litter and flower beds fail more often than permits)."""
    citizen_per_day: float = 55.0
    """*Fitted.* Accepted citizen reports a day (all three channels, a weekday-profile average)."""
    channel_shares: tuple[tuple[str, float], ...] = (("hotline", 0.55), ("wechat", 0.27), ("web", 0.18))
    """Citizen channels: hotline 6522222, the 民声热点 WeChat account, the 民声网 web portal."""
    citizen_weekday: tuple[float, ...] = (1.12, 1.06, 1.02, 1.02, 0.98, 0.88, 0.92)
    """Relative citizen volume Monday … Sunday (mean 1)."""
    citizen_hours: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 8, 7, 5, 5, 7, 7, 6, 5, 4, 4, 3, 2, 1, 0)
    """Relative citizen report volume per hour of the day (the hotline is staffed 06:00–23:00)."""
    duplicate_share: float = 0.04
    """Share of citizen reports followed by a duplicate report of the same problem (voided)."""
    hazard_share: float = 0.004
    """Share of cases in hazard-capable categories that are hazards (a few a month)."""
    urgent_share: float = 0.05
    """Share of cases that are urgent."""

    # --- routing ----------------------------------------------------------------------------
    on_site_share: float = 0.30
    """Share of patrol finds (not hazards) the warden solves on the spot."""
    department_share: float = 0.0045
    """*Fitted.* Share of escalated non-hazard cases the street passes to a district department (hazards always go)."""
    mobile_jobs_per_day: float = 58.0
    """*Fitted.* Cases the mobile teams take a day at the seed's scale (urgent escalated cases first)."""

    # --- processing times (lognormal: median, sigma of the log) -----------------------------
    escalate_median_s: float = 900.0
    """Delay from report (or failed fix) to escalation to the street."""
    dispatch_median_s: float = 1800.0
    """Delay from escalation to dispatch."""
    on_site_median_s: float = 480.0
    """Time a warden takes to fix a problem on the spot."""
    street_team_median: float = 0.30
    """*Fitted.* Street team processing time as a share of the category's time limit (median)."""
    street_team_sigma: float = 0.6
    """Spread of street team processing times (log scale): a right tail, about one case in five late."""
    mobile_median_h: float = 1.5
    """Mobile team processing time, hours (median); sigma 0.6."""
    department_median: float = 0.45
    """Department processing time as a share of the dispatch deadline (median); sigma 0.6."""
    hazard_median_h: float = 4.0
    """Hazard processing time, hours (median); sigma 0.5; hazards are handled within a day."""
    verify_median_s: float = 5400.0
    """Delay from processed to closed (the street or the district checks the fix); sigma 0.7."""
    max_age_factor: float = 2.5
    """Supervision presses every late case: no lifecycle outlasts this many times its limit (tail folded back)."""
    hazard_max_h: float = 20.0
    """A hazard's whole lifecycle fits in this many hours."""

    # --- rework, voids, stuck ---------------------------------------------------------------
    on_site_recheck_share: float = 0.01
    """Share of on-site fixes that fail the command center's check and go to the street team."""
    rework_share: float = 0.05
    """Share of dispatched cases whose disposal fails the check and is returned (rework)."""
    reopen_share: float = 0.005
    """Share of closed cases re-opened one to three days later (the problem came back)."""
    stuck_share: float = 0.02
    """Share of dispatched non-hazard cases the unit leaves untouched: open and overdue for weeks (flagged)."""
    stuck_factor: tuple[float, float] = (4.0, 12.0)
    """A stuck case is processed only after this many times its limit (the monthly review forces it)."""

    # --- ratings ----------------------------------------------------------------------------
    rated_citizen: float = 0.85
    """Share of closed citizen cases the reporter rates."""
    rated_dispatched: float = 0.30
    """Share of closed dispatched patrol cases rated in the grid office's call-backs."""
    rated_on_site: float = 0.20
    """Share of on-site fixes rated in call-backs."""
    satisfied_base: float = 0.935
    """*Fitted.* Probability a rating is satisfied when the case was neither reworked nor late."""
    satisfied_reworked: float = 0.55
    """Factor on the satisfied probability of a reworked case."""
    satisfied_late: float = 0.85
    """Factor on the satisfied probability of a case closed after its deadline."""

    # --- patrols ----------------------------------------------------------------------------
    late_share: float = 0.08
    """Share of rounds started after the latest scheduled start (09:15, 15:00)."""
    partial_share: float = 0.05
    """Share of rounds cut short (the warden is called away): only the checkpoints reached are inspected."""
    missed_share: float = 0.015
    """Share of rounds not walked at all (sick leave, meetings): no inspections, no positions."""
    position_intervals: tuple[int, ...] = (15, 20, 30)
    """A handheld reports its position every so many seconds while patrolling (one value per round)."""

    def find_factors(self) -> dict[str, float]:
        """Category group → factor on the find rate."""
        return dict(self.find_factor)

    def fitted(self) -> dict[str, float]:
        """The fitted parameters and their values."""
        return {name: float(getattr(self, name)) for name in FITTED}


def load_params(overrides: dict[str, float] | None = None) -> ModelParams:
    """The model's parameters: defaults, then the fitted values (``fitted.py``), then ``overrides``."""
    from data_feed.simulator.fitted import FITTED_VALUES

    values: dict[str, Any] = {**FITTED_VALUES, **(overrides or {})}
    known = {f.name for f in fields(ModelParams)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown model parameters {sorted(unknown)}")
    floats: dict[str, Any] = {k: float(v) for k, v in values.items()}
    return replace(ModelParams(), **floats)


def fitted_source(params: ModelParams) -> str:
    """The text of ``fitted.py`` holding the fitted values of ``params``."""
    lines = ['"""Fitted model parameters: written by ``python -m bench.fit_calibration --write`` '
             '(docs/calibration.md)."""', "", "FITTED_VALUES: dict[str, float] = {"]
    lines += [f"    {k!r}: {v!r}," for k, v in params.fitted().items()]
    lines += ["}", '"""Values of the fitted parameters (``params.FITTED``) that override the defaults."""', ""]
    return "\n".join(lines)


def write_fitted(params: ModelParams) -> Path:
    """Store the fitted parameters of ``params`` in ``fitted.py``."""
    FITTED_PATH.write_text(fitted_source(params), encoding="utf-8")
    return FITTED_PATH


def as_dict(params: ModelParams) -> dict[str, Any]:
    """Every parameter by name (for docs and tools)."""
    return asdict(params)

"""Simulator presets: the seed district's numbers, and larger cities for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

SEED_FIGURES: dict[str, float] = {
    "accepted": 36460,
    "self_handled": 36311,
    "mobile_disposal": 1796,
    "citizen_reported": 1682,
    "closure_rate": 0.9462,
    "satisfaction_rate": 0.9175,
}
"""The seed's May figures (district, 31 days), which the model is fitted to (``bench.fit_calibration``)."""

SEED_DAYS = 31
"""The seed's figures cover May: 31 days."""


@dataclass(frozen=True)
class Preset:
    """Sizes of a simulated district; the model's case rates scale with the number of checkpoints."""

    name: str
    streets: int
    communities: int
    villages: int
    grids: int
    checkpoints: int
    categories: int = 116
    mobile_teams: int = 4

    @property
    def scale(self) -> float:
        """Size relative to the seed district (by checkpoints)."""
        return self.checkpoints / 3319


PRESETS: dict[str, Preset] = {
    "district": Preset("district", streets=8, communities=78, villages=14, grids=599, checkpoints=3319),
    "city": Preset("city", streets=80, communities=780, villages=140, grids=5990, checkpoints=33190,
                   mobile_teams=20),
    "megacity": Preset("megacity", streets=240, communities=2600, villages=400, grids=20000,
                       checkpoints=100000, mobile_teams=60),
    "tiny": Preset("tiny", streets=2, communities=4, villages=2, grids=18, checkpoints=100,
                   categories=116, mobile_teams=1),
}
"""Named presets: ``district`` is the seed; ``tiny`` keeps unit tests fast."""


def get_preset(name: str) -> Preset:
    """Return the preset called ``name`` or raise ValueError listing the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None

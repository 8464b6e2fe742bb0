"""The scope of a report: a period and an area (district, street, community or grid).

The leadership page, its exports and the API resolve their query parameters here, so a
bookmarked URL, a downloaded file and an API call name the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from dashboard.periods import Period, parse_period
from dashboard.reference import Reference

LEVELS = ("district", "street", "community", "grid")
"""Drill-down levels, widest first."""

CHILD_LEVEL = {"district": "streets", "street": "communities", "community": "grids", "grid": None}
"""The KPI level of each level's children (None: a grid has no child areas)."""

DEFAULT_PERIOD = "30d"
"""The leadership page's period when the URL names none."""


class ScopeError(ValueError):
    """A scope parameter names an unknown area or an area outside its parent."""


@dataclass(frozen=True)
class Scope:
    """A period and the area it covers (the narrowest id given; parents filled in)."""

    period: Period
    street: str | None = None
    community: str | None = None
    grid: str | None = None

    @property
    def level(self) -> str:
        """district, street, community or grid."""
        if self.grid:
            return "grid"
        if self.community:
            return "community"
        if self.street:
            return "street"
        return "district"

    @property
    def group(self) -> tuple[str, str]:
        """The KPI group of the area: ("district", "") or (level plural, id)."""
        level = self.level
        if level == "district":
            return ("district", "")
        return (f"{level}s" if level != "community" else "communities",
                {"street": self.street, "community": self.community, "grid": self.grid}[level] or "")

    def query(self, **changes: Any) -> str:
        """The URL query naming this scope (``changes`` override fields; None drops one)."""
        params: dict[str, Any] = {}
        if self.period.label == "custom":
            params["from"] = self.period.start.isoformat() if self.period.start else None
            params["to"] = self.period.end.isoformat() if self.period.end else None
        else:
            params["period"] = self.period.label
        params.update(street=self.street, community=self.community, grid=self.grid)
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v})

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the page's scope store, export file names)."""
        return {**self.period.as_dict(), "street": self.street, "community": self.community,
                "grid": self.grid, "level": self.level}


def parse_scope(args: Mapping[str, str], reference: Reference, now: float, tz: Any,
                default_period: str | None = DEFAULT_PERIOD) -> Scope:
    """Resolve ``period``/``from``/``to`` and ``street``/``community``/``grid`` parameters.

    Raises :class:`dashboard.periods.PeriodError` or :class:`ScopeError` with a message that
    names the bad parameter.
    """
    period_name = args.get("period") or None
    if not period_name and not args.get("from") and not args.get("to"):
        period_name = default_period
    period = parse_period(period_name, args.get("from") or None, args.get("to") or None, now, tz)
    street, community, grid = (args.get(k) or None for k in ("street", "community", "grid"))
    if grid is not None:
        area = reference.grids.get(grid)
        if reference.grids and area is None:
            raise ScopeError(f"grid={grid!r} is not a known grid id")
        if area is not None:
            community = _same(community, area.community_id, "community", f"grid {grid}")
            street = _same(street, area.street_id, "street", f"grid {grid}")
    if community is not None:
        area = reference.communities.get(community)
        if reference.communities and area is None:
            raise ScopeError(f"community={community!r} is not a known community id")
        if area is not None:
            street = _same(street, area.street_id, "street", f"community {community}")
    if street is not None and reference.streets and street not in reference.streets:
        raise ScopeError(f"street={street!r} is not a known street id")
    return Scope(period, street, community, grid)


def _same(given: str | None, parent: str | None, what: str, child: str) -> str | None:
    if given is not None and parent is not None and given != parent:
        raise ScopeError(f"{what}={given!r} does not contain {child} (it is in {parent})")
    return given or parent

"""The scope of a report: a period and an area (district, street, community or grid).

The leadership page, its exports and the API resolve their query parameters here, so a
bookmarked URL, a downloaded file and an API call name the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from dashboard.periods import Period, parse_period
from dashboard.reference import Area, Reference

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


def scope_of(data: Mapping[str, Any]) -> Scope:
    """The :class:`Scope` a page's scope store holds (``Scope.as_dict()``, already resolved)."""
    start, end = data.get("from"), data.get("to")
    period = Period(date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None,
                    str(data.get("label") or "custom"))
    return Scope(period, data.get("street") or None, data.get("community") or None, data.get("grid") or None)


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
    area = _known(reference.grids, "grid", grid)
    if area is not None:
        community = _same(community, area.community_id, "community", f"grid {grid}")
        street = _same(street, area.street_id, "street", f"grid {grid}")
    area = _known(reference.communities, "community", community)
    if area is not None:
        street = _same(street, area.street_id, "street", f"community {community}")
    _known(reference.streets, "street", street)
    return Scope(period, street, community, grid)


def _known(areas: Mapping[str, Area], what: str, key: str | None) -> Area | None:
    """The reference area ``key`` names (None when no key, or no reference of that level)."""
    if key is None:
        return None
    area = areas.get(key)
    if areas and area is None:
        raise ScopeError(f"{what}={key!r} is not a known {what} id")
    return area


def _same(given: str | None, parent: str | None, what: str, child: str) -> str | None:
    if given is not None and parent is not None and given != parent:
        raise ScopeError(f"{what}={given!r} does not contain {child} (it is in {parent})")
    return given or parent

"""Boundary polygons (GeoJSON [lon, lat] order) and the point lookup over them, on shapely.

Shapely (GEOS) does the point-in-polygon test and its STRtree the spatial index, so a city's
tens of thousands of grids cost a tree query and a few exact tests per point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

import shapely
from shapely.geometry import shape as to_shape
from shapely.strtree import STRtree

Ring = Sequence[Sequence[float]]
T = TypeVar("T")


def polygons_of(geometry: dict[str, Any]) -> list[list[Ring]]:
    """Return the polygons (each a list of rings, outer first) of a Polygon or MultiPolygon."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"geometry type {kind!r} is not Polygon or MultiPolygon")


class Shape:
    """A Polygon/MultiPolygon, prepared for fast point-in-polygon tests (holes excluded)."""

    __slots__ = ("polygons", "bbox", "geom")

    def __init__(self, geometry: dict[str, Any]) -> None:
        self.polygons = polygons_of(geometry)
        if not any(poly and poly[0] for poly in self.polygons):
            raise ValueError("polygon has no coordinates")
        self.geom = to_shape(geometry)
        shapely.prepare(self.geom)
        self.bbox = tuple(self.geom.bounds)

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point lies inside (holes excluded)."""
        return bool(shapely.contains_xy(self.geom, lon, lat))


class ShapeIndex(Generic[T]):
    """Spatial index (an STRtree) over shapes: a point test looks at a few shapes, not all."""

    def __init__(self, items: Iterable[tuple[T, Shape]]) -> None:
        self.items = [(item, shape) for item, shape in items]
        self.tree = STRtree([shape.geom for _, shape in self.items])

    def find(self, lat: float, lon: float) -> T | None:
        """The first indexed item (in the order given) whose shape contains the point, or None."""
        if not self.items:
            return None
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        for i in sorted(int(h) for h in hits):
            item, shape = self.items[i]
            if shape.contains(lat, lon):
                return item
        return None

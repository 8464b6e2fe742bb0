"""Small planar geometry helpers for boundary polygons (GeoJSON [lon, lat] order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Ring = Sequence[Sequence[float]]


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def polygons_of(geometry: dict[str, Any]) -> list[list[Ring]]:
    """Return the polygons (each a list of rings, outer first) of a Polygon or MultiPolygon."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"geometry type {kind!r} is not Polygon or MultiPolygon")


class Shape:
    """A Polygon/MultiPolygon with a bounding box, for fast point-in-polygon tests."""

    __slots__ = ("polygons", "bbox")

    def __init__(self, geometry: dict[str, Any]) -> None:
        self.polygons = polygons_of(geometry)
        xs = [p[0] for poly in self.polygons for p in poly[0]]
        ys = [p[1] for poly in self.polygons for p in poly[0]]
        if not xs:
            raise ValueError("polygon has no coordinates")
        self.bbox = (min(xs), min(ys), max(xs), max(ys))

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point lies inside (holes excluded)."""
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        for rings in self.polygons:
            if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:]):
                return True
        return False

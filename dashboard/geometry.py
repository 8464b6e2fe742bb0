"""Small planar geometry helpers for boundary polygons (GeoJSON [lon, lat] order)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

Ring = Sequence[Sequence[float]]
T = TypeVar("T")


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


class ShapeIndex(Generic[T]):
    """Uniform-grid index over shapes' bounding boxes: a point test looks at a few shapes,
    not all of them (a city has tens of thousands of grids)."""

    def __init__(self, items: Iterable[tuple[T, Shape]]) -> None:
        self.items = [(item, shape) for item, shape in items]
        self.buckets: dict[tuple[int, int], list[tuple[T, Shape]]] = {}
        if not self.items:
            self.origin, self.cell = (0.0, 0.0), 1.0
            return
        x0 = min(s.bbox[0] for _, s in self.items)
        y0 = min(s.bbox[1] for _, s in self.items)
        x1 = max(s.bbox[2] for _, s in self.items)
        y1 = max(s.bbox[3] for _, s in self.items)
        per_side = max(1, int(math.sqrt(len(self.items))))
        self.origin = (x0, y0)
        self.cell = max(x1 - x0, y1 - y0, 1e-9) / per_side
        for item, shape in self.items:
            bx0, by0, bx1, by1 = shape.bbox
            for ix in range(self._ix(bx0), self._ix(bx1) + 1):
                for iy in range(self._iy(by0), self._iy(by1) + 1):
                    self.buckets.setdefault((ix, iy), []).append((item, shape))

    def _ix(self, lon: float) -> int:
        return int((lon - self.origin[0]) // self.cell)

    def _iy(self, lat: float) -> int:
        return int((lat - self.origin[1]) // self.cell)

    def find(self, lat: float, lon: float) -> T | None:
        """The first indexed item whose shape contains the point, or None."""
        for item, shape in self.buckets.get((self._ix(lon), self._iy(lat)), ()):
            if shape.contains(lat, lon):
                return item
        return None

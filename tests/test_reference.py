"""Reference data: the boundary index finds the same areas as a brute-force scan."""

from __future__ import annotations

import random
from pathlib import Path

from dashboard.reference import Area, load_reference
from data_feed.simulator import write_reference


def brute(areas: dict[str, Area], lat: float, lon: float) -> Area | None:
    return next((a for a in areas.values() if a.shape is not None and a.shape.contains(lat, lon)), None)


def test_indexed_locate_matches_a_scan_of_every_polygon(tmp_path: Path) -> None:
    write_reference(tmp_path, "district", 1)
    ref = load_reference(tmp_path)
    lats = [p[1] for a in ref.streets.values() for poly in a.shape.polygons for p in poly[0]]  # type: ignore[union-attr]
    lons = [p[0] for a in ref.streets.values() for poly in a.shape.polygons for p in poly[0]]  # type: ignore[union-attr]
    rng = random.Random(4)
    inside = 0
    for _ in range(1500):
        lat = rng.uniform(min(lats) - 0.01, max(lats) + 0.01)
        lon = rng.uniform(min(lons) - 0.01, max(lons) + 0.01)
        grid = brute(ref.grids, lat, lon)
        expected = (grid.street_id, grid.community_id, grid.area_id) if grid else (None, None, None)
        assert ref.locate(lat, lon) == expected, (lat, lon)
        inside += grid is not None
    assert 200 < inside < 1300  # points both inside and outside the district (a third of its box) were tried


def test_no_reference_locates_nothing() -> None:
    assert load_reference(None).locate(41.12, 122.07) == (None, None, None)

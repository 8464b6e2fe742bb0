"""Simulator geography: the seed's counts, exact tiling, checkpoints inside their areas, loadable files."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import shapely

from dashboard.reference import load_reference
from data_feed.simulator import write_reference
from data_feed.simulator.geography import District, build_district, ring_area
from data_feed.simulator.presets import PRESETS


def point_in_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """The same point-in-polygon test the dashboard uses (shapely/GEOS)."""
    return bool(shapely.contains_xy(shapely.Polygon(ring), lon, lat))


@pytest.fixture(scope="module")
def district() -> District:
    return build_district(PRESETS["district"], 1)


def test_seed_counts(district: District) -> None:
    assert len(district.streets) == 8
    assert sum(c.kind == "community" for c in district.communities) == 78
    assert sum(c.kind == "village" for c in district.communities) == 14
    assert len(district.grids) == 599
    assert len({g.warden_id for g in district.grids}) == 599
    assert len(district.checkpoints) == 3319
    assert len({c.category for c in district.checkpoints}) == 116
    names = {s.name_zh for s in district.streets}
    assert {"渤海街道", "兴海街道", "振兴街道"} <= names
    assert {"热电社区", "广厦新城社区", "水木清华社区", "振兴社区"} <= {c.name_zh for c in district.communities}
    assert len({c.name_zh for c in district.communities}) == 92
    lat = sum(c.lat for c in district.checkpoints) / 3319
    lon = sum(c.lon for c in district.checkpoints) / 3319
    assert abs(lat - 41.12) < 0.03 and abs(lon - 122.07) < 0.03


def test_same_seed_same_district() -> None:
    a, b = build_district(PRESETS["district"], 5), build_district(PRESETS["district"], 5)
    assert a.checkpoints == b.checkpoints
    assert [g.ring for g in a.grids] == [g.ring for g in b.grids]
    assert build_district(PRESETS["district"], 6).checkpoints != a.checkpoints


def test_areas_tile_without_overlap(district: District) -> None:
    total = sum(ring_area(s.ring) for s in district.streets)
    assert total > 0
    for level in (district.streets, district.communities, district.grids):
        areas = [ring_area(a.ring) for a in level]
        assert all(x > 0 for x in areas)  # counter-clockwise, non-degenerate
        assert sum(areas) == pytest.approx(total, rel=1e-9)  # they cover the district exactly
    for c in district.communities:  # children fill their parent exactly
        grids = [g for g in district.grids if g.community == district.communities.index(c)]
        assert sum(ring_area(g.ring) for g in grids) == pytest.approx(ring_area(c.ring), rel=1e-9)
    # Random points inside the district lie in exactly one area of each level.
    rng = random.Random(0)
    lons = [p[0] for s in district.streets for p in s.ring]
    lats = [p[1] for s in district.streets for p in s.ring]
    checked = 0
    while checked < 400:
        lon, lat = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
        counts = [sum(point_in_ring(lon, lat, a.ring) for a in level)
                  for level in (district.streets, district.communities, district.grids)]
        if counts[0] == 0:
            continue  # outside the district's outline
        assert counts == [1, 1, 1], (lon, lat, counts)
        checked += 1


def test_villages_on_the_outskirts(district: District) -> None:
    cx = sum(c.lon for c in district.checkpoints) / len(district.checkpoints)
    cy = sum(c.lat for c in district.checkpoints) / len(district.checkpoints)

    def distance(ring: list[list[float]]) -> float:
        x = sum(p[0] for p in ring) / len(ring)
        y = sum(p[1] for p in ring) / len(ring)
        return ((x - cx) * 0.75) ** 2 + (y - cy) ** 2

    villages = [distance(c.ring) for c in district.communities if c.kind == "village"]
    communities = [distance(c.ring) for c in district.communities if c.kind == "community"]
    assert sum(villages) / len(villages) > 2 * sum(communities) / len(communities)


def test_every_checkpoint_inside_its_grid_community_and_street(district: District) -> None:
    for cp in district.checkpoints:
        grid = district.grids[cp.grid]
        assert point_in_ring(cp.lon, cp.lat, grid.ring), cp
        assert point_in_ring(cp.lon, cp.lat, district.communities[grid.community].ring), cp
        assert point_in_ring(cp.lon, cp.lat, district.streets[grid.street].ring), cp


def test_reference_files_load_in_the_app(tmp_path: Path, district: District) -> None:
    write_reference(tmp_path, "district", 1)
    ref = load_reference(tmp_path)
    assert len(ref.streets) == 8 and len(ref.communities) == 92 and len(ref.grids) == 599
    assert len(ref.categories) == 116
    assert Counter(u.unit_type for u in ref.units.values()) == {"department": 20, "street_team": 8, "mobile_team": 4}
    assert {c.department_id for c in ref.categories.values()} <= set(ref.units)
    assert {c.group_zh for c in ref.categories.values()} == {"基础设施", "城建环境", "市容市貌", "门前四包", "四违",
                                                           "九小场所"}
    for c in ref.categories.values():
        assert c.limit_hours["normal"] >= c.limit_hours["urgent"] >= c.limit_hours["hazard"] > 0
    # The app locates every checkpoint in the grid, community and street it belongs to.
    for cp in district.checkpoints[::7]:
        grid = district.grids[cp.grid]
        assert ref.locate(cp.lat, cp.lon) == (district.streets[grid.street].area_id,
                                              district.communities[grid.community].area_id, grid.area_id)

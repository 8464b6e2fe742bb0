"""Generated district geography on the district's real outline: streets, communities, grids, roads, checkpoints.

The outline is Xinglongtai's (adcode 211103, stored in ``data/``, WGS-84). Grid seeds are drawn
with a density that is high in the urban core (about 41.12 N, 122.07 E) and low on the rural
outskirts; their Voronoi cells clipped to the outline are the grids. Communities and villages
grow over the grids' adjacency graph and streets over the communities' (multi-source shortest
paths, so every area is contiguous), and each area is the exact union of its grids: the levels
nest and tile the outline. A road network (a wavy grid of streets in town, sparse roads in the
country, an access lane in every grid) carries the checkpoints: lamps, drain grates and
shopfronts line the roads; parks, courtyards and yards sit a little further back.

Larger presets scale the same outline about the centre (area in proportion to the grids).
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import nearest_points

from data_feed.simulator import catalog
from data_feed.simulator.presets import Preset

CENTER_LAT = 41.12
"""Urban centre latitude (the seed: about 41.12 N)."""

CENTER_LON = 122.07
"""Urban centre longitude (the seed: about 122.07 E)."""

OUTLINE_FILE = "xinglongtai-211103.wgs84.geojson"
"""The district's outline in the package's ``data`` folder (see data/README.md for its source)."""

SEED_GRIDS = 599
"""Grids of the seed district; larger presets scale the outline's area by ``grids / SEED_GRIDS``."""

URBAN_RADIUS_M = 4200.0
"""Mean radius of the dense urban core around the centre, in metres (seed scale)."""

TOWNS = 2
"""Oil-field towns out in the countryside (the district's west is the Liaohe oil field)."""

TOWN_RADIUS_M = 1300.0
"""Radius of an oil-field town, in metres (seed scale)."""

TOWN_SHARE = 0.08
"""Share of the urban grids in each oil-field town."""

ROADSIDE_OFFSET_M = (2.0, 14.0)
"""Distance of roadside checkpoints (lamps, grates, shopfronts...) from the road centre line."""

SETBACK_OFFSET_M = (15.0, 60.0)
"""Distance of set-back checkpoints (parks, courtyards, yards, rivers...) from the road."""

SETBACK_CATEGORIES = frozenset({
    "INF30", "ENV04", "ENV05", "ENV06", "ENV07", "ENV08", "ENV09", "ENV10", "ENV12", "ENV14", "ENV18",
    "ILL01", "ILL02", "ILL03", "ILL05", "ILL09", "ILL10", "SMV14", "SMV15", "SMV16"})
"""Categories that stand back from the road rather than on its edge."""

SETTLEMENT_RADIUS_M = 450.0
"""Radius of a village's hamlet: its checkpoints lie on the roads within it."""

LATERAL_M = 40.0
"""Width of the band around a grid's patrol path that ``District.point`` spreads over."""

M_PER_DEG_LAT = 110_574.0
"""Metres per degree of latitude."""

M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTER_LAT))
"""Metres per degree of longitude at the district's latitude."""

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323

Rect = tuple[int, int, int, int]
"""Cells ``[i0, i1) × [j0, j1)`` of an area in the district's patrol-path index space."""

GeoPolygons = list[list[list[list[float]]]]
"""GeoJSON MultiPolygon coordinates: polygons → rings (outer first) → [lon, lat]."""


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (the published obfuscation formula; Krasovsky ellipsoid constants)."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + common
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = math.radians(lat)
    magic = 1.0 - _GCJ_EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (_GCJ_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float, tolerance: float = 1e-9) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward transform (to ``tolerance`` degrees)."""
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < tolerance and abs(dlat) < tolerance:
            break
    return wlon, wlat


def load_outline() -> BaseGeometry:
    """The district's outline (WGS-84 lon/lat) from the package data."""
    text = resources.files("data_feed.simulator").joinpath("data", OUTLINE_FILE).read_text(encoding="utf-8")
    doc = json.loads(text)
    geometry = doc["features"][0]["geometry"] if doc.get("type") == "FeatureCollection" else doc
    return shape(geometry)


def _to_m(geom: BaseGeometry, scale: float = 1.0) -> BaseGeometry:
    """Lon/lat → local metres about the centre (times ``scale``)."""
    def f(c: Any) -> Any:
        return np.column_stack(((c[:, 0] - CENTER_LON) * M_PER_DEG_LON * scale,
                                (c[:, 1] - CENTER_LAT) * M_PER_DEG_LAT * scale))
    return shapely.transform(geom, f)


def _to_deg(geom: BaseGeometry) -> BaseGeometry:
    """Local metres → lon/lat, rounded to 1e-7 degrees (the same vertex always rounds the same)."""
    def f(c: Any) -> Any:
        return np.round(np.column_stack((CENTER_LON + c[:, 0] / M_PER_DEG_LON,
                                         CENTER_LAT + c[:, 1] / M_PER_DEG_LAT)), 7)
    return shapely.transform(geom, f)


def _deg(x: float, y: float) -> tuple[float, float]:
    """Local metres → (lat, lon)."""
    return CENTER_LAT + y / M_PER_DEG_LAT, CENTER_LON + x / M_PER_DEG_LON


def _polygons(geom: BaseGeometry) -> GeoPolygons:
    """GeoJSON MultiPolygon coordinates of a (multi)polygon, counter-clockwise outer rings."""
    parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    out: GeoPolygons = []
    for part in sorted(parts, key=lambda p: -p.area):
        p = orient(part, 1.0)
        rings = [p.exterior] + list(p.interiors)
        out.append([[[float(x), float(y)] for x, y in ring.coords] for ring in rings])
    return out


@dataclass
class Area:
    """A street, community/village or grid: its polygons, parents and patrol-path index range."""

    area_id: str
    name_zh: str
    name_en: str
    rect: Rect
    kind: str = ""
    street: int = -1
    community: int = -1
    warden_id: str = ""
    ring: list[list[float]] = field(default_factory=list, repr=False)
    polygons: GeoPolygons = field(default_factory=list, repr=False)

    def geometry(self) -> dict[str, Any]:
        """GeoJSON geometry: a Polygon, or a MultiPolygon when the area has several parts."""
        if len(self.polygons) == 1:
            return {"type": "Polygon", "coordinates": self.polygons[0]}
        return {"type": "MultiPolygon", "coordinates": self.polygons}


@dataclass(frozen=True)
class Checkpoint:
    """A registered checkpoint (创城实测点): fixed point, fixed person, fixed responsibility."""

    checkpoint_id: str
    name: str
    category: int
    lat: float
    lon: float
    grid: int
    cell: tuple[int, int]


@dataclass
class District:
    """The generated district: areas, roads, checkpoints, categories and units.

    Each grid has a patrol path (its access point, then the road spots in front of its
    checkpoints); ``grid.rect`` numbers the path's segments in a district-wide index space
    (``[i0, i1) × [0, 1)``), and ``point(i, j)`` maps an index to a spot along that path.
    """

    preset: Preset
    seed: int
    width: int
    height: int
    streets: list[Area]
    communities: list[Area]
    grids: list[Area]
    checkpoints: list[Checkpoint]
    categories: list[catalog.CategoryInfo]
    units: list[dict[str, str | None]]
    grid_checkpoints: list[list[int]] = field(default_factory=list, repr=False)
    outline: GeoPolygons = field(default_factory=list, repr=False)
    roads: list[list[list[float]]] = field(default_factory=list, repr=False)
    paths_m: list[list[tuple[float, float]]] = field(default_factory=list, repr=False)
    grid_shapes: list[BaseGeometry] = field(default_factory=list, repr=False)  # metres, 1 m inside, prepared
    grid_starts: list[int] = field(default_factory=list, repr=False)

    def point(self, i: float, j: float) -> tuple[float, float]:
        """(lat, lon) of a patrol-path index: segment ``floor(i)``, across the path by ``j`` (0–1)."""
        g = max(0, bisect.bisect_right(self.grid_starts, i) - 1)
        path = self.paths_m[g]
        i0 = self.grids[g].rect[0]
        k = min(max(int(math.floor(i)) - i0, 0), len(path) - 2)
        u = min(max(i - i0 - k, 0.0), 1.0)
        (ax, ay), (bx, by) = path[k], path[k + 1]
        x, y = ax + u * (bx - ax), ay + u * (by - ay)
        length = math.hypot(bx - ax, by - ay)
        off = (min(max(j, 0.0), 1.0) - 0.5) * LATERAL_M
        shape_ = self.grid_shapes[g]
        if length > 0 and off:
            cx, cy = x - (by - ay) / length * off, y + (bx - ax) / length * off
            if shapely.contains_xy(shape_, cx, cy):
                return _deg(cx, cy)
        if shapely.contains_xy(shape_, x, y):
            return _deg(x, y)
        return _deg(*path[0])

    def street_team(self, street: int) -> str:
        """Unit id of a street's own team."""
        return f"team-{self.streets[street].area_id}"


def _density_table(rho_u: float, rho_r: float) -> tuple[Any, Any]:
    """Table of H(x) = rho_r x² + 2 rho_u ∫₀ˣ f(u) u du with f the urban profile (1, then a soft edge)."""
    xs = np.linspace(0.0, 60.0, 60001)
    f = np.where(xs <= 1.0, 1.0, np.exp(-4.0 * (xs - 1.0)))
    integrand = f * xs
    cum = np.concatenate(([0.0], np.cumsum((integrand[1:] + integrand[:-1]) / 2 * np.diff(xs))))
    return xs, rho_r * xs ** 2 + 2 * rho_u * cum


def _grid_seeds(outline: BaseGeometry, n: int, n_rural: int, scale: float,
                rng: random.Random) -> tuple[Any, Any]:
    """``n`` seed points (metres) inside ``outline``, dense in the core; returns (points, normalised radius).

    A jittered unit lattice in a warped plane maps onto the district so that a ring of radius
    ``s`` there holds as many points as the density puts within the matching radius here.
    """
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
    r0 = URBAN_RADIUS_M * scale

    def radius(theta: Any) -> Any:
        return r0 * (1 + 0.22 * np.sin(2 * theta + phases[0]) + 0.1 * np.sin(3 * theta + phases[1])
                     + 0.05 * np.sin(5 * theta + phases[2]))

    area_u = math.pi * r0 ** 2 * 1.2
    area_r = max(outline.area - area_u, area_u * 0.2)
    rho_u = (n - n_rural) / area_u
    rho_r = max(n_rural, 1) / area_r
    xs, hs = _density_table(rho_u, rho_r)
    minx, miny, maxx, maxy = outline.bounds
    far = max(math.hypot(x, y) for x in (minx, maxx) for y in (miny, maxy))
    shapely.prepare(outline)

    def sample(k: float, salt: int) -> tuple[Any, Any]:
        r = random.Random(f"{rng.random()}:{salt}")
        s_max = math.sqrt(k * (r0 * 0.6) ** 2 * float(np.interp(far / (r0 * 0.6), xs, hs)))
        m = int(math.ceil(s_max)) + 1
        grid = np.array([(a + r.uniform(-0.38, 0.38), b + r.uniform(-0.38, 0.38))
                         for a in range(-m, m + 1) for b in range(-m, m + 1)], dtype=float)
        theta = np.arctan2(grid[:, 1], grid[:, 0])
        rad = radius(theta)
        x = np.interp(np.hypot(grid[:, 0], grid[:, 1]) ** 2 / (k * rad ** 2), hs, xs)
        pts = np.column_stack((x * rad * np.cos(theta), x * rad * np.sin(theta)))
        inside = shapely.contains_xy(outline, pts[:, 0], pts[:, 1])
        return pts[inside], x[inside]

    lo, hi = 0.2, 5.0
    k = 1.0
    pts, xn = sample(k, 0)
    for step in range(1, 30):
        if abs(len(pts) - n) <= max(2, n // 200):
            break
        if len(pts) < n:
            lo = k
        else:
            hi = k
        k = math.sqrt(lo * hi)
        pts, xn = sample(k, step)
    if len(pts) > n:
        keep = sorted(rng.sample(range(len(pts)), n))
        pts, xn = pts[keep], xn[keep]
    while len(pts) < n:  # top up with single points drawn from the same density
        extra, ex = sample(k, 1000 + len(pts))
        pick = rng.randrange(len(extra))
        pts = np.vstack((pts, extra[pick:pick + 1] + rng.uniform(-0.2, 0.2)))
        xn = np.append(xn, ex[pick])
    return pts, xn


def _cells(outline: BaseGeometry, pts: Any) -> list[BaseGeometry]:
    """Voronoi cells of ``pts`` clipped to ``outline``; a cut-off sliver joins its longest-bordering cell."""
    env = shapely.box(*outline.bounds).buffer(outline.length)
    vor = shapely.voronoi_polygons(MultiPoint(pts), extend_to=env, ordered=True)
    cells = list(shapely.intersection(np.array(list(vor.geoms)), outline))
    orphans: list[BaseGeometry] = []
    for k, cell in enumerate(cells):
        if cell.geom_type != "Polygon":
            parts = [p for p in getattr(cell, "geoms", []) if p.geom_type == "Polygon" and p.area > 0]
            seed = Point(pts[k])
            own = min(parts, key=lambda p: p.distance(seed))
            cells[k] = own
            orphans += [p for p in parts if p is not own]
    for piece in orphans:
        best, shared = -1, 0.0
        for k, cell in enumerate(cells):
            if cell.intersects(piece):
                length = cell.boundary.intersection(piece.boundary).length
                if length > shared:
                    best, shared = k, length
        if best >= 0:
            cells[best] = shapely.union(cells[best], piece)
    return cells


def _adjacency(cells: list[BaseGeometry], pts: Any) -> list[list[tuple[int, float]]]:
    """Neighbours of each cell (sharing a boundary stretch) with the distance between their seeds."""
    tree = shapely.STRtree(cells)
    a, b = tree.query(cells, predicate="intersects")
    mask = a < b
    a, b = a[mask], b[mask]
    shared = shapely.length(shapely.intersection(shapely.boundary(np.array(cells)[a]),
                                                 shapely.boundary(np.array(cells)[b])))
    graph: list[list[tuple[int, float]]] = [[] for _ in cells]
    for i, j, s in zip(a.tolist(), b.tolist(), shared.tolist(), strict=True):
        if s > 0.5:
            d = float(np.hypot(*(pts[i] - pts[j])))
            graph[i].append((j, d))
            graph[j].append((i, d))
    return graph


def _grow(graph: list[list[tuple[int, float]]], sources: list[int], allowed: list[bool]) -> list[int]:
    """Multi-source shortest paths: each allowed node joins its nearest source (regions stay contiguous)."""
    label = [-1] * len(graph)
    dist = [math.inf] * len(graph)
    heap = [(0.0, s, r) for r, s in enumerate(sources)]
    for _, s, _ in heap:
        dist[s] = 0.0
    heapq.heapify(heap)
    while heap:
        d, node, region = heapq.heappop(heap)
        if label[node] != -1:
            continue
        label[node] = region
        for nxt, w in graph[node]:
            if allowed[nxt] and label[nxt] == -1 and d + w < dist[nxt]:
                dist[nxt] = d + w
                heapq.heappush(heap, (d + w, nxt, region))
    return label


def _components(graph: list[list[tuple[int, float]]], nodes: list[int]) -> list[list[int]]:
    """Connected components of the subgraph on ``nodes`` (each sorted, in order of first node)."""
    inside = set(nodes)
    seen: set[int] = set()
    out: list[list[int]] = []
    for v in nodes:
        if v in seen:
            continue
        comp, stack = [], [v]
        seen.add(v)
        while stack:
            u = stack.pop()
            comp.append(u)
            for w, _ in graph[u]:
                if w in inside and w not in seen:
                    seen.add(w)
                    stack.append(w)
        out.append(sorted(comp))
    return out


def _partition(graph: list[list[tuple[int, float]]], pts: Any, weights: Any, nodes: list[int], k: int,
               rng: random.Random, rounds: int = 4) -> list[int]:
    """Split ``nodes`` into ``k`` contiguous regions, recentred a few times (a k-means on the graph).

    Each connected piece of ``nodes`` gets regions in proportion to its size (at least one while
    there are enough); pieces left without one are reported as -1 for the caller to attach.
    """
    comps = sorted(_components(graph, nodes), key=lambda c: (-len(c), c[0]))
    n_comp = min(len(comps), k)
    # Squared sizes: small pieces (an oil-field town) keep one region, the core takes the rest.
    shares = _largest_remainder(k - n_comp, [float(len(c)) ** 2 for c in comps[:n_comp]]) if n_comp else []
    allowed = [False] * len(graph)
    for v in nodes:
        allowed[v] = True
    sources: list[int] = []
    for comp, extra in zip(comps[:n_comp], shares, strict=True):
        sources += sorted(rng.sample(comp, min(len(comp), extra + 1)))
    while len(sources) < k:  # more regions than nodes in the pieces: split the largest further
        sources.append(rng.choice([v for v in nodes if v not in sources]))
    label = _grow(graph, sources, allowed)
    for _ in range(rounds):
        groups: list[list[int]] = [[] for _ in range(k)]
        for v in nodes:
            if label[v] != -1:
                groups[label[v]].append(v)
        new_sources = []
        for members in groups:
            w = weights[members]
            centre = (pts[members] * w[:, None]).sum(axis=0) / w.sum()
            new_sources.append(members[int(np.argmin(np.hypot(*(pts[members] - centre).T)))])
        sources = new_sources
        label = _grow(graph, sources, allowed)
    return label


def _satellites(outline: BaseGeometry, count: int, radius: float, rng: random.Random) -> list[tuple[float, float]]:
    """Centres of ``count`` oil-field towns far out in the countryside (well inside the outline)."""
    if count <= 0:
        return []
    minx, miny, maxx, maxy = outline.bounds
    far = max(math.hypot(x, y) for x in (minx, maxx) for y in (miny, maxy))
    core = outline.buffer(-2.0 * radius)
    shapely.prepare(core)
    centres: list[tuple[float, float]] = []
    candidates: list[tuple[float, float]] = []
    for _ in range(4000):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if math.hypot(x, y) > 0.4 * far and shapely.contains_xy(core, x, y):
            candidates.append((x, y))
        if len(candidates) >= 200:
            break
    while candidates and len(centres) < count:
        best = max(candidates, key=lambda c: min([math.hypot(c[0], c[1]) * 0.5]
                                                  + [math.dist(c, o) for o in centres]))
        centres.append(best)
        candidates.remove(best)
    return centres


def _town(centre: tuple[float, float], n: int, radius: float, rng: random.Random) -> Any:
    """``n`` jittered points evenly over a disc (a sunflower spiral)."""
    golden = math.pi * (3 - math.sqrt(5))
    pts = []
    for i in range(n):
        r = radius * math.sqrt((i + 0.5) / n) * rng.uniform(0.93, 1.07)
        a = i * golden + rng.uniform(-0.15, 0.15)
        pts.append((centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)))
    return np.array(pts, dtype=float)


def _farthest(pts: Any, candidates: list[int], k: int, rng: random.Random) -> list[int]:
    """``k`` of ``candidates`` spread far apart (farthest-point sampling from a random start)."""
    chosen = [rng.choice(candidates)]
    dist = np.hypot(*(pts[candidates] - pts[chosen[0]]).T)
    while len(chosen) < k:
        nxt = candidates[int(np.argmax(dist))]
        chosen.append(nxt)
        dist = np.minimum(dist, np.hypot(*(pts[candidates] - pts[nxt]).T))
    return chosen


def _attach_unreached(graph: list[list[tuple[int, float]]], label: list[int]) -> None:
    """Give nodes no source reached (cut off from their kind) to a neighbouring region."""
    changed = True
    while changed and -1 in label:
        changed = False
        for v, lab in enumerate(label):
            if lab == -1:
                near = [label[n] for n, _ in sorted(graph[v], key=lambda e: e[1]) if label[n] != -1]
                if near:
                    label[v] = near[0]
                    changed = True
    if -1 in label:
        raise ValueError("district graph is not connected")


def _chunks(line: LineString, size: int = 8) -> list[LineString]:
    """``line`` cut into pieces of at most ``size`` segments."""
    coords = list(line.coords)
    return [LineString(coords[k:k + size + 1]) for k in range(0, len(coords) - 1, size)]


def _roads(outline: BaseGeometry, urban: BaseGeometry, cells: list[BaseGeometry], spacing_u: float,
           spacing_r: float, rng: random.Random) -> list[LineString]:
    """A wavy street grid in town, sparse roads and a few radial highways in the country, in metres."""
    minx, miny, maxx, maxy = outline.bounds
    span = max(maxx - minx, maxy - miny) * 1.5
    angle = rng.uniform(-0.2, 0.2)
    lines: list[LineString] = []

    def family(spacing: float, theta: float, area: BaseGeometry, drop: float) -> None:
        ux, uy = math.cos(theta), math.sin(theta)
        nx, ny = -uy, ux
        step = max(spacing / 4, 40.0)
        t = np.arange(-span, span + step, step)
        o = -span
        while o < span:
            if rng.random() >= drop:
                off = o + rng.uniform(-0.15, 0.15) * spacing
                amp = rng.uniform(0.0, 0.12) * spacing
                wave = rng.uniform(3, 8) * spacing
                phase = rng.uniform(0, 2 * math.pi)
                w = off + amp * np.sin(t / wave * 2 * math.pi + phase)
                coords = np.column_stack((t * ux + w * nx, t * uy + w * ny))
                piece = shapely.intersection(LineString(coords), area)
                lines.extend(p for p in getattr(piece, "geoms", [piece]) if p.geom_type == "LineString"
                             and p.length > spacing / 3)
            o += spacing

    town = urban.buffer(spacing_u / 2).intersection(outline)
    family(spacing_u, angle, town, 0.12)
    family(spacing_u, angle + math.pi / 2 + rng.uniform(-0.08, 0.08), town, 0.12)
    family(spacing_r, angle + rng.uniform(-0.1, 0.1), outline, 0.0)
    family(spacing_r, angle + math.pi / 2 + rng.uniform(-0.1, 0.1), outline, 0.0)
    for _ in range(4):  # highways out of town
        theta = rng.uniform(0, 2 * math.pi)
        coords = [(0.0, 0.0), (span * math.cos(theta), span * math.sin(theta))]
        piece = shapely.intersection(LineString(coords), outline)
        lines.extend(p for p in getattr(piece, "geoms", [piece]) if p.geom_type == "LineString")
    # Short pieces keep the spatial index sharp (a 10 km line would match every grid it crosses).
    lines = [piece for line in lines for piece in _chunks(line)]
    # Every grid gets an access lane along its long axis, joined to the nearest road.
    tree = shapely.STRtree(lines)
    inners = shapely.buffer(np.array(cells), -5.0)
    a, b = tree.query(inners, predicate="intersects")
    inside = np.bincount(a, weights=shapely.length(shapely.intersection(np.array(lines)[b], inners[a])),
                         minlength=len(cells))
    for k, cell in enumerate(cells):
        inner = inners[k]
        if inner.is_empty or inside[k] >= 0.6 * math.sqrt(cell.area):
            continue
        box = cell.minimum_rotated_rectangle
        corners = list(box.exterior.coords)[:4]
        edges = [(corners[q], corners[(q + 1) % 4]) for q in range(2)]
        (ax, ay), (bx, by) = max(edges, key=lambda e: math.dist(e[0], e[1]))
        c = inner.representative_point()
        dx, dy = (bx - ax), (by - ay)
        lane = shapely.intersection(LineString([(c.x - dx, c.y - dy), (c.x + dx, c.y + dy)]), inner)
        for p in getattr(lane, "geoms", [lane]):
            if p.geom_type == "LineString" and p.length > 0:
                lines.append(p)
        nearest = tree.nearest(c)
        if nearest is not None:
            target = nearest_points(c, lines[int(nearest)])[1]
            lines.append(LineString([(c.x, c.y), (target.x, target.y)]))
    return lines


def build_district(preset: Preset, seed: int) -> District:
    """Generate the district of ``preset`` deterministically from ``seed``."""
    rng = random.Random(f"{seed}:{preset.name}:geography")
    scale = math.sqrt(preset.grids / SEED_GRIDS)
    outline = _to_m(load_outline(), scale)
    n_streets = preset.streets
    village_grid_total = max(preset.villages, round(preset.grids * 42 / 599)) if preset.villages else 0
    # Two oil-field towns out in the countryside become the outer streets' centres.
    towns = _satellites(outline, TOWNS if n_streets >= 4 else 0, TOWN_RADIUS_M * scale, rng)
    per_town = round(TOWN_SHARE * (preset.grids - village_grid_total)) if towns else 0
    pts, xn = _grid_seeds(outline, preset.grids - per_town * len(towns), village_grid_total, scale, rng)
    for centre in towns:
        pts = np.vstack((pts, _town(centre, per_town, TOWN_RADIUS_M * scale, rng)))
        xn = np.append(xn, np.zeros(per_town))
    cells = _cells(outline, pts)
    graph = _adjacency(cells, pts)
    n = len(cells)

    # The grids farthest out (by the urban profile) are the villages' grids.
    order = sorted(range(n), key=lambda v: (-xn[v], v))
    rural = set(order[:village_grid_total])
    urban_nodes = [v for v in range(n) if v not in rural]
    rural_nodes = sorted(rural)
    label = [-1] * n
    comm_lab = _partition(graph, pts, np.ones(n), urban_nodes, preset.communities, rng)
    for v in urban_nodes:
        label[v] = comm_lab[v]
    if preset.villages:
        vill_lab = _partition(graph, pts, np.ones(n), rural_nodes, preset.villages, rng)
        for v in rural_nodes:
            if vill_lab[v] != -1:
                label[v] = preset.communities + vill_lab[v]
    _attach_unreached(graph, label)
    n_units = preset.communities + preset.villages

    # Streets grow over the communities' graph from urban communities only.
    members: list[list[int]] = [[] for _ in range(n_units)]
    for v in range(n):
        members[label[v]].append(v)
    centres = np.array([pts[m].mean(axis=0) for m in members])
    sizes = np.array([float(len(m)) for m in members])
    unit_graph_sets: list[dict[int, float]] = [{} for _ in range(n_units)]
    for v in range(n):
        for w, _ in graph[v]:
            a, b = label[v], label[w]
            if a != b:
                unit_graph_sets[a][b] = float(np.hypot(*(centres[a] - centres[b])))
    unit_graph = [sorted(d.items()) for d in unit_graph_sets]
    street_of = _partition(unit_graph, centres, sizes, list(range(preset.communities)), n_streets, rng)
    villages = list(range(preset.communities, n_units))
    # Each village joins the street of the nearest town community along the map (the oil-field
    # towns take the countryside around them; the core's edge streets take the rest).
    towns_ = list(range(preset.communities))
    nearest = _grow(unit_graph, towns_, [True] * n_units)
    for u in villages:
        if nearest[u] != -1:
            street_of[u] = street_of[towns_[nearest[u]]]
    _attach_unreached(unit_graph, street_of)

    # Streets named from the centre outwards (the seed's three named streets are central).
    def centrality(s: int) -> float:
        own = [u for u in range(preset.communities) if street_of[u] == s]
        c = centres[own].mean(axis=0)
        return float(np.hypot(*c))

    rural_streets = {street_of[u] for u in villages}
    street_order = sorted(range(n_streets), key=lambda s: (s in rural_streets, centrality(s), s))
    names = list(catalog.STREET_NAMES)
    if n_streets > len(names):
        names += _names(n_streets - len(names), catalog.COMMUNITY_WORDS, "街道", "Subdistrict",
                        {nm[0] for nm in names}, rng)
    named = {s: [(zh, en) for s2, zh, en in catalog.NAMED_COMMUNITIES if s2 == s] for s in range(n_streets)}
    taken = {zh for _, zh, _ in catalog.NAMED_COMMUNITIES}
    generic = iter(_names(preset.communities, catalog.COMMUNITY_WORDS, "社区", "Community", taken, rng))
    village_names = iter(_names(preset.villages, catalog.VILLAGE_WORDS, "村", "Village", set(), rng))
    sw = max(2, len(str(n_streets)))
    cw = max(3, len(str(preset.communities)))
    vw = max(2, len(str(preset.villages)))
    gw = max(4, len(str(preset.grids)))

    streets: list[Area] = []
    communities: list[Area] = []
    grids: list[Area] = []
    grid_cells: list[int] = []  # grid index → cell index
    street_geoms: list[BaseGeometry] = []
    comm_geoms: list[BaseGeometry] = []
    n_comm = n_vill = 0
    for s in range(n_streets):
        st = street_order[s]
        streets.append(Area(f"ST{s + 1:0{sw}d}", names[s][0], names[s][1], (0, 0, 0, 0), "street", s))
        units = [u for u in range(n_units) if street_of[u] == st]
        units.sort(key=lambda u: (u >= preset.communities, float(np.hypot(*centres[u])), u))
        for u in units:
            if u < preset.communities:
                n_comm += 1
                cid, kind = f"C{n_comm:0{cw}d}", "community"
                zh, en = named[s].pop(0) if named[s] else next(generic)
            else:
                n_vill += 1
                cid, kind = f"V{n_vill:0{vw}d}", "village"
                zh, en = next(village_names)
            community_index = len(communities)
            communities.append(Area(cid, zh, en, (0, 0, 0, 0), kind, s))
            src = centres[u]
            own = sorted(members[u], key=lambda v: (math.atan2(*(pts[v] - src)[::-1]), v))
            for k, v in enumerate(own):
                g = len(grids) + 1
                grids.append(Area(f"G{g:0{gw}d}", f"{zh}第{k + 1}网格", f"{en} grid {k + 1}", (0, 0, 0, 0),
                                  "grid", s, community_index, f"W{g:0{gw}d}"))
                grid_cells.append(v)
            comm_geoms.append(shapely.coverage_union_all([cells[v] for v in own]))
        street_geoms.append(shapely.coverage_union_all([cells[v] for u in units for v in members[u]]))

    grid_geoms = [cells[v] for v in grid_cells]
    for area, geom in zip(streets + communities + grids, street_geoms + comm_geoms + grid_geoms, strict=True):
        area.polygons = _polygons(_to_deg(geom))
        area.ring = area.polygons[0][0]

    # Roads, then checkpoints along them.
    urban_cells = [cells[v] for v in urban_nodes]
    urban = shapely.coverage_union_all(urban_cells)
    spacing_u = 0.85 * math.sqrt(urban.area / max(len(urban_cells), 1))
    spacing_r = 0.55 * math.sqrt(max(outline.area - urban.area, 1.0) / max(len(rural_nodes), 1))
    roads = _roads(outline, urban, grid_geoms, spacing_u, spacing_r, rng)
    cats = catalog.categories(preset.categories)
    district = District(preset, seed, 0, 1, streets, communities, grids, [], cats, _units(streets, preset))
    district.outline = _polygons(_to_deg(outline))
    district.roads = [[[float(x), float(y)] for x, y in _to_deg(r).coords] for r in roads]
    _place_checkpoints(district, grid_geoms, roads, rng)
    return district


def _units(streets: list[Area], preset: Preset) -> list[dict[str, str | None]]:
    """Departments (district-wide), one team per street, and district mobile teams."""
    units: list[dict[str, str | None]] = [
        {"unit_id": uid, "unit_type": "department", "name_zh": zh, "name_en": en, "street_id": None}
        for uid, zh, en in catalog.DEPARTMENTS]
    for st in streets:
        units.append({"unit_id": f"team-{st.area_id}", "unit_type": "street_team",
                      "name_zh": f"{st.name_zh}综合执法队", "name_en": f"{st.name_en} team",
                      "street_id": st.area_id})
    for k in range(preset.mobile_teams):
        units.append({"unit_id": f"mobile-{k + 1:02d}", "unit_type": "mobile_team",
                      "name_zh": f"区流动处置{k + 1}队", "name_en": f"District mobile team {k + 1}",
                      "street_id": None})
    return units

def _largest_remainder(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (each at least ``minimum``)."""
    n = len(weights)
    base = [minimum] * n
    rest = total - minimum * n
    if rest < 0:
        raise ValueError(f"cannot give {n} parts at least {minimum} out of {total}")
    s = sum(weights) or 1.0
    quotas = [rest * w / s for w in weights]
    counts = [int(q) for q in quotas]
    left = rest - sum(counts)
    order = sorted(range(n), key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in order[:left]:
        counts[k] += 1
    return [b + c for b, c in zip(base, counts, strict=True)]

def _names(count: int, words: tuple[tuple[str, str], ...], suffix_zh: str, suffix_en: str,
           taken: set[str], rng: random.Random) -> list[tuple[str, str]]:
    """Distinct generated names: words first, then words with a qualifier."""
    qualifiers = [("", ""), ("新", "New "), ("东", "East "), ("西", "West "), ("南", "South "),
                  ("北", "North "), ("中", "Central "), ("前", "Front "), ("后", "Back "), ("上", "Upper ")]
    pool: list[tuple[str, str]] = []
    for qzh, qen in qualifiers:
        shuffled = list(words)
        rng.shuffle(shuffled)
        for zh, en in shuffled:
            name = (f"{qzh}{zh}{suffix_zh}", f"{qen}{en} {suffix_en}")
            if name[0] not in taken:
                pool.append(name)
    n = 2
    while len(pool) < count:
        zh, en = words[len(pool) % len(words)]
        pool.append((f"{zh}{n}{suffix_zh}", f"{en} {n} {suffix_en}"))
        n += len(pool) // len(words) + 1
    return pool[:count]

def _place_checkpoints(district: District, grid_geoms: list[BaseGeometry], roads: list[LineString],
                       rng: random.Random) -> None:
    """Checkpoints along each grid's roads (fewer in villages), every category used; patrol paths."""
    grids = district.grids
    cats = district.categories
    comm = district.communities
    per_grid = _largest_remainder(
        district.preset.checkpoints,
        [(0.5 if comm[g.community].kind == "village" else 1.0) * rng.uniform(0.8, 1.2) for g in grids],
        minimum=1 if district.preset.checkpoints >= len(grids) else 0)
    slots = [g for g, n in enumerate(per_grid) for _ in range(n)]
    village_boost = {"ILL": 3.0, "ENV": 1.5, "SMV": 0.4, "FDR": 0.5}
    urban_w = [float(c.weight) for c in cats]
    rural_w = [c.weight * village_boost.get(c.group, 1.0) for c in cats]
    chosen: list[int] = []
    for g in slots:
        w = rural_w if comm[grids[g].community].kind == "village" else urban_w
        chosen.append(rng.choices(range(len(cats)), weights=w)[0])
    # Every category has at least one checkpoint (116 categories in the seed).
    positions = rng.sample(range(len(slots)), min(len(cats), len(slots)))
    for c, p in enumerate(positions):
        chosen[p] = c
    by_grid: list[list[int]] = [[] for _ in grids]
    for n, g in enumerate(slots):
        by_grid[g].append(n)

    inner = list(shapely.buffer(np.array(grid_geoms), -1.0))
    road_zone = list(shapely.buffer(np.array(grid_geoms), -4.0))
    for geom in inner + road_zone:
        shapely.prepare(geom)
    tree = shapely.STRtree(roads)
    places: list[tuple[float, float, tuple[float, float]]] = [(0.0, 0.0, (0.0, 0.0))] * len(slots)
    district.paths_m = []
    segment_of: dict[int, int] = {}  # checkpoint → the path segment that ends at its road spot
    district.grid_shapes = inner
    zones = np.array([z if not z.is_empty else i for z, i in zip(road_zone, inner, strict=True)])
    a, b = tree.query(zones, predicate="intersects")
    by_zone: list[list[LineString]] = [[] for _ in grids]
    for g, cut in zip(a.tolist(), shapely.intersection(np.array(roads)[b], zones[a]), strict=True):
        by_zone[g] += [p for p in getattr(cut, "geoms", [cut]) if p.geom_type == "LineString" and p.length > 0]
    for g, geom in enumerate(grid_geoms):
        zone = zones[g]
        pieces = by_zone[g]
        start = zone.representative_point() if not zone.is_empty else geom.representative_point()
        if pieces and comm[grids[g].community].kind == "village":
            # A village's checkpoints are in its hamlet, on the roads near one spot, not strewn
            # over kilometres of fields: the warden's round stays walkable.
            hub = nearest_points(MultiLineString(pieces), start)[0]
            cut = shapely.intersection(np.array(pieces), hub.buffer(SETTLEMENT_RADIUS_M))
            near = [q for c in cut for q in getattr(c, "geoms", [c]) if q.geom_type == "LineString" and q.length > 0]
            if near:
                pieces, start = near, hub
        lengths = [p.length for p in pieces]
        total = sum(lengths)
        foots: list[tuple[float, float]] = []
        for n in by_grid[g]:
            spot = (start.x, start.y)
            x, y = spot
            if total > 0:
                t = rng.uniform(0, total)
                q = 0
                while q < len(pieces) - 1 and t > lengths[q]:
                    t -= lengths[q]
                    q += 1
                line = pieces[q]
                a = line.interpolate(t)
                b = line.interpolate(min(t + 1.0, line.length)) if t + 1.0 <= line.length else line.interpolate(t - 1.0)
                dx, dy = b.x - a.x, b.y - a.y
                norm = math.hypot(dx, dy) or 1.0
                nx, ny = -dy / norm, dx / norm
                band = SETBACK_OFFSET_M if cats[chosen[n]].category_id in SETBACK_CATEGORIES else ROADSIDE_OFFSET_M
                off = rng.uniform(*band) * rng.choice((-1.0, 1.0))
                spot = (a.x, a.y)
                x, y = a.x, a.y
                for factor in (1.0, -1.0, 0.5, -0.5, 0.25, -0.25):
                    cx, cy = a.x + nx * off * factor, a.y + ny * off * factor
                    if shapely.contains_xy(inner[g], cx, cy):
                        x, y = cx, cy
                        break
            else:  # no road reaches this grid: around its access point
                for _ in range(20):
                    cx, cy = x + rng.uniform(-30, 30), y + rng.uniform(-30, 30)
                    if shapely.contains_xy(inner[g], cx, cy):
                        x, y = cx, cy
                        break
            places[n] = (x, y, spot)
            foots.append(spot)
        # Patrol path: the access point, then the road spots in a nearest-neighbour order.
        path = [(start.x, start.y)]
        left = list(range(len(foots)))
        while left:
            px, py = path[-1]
            k = min(left, key=lambda m: (math.hypot(foots[m][0] - px, foots[m][1] - py), m))
            left.remove(k)
            segment_of[by_grid[g][k]] = len(path) - 1
            path.append(foots[k])
        if len(path) < 2:
            path.append((start.x, start.y))
        district.paths_m.append(path)

    offset = 0
    starts: list[int] = []
    for g, area in enumerate(grids):
        segments = len(district.paths_m[g]) - 1
        area.rect = (offset, offset + segments, 0, 1)
        starts.append(offset)
        offset += segments
    district.grid_starts = starts
    district.width, district.height = offset, 1
    width = max(5, len(str(len(slots))))
    district.grid_checkpoints = [[] for _ in grids]
    counters: dict[tuple[int, int], int] = {}
    for n, (g, c) in enumerate(zip(slots, chosen, strict=True)):
        x, y, _ = places[n]
        lat, lon = _deg(x, y)
        key = (grids[g].community, c)
        counters[key] = counters.get(key, 0) + 1
        name = f"{comm[grids[g].community].name_zh}{cats[c].name_zh}{counters[key]}号"
        cell = (grids[g].rect[0] + segment_of.get(n, 0), 0)
        district.checkpoints.append(Checkpoint(f"CP{n + 1:0{width}d}", name, c, round(lat, 6), round(lon, 6),
                                               g, cell))
        district.grid_checkpoints[g].append(n)


def ring_area(ring: list[list[float]]) -> float:
    """Signed shoelace area of a ring in squared degrees (positive when counter-clockwise)."""
    return sum(ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1] for k in range(len(ring) - 1)) / 2

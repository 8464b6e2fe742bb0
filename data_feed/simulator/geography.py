"""Generated district geography: streets, communities, villages and grids that tile exactly.

The district is a jittered lattice of small convex quadrilateral cells, finer in the centre and
coarser on the outskirts. Every area (street, community or village, grid) is a rectangle of
cells in lattice index space, split from its parent by guillotine cuts, so the boundaries share
lattice vertices exactly: children tile their parent and no two areas overlap.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from data_feed.simulator import catalog
from data_feed.simulator.presets import Preset

CENTER_LAT = 41.12
"""District centre latitude (the seed: about 41.12 N)."""

CENTER_LON = 122.07
"""District centre longitude (the seed: about 122.07 E)."""

CORE_CELL_M = 120.0
"""Lattice spacing in the centre, in metres (cells grow towards the outskirts)."""

URBAN_GRID_CELLS = 9
"""Lattice cells per urban grid (about 360 m across in the centre)."""

VILLAGE_GRID_CELLS = 24
"""Lattice cells per village grid (villages are larger and sparser)."""

STRETCH = 0.6
"""Outskirt stretch: edge cells are (1 + 3a) / (1 + a) times the central spacing."""

JITTER = 0.18
"""Lattice vertex jitter as a fraction of the local spacing (< 0.25 keeps cells convex)."""

M_PER_DEG_LAT = 110_574.0
"""Metres per degree of latitude."""

M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTER_LAT))
"""Metres per degree of longitude at the district's latitude."""

Rect = tuple[int, int, int, int]
"""Cells ``[i0, i1) × [j0, j1)`` in lattice index space."""


@dataclass
class Area:
    """A street, community/village or grid: a rectangle of lattice cells with its parents."""

    area_id: str
    name_zh: str
    name_en: str
    rect: Rect
    kind: str = ""
    street: int = -1
    community: int = -1
    warden_id: str = ""
    ring: list[list[float]] = field(default_factory=list, repr=False)


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
    """The generated district: lattice, areas, checkpoints, categories and units."""

    preset: Preset
    seed: int
    width: int
    height: int
    lons: list[list[float]]
    lats: list[list[float]]
    streets: list[Area]
    communities: list[Area]
    grids: list[Area]
    checkpoints: list[Checkpoint]
    categories: list[catalog.CategoryInfo]
    units: list[dict[str, str | None]]
    grid_checkpoints: list[list[int]] = field(default_factory=list, repr=False)

    def point(self, i: float, j: float) -> tuple[float, float]:
        """(lat, lon) of fractional lattice coordinates, bilinear inside the cell."""
        ci = min(int(i), self.width - 1)
        cj = min(int(j), self.height - 1)
        u, v = i - ci, j - cj
        lo, la = self.lons, self.lats
        lon = ((1 - u) * (1 - v) * lo[ci][cj] + u * (1 - v) * lo[ci + 1][cj]
               + u * v * lo[ci + 1][cj + 1] + (1 - u) * v * lo[ci][cj + 1])
        lat = ((1 - u) * (1 - v) * la[ci][cj] + u * (1 - v) * la[ci + 1][cj]
               + u * v * la[ci + 1][cj + 1] + (1 - u) * v * la[ci][cj + 1])
        return lat, lon

    def street_team(self, street: int) -> str:
        """Unit id of a street's own team."""
        return f"team-{self.streets[street].area_id}"


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


def _split(rect: Rect, weights: list[float], leaves: list[int]) -> list[Rect]:
    """Guillotine-split ``rect`` into one rectangle per weight (``leaves`` = min cells each)."""
    if len(weights) == 1:
        return [rect]
    i0, i1, j0, j1 = rect
    total = sum(weights)
    k = min(range(1, len(weights)), key=lambda m: abs(sum(weights[:m]) - total / 2))
    frac = sum(weights[:k]) / total
    need_a, need_b = sum(leaves[:k]), sum(leaves[k:])
    for vertical in ((i1 - i0) >= (j1 - j0), (i1 - i0) < (j1 - j0)):
        lo, hi, across = (i0, i1, j1 - j0) if vertical else (j0, j1, i1 - i0)
        cut = lo + round((hi - lo) * frac)
        cut = max(cut, lo + math.ceil(need_a / across))
        cut = min(cut, hi - math.ceil(need_b / across))
        if lo < cut < hi and (cut - lo) * across >= need_a and (hi - cut) * across >= need_b:
            a: Rect = (i0, cut, j0, j1) if vertical else (i0, i1, j0, cut)
            b: Rect = (cut, i1, j0, j1) if vertical else (i0, i1, cut, j1)
            return _split(a, weights[:k], leaves[:k]) + _split(b, weights[k:], leaves[k:])
    raise ValueError(f"cannot split {rect} into {len(weights)} parts")


def _stretch(s: float) -> float:
    return (s + STRETCH * s ** 3) / (1 + STRETCH)


def _lattice(width: int, height: int, rng: random.Random) -> tuple[list[list[float]], list[list[float]]]:
    """Jittered lattice vertices (lon, lat per [i][j]), denser in the centre."""
    ex = CORE_CELL_M * width * (1 + STRETCH)
    ey = CORE_CELL_M * height * (1 + STRETCH)
    xs = [_stretch(2 * i / width - 1) * ex / 2 for i in range(width + 1)]
    ys = [_stretch(2 * j / height - 1) * ey / 2 for j in range(height + 1)]
    lons: list[list[float]] = []
    lats: list[list[float]] = []
    for i in range(width + 1):
        col_lon: list[float] = []
        col_lat: list[float] = []
        dx = (xs[min(i + 1, width)] - xs[max(i - 1, 0)]) / (2 if 0 < i < width else 1)
        for j in range(height + 1):
            dy = (ys[min(j + 1, height)] - ys[max(j - 1, 0)]) / (2 if 0 < j < height else 1)
            x, y = xs[i], ys[j]
            jx = rng.uniform(-JITTER, JITTER) * dx
            jy = rng.uniform(-JITTER, JITTER) * dy
            if 0 < i < width:
                x += jx
            if 0 < j < height:
                y += jy
            col_lon.append(round(CENTER_LON + x / M_PER_DEG_LON, 6))
            col_lat.append(round(CENTER_LAT + y / M_PER_DEG_LAT, 6))
        lons.append(col_lon)
        lats.append(col_lat)
    return lons, lats


def _ring(rect: Rect, lons: list[list[float]], lats: list[list[float]]) -> list[list[float]]:
    """Counter-clockwise closed ring along the lattice boundary of ``rect``."""
    i0, i1, j0, j1 = rect
    idx = [(i, j0) for i in range(i0, i1 + 1)]
    idx += [(i1, j) for j in range(j0 + 1, j1 + 1)]
    idx += [(i, j1) for i in range(i1 - 1, i0 - 1, -1)]
    idx += [(i0, j) for j in range(j1 - 1, j0, -1)]
    ring = [[lons[i][j], lats[i][j]] for i, j in idx]
    ring.append(list(ring[0]))
    return ring


def _street_layout(count: int) -> list[tuple[int, int, int, int]]:
    """(column, row, columns, rows-in-column) of each street, central positions first."""
    rows = max(1, round(math.sqrt(count / 1.2)))
    cols = math.ceil(count / rows)
    per_col = _largest_remainder(count, [1.0] * cols)
    cells = [(c, r, cols, per_col[c]) for c in range(cols) for r in range(per_col[c])]

    def centrality(cell: tuple[int, int, int, int]) -> float:
        c, r, _, n = cell
        return abs(c - (cols - 1) / 2) / max(cols, 1) + abs(r - (n - 1) / 2) / max(n, 1) * 0.9

    return sorted(cells, key=lambda cell: (centrality(cell), cell[0], cell[1]))


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


def build_district(preset: Preset, seed: int) -> District:
    """Generate the district of ``preset`` deterministically from ``seed``."""
    rng = random.Random(f"{seed}:{preset.name}:geography")
    n_streets = preset.streets
    layout = _street_layout(n_streets)
    cols = layout[0][2]

    # Villages go to streets on the district border, most to the outer corners; in the seed
    # district the three named central streets keep none.
    def border_sides(cell: tuple[int, int, int, int]) -> int:
        c, r, ncols, nrows = cell
        return int(c == 0) + int(c == ncols - 1) + int(r == 0) + int(r == nrows - 1)

    village_weights = [float(border_sides(cell)) if s >= min(3, n_streets - 1) else 0.0
                       for s, cell in enumerate(layout)]
    if sum(village_weights) == 0:
        village_weights = [1.0] * n_streets
    villages_per_street = _largest_remainder(preset.villages, village_weights)
    urban_weights = [rng.uniform(0.85, 1.15) * (1.15 if s < 3 else 1.0) for s in range(n_streets)]
    communities_per_street = _largest_remainder(preset.communities, urban_weights, minimum=1)

    village_grid_total = max(preset.villages, round(preset.grids * 42 / 599)) if preset.villages else 0
    village_grids = _largest_remainder(village_grid_total, [rng.uniform(0.7, 1.3) for _ in range(preset.villages)],
                                       minimum=1) if preset.villages else []
    community_grids = _largest_remainder(preset.grids - village_grid_total,
                                         [rng.uniform(0.6, 1.4) for _ in range(preset.communities)], minimum=1)

    # Per street: list of (kind, grid count) for its communities then its villages.
    street_units: list[list[tuple[str, int]]] = []
    ci = vi = 0
    for s in range(n_streets):
        units = [("community", community_grids[ci + k]) for k in range(communities_per_street[s])]
        ci += communities_per_street[s]
        units += [("village", village_grids[vi + k]) for k in range(villages_per_street[s])]
        vi += villages_per_street[s]
        street_units.append(units)

    def cells_of(units: list[tuple[str, int]]) -> int:
        return sum(g * (URBAN_GRID_CELLS if kind == "community" else VILLAGE_GRID_CELLS) for kind, g in units)

    street_cells = [cells_of(u) for u in street_units]
    total_cells = sum(street_cells)
    height = max(2, round(math.sqrt(total_cells / 1.15)))
    width = max(2, math.ceil(total_cells / height))

    # Columns of streets: widths by area, heights within a column by area.
    by_col: dict[int, list[int]] = {}
    for s, (c, _, _, _) in enumerate(layout):
        by_col.setdefault(c, []).append(s)
    col_area = [sum(street_cells[s] for s in by_col[c]) for c in range(cols)]
    col_widths = _largest_remainder(width, [float(a) for a in col_area], minimum=1)
    street_rects: list[Rect] = [(0, 0, 0, 0)] * n_streets
    x = 0
    for c in range(cols):
        members = sorted(by_col[c], key=lambda s: layout[s][1])
        heights = _largest_remainder(height, [float(street_cells[s]) for s in members], minimum=1)
        y = 0
        for s, h in zip(members, heights, strict=True):
            street_rects[s] = (x, x + col_widths[c], y, y + h)
            y += h
        x += col_widths[c]

    lons, lats = _lattice(width, height, rng)
    streets: list[Area] = []
    communities: list[Area] = []
    grids: list[Area] = []
    names = list(catalog.STREET_NAMES)
    if n_streets > len(names):
        names += _names(n_streets - len(names), catalog.COMMUNITY_WORDS, "街道", "Subdistrict",
                        {n[0] for n in names}, rng)
    named = {s: [(zh, en) for s2, zh, en in catalog.NAMED_COMMUNITIES if s2 == s] for s in range(n_streets)}
    taken = {zh for _, zh, _ in catalog.NAMED_COMMUNITIES}
    generic = iter(_names(preset.communities, catalog.COMMUNITY_WORDS, "社区", "Community", taken, rng))
    village_names = iter(_names(preset.villages, catalog.VILLAGE_WORDS, "村", "Village", set(), rng))
    sw = max(2, len(str(n_streets)))
    cw = max(3, len(str(preset.communities)))
    vw = max(2, len(str(preset.villages)))
    gw = max(4, len(str(preset.grids)))
    n_comm = n_vill = 0
    for s in range(n_streets):
        rect = street_rects[s]
        sid = f"ST{s + 1:0{sw}d}"
        streets.append(Area(sid, names[s][0], names[s][1], rect, "street", s))
        units = street_units[s]
        urban = [u for u in units if u[0] == "community"]
        rural = [u for u in units if u[0] == "village"]
        rects: list[Rect] = []
        i0, i1, j0, j1 = rect
        if rural:
            # The village band lies on the street's side that touches the district border.
            c, r, ncols, nrows = layout[s]
            share = cells_of(rural) / cells_of(units)
            if c == 0 or c == ncols - 1:
                depth = min(max(1, round((i1 - i0) * share)), i1 - i0 - 1)
                band = (i0, i0 + depth, j0, j1) if c == 0 else (i1 - depth, i1, j0, j1)
                core = (i0 + depth, i1, j0, j1) if c == 0 else (i0, i1 - depth, j0, j1)
            else:
                depth = min(max(1, round((j1 - j0) * share)), j1 - j0 - 1)
                band = (i0, i1, j0, j0 + depth) if r == 0 else (i0, i1, j1 - depth, j1)
                core = (i0, i1, j0 + depth, j1) if r == 0 else (i0, i1, j0, j1 - depth)
            rects = _split(core, [float(g) for _, g in urban], [g for _, g in urban])
            rects += _split(band, [float(g) for _, g in rural], [g for _, g in rural])
        else:
            rects = _split(rect, [float(g) for _, g in urban], [g for _, g in urban])
        for (kind, n_grids), crect in zip(urban + rural, rects, strict=True):
            if kind == "community":
                n_comm += 1
                cid = f"C{n_comm:0{cw}d}"
                zh, en = named[s].pop(0) if named[s] else next(generic)
            else:
                n_vill += 1
                cid = f"V{n_vill:0{vw}d}"
                zh, en = next(village_names)
            community_index = len(communities)
            communities.append(Area(cid, zh, en, crect, kind, s))
            order = list(range(n_grids))
            weights = [rng.uniform(0.75, 1.25) for _ in order]
            for k, grect in enumerate(_split(crect, weights, [1] * n_grids)):
                g = len(grids) + 1
                grids.append(Area(f"G{g:0{gw}d}", f"{zh}第{k + 1}网格", f"{en} grid {k + 1}", grect,
                                  "grid", s, community_index, f"W{g:0{gw}d}"))
    for area in streets + communities + grids:
        area.ring = _ring(area.rect, lons, lats)

    cats = catalog.categories(preset.categories)
    district = District(preset, seed, width, height, lons, lats, streets, communities, grids, [], cats,
                        _units(streets, preset))
    _place_checkpoints(district, rng)
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


def _place_checkpoints(district: District, rng: random.Random) -> None:
    """Spread the preset's checkpoints over the grids (fewer in villages), all categories used."""
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
    width = max(5, len(str(len(slots))))
    district.grid_checkpoints = [[] for _ in grids]
    counters: dict[tuple[int, int], int] = {}
    for n, (g, c) in enumerate(zip(slots, chosen, strict=True)):
        i0, i1, j0, j1 = grids[g].rect
        ci, cj = rng.randrange(i0, i1), rng.randrange(j0, j1)
        lat, lon = district.point(ci + rng.uniform(0.15, 0.85), cj + rng.uniform(0.15, 0.85))
        key = (grids[g].community, c)
        counters[key] = counters.get(key, 0) + 1
        name = f"{comm[grids[g].community].name_zh}{cats[c].name_zh}{counters[key]}号"
        district.checkpoints.append(Checkpoint(f"CP{n + 1:0{width}d}", name, c, round(lat, 6), round(lon, 6),
                                               g, (ci, cj)))
        district.grid_checkpoints[g].append(n)


def ring_area(ring: list[list[float]]) -> float:
    """Signed shoelace area of a ring in squared degrees (positive when counter-clockwise)."""
    return sum(ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1] for k in range(len(ring) - 1)) / 2

"""Reference data: streets, communities, grids (with boundaries), categories and units.

Loaded once at start from ``GRID_REFERENCE_DIR`` (format: docs/reference-data.md). Every
file is optional; a malformed one raises :class:`ConfigError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.geometry import Shape, ShapeIndex
from data_feed.errors import ConfigError
from data_feed.keys import SHARD_BY_STREET

DEFAULT_DISTRICT_VIEW = (41.12, 122.07, 12)
"""Map start view (lat, lon, zoom) when district.json is absent: Xinglongtai district."""


class Bilingual:
    """Mixin for reference records named in zh-CN and English."""

    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        """Display name in ``lang`` ('zh' or 'en')."""
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class Area(Bilingual):
    """A street, community or grid with its parents and boundary."""

    area_id: str
    name_zh: str
    name_en: str
    street_id: str | None = None
    community_id: str | None = None
    kind: str = ""
    warden_id: str | None = None
    shape: Shape | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Category(Bilingual):
    """A checkpoint/case category with its responsible department and time limits."""

    category_id: str
    name_zh: str
    name_en: str
    group_zh: str = ""
    group_en: str = ""
    department_id: str | None = None
    limit_hours: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Unit(Bilingual):
    """A department, street team or mobile team that cases are dispatched to."""

    unit_id: str
    unit_type: str
    name_zh: str
    name_en: str
    street_id: str | None = None


@dataclass
class Reference:
    """All reference data of one district; empty when no folder is configured."""

    streets: dict[str, Area] = field(default_factory=dict)
    communities: dict[str, Area] = field(default_factory=dict)
    grids: dict[str, Area] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    district_view: tuple[float, float, int] = DEFAULT_DISTRICT_VIEW
    district_name: tuple[str, str] = ("兴隆台区", "Xinglongtai District")
    subscriptions: dict[str, frozenset[str]] = field(default_factory=dict)
    geojson: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    indexes: dict[str, ShapeIndex[Area]] = field(default_factory=dict, repr=False)

    def departments(self) -> dict[str, Unit]:
        """Units of type ``department`` by id."""
        return {k: u for k, u in self.units.items() if u.unit_type == "department"}

    def subscribed_categories(self, department_id: str) -> frozenset[str]:
        """Categories a department follows: ``subscriptions.json`` when it lists the
        department, else the categories it is responsible for (``department_id`` in categories.json)."""
        listed = self.subscriptions.get(department_id)
        if listed is not None:
            return listed
        return frozenset(c.category_id for c in self.categories.values() if c.department_id == department_id)

    def build_indexes(self) -> None:
        """Index the boundaries for :meth:`locate` (called once the areas are loaded)."""
        for level, areas in (("grid", self.grids), ("community", self.communities), ("street", self.streets)):
            self.indexes[level] = ShapeIndex((a, a.shape) for a in areas.values() if a.shape is not None)

    def stream_shards(self, mode: str) -> tuple[str, ...]:
        """The shard names of GRID_STREAM_SHARDS=``mode``: each street id for ``street``, else none."""
        return tuple(sorted(self.streets)) if mode == SHARD_BY_STREET else ()

    def locate(self, lat: float, lon: float) -> tuple[str | None, str | None, str | None]:
        """Return (street_id, community_id, grid_id) of the point from the boundaries."""
        if not self.indexes:
            return None, None, None
        grid = self.indexes["grid"].find(lat, lon)
        if grid is not None:
            return grid.street_id, grid.community_id, grid.area_id
        community = self.indexes["community"].find(lat, lon)
        if community is not None:
            return community.street_id, community.area_id, None
        street = self.indexes["street"].find(lat, lon)
        return (street.area_id if street else None), None, None

    def boundaries_geojson(self, level: str) -> dict[str, Any]:
        """Boundary FeatureCollection of 'street', 'community' or 'grid' (empty when absent)."""
        return self.geojson.get(level, {"type": "FeatureCollection", "features": []})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"reference file {path} cannot be read as JSON ({exc}); fix or remove it") from exc


def _areas(path: Path, id_field: str) -> tuple[dict[str, Area], dict[str, Any]]:
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ConfigError(f"reference file {path} is not a GeoJSON FeatureCollection")
    areas: dict[str, Area] = {}
    for n, feature in enumerate(doc.get("features", [])):
        props = feature.get("properties") or {}
        area_id = props.get(id_field)
        if not area_id:
            raise ConfigError(f"reference file {path}: feature #{n} has no {id_field!r} property")
        try:
            shape = Shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ConfigError(f"reference file {path}: feature {area_id!r} has a bad geometry ({exc})") from exc
        areas[str(area_id)] = Area(
            area_id=str(area_id),
            name_zh=str(props.get("name_zh") or area_id),
            name_en=str(props.get("name_en") or props.get("name_zh") or area_id),
            street_id=props.get("street_id"),
            community_id=props.get("community_id"),
            kind=str(props.get("kind") or ""),
            warden_id=props.get("warden_id"),
            shape=shape,
        )
    return areas, doc


def load_reference(folder: Path | None) -> Reference:
    """Load every reference file present in ``folder``; None gives an empty reference."""
    ref = Reference()
    if folder is None:
        return ref
    for level, name, id_field in (("street", "streets.geojson", "street_id"),
                                  ("community", "communities.geojson", "community_id"),
                                  ("grid", "grids.geojson", "grid_id")):
        path = folder / name
        if path.exists():
            areas, doc = _areas(path, id_field)
            setattr(ref, {"street": "streets", "community": "communities", "grid": "grids"}[level], areas)
            ref.geojson[level] = doc
    path = folder / "categories.json"
    if path.exists():
        for n, item in enumerate(_read_json(path)):
            try:
                limits = {k: float(item["time_limit_hours"][k]) for k in ("normal", "urgent", "hazard")}
                cat = Category(str(item["category_id"]), str(item["name_zh"]), str(item["name_en"]),
                               str(item.get("group_zh", "")), str(item.get("group_en", "")),
                               item.get("department_id"), limits)
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"reference file {path}: entry #{n} is incomplete ({exc!r})") from exc
            ref.categories[cat.category_id] = cat
    path = folder / "units.json"
    if path.exists():
        for n, item in enumerate(_read_json(path)):
            try:
                unit = Unit(str(item["unit_id"]), str(item["unit_type"]), str(item["name_zh"]),
                            str(item["name_en"]), item.get("street_id"))
            except (KeyError, TypeError) as exc:
                raise ConfigError(f"reference file {path}: entry #{n} is incomplete ({exc!r})") from exc
            ref.units[unit.unit_id] = unit
    path = folder / "subscriptions.json"
    if path.exists():
        doc = _read_json(path)
        if not isinstance(doc, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in doc.values()):
            raise ConfigError(f"reference file {path} must map each department id to a list of "
                              "category ids, e.g. {\"D01\": [\"C001\", \"C002\"]}")
        for dept, cats in doc.items():
            unknown = [c for c in cats if ref.categories and c not in ref.categories]
            if unknown:
                raise ConfigError(f"reference file {path}: department {dept!r} subscribes to unknown "
                                  f"categories {unknown[:5]}; fix the ids or add them to categories.json")
            ref.subscriptions[str(dept)] = frozenset(cats)
    path = folder / "district.json"
    if path.exists():
        doc = _read_json(path)
        try:
            lat, lon = (float(x) for x in doc["center"])
            ref.district_view = (lat, lon, int(doc.get("zoom", 12)))
            ref.district_name = (str(doc.get("name_zh", ref.district_name[0])),
                                 str(doc.get("name_en", ref.district_name[1])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"reference file {path}: needs center [lat, lon] ({exc!r})") from exc
    ref.build_indexes()
    return ref

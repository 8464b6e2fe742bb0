"""Reference files for ``GRID_REFERENCE_DIR`` (format: docs/reference-data.md) of a generated district."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from data_feed.simulator import catalog
from data_feed.simulator.geography import SEED_GRIDS, Area, District


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _feature(area: Area, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties,
            "geometry": area.geometry()}


def reference_documents(district: District) -> dict[str, Any]:
    """File name → JSON document of every reference file."""
    d = district
    streets = [_feature(s, {"street_id": s.area_id, "name_zh": s.name_zh, "name_en": s.name_en}) for s in d.streets]
    communities = [_feature(c, {"community_id": c.area_id, "street_id": d.streets[c.street].area_id,
                                "name_zh": c.name_zh, "name_en": c.name_en, "kind": c.kind}) for c in d.communities]
    grids = [_feature(g, {"grid_id": g.area_id, "community_id": d.communities[g.community].area_id,
                          "street_id": d.streets[g.street].area_id, "warden_id": g.warden_id,
                          "name_zh": g.name_zh, "name_en": g.name_en}) for g in d.grids]
    categories = [{"category_id": c.category_id, "name_zh": c.name_zh, "name_en": c.name_en,
                   "group_zh": catalog.GROUPS[c.group][0], "group_en": catalog.GROUPS[c.group][1],
                   "department_id": c.department_id,
                   "time_limit_hours": dict(zip(("normal", "urgent", "hazard"), c.limits, strict=True))}
                  for c in d.categories]
    # Start view: the outline's middle, zoomed so the whole district shows (the wall then fits
    # the street boundaries exactly).
    lons = [p[0] for poly in d.outline for p in poly[0]]
    lats = [p[1] for poly in d.outline for p in poly[0]]
    centre = [round((min(lats) + max(lats)) / 2, 6), round((min(lons) + max(lons)) / 2, 6)]
    zoom = max(6, min(13, round(10 - math.log2(math.sqrt(d.preset.grids / SEED_GRIDS)))))
    return {
        "streets.geojson": _collection(streets),
        "communities.geojson": _collection(communities),
        "grids.geojson": _collection(grids),
        "categories.json": categories,
        "units.json": d.units,
        "district.json": {"name_zh": "兴隆台区", "name_en": "Xinglongtai District",
                          "center": centre, "zoom": zoom},
    }


def write_documents(folder: Path, district: District) -> list[Path]:
    """Write every reference file into ``folder`` (atomically, one by one) and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in reference_documents(district).items():
        path = folder / name
        tmp = folder / f".{name}.tmp"
        tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written

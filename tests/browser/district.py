"""A small deterministic synthetic district for the browser tests and the screenshots.

Writes reference files (streets, communities, categories, district view) and returns contract
events: checkpoints, this round's inspections, open/overdue/hazard cases, warden positions.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

CST = timezone(timedelta(hours=8))
CENTER = (41.12, 122.07)
STREETS = [
    ("s1", "兴隆街道", "Xinglong"), ("s2", "渤海街道", "Bohai"), ("s3", "兴海街道", "Xinghai"),
    ("s4", "振兴街道", "Zhenxing"), ("s5", "曙光街道", "Shuguang"), ("s6", "创新街道", "Chuangxin"),
    ("s7", "新工街道", "Xingong"), ("s8", "友谊街道", "Youyi"),
]
CATEGORIES = [
    ("flowerbed", "花坛", "Flower bed"), ("drain", "井篦子", "Drain grate"),
    ("bin", "垃圾箱", "Garbage bin"), ("lamp", "路灯", "Street lamp"),
    ("ads", "小广告", "Small ads"), ("parking", "违章停车", "Illegal parking"),
]


def iso(epoch: float) -> str:
    """ISO 8601 with the district's +08:00 offset."""
    return datetime.fromtimestamp(epoch, CST).isoformat(timespec="seconds")


def _rect(lat0: float, lon0: float, lat1: float, lon1: float) -> list[list[list[float]]]:
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


def street_box(index: int) -> tuple[float, float, float, float]:
    """(lat0, lon0, lat1, lon1) of street ``index`` in a 4x2 layout around the centre."""
    col, row = index % 4, index // 4
    lat0 = CENTER[0] - 0.03 + row * 0.03
    lon0 = CENTER[1] - 0.08 + col * 0.04
    return lat0, lon0, lat0 + 0.03, lon0 + 0.04


def write_reference(folder: Path) -> Path:
    """Write streets, communities, categories and district.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    streets, communities = [], []
    for i, (sid, zh, en) in enumerate(STREETS):
        lat0, lon0, lat1, lon1 = street_box(i)
        streets.append({"type": "Feature", "properties": {"street_id": sid, "name_zh": zh, "name_en": en},
                        "geometry": {"type": "Polygon", "coordinates": _rect(lat0, lon0, lat1, lon1)}})
        for j in range(2):
            for k in range(2):
                cid = f"{sid}c{j}{k}"
                clat, clon = lat0 + j * 0.015, lon0 + k * 0.02
                communities.append({
                    "type": "Feature",
                    "properties": {"community_id": cid, "street_id": sid, "name_zh": f"{zh}{j * 2 + k + 1}社区",
                                   "name_en": f"{en} {j * 2 + k + 1}", "kind": "community"},
                    "geometry": {"type": "Polygon", "coordinates": _rect(clat, clon, clat + 0.015, clon + 0.02)}})
    (folder / "streets.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": streets}))
    (folder / "communities.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": communities}))
    cats = [{"category_id": c, "name_zh": zh, "name_en": en, "group_zh": "市容", "group_en": "Appearance",
             "department_id": None, "time_limit_hours": {"normal": 72, "urgent": 24, "hazard": 4}}
            for c, zh, en in CATEGORIES]
    (folder / "categories.json").write_text(json.dumps(cats, ensure_ascii=False))
    (folder / "district.json").write_text(json.dumps(
        {"name_zh": "兴隆台区", "name_en": "Xinglongtai", "center": list(CENTER), "zoom": 13}))
    return folder


def checkpoint_position(n: int, index: int) -> tuple[str, float, float]:
    """(street_id, lat, lon) of checkpoint ``index`` of ``n`` (deterministic)."""
    rnd = random.Random(index * 7919 + n)
    street = index % len(STREETS)
    lat0, lon0, lat1, lon1 = street_box(street)
    return STREETS[street][0], rnd.uniform(lat0 + 0.001, lat1 - 0.001), rnd.uniform(lon0 + 0.001, lon1 - 0.001)


def events(n: int, now: float, *, cases: int = 40, wardens: int = 60,
           inspected_share: float = 0.6) -> list[dict[str, str]]:
    """Contract events for ``n`` checkpoints, some inspected this round, some with cases."""
    rnd = random.Random(n)
    out: list[dict[str, str]] = []
    earlier = now - 3 * 86400
    for i in range(n):
        sid, lat, lon = checkpoint_position(n, i)
        out.append({"type": "checkpoint.registered", "ts": iso(earlier), "checkpoint_id": f"cp{i}",
                    "category": CATEGORIES[i % len(CATEGORIES)][0], "lat": f"{lat:.6f}",
                    "lon": f"{lon:.6f}", "street_id": sid, "warden_id": f"w{i % max(1, wardens)}"})
    for i in range(n):
        if rnd.random() < inspected_share:
            out.append({"type": "inspection.completed", "ts": iso(now - rnd.uniform(60, 600)),
                        "checkpoint_id": f"cp{i}", "warden_id": f"w{i % max(1, wardens)}", "result": "ok"})
    for k in range(min(cases, n)):
        i = (k * 37) % n
        sid, lat, lon = checkpoint_position(n, i)
        kind = k % 4  # 0 open, 1 overdue (dispatched with a past deadline), 2 hazard, 3 closed
        priority = "hazard" if kind == 2 and k % 8 == 2 else "normal"
        reported = now - rnd.uniform(3600, 2 * 86400)
        case_id = f"C{k:04d}"
        out.append({"type": "case.reported", "ts": iso(reported), "case_id": case_id, "channel": "patrol",
                    "category": CATEGORIES[i % len(CATEGORIES)][0], "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                    "checkpoint_id": f"cp{i}", "street_id": sid, "priority": priority})
        if kind == 1:
            out.append({"type": "case.dispatched", "ts": iso(reported + 60), "case_id": case_id,
                        "unit_id": "u1", "unit_type": "department",
                        "deadline": iso(now - rnd.uniform(600, 20000))})
        elif kind == 3:
            out.append({"type": "case.closed", "ts": iso(reported + 1800), "case_id": case_id})
            if k % 3:
                out.append({"type": "case.rated", "ts": iso(reported + 3600), "case_id": case_id,
                            "satisfied": "true" if k % 5 else "false"})
    for w in range(wardens):
        sid, lat, lon = checkpoint_position(n, w * 13 + 5)
        age = 900 if w % 10 == 0 else rnd.uniform(1, 60)
        out.append({"type": "warden.position", "ts": iso(now - age), "warden_id": f"w{w}",
                    "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"})
    return out

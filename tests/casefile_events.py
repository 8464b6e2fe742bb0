"""A hand-made case with every step, and reference files with departments (case file and
department tests, browser tests and screenshots)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.events import CST

PLANTED_DESCRIPTION = "张三家门口路灯不亮 PLANTED-DESCRIPTION"
PLANTED_PHONE = "13912345678"
"""Personal fields put into the report: neither may appear in any response."""

UNITS = [
    {"unit_id": "D-LIGHT", "unit_type": "department", "name_zh": "城市照明管理处", "name_en": "Street Lighting Office",
     "street_id": None},
    {"unit_id": "D-SAN", "unit_type": "department", "name_zh": "环境卫生管理处", "name_en": "Sanitation Office",
     "street_id": None},
    {"unit_id": "T-S1", "unit_type": "street_team", "name_zh": "兴隆街道综合执法队", "name_en": "Xinglong street team",
     "street_id": "s1"},
]
"""Two departments and a street team."""

SUBSCRIPTIONS = {"D-LIGHT": ["lamp"], "D-SAN": ["bin", "drain"]}
"""Street lighting follows the lamps; sanitation the bins and drains."""


def add_departments(folder: Path) -> Path:
    """Write units.json and subscriptions.json into a reference folder."""
    (folder / "units.json").write_text(json.dumps(UNITS, ensure_ascii=False))
    (folder / "subscriptions.json").write_text(json.dumps(SUBSCRIPTIONS))
    return folder


def at(start: float, seconds: float) -> str:
    """ISO time ``seconds`` after ``start`` in district time."""
    return datetime.fromtimestamp(start + seconds, CST).isoformat(timespec="seconds")


STEPS = ("inspection.completed", "case.reported", "case.escalated", "case.dispatched", "case.processed",
         "case.returned", "case.processed", "case.closed", "case.rated")
"""The hand-made case's timeline, in order."""


def handmade_case(case_id: str, start: float, *, checkpoint: str = "cpK", warden: str = "wK",
                  lat: float = 41.125, lon: float = 122.035) -> list[dict[str, str]]:
    """A lamp found by a warden, reported, escalated, dispatched to street lighting, processed,
    returned, processed again, closed on time and rated; with a planted description and phone."""
    h = 3600.0
    return [
        {"type": "checkpoint.registered", "ts": at(start, -86400), "checkpoint_id": checkpoint, "category": "lamp",
         "lat": f"{lat + 0.0004:.6f}", "lon": f"{lon + 0.0006:.6f}", "street_id": "s1", "community_id": "s1c00",
         "warden_id": warden, "name": "路灯K"},
        {"type": "inspection.completed", "ts": at(start, 0), "checkpoint_id": checkpoint, "warden_id": warden,
         "result": "problem", "case_id": case_id},
        {"type": "case.reported", "ts": at(start, 60), "case_id": case_id, "channel": "patrol", "category": "lamp",
         "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "checkpoint_id": checkpoint, "priority": "normal",
         "description": PLANTED_DESCRIPTION, "reporter_phone": PLANTED_PHONE, "query_code": "Q-777"},
        {"type": "case.escalated", "ts": at(start, 300), "case_id": case_id, "level": "district"},
        {"type": "case.dispatched", "ts": at(start, 600), "case_id": case_id, "unit_id": "D-LIGHT",
         "unit_type": "department", "deadline": at(start, 48 * h)},
        {"type": "case.processed", "ts": at(start, 20 * h), "case_id": case_id, "unit_id": "D-LIGHT"},
        {"type": "case.returned", "ts": at(start, 21 * h), "case_id": case_id, "reason": "灯仍不亮 still dark"},
        {"type": "case.processed", "ts": at(start, 26 * h), "case_id": case_id, "unit_id": "D-LIGHT"},
        {"type": "case.closed", "ts": at(start, 27 * h), "case_id": case_id, "verified_by": "center"},
        {"type": "case.rated", "ts": at(start, 28 * h), "case_id": case_id, "satisfied": "true", "score": "5"},
        {"type": "warden.position", "ts": at(start, 28 * h), "warden_id": warden,
         "lat": f"{lat - 0.0008:.6f}", "lon": f"{lon - 0.001:.6f}"},
    ]

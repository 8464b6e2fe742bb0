"""Hand-made contract events for tests (plain string maps, as a producer would XADD them)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))


def ts(day: str = "2026-05-09", clock: str = "08:15:30") -> str:
    """An ISO timestamp in district time (+08:00)."""
    return f"{day}T{clock}+08:00"


def iso(dt: datetime) -> str:
    """ISO form of an aware datetime in district time."""
    return dt.astimezone(CST).isoformat()


VALID: dict[str, dict[str, str]] = {
    "warden.position": {"type": "warden.position", "ts": ts(), "warden_id": "w1",
                        "lat": "41.12", "lon": "122.07", "accuracy_m": "5", "speed_mps": "1.2",
                        "battery": "80"},
    "checkpoint.registered": {"type": "checkpoint.registered", "ts": ts(), "checkpoint_id": "cp1",
                              "category": "lamp", "lat": "41.12", "lon": "122.07", "name": "路灯1",
                              "street_id": "s1", "community_id": "c1", "grid_id": "g1",
                              "warden_id": "w1", "department_id": "d1"},
    "inspection.completed": {"type": "inspection.completed", "ts": ts(), "checkpoint_id": "cp1",
                             "warden_id": "w1", "result": "problem", "case_id": "K1"},
    "case.reported": {"type": "case.reported", "ts": ts(), "case_id": "K1", "channel": "hotline",
                      "category": "lamp", "lat": "41.12", "lon": "122.07", "checkpoint_id": "cp1",
                      "street_id": "s1", "community_id": "c1", "grid_id": "g1", "priority": "urgent",
                      "query_code": "Q123", "description": "路灯不亮 张三家门口",
                      "reporter_phone": "13800000000"},
    "case.resolved_on_site": {"type": "case.resolved_on_site", "ts": ts(), "case_id": "K1",
                              "warden_id": "w1"},
    "case.escalated": {"type": "case.escalated", "ts": ts(), "case_id": "K1", "level": "district"},
    "case.dispatched": {"type": "case.dispatched", "ts": ts(), "case_id": "K1", "unit_id": "u1",
                        "unit_type": "department", "deadline": ts("2026-05-10")},
    "case.processed": {"type": "case.processed", "ts": ts(), "case_id": "K1", "unit_id": "u1"},
    "case.returned": {"type": "case.returned", "ts": ts(), "case_id": "K1", "reason": "not fixed"},
    "case.closed": {"type": "case.closed", "ts": ts(), "case_id": "K1", "verified_by": "center"},
    "case.rated": {"type": "case.rated", "ts": ts(), "case_id": "K1", "satisfied": "true",
                   "score": "5"},
    "case.voided": {"type": "case.voided", "ts": ts(), "case_id": "K1", "reason": "duplicate"},
}
"""One valid entry of every type, with every optional field."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "warden.position": ("warden_id", "lat", "lon"),
    "checkpoint.registered": ("checkpoint_id", "category", "lat", "lon"),
    "inspection.completed": ("checkpoint_id", "warden_id", "result"),
    "case.reported": ("case_id", "channel", "category", "lat", "lon"),
    "case.resolved_on_site": ("case_id",),
    "case.escalated": ("case_id",),
    "case.dispatched": ("case_id", "unit_id", "unit_type"),
    "case.processed": ("case_id",),
    "case.returned": ("case_id",),
    "case.closed": ("case_id",),
    "case.rated": ("case_id", "satisfied"),
    "case.voided": ("case_id",),
}
"""Required fields of each type besides ``type`` and ``ts`` (from the contract)."""


def report(case_id: str, when: str, *, channel: str = "patrol", category: str = "lamp",
           priority: str = "normal", street: str | None = "s1", checkpoint: str | None = None,
           lat: str = "41.12", lon: str = "122.07", **extra: str) -> dict[str, str]:
    """A case.reported entry."""
    e = {"type": "case.reported", "ts": when, "case_id": case_id, "channel": channel,
         "category": category, "priority": priority, "lat": lat, "lon": lon}
    if street:
        e["street_id"] = street
    if checkpoint:
        e["checkpoint_id"] = checkpoint
    e.update(extra)
    return e


def case_event(kind: str, case_id: str, when: str, **fields: str) -> dict[str, str]:
    """Any other case.* entry."""
    return {"type": f"case.{kind}", "ts": when, "case_id": case_id, **fields}

"""Case files: one case's whole path as plain data, and a department's slice of the district.

:func:`case_file` is the one projection of a case that the case page (``/case/<id>``), the API
(``/api/v1/cases/<id>``) and the public citizen query (:func:`public_case_file`) share. It reads
the case's timeline (non-personal fields only, see :data:`dashboard.cases.STEP_FIELDS`): no
description or phone can reach it, because the state never keeps them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard import kpis
from dashboard.cases import Case, CaseState
from dashboard.periods import Period
from dashboard.reference import Bilingual, Reference, Unit
from dashboard.runtime import Runtime
from dashboard.status import STATUS_ORDER


class CaseNotFound(LookupError):
    """No case with this id was ever seen by this process; the message names it."""


class CaseRetired(LookupError):
    """The case was closed longer than GRID_CASE_RETENTION_DAYS ago: its record is gone."""


def _iso(ts: float | None, runtime: Runtime) -> str | None:
    return datetime.fromtimestamp(ts, runtime.config.tz).isoformat() if ts is not None else None


def _named(obj: Bilingual | None, key: str | None) -> dict[str, Any] | None:
    """``{"id", "name_zh", "name_en"}`` of a reference record (names fall back to the id)."""
    if key is None:
        return None
    return {"id": key, "name_zh": obj.name_zh if obj else key, "name_en": obj.name_en if obj else key}


def deadline_status(case: Case, now: float, near: float) -> dict[str, Any]:
    """Where a case stands against its deadline: counting down (green/yellow), overdue by how
    long, or closed on time / late (voided cases have none)."""
    deadline = case.deadline
    if case.state is CaseState.VOIDED:
        return {"status": "voided", "colour": None, "seconds": None}
    if case.state is CaseState.CLOSED and case.closed_at is not None:
        late = case.closed_at - deadline
        return {"status": "closed_late" if late > 0 else "closed_on_time", "colour": None,
                "seconds": round(late)}
    colour = case.colour(now, near).value
    if now > deadline:
        return {"status": "overdue", "colour": colour, "seconds": round(now - deadline)}
    return {"status": "open", "colour": colour, "seconds": round(deadline - now)}


def _step(runtime: Runtime, ts: float, event_type: str,
          fields: tuple[tuple[str, object], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"ts": _iso(ts, runtime), "type": event_type}
    for name, value in fields:
        if name == "deadline" and isinstance(value, (int, float)):
            value = _iso(float(value), runtime)
        out[name] = value
    unit_id = out.get("unit_id")
    if isinstance(unit_id, str):
        out["unit"] = _named(runtime.reference.units.get(unit_id), unit_id)
    return out


def _responsible_warden(case: Case, checkpoint_warden: str | None) -> str | None:
    """The checkpoint's warden (三定: each checkpoint has one), else who found or solved it."""
    if checkpoint_warden:
        return checkpoint_warden
    for _ts, _type, fields in case.timeline:
        for name, value in fields:
            if name == "warden_id" and isinstance(value, str):
                return value
    return None


def case_file(runtime: Runtime, case_id: str, now: float) -> dict[str, Any]:
    """The whole file of one case as JSON-ready data; raises CaseNotFound or CaseRetired."""
    state = runtime.state
    ref = runtime.reference
    near = runtime.config.near_deadline_fraction
    with state.lock:
        case = state.cases.get(case_id)
        if case is None:
            if case_id in state.book.retired:
                raise CaseRetired(
                    f"case {case_id!r} was closed more than {runtime.config.case_retention_days:g} days "
                    "ago; its record is no longer kept (GRID_CASE_RETENTION_DAYS)")
            raise CaseNotFound(f"no case with id {case_id!r}")
        cp = state.checkpoints.get(case.checkpoint_id) if case.checkpoint_id else None
        checkpoint = None
        if cp is not None and cp.registered:
            checkpoint = {"id": cp.checkpoint_id, "lat": cp.lat, "lon": cp.lon, "category": cp.category,
                          "warden_id": cp.warden_id}
        elif case.checkpoint_id:
            checkpoint = {"id": case.checkpoint_id, "lat": None, "lon": None, "category": None,
                          "warden_id": None}
        warden_id = _responsible_warden(case, cp.warden_id if cp is not None else None)
        position = state.wardens.get(warden_id) if warden_id else None
        record: dict[str, Any] = {
            "case_id": case.case_id,
            "state": case.state.value,
            "is_open": case.is_open,
            "channel": case.channel,
            "priority": case.priority,
            "category": _named(ref.categories.get(case.category), case.category),
            "street": _named(ref.streets.get(case.street_id or ""), case.street_id),
            "community": _named(ref.communities.get(case.community_id or ""), case.community_id),
            "grid": _named(ref.grids.get(case.grid_id or ""), case.grid_id),
            "lat": case.lat,
            "lon": case.lon,
            "reported_at": _iso(case.reported_at, runtime),
            "deadline": _iso(case.deadline, runtime),
            "processed_at": _iso(case.processed_at, runtime),
            "closed_at": _iso(case.closed_at, runtime),
            "deadline_status": deadline_status(case, now, near),
            "escalation_level": case.escalation_level,
            "departments": [_named(ref.units.get(d), d) for d in sorted(case.departments)],
            "dispatched_types": sorted(case.dispatched_types),
            "returned_count": case.returned_count,
            "rating": None if case.rated_at is None else {
                "satisfied": case.satisfied, "score": case.score, "rated_at": _iso(case.rated_at, runtime)},
            "checkpoint": checkpoint,
            "warden": None if warden_id is None else {
                "id": warden_id,
                "lat": position[0] if position else None,
                "lon": position[1] if position else None,
                "last_seen": _iso(position[2], runtime) if position else None},
            "timeline": [_step(runtime, ts, kind, fields) for ts, kind, fields in case.timeline],
        }
    return record


PUBLIC_DROPPED = ("warden_id", "reason", "verified_by", "unit_id")
"""Step fields a citizen's view leaves out (staff notes and who did what)."""


def public_case_file(record: dict[str, Any]) -> dict[str, Any]:
    """A case file for the public (a citizen's query): no warden, no reasons, no staff ids."""
    out = {k: v for k, v in record.items() if k not in ("warden", "checkpoint")}
    out["timeline"] = [{k: v for k, v in step.items() if k not in PUBLIC_DROPPED} for step in record["timeline"]]
    return out


# ---------------------------------------------------------------- departments
class UnknownDepartment(LookupError):
    """No department unit with this id in the reference data; the message names it."""


def department_of(reference: Reference, dept_id: str) -> Bilingual:
    """The department unit ``dept_id`` (units.json, or only named in subscriptions.json);
    raises UnknownDepartment."""
    unit = reference.departments().get(dept_id)
    if unit is None and dept_id in reference.subscriptions:  # subscribed, not (yet) in units.json
        unit = Unit(dept_id, "department", dept_id, dept_id)
    if unit is None:
        raise UnknownDepartment(f"no department with id {dept_id!r} (units.json, unit_type department)")
    return unit


def _case_row(runtime: Runtime, case: Case, now: float, near: float) -> dict[str, Any]:
    status = deadline_status(case, now, near)
    return {"case_id": case.case_id, "category": case.category, "state": case.state.value,
            "priority": case.priority, "street_id": case.street_id, "community_id": case.community_id,
            "reported_at": _iso(case.reported_at, runtime), "deadline": _iso(case.deadline, runtime),
            "deadline_status": status["status"], "colour": status["colour"],
            "overdue_seconds": round(now - case.deadline), "returned_count": case.returned_count}


def department_view(runtime: Runtime, dept_id: str, now: float, period: Period) -> dict[str, Any]:
    """A department's categories, their checkpoints' status, its cases and its KPI record.

    A department's cases are those of its subscribed categories and those dispatched to it;
    its checkpoints are those of its subscribed categories. Raises UnknownDepartment.
    """
    department_of(runtime.reference, dept_id)
    categories = runtime.reference.subscribed_categories(dept_id)
    state = runtime.state
    near = runtime.config.near_deadline_fraction
    round_start = state.rounds.round_at(now).start
    counts = {s.value: 0 for s in STATUS_ORDER}
    checkpoints: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    with state.lock:
        for cid, cp in state.checkpoints.items():
            if not cp.registered or cp.category not in categories:
                continue
            status = state.checkpoint_status(cp, now, round_start)
            counts[status.value] += 1
            checkpoints.append({"checkpoint_id": cid, "category": cp.category, "street_id": cp.street_id,
                                "community_id": cp.community_id, "status": status.value,
                                "last_inspected_at": _iso(cp.last_inspected_at, runtime),
                                "open_cases": sorted(cp.open_cases)})
        for case in state.cases.values():
            mine = case.category in categories or dept_id in case.departments
            # open cases, and closed ones that were reworked (returned at least once)
            if mine and (case.is_open or case.returned_count > 0):
                cases.append(_case_row(runtime, case, now, near))
    # the KPI engine's record of the department (dispatched cases): no second calculation
    report = kpis.compute(state, period, now, ("departments",))
    figures = report["departments"].get(dept_id) or kpis.finish([0] * len(kpis.COUNTS))
    worst_first = {s.value: -i for i, s in enumerate(STATUS_ORDER)}
    checkpoints.sort(key=lambda r: (worst_first[r["status"]], r["checkpoint_id"]))
    closed = ("closed", "voided")
    cases.sort(key=lambda r: (r["state"] in closed, -r["overdue_seconds"], r["case_id"]))  # open, most overdue first
    open_rows = [r for r in cases if r["state"] not in closed]
    return {
        "department_id": dept_id,
        "categories": sorted(categories),
        "period": report["period"],
        "checkpoint_status": counts,
        "checkpoints": checkpoints,
        "cases": cases,
        "case_counts": {"open": len(open_rows),
                        "overdue": sum(1 for r in open_rows if r["deadline_status"] == "overdue"),
                        "reworked": sum(1 for r in cases if r["returned_count"] > 0)},
        "figures": figures,
    }


def open_cases_at(runtime: Runtime, checkpoint_id: str, now: float) -> list[dict[str, Any]] | None:
    """Rows of the open cases at a registered checkpoint, most overdue first (None: unknown)."""
    state = runtime.state
    near = runtime.config.near_deadline_fraction
    with state.lock:
        cp = state.checkpoints.get(checkpoint_id)
        if cp is None or not cp.registered:
            return None
        rows = [_case_row(runtime, state.cases[c], now, near) for c in cp.open_cases if c in state.cases]
    rows.sort(key=lambda r: (-r["overdue_seconds"], r["case_id"]))
    return rows

"""What the public portal may see: district figures, streets, the map, the board, a citizen's case.

Every figure comes from the KPI engine (:mod:`dashboard.views`, :mod:`dashboard.kpis`): no
second implementation. Nothing here carries a case id, a description, a phone number, a
warden or a precise place of a case: cases appear as counts per community, or on the board
by category and street. :func:`public_case` is the one projection of a case a citizen sees.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from dashboard import views
from dashboard.cases import Case, CaseState
from dashboard.lifecycle import phone_digest
from dashboard.periods import month_to_date
from dashboard.runtime import Runtime

PUBLIC_KPI_FIELDS = ("accepted", "self_handled", "mobile_disposal", "citizen_reported", "closed",
                     "closure_rate", "on_time_closed", "on_time_closure_rate", "rated", "satisfied",
                     "satisfaction_rate", "overdue")
"""The KPI fields the portal shows (all aggregate counts and rates)."""

CLOCK_STEP_S = 10
"""The public answers follow the clock (overdue, rounds, ``updated_at``) in steps of this many seconds."""

BOARD_LIMIT = 50
"""Closed cases the board lists (newest first)."""

STATUS_TEXT = {
    "zh": {"reported": "已受理", "escalated": "已上报", "dispatched": "已派遣办理", "processed": "已办结待核查",
           "returned": "退回重办", "closed": "已结案", "voided": "已作废", "rated": "已回访评价",
           "resolved_on_site": "现场处置结案"},
    "en": {"reported": "Accepted", "escalated": "Escalated", "dispatched": "Dispatched", "processed":
           "Processed, awaiting check", "returned": "Returned for rework", "closed": "Closed",
           "voided": "Voided", "rated": "Rated by the citizen", "resolved_on_site": "Resolved on site"},
}
"""A case's status as a citizen reads it."""


def answer_version(runtime: Runtime, now: float) -> tuple[int, int, int]:
    """What every public answer depends on: the cases, the inspections and the clock's step.

    The public JSON is cached, and the push rebuilt, when (and only when) this moves.
    """
    state = runtime.state
    return state.case_version, state.touch_seq, int(now // CLOCK_STEP_S)


def _iso(runtime: Runtime, ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, runtime.config.tz).isoformat(timespec="minutes")


def _record(rec: dict[str, Any] | None) -> dict[str, Any]:
    rec = rec or {}
    return {k: rec.get(k) for k in PUBLIC_KPI_FIELDS}


def _name(table: dict[str, Any], key: str | None, lang: str) -> str:
    item = table.get(key) if key else None
    return item.name(lang) if item is not None else (key or "")


class PublicCache:
    """Answers of the public views, kept while the state's version and the minute stay the same."""

    def __init__(self, size: int = 256) -> None:
        self._lock = threading.Lock()
        self._items: dict[Hashable, Any] = {}
        self._size = size

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The cached answer of ``key``, built once."""
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = build()
        with self._lock:
            if len(self._items) >= self._size:
                self._items.clear()
            self._items[key] = value
        return value


def public_kpis(runtime: Runtime, now: float, street: str | None, lang: str) -> dict[str, Any]:
    """District and street figures of today and this month, and this round's patrol coverage."""
    ref = runtime.reference
    wall = views.wall_kpis(runtime, now)
    coverage = views.patrol_coverage(runtime, now)
    streets = []
    for sid, rec in sorted(wall["streets"].items()):
        if sid not in ref.streets or (street is not None and sid != street):
            continue
        cov = coverage["streets"].get(sid, {})
        streets.append({"street_id": sid, "name": _name(ref.streets, sid, lang),
                        "today": _record(rec["today"]), "month": _record(rec["month"]),
                        "coverage_rate": cov.get("rate")})
    district = {"name": ref.district_name[1 if lang == "en" else 0],
                "today": _record(wall["district"]["today"]), "month": _record(wall["district"]["month"]),
                "coverage_rate": coverage["district"]["rate"]}
    return {"updated_at": _iso(runtime, now), "lang": lang, "street": street, "district": district,
            "streets": streets, "round": coverage["round"]["name"]}


def public_tiles(runtime: Runtime, now: float, street: str | None, lang: str) -> dict[str, Any]:
    """What the KPI embed shows: :func:`public_kpis` without the street table (unless one street is asked)."""
    body = public_kpis(runtime, now, street, lang)
    return body if street is not None else {**body, "streets": []}


def public_board(runtime: Runtime, now: float, street: str | None, lang: str) -> dict[str, Any]:
    """公众参与回音台: cases closed in the last GRID_BOARD_DAYS, by category and street, with outcome."""
    since = now - runtime.config.board_days * 86400
    state = runtime.state
    with state.lock:
        closed = [c for c in state.cases.values()
                  if c.state == CaseState.CLOSED and c.closed_at is not None and since <= c.closed_at <= now
                  and (street is None or c.street_id == street)]
        rows = [_board_row(runtime, c, lang) for c in sorted(closed, key=lambda c: -(c.closed_at or 0))]
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["category_name"], row["street_name"])
        totals[key] = totals.get(key, 0) + 1
    summary = [{"category_name": k[0], "street_name": k[1], "closed": n}
               for k, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {"updated_at": _iso(runtime, now), "lang": lang, "street": street, "days": runtime.config.board_days,
            "closed": len(rows), "items": rows[:BOARD_LIMIT], "summary": summary[:BOARD_LIMIT]}


def _board_row(runtime: Runtime, case: Case, lang: str) -> dict[str, Any]:
    ref = runtime.reference
    outcome = "resolved_on_site" if case.resolved_on_site else "closed"
    on_time = case.closed_at is not None and case.closed_at <= case.deadline
    return {"closed_at": _iso(runtime, case.closed_at), "category": case.category,
            "category_name": _name(ref.categories, case.category, lang),
            "street_id": case.street_id, "street_name": _name(ref.streets, case.street_id, lang),
            "outcome": outcome, "outcome_text": STATUS_TEXT[lang][outcome], "on_time": on_time,
            "satisfied": case.satisfied}


def public_map(runtime: Runtime, now: float, street: str | None) -> dict[str, Any]:
    """Checkpoint status dots ``[lon, lat, status]`` and this month's cases per community."""
    statuses = views.checkpoint_statuses(runtime, now)
    points = [[round(lon, 5), round(lat, 5), statuses[cid].value]
              for cid, lat, lon, _cat, sid in views.checkpoint_points(runtime)
              if cid in statuses and (street is None or sid == street)]
    month = views.kpi_report(runtime, month_to_date(now, runtime.config.tz), now, street,
                             levels=("streets", "communities"))
    density = {cid: rec["accepted"] for cid, rec in month["communities"].items()
               if cid in runtime.reference.communities}
    counts: dict[str, int] = {}
    for p in points:
        counts[str(p[2])] = counts.get(str(p[2]), 0) + 1
    return {"updated_at": _iso(runtime, now), "street": street, "points": points, "status_counts": counts,
            "community_cases_month": density}


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(coords[0]), 5), round(float(coords[1]), 5)]
    return [_round_coords(c) for c in coords]


def public_boundaries(runtime: Runtime, street: str | None, lang: str) -> dict[str, Any]:
    """Street and community boundaries with their ids and names (nothing else)."""
    out: dict[str, Any] = {}
    for level, id_field, table in (("street", "street_id", runtime.reference.streets),
                                   ("community", "community_id", runtime.reference.communities)):
        features = []
        for f in runtime.reference.boundaries_geojson(level).get("features", []):
            props = f.get("properties") or {}
            key = props.get(id_field)
            owner = key if level == "street" else props.get("street_id")
            if street is not None and owner != street or not f.get("geometry"):
                continue
            geom = f["geometry"]
            features.append({"type": "Feature", "properties": {"id": key, "name": _name(table, key, lang)},
                             "geometry": {"type": geom["type"], "coordinates": _round_coords(geom["coordinates"])}})
        out[level] = {"type": "FeatureCollection", "features": features}
    return out


def public_case(runtime: Runtime, case: Case, lang: str) -> dict[str, Any]:
    """What a citizen sees of their case: status, category, street, milestones; never a description."""
    ref = runtime.reference
    text = STATUS_TEXT[lang]
    timeline = []
    for ts, event_type, fields in case.timeline:
        event = event_type.split(".", 1)[1]
        if event not in text:
            continue  # the warden's inspection that found it: staff detail, not the citizen's
        step = {"at": _iso(runtime, ts), "event": event, "text": text[event]}
        if event == "dispatched":  # which unit took it (a public body), never a person or a reason
            unit = ref.units.get(str(dict(fields).get("unit_id") or ""))
            if unit is not None:
                step["text"] = f"{text[event]} · {unit.name(lang)}"
        timeline.append(step)
    return {"status": case.state.value, "status_text": text[case.state.value],
            "category_name": _name(ref.categories, case.category, lang),
            "street_name": _name(ref.streets, case.street_id, lang),
            "reported_at": _iso(runtime, case.reported_at),
            "deadline": _iso(runtime, case.deadline) if case.is_open else None,
            "closed_at": _iso(runtime, case.closed_at), "satisfied": case.satisfied, "timeline": timeline}


def citizen_query(runtime: Runtime, code: str, phone: str, lang: str) -> dict[str, Any] | None:
    """The public projection of the case ``code`` names when ``phone`` is its reporter's; else None.

    The phone is compared as a salted digest (the app keeps no phone number), and the digest is
    computed whether or not the code exists, so a wrong code and a wrong phone look alike.
    """
    case = runtime.state.case_by_query_code(code)
    digest = phone_digest(runtime.state.book.salt, phone)
    known = case.phone_digest if case is not None and case.phone_digest else ""
    if not hmac.compare_digest(known.encode() or b"-", digest.encode()) or case is None:
        return None
    with runtime.state.lock:
        return public_case(runtime, case, lang)


VIEWS: dict[str, Callable[[Runtime, float, str | None, str], dict[str, Any]]] = {
    "kpis": public_kpis,
    "tiles": public_tiles,  # the KPI embed's: no street table, a seventh of the bytes
    "board": public_board,
    "map": lambda runtime, now, street, _lang: public_map(runtime, now, street),
}
"""The public views by name, as ``build(runtime, now, street, lang)``: the JSON and the push streams serve them."""

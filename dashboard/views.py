"""Read models over the runtime's state: what the API and the wall screen show.

Pure functions of (runtime, now): no Redis I/O, no personal data. Callers pass ``now`` so a
page and a test agree on the clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import datetime
from typing import Any

from dashboard import kpis
from dashboard.cases import Case
from dashboard.periods import Period, month_to_date, parse_period
from dashboard.runtime import Runtime
from dashboard.status import CheckpointStatus


def _iso(ts: float | None, runtime: Runtime) -> str | None:
    return datetime.fromtimestamp(ts, runtime.config.tz).isoformat() if ts is not None else None


def kpi_report(runtime: Runtime, period: Period, now: float | None = None,
               street: str | None = None,
               levels: tuple[str, ...] = ("streets", "communities", "departments")) -> dict[str, Any]:
    """KPIs of a period for the district and each street, community and department (``levels``)."""
    now = runtime.now() if now is None else now
    report = kpis.compute(runtime.state, period, now, levels)
    empty = kpis.finish([0] * len(kpis.COUNTS))
    for level, known in (("streets", runtime.reference.streets), ("communities", runtime.reference.communities)):
        if level in report:
            for key in known:
                report[level].setdefault(key, dict(empty))
    if street is not None:
        report["streets"] = {street: report["streets"].get(street, dict(empty))}
        report["communities"] = {
            cid: rec for cid, rec in report["communities"].items()
            if (c := runtime.reference.communities.get(cid)) is not None and c.street_id == street
        }
    return report


def kpi_report_for_query(runtime: Runtime, period: str | None, from_: str | None, to: str | None,
                         street: str | None, now: float | None = None,
                         levels: tuple[str, ...] = ("streets", "communities", "departments"),
                         ) -> dict[str, Any]:
    """KPI report from API query parameters (raises PeriodError on bad ones)."""
    now = runtime.now() if now is None else now
    return kpi_report(runtime, parse_period(period, from_, to, now, runtime.config.tz), now, street, levels)


def wall_kpis(runtime: Runtime, now: float) -> dict[str, Any]:
    """Today's and this month's KPIs for the district and every street (the wall model caches them)."""
    tz = runtime.config.tz
    # the wall shows the district and its streets: no community or department records
    today = kpi_report(runtime, parse_period("today", None, None, now, tz), now, levels=("streets",))
    month = kpi_report(runtime, month_to_date(now, tz), now, levels=("streets",))
    streets = {sid: {"today": today["streets"][sid], "month": month["streets"].get(sid)}
               for sid in today["streets"]}
    return {"district": {"today": today["district"], "month": month["district"]}, "streets": streets}


def patrol_coverage(runtime: Runtime, now: float) -> dict[str, Any]:
    """Share of registered checkpoints inspected in the current round, district and per street.

    Read from counters the state keeps as events arrive: no loop over the checkpoints.
    """
    state = runtime.state
    rnd = state.rounds.round_at(now)
    with state.lock:
        registered = dict(state.registered_by_street)
        covered = dict(state.covered_by_street.get(rnd.key, {}))

    def fmt(c: int, r: int) -> dict[str, Any]:
        return {"covered": c, "registered": r, "rate": c / r if r else None}

    streets = {sid: fmt(0, 0) for sid in runtime.reference.streets}
    for sid, count in registered.items():
        if count:
            streets[sid or kpis.UNASSIGNED] = fmt(covered.get(sid, 0), count)
    return {"round": {"name": rnd.name, "start": _iso(rnd.start, runtime), "end": _iso(rnd.end, runtime)},
            "district": fmt(sum(covered.values()), sum(registered.values())), "streets": streets}


ALERT_PAGE = 100
"""Alerts returned by one API call unless ``limit`` says otherwise (follow ``next_cursor``)."""

ALERT_PAGE_MAX = 1000
"""The most alerts one API call returns."""


class CursorError(ValueError):
    """An alerts cursor that this server did not make; the message says what to do."""


def _cursor(key: tuple[int, float, str]) -> str:
    raw = json.dumps([key[0], key[1], key[2]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[int, float, str]:
    try:
        rank, deadline, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(rank), float(deadline), str(case_id)
    except (ValueError, TypeError, binascii.Error):
        raise CursorError(f"cursor={cursor[:40]!r} is not a cursor from this API: "
                          "use next_cursor of the previous page, or leave it out") from None


def _alert(runtime: Runtime, case: Case, now: float, near: float) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "street_id": case.street_id,
        "community_id": case.community_id,
        "category": case.category,
        "priority": case.priority,
        "state": case.state.value,
        "reported_at": _iso(case.reported_at, runtime),
        "deadline": _iso(case.deadline, runtime),
        "overdue_seconds": round(now - case.deadline),
        "age_seconds": round(now - case.reported_at),
        "colour": case.colour(now, near).value,

        "lat": case.lat,
        "lon": case.lon,
        "checkpoint_id": case.checkpoint_id,
    }


def alert_page(runtime: Runtime, now: float, limit: int = ALERT_PAGE,
               cursor: str | None = None, categories: frozenset[str] | None = None) -> dict[str, Any]:
    """One page of alerts: every open hazard, then open cases past or near their deadline,
    most overdue first; ``next_cursor`` continues after the last one (None at the end)."""
    after = _parse_cursor(cursor) if cursor else None
    near = runtime.config.near_deadline_fraction
    state = runtime.state
    with state.lock:  # the cases' fields are read in the same consistent picture
        listed, total = state.alert_page(now, limit + 1, after, categories)
        items = [{**_alert(runtime, c, now, near), "listed_at": listed_at} for c, listed_at in listed[:limit]]
        last = listed[limit - 1][0] if len(listed) > limit and limit > 0 else None
        next_key = None if last is None else (0 if last.priority == "hazard" else 1, last.deadline, last.case_id)
    return {"alerts": items, "total": total, "next_cursor": _cursor(next_key) if next_key else None}


def alerts(runtime: Runtime, now: float, limit: int | None = None) -> list[dict[str, Any]]:
    """Open hazards, then open cases past or near their deadline, most overdue first."""
    return list(alert_page(runtime, now, limit if limit is not None else 10**9)["alerts"])


def checkpoint_statuses(runtime: Runtime, now: float) -> dict[str, CheckpointStatus]:
    """Status of every registered checkpoint: hazard, overdue, open, pending or ok."""
    state = runtime.state
    round_start = state.rounds.round_at(now).start
    with state.lock:
        return {cid: state.checkpoint_status(cp, now, round_start)
                for cid, cp in state.checkpoints.items() if cp.registered}


def checkpoint_points(runtime: Runtime) -> list[tuple[str, float, float, str, str | None]]:
    """(checkpoint_id, lat, lon, category, street_id) of every registered checkpoint."""
    state = runtime.state
    with state.lock:
        return [(cid, cp.lat, cp.lon, cp.category, cp.street_id)  # type: ignore[misc]
                for cid, cp in state.checkpoints.items() if cp.registered]


def checkpoint_geojson(runtime: Runtime, now: float, street: str | None = None) -> dict[str, Any]:
    """GeoJSON FeatureCollection of checkpoints with their status (public: no personal data)."""
    state = runtime.state
    round_start = state.rounds.round_at(now).start
    features = []
    with state.lock:
        for cid, cp in state.checkpoints.items():
            if not cp.registered or (street is not None and cp.street_id != street):
                continue
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [cp.lon, cp.lat]},
                "properties": {
                    "checkpoint_id": cid,
                    "category": cp.category,
                    "street_id": cp.street_id,
                    "community_id": cp.community_id,
                    "grid_id": cp.grid_id,
                    "status": state.checkpoint_status(cp, now, round_start).value,
                    "last_inspected_at": _iso(cp.last_inspected_at, runtime),
                },
            })
    return {"type": "FeatureCollection", "features": features}


def warden_positions(runtime: Runtime, now: float) -> list[dict[str, Any]]:
    """Last known position of every warden, with ``silent`` after GRID_WARDEN_SILENT_S."""
    silent_after = runtime.config.warden_silent_s
    with runtime.state.lock:
        items = list(runtime.state.wardens.items())
    return [{"warden_id": wid, "lat": lat, "lon": lon, "last_seen": ts,
             "silent": now - ts > silent_after} for wid, (lat, lon, ts) in items]


def redis_ok(runtime: Runtime) -> bool:
    """True while the consumer's last read succeeded (no Redis call here)."""
    return runtime.consumer.status.connected


def data_age(runtime: Runtime) -> float | None:
    """Real seconds since the consumer last heard from Redis (None before the first read).

    Always on the wall clock, also when the app's "now" is simulated time (GRID_CLOCK=stream):
    freshness is about the feed, not the district's time.
    """
    last = runtime.consumer.status.last_ok_at
    return None if last is None else max(0.0, time.time() - last)

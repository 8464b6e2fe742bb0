"""JSON API (v1): health, KPIs, alerts, checkpoints and case files. Public: never any personal data."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from dashboard import casefile, patrol, views
from dashboard import kpis as kpi_engine
from dashboard.access import category_scope as _scope
from dashboard.access import current_principal
from dashboard.periods import PeriodError, district_day, parse_date
from dashboard.roles import Role
from dashboard.runtime import EXTENSION_KEY, Runtime
from dashboard.scope import ScopeError, parse_scope

bp = Blueprint("api", __name__)


def _runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


class ParamError(ValueError):
    """A query parameter is invalid; the message names it and says what to send."""


_COUNT = re.compile(r"[0-9]{1,9}")


def count_param(name: str) -> int | None:
    """A non-negative integer query parameter in plain ASCII digits; None when absent or empty."""
    raw = request.args.get(name)
    if not raw:
        return None
    if not _COUNT.fullmatch(raw):  # int() would also take "３", " 3", "3_0" and "+3"
        raise ParamError(f"{name}={raw!r} must be a non-negative integer (digits 0-9, at most 9)")
    return int(raw)


class UnknownId(LookupError):
    """A street or community id nobody defines; the message names it."""


_ID_LEVELS = {"street": ("streets", "street_id"), "community": ("communities", "community_id"),
              "grid": ("grids", "grid_id")}


def _is_known(runtime: Runtime, param: str, key: str) -> bool:
    """An id the reference defines, or that a case or registered checkpoint carries."""
    level, attr = _ID_LEVELS[param]
    if key in getattr(runtime.reference, level):
        return True
    state = runtime.state
    group = (level, key)
    with state.lock:
        # a case's street and community: one dict lookup per district day
        if state.tallies.knows(group):
            return True
        checkpoints = list(state.checkpoints.values())  # a C-speed copy; the scan runs unlocked
    return any(cp.registered and getattr(cp, attr) == key for cp in checkpoints)


def _area_params(runtime: Runtime, params: tuple[str, ...] = ("street", "community")) -> tuple[str | None, ...]:
    """The area query parameters (street, community[, grid]), each None when absent; raises UnknownId."""
    found: list[str | None] = []
    for param in params:
        key = request.args.get(param) or None
        if key is not None and not _is_known(runtime, param, key):
            raise UnknownId(f"{param}={key!r} is not a known {param} id")
        found.append(key)
    return tuple(found)


STALL_AFTER_S = 30.0
"""Entries waiting and nothing applied for this long: the consumer is stalled (degraded)."""

FAILING_AFTER_S = 10.0
"""A read that keeps failing for this long marks the consumer degraded."""

RETRY_AFTER_S = 2
"""What a client is told to wait while the history is being read."""

LIVE_ROUTES = frozenset({"api.kpis", "api.alerts", "api.checkpoints", "api.case", "api.checkpoint_cases",
                         "api.patrol_compliance", "api.warden_track"})
"""Endpoints that answer 503 until the history has been read (never partial numbers)."""


def _stream_lag(runtime: Runtime, stream: str) -> dict[str, Any]:
    """Where the consumer stands on ``stream``: entries behind, not id times (bytes-safe reads)."""
    raw = runtime.consumer.raw
    length = int(raw.xlen(stream))
    newest: Any = raw.xrevrange(stream, count=1)
    head = newest[0][0].decode() if newest else "0-0"
    mine = runtime.consumer.status.last_ids.get(stream, "0-0")
    behind = runtime.consumer.entries_behind(stream)
    lag_ms = max(0, int(head.split("-")[0]) - int(mine.split("-")[0])) if behind else 0
    return {"head_id": head, "last_applied_id": mine, "length": length,
            "entries_behind": behind, "entries_behind_capped": behind >= 1000, "lag_ms": lag_ms}


def _catching_up(runtime: Runtime) -> dict[str, Any]:
    status = runtime.consumer.status
    progress = status.progress
    return {"status": "catching_up", "progress": None if progress is None else round(progress, 3),
            "entries_read": status.entries, "backlog_at_start": status.backlog_at_start}


@bp.before_request
def _not_before_caught_up() -> Any:
    """The live endpoints answer 503 with Retry-After until the history has been read."""
    if request.endpoint in LIVE_ROUTES:
        return not_before_caught_up(_runtime())
    return None


def not_before_caught_up(runtime: Runtime) -> Response | None:
    """A 503 with Retry-After while the history is being read (never partial numbers), else None."""
    if runtime.consumer.status.caught_up:
        return None
    response = jsonify({**_catching_up(runtime),
                        "error": "the dashboard is still reading the stream history; retry shortly"})
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when live; 503 while catching up, degraded (stalled or failing) or Redis is away."""
    runtime = _runtime()
    now = time.time()
    status = runtime.consumer.status
    applied_age = None if status.last_applied_at is None else round(now - status.last_applied_at, 3)
    body: dict[str, Any] = {
        "consumer": {"connected": status.connected, "caught_up": status.caught_up,
                     "progress": status.progress,
                     "reconnects": status.reconnects, "last_error": status.last_error,
                     "deadlettered": status.deadlettered, "undecodable": status.undecodable,
                     "consecutive_failures": status.consecutive_failures,
                     "seconds_since_last_applied": applied_age,
                     "last_read_age_s": views.data_age(runtime)},
        "state": runtime.state.summary(),
    }
    last = runtime.state.last_event_at
    body["last_event_age_s"] = None if last is None else round(now - last, 3)
    probe = runtime.probe or runtime.redis
    try:
        probe.ping()  # bounded: a hung Redis makes this probe say so, not hang with it
        streams = {name: _stream_lag(runtime, name) for name in runtime.consumer.streams}
        body["streams"] = streams
        body["deadletter_length"] = probe.xlen(runtime.config.deadletter_stream)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        body["status"] = "redis unreachable"
        body["error"] = f"{type(exc).__name__}"
        return jsonify(body), 503
    waiting = any(s["entries_behind"] for s in streams.values())
    idle_s = now - (status.last_applied_at or status.last_ok_at or now)
    problems = []
    if status.failing_since is not None and now - status.failing_since >= FAILING_AFTER_S:
        problems.append(f"reads have failed for {now - status.failing_since:.0f} s: {status.last_error}")
    if status.caught_up and waiting and idle_s >= STALL_AFTER_S:
        problems.append(f"entries are waiting and none was applied for {idle_s:.0f} s")
    if problems:
        body.update(status="degraded", problems=problems)
        return jsonify(body), 503
    if not status.caught_up:
        body.update(_catching_up(runtime))
        return jsonify(body), 503
    body["status"] = "ok"
    return jsonify(body), 200


@bp.get("/api/v1/kpis")
def kpis() -> Any:
    """KPIs for period=today|7d|30d|month|last_month|all or from/to (inclusive dates),
    optional street, community, grid."""
    args = request.args
    runtime = _runtime()
    try:
        street, community, grid = _area_params(runtime, ("street", "community", "grid"))
        levels = ("streets", "communities", "departments", *(("grids",) if grid else ()))
        report = views.kpi_report_for_query(runtime, args.get("period"), args.get("from"),
                                            args.get("to"), street, levels=levels)
    except PeriodError as exc:
        return _error(400, str(exc))
    except UnknownId as exc:
        return _error(404, str(exc.args[0]))
    empty = kpi_engine.finish([0] * len(kpi_engine.COUNTS))
    if community is not None:
        report["communities"] = {community: report["communities"].get(community, empty)}
    if grid is not None:
        report["grids"] = {grid: report["grids"].get(grid, empty)}
    who = current_principal()
    if who is not None and who.role == Role.DEPARTMENT:
        # a department sees its own record only (cases dispatched to it)
        dept = who.department_id or ""
        report = {"period": report["period"], "departments": {dept: report["departments"].get(dept, empty)}}
    return jsonify(report)


@bp.get("/api/v1/alerts")
def alerts() -> Any:
    """Open hazards, then cases past or near their deadline, most urgent first; paged."""
    try:
        limit = count_param("limit")
    except ParamError as exc:
        return _error(400, str(exc))
    if limit is not None and limit > views.ALERT_PAGE_MAX:
        return _error(400, f"limit={limit} must be at most {views.ALERT_PAGE_MAX}; follow next_cursor for more")
    runtime = _runtime()
    try:
        page = views.alert_page(runtime, runtime.now(), views.ALERT_PAGE if limit is None else limit,
                                request.args.get("cursor") or None, _scope())
    except views.CursorError as exc:
        return _error(400, str(exc))
    return jsonify(page)


@bp.get("/api/v1/checkpoints")
def checkpoints() -> Any:
    """GeoJSON FeatureCollection of checkpoints with their live status; ETag, 304 when unchanged."""
    runtime = _runtime()
    try:
        street, community = _area_params(runtime)
    except UnknownId as exc:
        return _error(404, str(exc.args[0]))
    collection = views.checkpoint_geojson(runtime, runtime.now(), street)
    if community is not None:
        collection["features"] = [f for f in collection["features"]
                                  if f["properties"]["community_id"] == community]
    scope = _scope()
    if scope is not None:
        collection["features"] = [f for f in collection["features"] if f["properties"]["category"] in scope]
    response = jsonify(collection)
    # Statuses also change with the clock (rounds, deadlines), so the tag hashes the body itself.
    # Weak: the same tag stands for the gzip and plain forms, which Flask-Compress leaves alone.
    response.set_etag(hashlib.blake2b(response.get_data(), digest_size=16).hexdigest(), weak=True)
    return response.make_conditional(request)


@bp.get("/api/v1/cases/<case_id>")
def case(case_id: str) -> Any:
    """One case's file (timeline, places, deadline status): 404 unknown, 410 no longer kept."""
    runtime = _runtime()
    scope = _scope()
    if scope is not None and runtime.state.case_category(case_id) not in scope:
        return _error(403, f"case {case_id[:40]!r} is not of a category your department follows")
    try:
        return jsonify(casefile.case_file(runtime, case_id, runtime.now()))
    except casefile.CaseRetired as exc:
        return _error(410, str(exc.args[0]))
    except casefile.CaseNotFound as exc:
        return _error(404, str(exc.args[0]))


@bp.get("/api/v1/checkpoints/<checkpoint_id>/cases")
def checkpoint_cases(checkpoint_id: str) -> Any:
    """The open cases at one checkpoint (ids, category, deadline, colour): what a map popup lists."""
    runtime = _runtime()
    found = casefile.open_cases_at(runtime, checkpoint_id, runtime.now())
    if found is None:
        return _error(404, f"no registered checkpoint with id {checkpoint_id!r}")
    scope = _scope()
    if scope is not None:
        found = [c for c in found if c.get("category") in scope]
    return jsonify({"checkpoint_id": checkpoint_id, "open_cases": found})


@bp.get("/api/v1/patrol")
def patrol_compliance() -> Any:
    """Patrol compliance (三定) of a period and area: rounds done per day and checkpoint,
    aggregated per warden, grid, community and street, and the last round's misses."""
    runtime = _runtime()
    args = request.args
    try:
        _area_params(runtime, ("street", "community", "grid"))
        scope = parse_scope(args, runtime.reference, runtime.now(), runtime.config.tz)
    except UnknownId as exc:
        return _error(404, str(exc.args[0]))
    except (PeriodError, ScopeError) as exc:
        return _error(400, str(exc))
    lang = "en" if (args.get("lang") or "").startswith("en") else "zh"
    return jsonify(patrol.report_json(runtime, patrol.patrol_report(runtime, scope), lang))


@bp.get("/api/v1/wardens/<warden_id>/track")
def warden_track(warden_id: str) -> Any:
    """A warden's kept track of ``day`` (YYYY-MM-DD, default today): points [epoch s, lat, lon]."""
    runtime = _runtime()
    raw = request.args.get("day")
    try:
        day = parse_date(raw) if raw else district_day(runtime.now(), runtime.config.tz)
    except ValueError:
        return _error(400, f"day={raw!r} must be a date YYYY-MM-DD")
    if not patrol.known_warden(runtime, warden_id):
        return _error(404, f"warden {warden_id!r} is not known (no position, checkpoint or grid names it)")
    return jsonify(patrol.track(runtime, warden_id, day))

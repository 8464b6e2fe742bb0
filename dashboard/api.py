"""JSON API (v1): health, KPIs, alerts and checkpoints. Public: never any personal data."""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from dashboard import views
from dashboard.periods import PeriodError
from dashboard.runtime import EXTENSION_KEY, Runtime

bp = Blueprint("api", __name__)


def _runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


STALL_AFTER_S = 30.0
"""Entries waiting and nothing applied for this long: the consumer is stalled (degraded)."""

FAILING_AFTER_S = 10.0
"""A read that keeps failing for this long marks the consumer degraded."""

RETRY_AFTER_S = 2
"""What a client is told to wait while the history is being read."""

LIVE_ROUTES = frozenset({"api.kpis", "api.alerts", "api.checkpoints"})
"""Endpoints that answer 503 until the history has been read (never partial numbers)."""


def _stream_lag(runtime: Runtime, stream: str, now: float) -> dict[str, Any]:
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
    if request.endpoint in LIVE_ROUTES and not _runtime().consumer.status.caught_up:
        response = jsonify({**_catching_up(_runtime()),
                            "error": "the dashboard is still reading the stream history; retry shortly"})
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return None


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
                     "last_read_age_s": views.data_age(runtime, now)},
        "state": runtime.state.summary(),
    }
    last = runtime.state.last_event_at
    body["last_event_age_s"] = None if last is None else round(now - last, 3)
    try:
        runtime.redis.ping()
        streams = {name: _stream_lag(runtime, name, now) for name in
                   (runtime.config.events_stream, runtime.config.positions_stream)}
        body["streams"] = streams
        body["deadletter_length"] = runtime.redis.xlen(runtime.config.deadletter_stream)
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
    """KPIs for period=today|7d|30d|all or from/to (inclusive dates), optional street."""
    args = request.args
    try:
        report = views.kpi_report_for_query(_runtime(), args.get("period"), args.get("from"),
                                            args.get("to"), args.get("street") or None)
    except PeriodError as exc:
        return _error(400, str(exc))
    return jsonify(report)


@bp.get("/api/v1/alerts")
def alerts() -> Any:
    """Open hazards, then cases past or near their deadline, most urgent first; paged."""
    limit_raw = request.args.get("limit")
    if limit_raw is not None and not (limit_raw.isascii() and limit_raw.isdigit()):
        return _error(400, f"limit={limit_raw[:40]!r} must be an integer from 0 to {views.ALERT_PAGE_MAX}")
    limit = int(limit_raw) if limit_raw else views.ALERT_PAGE
    if limit > views.ALERT_PAGE_MAX:
        return _error(400, f"limit={limit_raw!r} must be an integer from 0 to {views.ALERT_PAGE_MAX}")
    runtime = _runtime()
    try:
        page = views.alert_page(runtime, runtime.now(), limit, request.args.get("cursor") or None)
    except views.CursorError as exc:
        return _error(400, str(exc))
    return jsonify(page)


@bp.get("/api/v1/checkpoints")
def checkpoints() -> Any:
    """GeoJSON FeatureCollection of checkpoints with their live status."""
    return jsonify(views.checkpoint_geojson(_runtime(), _runtime().now(), request.args.get("street") or None))

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


def _stream_lag(runtime: Runtime, stream: str) -> dict[str, Any]:
    try:
        info = runtime.redis.xinfo_stream(stream)
        head = str(info.get("last-generated-id") or info.get("last_generated_id") or "0-0")
        length = int(info.get("length", 0))
    except redis.ResponseError:  # the stream does not exist yet: nothing to lag behind
        head, length = "0-0", 0
    mine = runtime.consumer.status.last_ids.get(stream, "0-0")
    lag_ms = max(0, int(head.split("-")[0]) - int(mine.split("-")[0]))
    return {"head_id": head, "last_applied_id": mine, "length": length, "lag_ms": lag_ms}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with stream lag and last-event age; 503 while Redis is unreachable."""
    runtime = _runtime()
    now = time.time()
    status = runtime.consumer.status
    body: dict[str, Any] = {
        "consumer": {"connected": status.connected, "caught_up": status.caught_up,
                     "reconnects": status.reconnects, "last_error": status.last_error,
                     "deadlettered": status.deadlettered,
                     "last_read_age_s": views.data_age(runtime, now)},
        "state": runtime.state.summary(),
    }
    last = runtime.state.last_event_at
    body["last_event_age_s"] = None if last is None else round(now - last, 3)
    try:
        runtime.redis.ping()
        body["streams"] = {name: _stream_lag(runtime, name) for name in
                           (runtime.config.events_stream, runtime.config.positions_stream)}
        body["deadletter_length"] = runtime.redis.xlen(runtime.config.deadletter_stream)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        body["status"] = "redis unreachable"
        body["error"] = f"{type(exc).__name__}"
        return jsonify(body), 503
    body["status"] = "ok" if status.connected else "starting"
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
    """Open cases past or near their deadline, most urgent first."""
    limit_raw = request.args.get("limit")
    try:
        limit = int(limit_raw) if limit_raw else None
        if limit is not None and limit < 0:
            raise ValueError
    except ValueError:
        return _error(400, f"limit={limit_raw!r} must be a non-negative integer")
    return jsonify({"alerts": views.alerts(_runtime(), time.time(), limit)})


@bp.get("/api/v1/checkpoints")
def checkpoints() -> Any:
    """GeoJSON FeatureCollection of checkpoints with their live status."""
    return jsonify(views.checkpoint_geojson(_runtime(), time.time(), request.args.get("street") or None))

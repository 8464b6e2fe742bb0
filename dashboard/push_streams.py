"""The push streams of the public embeds and the leaders page (server-sent events on a :class:`Hub`).

``/api/v1/public/stream/<view>?street=&lang=`` (public, ``view`` one of kpis, tiles, board, map) carries
the same JSON as ``/api/v1/public/<view>``, built once per change of the state (cases, patrol
inspections, the clock's 10-second step) per (view, street, language) and shared by every viewer.
Until the history is read it sends only ``hb`` heartbeats with data ``0`` (no partial figures).

``/api/v1/stream/leaders`` (leaders and administrators, like the page) carries only a version
of the state, at most every :data:`LEADERS_MIN_INTERVAL_S`: the page refreshes its figures that
depend on now when it changes.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from dashboard import public_views
from dashboard.push_hub import Channel, Hub
from dashboard.runtime import EXTENSION_KEY as RUNTIME_KEY
from dashboard.runtime import Runtime

HUB_EXTENSION_KEY = "grid.push_hub"
"""Key of the app's :class:`Hub` in ``flask_app.extensions``."""

PUBLIC_STREAM_PREFIX = "/api/v1/public/stream/"
"""Where the public embeds' streams are served (``<prefix><view>``, routes in :mod:`dashboard.public`)."""

LEADERS_STREAM_PATH = "/api/v1/stream/leaders"
"""Where the leaders page's version stream is served."""

LEADERS_MIN_INTERVAL_S = 3.0
"""The leaders page is told of a change at most this often (each refresh recomputes its figures)."""

LEADERS_CLOCK_STEP_S = 60
"""The leaders' version also moves every minute (relative periods and overdue follow the clock)."""

RETRY_AFTER_S = 10
"""``Retry-After`` of a stream refused because the process holds its cap."""


def _compact(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def public_channel(hub: Hub, runtime: Runtime, view: str, street: str | None, lang: str) -> Channel:
    """The shared channel of one public view (``view`` in :data:`dashboard.public_views.VIEWS`)."""
    build_view = public_views.VIEWS[view]

    def version() -> Hashable:
        return (runtime.consumer.status.caught_up, *public_views.answer_version(runtime, runtime.now()))

    def build() -> str | None:
        if not runtime.consumer.status.caught_up:
            return None  # partial figures are never sent as live
        return _compact(build_view(runtime, runtime.now(), street, lang))

    return hub.channel(("public", view, street, lang), lambda: Channel(hub.source, version, build))


def leaders_channel(hub: Hub, runtime: Runtime) -> Channel:
    """The shared channel telling the leaders page that its figures may have changed."""

    def version() -> tuple[bool, int, int, int]:
        state = runtime.state
        return (runtime.consumer.status.caught_up, state.case_version, state.touch_seq,
                int(runtime.now() // LEADERS_CLOCK_STEP_S))

    def build() -> str | None:
        live, *parts = version()
        return _compact({"version": ".".join(map(str, parts))}) if live else None

    return hub.channel(("leaders",), lambda: Channel(hub.source, version, build,
                                                     min_interval_s=LEADERS_MIN_INTERVAL_S))


def sse_response(hub: Hub, channel: Channel) -> Response:
    """A stream on ``channel`` (resuming from ``Last-Event-ID``), or 503 when the process is full."""
    if hub.full():
        response = jsonify({"error": f"this server holds {hub.streams} live streams, its limit; "
                                     f"retry in {RETRY_AFTER_S} s (or poll the JSON)"})
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    # no request context kept: the stream needs none, and it may stay open for hours
    # bytes as they are (direct passthrough): no per-viewer encoding layer; never compressed
    # (text/event-stream is not in Flask-Compress's COMPRESS_MIMETYPES: it would hold events back)
    response = Response(hub.stream(channel, last_id), mimetype="text/event-stream", direct_passthrough=True)
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must pass each event on at once
    return response


def hub_of(app: Flask) -> Hub:
    """The push hub the factory attached to ``app``."""
    return app.extensions[HUB_EXTENSION_KEY]  # type: ignore[no-any-return]


def leaders_blueprint() -> Blueprint:
    """The leaders page's stream (access: :mod:`dashboard.access`, like the page)."""
    bp = Blueprint("leaders_push", __name__)

    @bp.get(LEADERS_STREAM_PATH)
    def leaders_stream() -> Response:
        """A version of the state whenever the leaders page's figures may have changed."""
        hub = hub_of(current_app)
        return sse_response(hub, leaders_channel(hub, current_app.extensions[RUNTIME_KEY]))

    return bp

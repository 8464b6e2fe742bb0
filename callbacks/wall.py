"""Wall-screen callbacks: one server tick per period, plus client-side clock, badge and fly-to.

Only wiring: what a tick reads comes from the wall's read model (:mod:`dashboard.wall_model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dash import ALL, ClientsideFunction, Input, Output, State, no_update

from dashboard.metrics import metrics_of
from dashboard.wall_layers import base_url
from dashboard.wall_model import Base, WallModel, WallSnapshot
from layouts import ids
from layouts.i18n import name_of, normalize_lang, t
from layouts.panels import alert_list, kpi_tiles, street_rows, street_table

if TYPE_CHECKING:
    import dash

    from dashboard.reference import Reference

PARTS = ("base", "overlay", "wardens", "kpi", "alerts")
"""Snapshot parts the browser keeps a digest of."""


def _names(mapping: dict[str, Any], lang: str) -> dict[str, str]:
    return {key: name_of(obj, lang, key) for key, obj in mapping.items()}


def _round_label(coverage: Mapping[str, Any], lang: str) -> str:
    rnd = coverage.get("round") or {}
    name = rnd.get("name") or "am"
    span = ""
    if rnd.get("start") and rnd.get("end"):
        span = f" {str(rnd['start'])[11:16]}–{str(rnd['end'])[11:16]}"
    return f"{t('round.' + name, lang)}{span}"


def _render(reference: Reference, snap: WallSnapshot, part: str, lang: str) -> Any:
    if part == "kpi":
        rows = street_rows(snap.kpis, snap.coverage, _names(reference.streets, lang))
        return (kpi_tiles(snap.kpis, snap.coverage, lang), street_table(rows, lang),
                _round_label(snap.coverage, lang))
    if part == "alerts":
        return alert_list(snap.alert_rows, snap.alert_more, lang, _names(reference.streets, lang),
                          _names(reference.categories, lang))
    raise ValueError(f"unknown wall part {part!r}")


def render(reference: Reference, snap: WallSnapshot, part: str, lang: str) -> Any:
    """Render one part of the snapshot in ``lang`` (memoised on the snapshot, shared by viewers)."""
    return snap.memo(("render", part, lang), lambda: _render(reference, snap, part, lang))


def base_ref(base: Base) -> dict[str, Any]:
    """What a tick (or a page's layout) says of a base layer: its id, where to fetch it, its size."""
    return {"id": base.base_id, "url": base_url(base.base_id), "n": len(base.ranks)}


OUTPUTS = 11
"""Outputs of the server tick (heartbeat, have, base layer reference, cluster, overlay, wardens, tiles,
street table, round label, alerts, alert positions)."""


def heartbeat(model: WallModel, snap: WallSnapshot | None, now: float) -> dict[str, Any]:
    """The heartbeat: freshness, and until the history is read (``snap`` None) the progress."""
    if snap is None:
        status = model.runtime.consumer.status
        # before its first read the consumer is not "connected" yet, but nothing has failed either
        return {"t": round(now, 3), "ok": status.connected or status.last_error is None, "age": None,
                "v": int(model.runtime.state.version), "live": False, "progress": model.progress()}
    return {"t": round(now, 3), "ok": snap.redis_ok, "age": snap.data_age, "v": snap.version,
            "live": True, "progress": 1.0}


def layers(model: WallModel, snap: WallSnapshot, have: Mapping[str, Any]) -> tuple[str, str, list[list[Any]]]:
    """``(base digest, overlay digest, overlay rows)`` for a browser holding ``have``.

    The browser's base may come from another worker: the overlay is diffed against it when known.
    """
    held = have.get("base")
    if held and held != snap.base.base_id:
        relative = model.overlay_for(snap, held)
        if relative is not None:
            return held, relative[1], relative[0]
    return snap.base.base_id, snap.digests["overlay"], snap.overlay


def tick(model: WallModel, view: dict[str, Any] | None, have: dict[str, Any] | None,
         now: float | None = None) -> tuple[Any, ...]:
    """Answer one tick: heartbeat always; every other output only when it changed.

    Until the history has been read, only the heartbeat goes out (``live`` false, with the
    progress): half-replayed figures are never sent as live ones.
    """
    runtime = model.runtime
    now = runtime.now() if now is None else now
    if not model.live():
        return (heartbeat(model, None, now),) + (no_update,) * (OUTPUTS - 1)
    lang = normalize_lang((view or {}).get("lang"), runtime.config.lang)
    have = dict(have or {})
    snap = model.snapshot(now)
    want = {p: snap.digests[p] + ("" if p in ("base", "overlay", "wardens") else ":" + lang)
            for p in PARTS}
    want["base"], want["overlay"], overlay_rows = layers(model, snap, have)
    fresh = {p for p in PARTS if have.get(p) != want[p]}
    if "base" in fresh:
        fresh.add("overlay")  # the overlay is relative to the base the browser holds
    # the layer itself is a cached GET of its own (compact, compressed): the browser fetches it
    base = (base_ref(snap.base), snap.base.cluster) if "base" in fresh else (no_update, no_update)
    overlay = overlay_rows if "overlay" in fresh else no_update
    wardens = snap.wardens if "wardens" in fresh else no_update
    if "kpi" in fresh:
        tiles, table, round_label = render(runtime.reference, snap, "kpi", lang)
    else:
        tiles = table = round_label = no_update
    alerts: Any
    geo: Any
    if "alerts" in fresh:
        alerts, geo = render(runtime.reference, snap, "alerts", lang), dict(snap.alert_geo)
    else:
        alerts = geo = no_update
    return (heartbeat(model, snap, now), want if fresh else no_update, base[0], base[1], overlay, wardens,
            tiles, table, round_label, alerts, geo)


def live_outputs() -> list[Output]:
    """The outputs of one live update, in the order of :func:`tick`'s answer."""
    return [
        Output(ids.HEARTBEAT, "data"),
        Output(ids.HAVE, "data"),
        Output(ids.BASE_ROWS, "data"),
        Output(ids.CHECKPOINTS, "cluster"),
        Output(ids.CHANGE_ROWS, "data"),
        Output(ids.WARDEN_ROWS, "data"),
        Output(ids.KPI_DISTRICT, "children"),
        Output(ids.STREET_TABLE, "children"),
        Output(ids.ROUND_LABEL, "children"),
        Output(ids.ALERTS, "children"),
        Output(ids.ALERT_GEO, "data"),
    ]


def register_poll(app: dash.Dash, model: WallModel) -> None:
    """The poll mode's server tick (reading ``model``) and the gate that paces it."""
    tick_seconds = metrics_of(app).tick_seconds

    @app.callback(
        *live_outputs(),
        Input(ids.TICK_REQUEST, "data"),
        Input(ids.VIEW, "data"),
        State(ids.HAVE, "data"),
    )
    def wall_tick(_request: Any, view: dict[str, Any] | None,
                  have: dict[str, Any] | None) -> tuple[Any, ...]:
        """One tick: read the shared snapshot, send only what this browser lacks."""
        with tick_seconds.time():
            return tick(model, view, have)

    app.clientside_callback(
        ClientsideFunction("wall", "gate"),
        Output(ids.TICK_REQUEST, "data"),
        Input(ids.TICK, "n_intervals"),
    )


def register(app: dash.Dash, model: WallModel, push: bool = True) -> None:
    """Register the wall's live data and its client-side callbacks on ``app``.

    With ``push`` (GRID_PUSH=sse, the default) the page's own EventSource (wall.js) renders the
    pushed data, and a timer in the page paints the clock and the badge: no Dash callback runs for
    a heartbeat. Without it, a server tick per interval answers Dash outputs (the poll fallback).
    """
    if not push:
        register_poll(app, model)
    app.clientside_callback(
        ClientsideFunction("wall", "view"),
        Output(ids.VIEW, "data"),
        Output(ids.WALL, "className"),
        Output({"type": ids.I18N, "key": ALL}, "children"),
        Output(ids.LANG_LINK, "href"),
        Output(ids.KIOSK_LINK, "href"),
        Output(ids.MAP, "viewport"),
        Input(ids.URL, "search"),
        State(ids.WALL_CONFIG, "data"),
    )
    if not push:
        app.clientside_callback(
            ClientsideFunction("wall", "heartbeat"),
            Output(ids.HEARTBEAT_SINK, "data"),
            Input(ids.HEARTBEAT, "data"),
            prevent_initial_call=True,
        )
        app.clientside_callback(
            ClientsideFunction("wall", "clock"),
            Output(ids.CLOCK, "children"),
            Output(ids.LAST_UPDATE, "children"),
            Output(ids.LAST_UPDATE, "className"),
            Output(ids.CONN_BANNER, "children"),
            Output(ids.CONN_BANNER, "className"),
            Output(ids.CATCHUP, "className"),
            Output(ids.CATCHUP_TEXT, "children"),
            Output(ids.CATCHUP_BAR, "style"),
            Input(ids.TICK, "n_intervals"),
            State(ids.WALL_CONFIG, "data"),
            State(ids.VIEW, "data"),
        )
    for rows, layer, fn in ((ids.BASE_ROWS, ids.CHECKPOINTS, "baseFeatures"),
                            (ids.CHANGE_ROWS, ids.CHANGES, "changeFeatures"),
                            (ids.WARDEN_ROWS, ids.WARDENS, "wardenFeatures")):
        app.clientside_callback(
            ClientsideFunction("wall", fn),
            Output(layer, "data"),
            Input(rows, "data"),
            prevent_initial_call=True,
        )
    app.clientside_callback(
        ClientsideFunction("wall", "flyTo"),
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Input({"type": ids.ALERT_ITEM, "index": ALL}, "n_clicks"),
        State(ids.ALERT_GEO, "data"),
        prevent_initial_call=True,
    )

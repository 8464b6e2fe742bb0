"""Wall-screen callbacks: one server tick per second, plus client-side clock, badge and fly-to."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dash import ALL, ClientsideFunction, Input, Output, State, no_update

from callbacks import snapshot
from layouts import ids
from layouts.i18n import name_of, normalize_lang, t
from layouts.panels import alert_list, kpi_tiles, street_rows, street_table

if TYPE_CHECKING:
    import dash

    from dashboard.runtime import Runtime

PARTS = ("base", "overlay", "wardens", "kpi", "alerts")
"""Snapshot parts the browser keeps a digest of."""


def _names(mapping: dict[str, Any], lang: str) -> dict[str, str]:
    return {key: name_of(obj, lang, key) for key, obj in mapping.items()}


def _round_label(coverage: dict[str, Any], lang: str) -> str:
    rnd = coverage.get("round") or {}
    name = rnd.get("name") or "am"
    span = ""
    if rnd.get("start") and rnd.get("end"):
        span = f" {str(rnd['start'])[11:16]}–{str(rnd['end'])[11:16]}"
    return f"{t('round.' + name, lang)}{span}"


def render(runtime: Runtime, snap: snapshot.WallSnapshot, part: str, lang: str) -> Any:
    """Render one part of the snapshot in ``lang`` (cached on the snapshot, shared by viewers)."""
    cache_key = (part, lang)
    if cache_key in snap.rendered:
        return snap.rendered[cache_key]
    if part == "kpi":
        rows = street_rows(snap.kpis, snap.coverage, _names(runtime.reference.streets, lang))
        out: Any = (kpi_tiles(snap.kpis, snap.coverage, lang), street_table(rows, lang),
                    _round_label(snap.coverage, lang))
    elif part == "alerts":
        out = alert_list(snap.alert_rows, snap.alert_more, lang,
                         _names(runtime.reference.streets, lang),
                         _names(runtime.reference.categories, lang))
    else:
        raise ValueError(f"unknown wall part {part!r}")
    snap.rendered[cache_key] = out
    return out


def tick(runtime: Runtime, view: dict[str, Any] | None, have: dict[str, Any] | None,
         now: float | None = None) -> tuple[Any, ...]:
    """Answer one tick: heartbeat always; every other output only when it changed."""
    now = time.time() if now is None else now
    lang = normalize_lang((view or {}).get("lang"), runtime.config.lang)
    have = dict(have or {})
    snap = snapshot.get(runtime, now)
    heartbeat = {"t": round(now, 3), "ok": snap.redis_ok, "age": snap.data_age, "v": snap.version}
    want = {p: snap.digests[p] + ("" if p in ("base", "overlay", "wardens") else ":" + lang)
            for p in PARTS}
    overlay_rows = snap.overlay
    held = have.get("base")
    if held and held != snap.base.base_id:
        # The browser's base may come from another worker: diff against it when it is known.
        relative = snapshot.overlay_for(runtime, snap, held)
        if relative is not None:
            overlay_rows, want["base"], want["overlay"] = relative[0], held, relative[1]
    fresh = {p for p in PARTS if have.get(p) != want[p]}
    if "base" in fresh:
        fresh.add("overlay")  # the overlay is relative to the base the browser holds
    base = (snap.base.rows, snap.base.cluster) if "base" in fresh else (no_update, no_update)
    overlay = overlay_rows if "overlay" in fresh else no_update
    wardens = snap.wardens if "wardens" in fresh else no_update
    if "kpi" in fresh:
        tiles, table, round_label = render(runtime, snap, "kpi", lang)
    else:
        tiles = table = round_label = no_update
    alerts: Any
    geo: Any
    if "alerts" in fresh:
        alerts, geo = render(runtime, snap, "alerts", lang), snap.alert_geo
    else:
        alerts = geo = no_update
    return (heartbeat, want if fresh else no_update, base[0], base[1], overlay, wardens,
            tiles, table, round_label, alerts, geo)


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register the wall's server tick and its client-side callbacks on ``app``."""

    @app.callback(
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
        Input(ids.TICK_REQUEST, "data"),
        Input(ids.VIEW, "data"),
        State(ids.HAVE, "data"),
    )
    def wall_tick(_request: Any, view: dict[str, Any] | None,
                  have: dict[str, Any] | None) -> tuple[Any, ...]:
        """One tick: read the shared snapshot, send only what this browser lacks."""
        return tick(runtime, view, have)

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
    app.clientside_callback(
        ClientsideFunction("wall", "gate"),
        Output(ids.TICK_REQUEST, "data"),
        Input(ids.TICK, "n_intervals"),
    )
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

"""Callbacks of the patrol compliance (三定) section: tables from the page's scope, then the
chosen warden's track; the time slider moves the marker in the browser (no server round trip)."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import dash_leaflet as dl
from dash import ALL, Input, Output, State, ctx, html, no_update

from dashboard import patrol
from dashboard.runtime import Runtime
from dashboard.scope import scope_of
from layouts import ids
from layouts.i18n import normalize_lang, t
from layouts.patrol import patrol_columns

_ROUND_COLOURS = {0: "#c0392b", 1: "#d4a017", 2: "#1a7f37"}

_MOVE_MARKER = """
function(index, track) {
    var points = (track && track.points) || [];
    if (!points.length) {
        return [window.dash_clientside.no_update, {opacity: 0, fillOpacity: 0}, ""];
    }
    var i = Math.max(0, Math.min(points.length - 1, index || 0));
    var p = points[i];
    var when = (track.times[i] || "").slice(11, 19);
    return [[p[1], p[2]], {color: "#c0392b", fillColor: "#e74c3c", opacity: 1, fillOpacity: 0.9, weight: 3},
            when + " (" + (i + 1) + "/" + points.length + ")"];
}
"""


def _tile(label: str, value: str, ratio: str, key: str) -> html.Div:
    return html.Div([html.Div(label, className="label"), html.Div(value, className="value"),
                     html.Div(ratio, className="ratio")], className=f"figure-tile patrol-tile-{key}")


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _round_name(day: str, name: str, lang: str) -> str:
    return f"{day} {t(f'patrol.round.{name}', lang)}"


def summary_tiles(total: dict[str, Any], lang: str) -> list[html.Div]:
    """The compliance tiles of a summary (see :func:`dashboard.patrol.summary`)."""
    last = total["last_round"]
    return [
        _tile(t("patrol.tile.rounds", lang), _pct(total["rate"]),
              t("patrol.tile.rounds.ratio", lang, done=total["rounds_done"], due=total["rounds_due"]), "rounds"),
        _tile(t("patrol.tile.days", lang), f"{total['days_2']} / {total['days_0'] + total['days_1'] + total['days_2']}",
              t("patrol.tile.days.ratio", lang, d2=total["days_2"], d1=total["days_1"], d0=total["days_0"]), "days"),
        _tile(t("patrol.tile.wardens", lang), str(total["wardens_short"]),
              t("patrol.tile.wardens.ratio", lang, n=total["wardens"]), "wardens"),
        _tile(t("patrol.tile.missed", lang), str(last["missed"]),
              t("patrol.tile.missed.ratio", lang, round=_round_name(last["day"], last["round"], lang),
                n=total["checkpoints"]), "missed"),
        _tile(t("patrol.tile.checkpoints", lang), str(total["checkpoints"]),
              t("patrol.tile.checkpoints.ratio", lang, days=total["days"], start=total["from"] or "—",
                end=total["to"] or "—"), "checkpoints"),
    ]


def register_exports(app: dash.Dash) -> None:
    """The compliance table's export links follow the scope and the chosen level."""

    @app.callback(
        Output({"type": ids.PATROL_EXPORT, "format": ALL}, "href"),
        Input(ids.SCOPE, "data"),
        Input(ids.PATROL_LEVEL, "value"),
        State({"type": ids.PATROL_EXPORT, "format": ALL}, "id"),
    )
    def export_hrefs(scope: dict[str, Any] | None, level: str | None,
                     links: list[dict[str, str]]) -> list[str]:
        """``/export/patrol-<level>.<format>?<the page's query>``."""
        if not scope or scope.get("error") or not level:
            return ["#"] * len(links)
        return [f"/export/patrol-{level}.{link['format']}{scope['query']}" for link in links]


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register the patrol compliance callbacks on ``app``."""
    register_exports(app)

    @app.callback(
        Output(ids.PATROL_NOTE, "children"),
        Output(ids.PATROL_SUMMARY, "children"),
        Output(ids.PATROL_TABLE, "rowData"),
        Output(ids.PATROL_TABLE, "columnDefs"),
        Output(ids.PATROL_MISSED_TITLE, "children"),
        Output(ids.PATROL_MISSED, "rowData"),
        Output(ids.PATROL_MISSED, "columnDefs"),
        Output(ids.PATROL_WARDEN, "options"),
        Output(ids.PATROL_WARDEN, "value"),
        Output(ids.PATROL_DAY, "options"),
        Output(ids.PATROL_DAY, "value"),
        Input(ids.SCOPE, "data"),
        Input(ids.PATROL_LEVEL, "value"),
        State(ids.PATROL_WARDEN, "value"),
        State(ids.PATROL_DAY, "value"),
    )
    def patrol_tables(scope_data: dict[str, Any] | None, level: str | None, warden: str | None,
                      day: str | None) -> tuple[Any, ...]:
        """Compliance of the scope: note, tiles, the chosen table, the misses, the track pickers."""
        if not scope_data or scope_data.get("error"):
            return (no_update,) * 11
        lang = normalize_lang(scope_data.get("lang"), runtime.config.lang)
        if not runtime.consumer.status.caught_up:  # never partial numbers (like the live APIs)
            return (t("patrol.catching_up", lang),) + (no_update,) * 10
        level = level if level in patrol.LEVELS else "wardens"
        now = runtime.now()
        report = patrol.patrol_report(runtime, scope_of(scope_data), now)
        rows = patrol.report_rows(runtime, report, level, lang)
        if ctx.triggered_id == ids.PATROL_LEVEL:  # only the table changes
            return (no_update, no_update, rows, patrol_columns(level, lang)) + (no_update,) * 7
        total = patrol.summary(report)
        current = runtime.state.rounds.round_at(now)
        split = runtime.config.round_split.strftime("%H:%M")
        note = (t("patrol.note", lang, split=split, round=t(f"patrol.round.{current.name}", lang),
                  due=1 if current.name == "am" else 2, first=total["from"])
                if report.days else t("patrol.note.empty", lang))
        last = total["last_round"]
        wardens = patrol.warden_rows(runtime, report, lang)  # the worst first
        options = [{"label": f"{r['warden_id']} · {_pct(r['rate'])} ({r['rounds_done']}/{r['rounds_due']})",
                    "value": r["warden_id"]} for r in wardens if r["warden_id"]]
        days = [d.isoformat() for d in patrol.track_days(runtime)] or [report.today.isoformat()]
        day_value = day if day in days else days[0]
        values = [o["value"] for o in options]
        if warden not in values:
            with runtime.state.lock:
                with_track = runtime.state.registry.tracks.wardens_on(date.fromisoformat(day_value))
            warden = next((v for v in values if v in with_track), values[0] if values else None)
        return (note, summary_tiles(total, lang), rows, patrol_columns(level, lang),
                t("patrol.missed.title", lang, round=_round_name(last["day"], last["round"], lang)),
                patrol.missed_rows(runtime, report, lang), patrol_columns("missed", lang),
                options, warden, [{"label": d, "value": d} for d in days], day_value)

    @app.callback(
        Output(ids.PATROL_TRACK, "data"),
        Output(ids.PATROL_LINE, "positions"),
        Output(ids.PATROL_CHECKPOINTS, "children"),
        Output(ids.PATROL_AREAS, "data"),
        Output(ids.PATROL_MAP, "viewport"),
        Output(ids.PATROL_SLIDER, "max"),
        Output(ids.PATROL_SLIDER, "marks"),
        Output(ids.PATROL_SLIDER, "value"),
        Output(ids.PATROL_TRACK_NOTE, "children"),
        Input(ids.PATROL_WARDEN, "value"),
        Input(ids.PATROL_DAY, "value"),
        State(ids.SCOPE, "data"),
        prevent_initial_call=True,
    )
    def patrol_track(warden: str | None, day: str | None, scope_data: dict[str, Any] | None) -> tuple[Any, ...]:
        """The warden's track of the day, the checkpoints the warden answers for, the slider's range."""
        lang = normalize_lang((scope_data or {}).get("lang"), runtime.config.lang)
        if not warden or not day:
            return {"points": [], "times": []}, [], [], None, no_update, 0, {}, 0, ""
        the_day = date.fromisoformat(day)
        found = patrol.track(runtime, warden, the_day)
        points = found["points"]
        checkpoints = patrol.warden_checkpoints(runtime, warden, the_day)
        markers = [dl.CircleMarker(center=[c["lat"], c["lon"]], radius=5, color=_ROUND_COLOURS[c["rounds_done"]],
                                   fillColor=_ROUND_COLOURS[c["rounds_done"]], fillOpacity=0.8, weight=1,
                                   children=dl.Tooltip(f"{c['checkpoint_id']} · {c['rounds_done']}/2"))
                   for c in checkpoints]
        grids = {c["grid_id"] for c in checkpoints if c["grid_id"]}
        areas = runtime.reference.boundaries_geojson("grid")
        outline = {"type": "FeatureCollection",
                   "features": [f for f in areas.get("features", [])
                                if (f.get("properties") or {}).get("grid_id") in grids]}
        every = [(p[1], p[2]) for p in points] + [(c["lat"], c["lon"]) for c in checkpoints]
        viewport: Any = no_update
        if every:
            lats, lons = [p[0] for p in every], [p[1] for p in every]
            viewport = {"bounds": [[min(lats) - 0.001, min(lons) - 0.001], [max(lats) + 0.001, max(lons) + 0.001]],
                        "options": {"padding": [20, 20]}}
        if not points:
            return (found, [], markers, outline, viewport, 0, {}, 0,
                    t("patrol.track.none", lang, days=runtime.config.track_days))
        times = found["times"]
        step = max(1, len(points) // 6)
        last = len(points) - 1
        marks = {i: times[i][11:16] for i in range(0, len(points), step) if i == 0 or last - i >= step // 2}
        marks[last] = times[-1][11:16]
        note = t("patrol.track.points", lang, n=len(points), interval=f"{found['interval_s']:g}",
                 first=times[0][11:19], last=times[-1][11:19])
        return (found, [[p[1], p[2]] for p in points], markers, outline, viewport, len(points) - 1,
                {str(k): v for k, v in marks.items()}, 0, note)

    app.clientside_callback(
        _MOVE_MARKER,
        Output(ids.PATROL_MARKER, "center"),
        Output(ids.PATROL_MARKER, "pathOptions"),
        Output(ids.PATROL_TIME, "children"),
        Input(ids.PATROL_SLIDER, "value"),
        Input(ids.PATROL_TRACK, "data"),
    )


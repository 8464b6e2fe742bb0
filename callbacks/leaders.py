"""Callbacks of the leadership page: URL ⇄ scope, then each section from the scope."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import dash
import plotly.graph_objects as go
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from plotly.subplots import make_subplots

from dashboard import reports
from dashboard.periods import PeriodError, district_day
from dashboard.runtime import Runtime
from dashboard.scope import ScopeError, parse_scope
from dashboard.tallies import CHANNELS
from layouts import ids
from layouts.columns import column_defs
from layouts.i18n import normalize_lang, t
from layouts.leaders import figure_tiles


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register the leadership page's callbacks on ``app``."""

    @app.callback(
        Output(ids.SCOPE, "data"),
        Input(ids.LEADERS_URL, "search"),
    )
    def scope_from_url(search: str | None) -> dict[str, Any]:
        """The URL's query resolved to a scope (or the reason it cannot be)."""
        args = dict(parse_qsl((search or "").lstrip("?")))
        lang = normalize_lang(args.get("lang"), runtime.config.lang)
        try:
            scope = parse_scope(args, runtime.reference, runtime.now(), runtime.config.tz)
        except (PeriodError, ScopeError) as exc:
            return {"error": str(exc), "lang": lang}
        return {**scope.as_dict(), "lang": lang, "query": scope.query(lang=lang if lang != "zh" else None)}

    @app.callback(
        Output(ids.LEADERS_URL, "search"),
        Output(ids.PERIOD_RANGE, "className"),
        Input(ids.PERIOD, "value"),
        Input(ids.PERIOD_RANGE, "start_date"),
        Input(ids.PERIOD_RANGE, "end_date"),
        State(ids.LEADERS_URL, "search"),
        prevent_initial_call=True,
    )
    def url_from_picker(period: str | None, start: str | None, end: str | None,
                        search: str | None) -> tuple[Any, str]:
        """A new period keeps the area and the language; a custom range needs both dates."""
        args = dict(parse_qsl((search or "").lstrip("?")))
        for key in ("period", "from", "to"):
            args.pop(key, None)
        if period == "custom":
            if not (start and end):
                return no_update, "period-range"
            args.update({"from": start[:10], "to": end[:10]})
        else:
            args["period"] = period or "30d"
        return "?" + urlencode(args), "period-range" + ("" if period == "custom" else " hidden")

    register_sections(app, runtime)
    app.clientside_callback(
        ClientsideFunction("report", "leadersLive"),
        Output(ids.LEADERS_LIVE, "data"),
        Input(ids.LEADERS_PUSH, "data"),
    )


def depends_on_now(scope: dict[str, Any], now: float, tz: ZoneInfo) -> bool:
    """True if the scope's figures can move with new events or the clock: a relative period (today,
    7d, …, which follows the calendar) or dates reaching today."""
    end = scope.get("to")
    return scope.get("label") != "custom" or not end or str(end) >= district_day(now, tz).isoformat()


def register_sections(app: dash.Dash, runtime: Runtime) -> None:
    """Fill every section of the page from the scope store (one read of the KPI engine each)."""

    @app.callback(
        Output(ids.PERIOD_NOTE, "children"),
        Output(ids.BREADCRUMB, "children"),
        Output(ids.LEADERS_FIGURES, "children"),
        Output(ids.TREND_CHART, "figure"),
        Output(ids.RANKING_TITLE, "children"),
        Output(ids.STREET_RANKING, "rowData"),
        Output(ids.STREET_RANKING, "columnDefs"),
        Output(ids.LEADERS_AREAS, "data"),
        Output(ids.CATEGORY_TOP, "figure"),
        Output(ids.CATEGORY_TABLE, "rowData"),
        Output(ids.CATEGORY_TABLE, "columnDefs"),
        Output(ids.DEPT_TABLE, "rowData"),
        Output(ids.DEPT_TABLE, "columnDefs"),
        Output(ids.EXPORT_CSV, "href"),
        Output({"type": ids.EXPORT, "table": ALL, "format": ALL}, "href"),
        Input(ids.SCOPE, "data"),
        Input(ids.LEADERS_LIVE, "data"),
        State({"type": ids.EXPORT, "table": ALL, "format": ALL}, "id"),
    )
    def fill(data: dict[str, Any] | None, _live: str | None,
             export_ids: list[dict[str, str]]) -> tuple[Any, ...]:
        """Every section of the page for one scope (again when the push says the state changed)."""
        if not data:
            raise PreventUpdate
        if dash.ctx.triggered_id == ids.LEADERS_LIVE and not data.get("error") \
                and not depends_on_now(data, runtime.now(), runtime.config.tz):
            raise PreventUpdate  # a period that ended before today: nothing the push brings moves it
        lang = data.get("lang") or runtime.config.lang
        if data.get("error"):
            error = html.Div(t("error.scope", lang, error=data["error"]), className="report-error")
            return (error, [], [], {}, "", [], [], None, {}, [], [], [], [], "#", ["#"] * len(export_ids))
        # parsed again from the query, not read from the store: a relative period (7d, 30d, …)
        # follows the clock (the push's version moves each minute), across midnight too
        args = dict(parse_qsl(data["query"].lstrip("?")))
        scope = parse_scope(args, runtime.reference, runtime.now(), runtime.config.tz)
        now = runtime.now()
        figs = reports.figures(runtime, scope, now)
        days = reports.trend(runtime, scope, now)
        ranking = reports.ranking(runtime, scope, now, lang)
        level, _ = reports.child_areas(runtime.reference, scope)
        query = scope.query(lang=lang if lang != "zh" else None)
        period = scope.period
        note = t("period.note", lang, label=t(f"period.opt.{period.label}", lang),
                 start=period.start or "…", end=period.end or "…")
        if period.label == "30d":
            note += f" · {t('period.default', lang)}"
        crumbs: list[Any] = []
        for i, (label, href) in enumerate(reports.breadcrumb(runtime.reference, scope, lang)):
            if i:
                crumbs.append(html.Span("›", className="sep"))
            crumbs.append(dcc.Link(label, href=href, className="crumb"))
        title = t(f"section.ranking.{level}", lang)
        cats = reports.categories(runtime, scope, now, lang)
        return (
            note, crumbs, figure_tiles(figs["rows"], lang), trend_figure(days, lang), title,
            ranking, column_defs("ranking", lang),
            area_features(runtime, level, ranking),
            top_categories_figure(cats, lang), cats, column_defs("categories", lang),
            reports.departments(runtime, scope, now, lang), column_defs("departments", lang),
            f"/export/ranking.csv{query}",
            [f"/export/{i['table']}.{i['format']}{query}" for i in export_ids],
        )

    @app.callback(
        Output(ids.LEADERS_URL, "search", allow_duplicate=True),
        Input(ids.LEADERS_AREAS, "clickData"),
        prevent_initial_call=True,
    )
    def drill_from_map(feature: dict[str, Any] | None) -> str:
        """A click on an area narrows the page to it."""
        href = ((feature or {}).get("properties") or {}).get("href")
        if not href or "?" not in href:
            raise PreventUpdate
        return "?" + href.split("?", 1)[1]


def area_features(runtime: Runtime, level: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ranked areas' boundaries with name, grade and drill-down link (None without boundaries)."""
    geo = runtime.reference.boundaries_geojson({"streets": "street", "communities": "community",
                                                "grids": "grid"}[level])
    id_field = {"streets": "street_id", "communities": "community_id", "grids": "grid_id"}[level]
    by_id = {row["id"]: row for row in rows}
    features = []
    for feature in geo.get("features", []):
        row = by_id.get((feature.get("properties") or {}).get(id_field))
        if row is None:
            continue
        features.append({"type": "Feature", "geometry": feature["geometry"],
                         "properties": {"id": row["id"], "name": row["name"], "grade": row["grade"],
                                        "score": row["score"], "href": row["link"]}})
    return {"type": "FeatureCollection", "features": features} if features else None


def top_categories_figure(rows: list[dict[str, Any]], lang: str) -> go.Figure:
    """The ten categories with the most cases (the table below lists them all)."""
    top = [r for r in rows[:10] if r["accepted"]][::-1]
    fig = go.Figure(go.Bar(x=[r["accepted"] for r in top], y=[r["name"] for r in top], orientation="h",
                           marker_color="#1f5f8b", text=[r["accepted"] for r in top], textposition="auto"))
    fig.update_layout(title={"text": t("categories.top10", lang), "font": {"size": 14}},
                      margin={"l": 110, "r": 10, "t": 30, "b": 20}, plot_bgcolor="#fff", paper_bgcolor="#fff",
                      font={"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, DejaVu Sans, sans-serif"})
    return fig


def trend_figure(days: list[dict[str, Any]], lang: str) -> go.Figure:
    """Daily cases by channel (top) and by outcome (bottom), stacked."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(t("trend.by_channel", lang), t("trend.by_outcome", lang)))
    x = [d["day"] for d in days]
    for channel, colour in zip(CHANNELS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"), strict=True):
        fig.add_trace(go.Bar(x=x, y=[d[channel] for d in days], name=t(f"channel.{channel}", lang),
                             marker_color=colour, legendgroup="channel"), row=1, col=1)
    for outcome, colour in (("closed_on_time", "#1a7f37"), ("closed_late", "#d35400"), ("open", "#8a9aa8")):
        fig.add_trace(go.Bar(x=x, y=[d[outcome] for d in days], name=t(f"outcome.{outcome}", lang),
                             marker_color=colour, legendgroup="outcome"), row=2, col=1)
    fig.update_layout(barmode="stack", margin={"l": 40, "r": 10, "t": 30, "b": 30},
                      legend={"orientation": "v", "x": 1.01, "y": 1}, plot_bgcolor="#fff", paper_bgcolor="#fff",
                      font={"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, DejaVu Sans, sans-serif"})
    return fig

"""The leadership page at ``/leaders``: a period and an area in the URL, figures, trends,
rankings with grades, categories, departments, patrol compliance; every table exportable.

Pure: the layout is a skeleton; :mod:`callbacks.leaders` fills it from the scope store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from layouts import ids
from layouts.i18n import normalize_lang, t
from layouts.patrol import patrol_section

_ns = Namespace("dashExtensions", "report")

PERIOD_CHOICES = ("today", "7d", "30d", "month", "last_month", "custom")
"""The period picker's options, in order."""


@dataclass(frozen=True)
class ReportSettings:
    """What the report pages need, as plain data (built once by the app factory)."""

    lang: str = "zh"
    tile_url: str = ""
    tile_attribution: str = ""
    district_view: tuple[float, float, int] = (41.12, 122.07, 13)
    boundaries: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    push_url: str = ""
    """The leaders page's push stream (the page re-reads its live figures on each change)."""


def page_header(title_key: str, lang: str, extra: Any = None) -> html.Header:
    """The header every report page shares: title, navigation and the language switch."""
    other = "en" if lang == "zh" else "zh"
    return html.Header([
        html.H1(t(title_key, lang)),
        html.Nav([
            html.A(t("nav.wall", lang), href=f"/?lang={lang}", className="nav-link"),
            html.A(t("nav.leaders", lang), href=f"/leaders?lang={lang}", className="nav-link"),
            html.A(t("lang_switch", lang) if lang == "zh" else "中文", id="report-lang-link",
                   href=f"?lang={other}", className="nav-link lang-link"),
        ], className="report-nav"),
        extra,
    ], className="report-header")


def grid_table(component_id: str, lang: str, height: str | None = "360px",
               fit: str = "responsiveSizeToFit") -> dag.AgGrid:
    """An AG Grid with sorting and filtering on every column (rows and columns come later);
    ``height`` None grows with its rows (short tables); ``fit="autoSize"`` sizes the columns
    to their contents (wide tables scroll rather than cut their headers)."""
    options: dict[str, Any] = {"animateRows": False, "suppressCellFocus": True, "suppressColumnVirtualisation": True,
                               "localeText": {"noRowsToShow": "无数据" if lang == "zh" else "No rows"}}
    style: dict[str, Any] = {"width": "100%"}
    if height is None:
        options["domLayout"] = "autoHeight"
    else:
        style["height"] = height
    return dag.AgGrid(
        id=component_id, rowData=[], columnDefs=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 80},
        dashGridOptions=options, columnSize=fit, className="report-grid", style=style)


def export_links(table: str, lang: str, csv_id: str | None = None) -> html.Div:
    """CSV and XLSX download links of one table (their hrefs follow the scope)."""
    csv_kwargs: dict[str, Any] = {"id": csv_id} if csv_id else {}
    return html.Div([
        html.A(t("export.csv", lang), href="#", className="export-link",
               **(csv_kwargs or {"id": {"type": ids.EXPORT, "table": table, "format": "csv"}})),
        html.A(t("export.xlsx", lang), href="#", className="export-link",
               id={"type": ids.EXPORT, "table": table, "format": "xlsx"}),
    ], className="export-links")


def _section(title: Any, body: Any, export: str | None = None, lang: str = "zh",
             csv_id: str | None = None, class_name: str = "") -> html.Section:
    head: list[Any] = [html.H2(title)]
    if export:
        head.append(export_links(export, lang, csv_id))
    return html.Section([html.Div(head, className="section-head"), body],
                        className=f"report-section {class_name}".strip())


def period_picker(query: Mapping[str, str], lang: str) -> html.Div:
    """The period dropdown (``id="period"``) and the custom date range."""
    custom = bool(query.get("from") or query.get("to"))
    value = "custom" if custom else (query.get("period") or "30d")
    if value not in PERIOD_CHOICES:
        value = "30d"
    return html.Div([
        html.Label(t("period.label", lang), htmlFor=ids.PERIOD),
        dcc.Dropdown(id=ids.PERIOD, value=value, clearable=False, searchable=False,
                     options=[{"label": t(f"period.opt.{p}", lang), "value": p} for p in PERIOD_CHOICES],
                     className="period-dropdown"),
        dcc.DatePickerRange(id=ids.PERIOD_RANGE, start_date=query.get("from") or None,
                            end_date=query.get("to") or None, display_format="YYYY-MM-DD",
                            className="period-range" + ("" if custom else " hidden")),
        html.Span(id=ids.PERIOD_NOTE, className="period-note"),
    ], className="period-picker")


def leaders_layout(settings: ReportSettings, query: Mapping[str, str]) -> html.Div:
    """The leadership page; the scope comes from the URL query."""
    lang = normalize_lang(query.get("lang"), settings.lang)
    lat, lon, zoom = settings.district_view
    children: list[Any] = []
    if settings.tile_url:
        children.append(dl.TileLayer(url=settings.tile_url, maxZoom=19,
                                     attribution=settings.tile_attribution or None))
    children.append(dl.GeoJSON(id=ids.LEADERS_AREAS, data=None, zoomToBounds=True,
                               style=_ns("gradeStyle"), onEachFeature=_ns("areaTooltip")))
    the_map = dl.MapContainer(children, id=ids.LEADERS_MAP, center=[lat, lon], zoom=zoom,
                              attributionControl=bool(settings.tile_url), className="leaders-map",
                              style={"height": "460px"})
    return html.Div([
        dcc.Location(id=ids.LEADERS_URL, refresh=False),
        dcc.Store(id=ids.SCOPE),
        dcc.Store(id=ids.LEADERS_LIVE),
        dcc.Store(id=ids.LEADERS_PUSH, data={"url": settings.push_url, "store": ids.LEADERS_LIVE}
                  if settings.push_url else None),
        page_header("leaders.title", lang, period_picker(query, lang)),
        html.Nav(id=ids.BREADCRUMB, className="breadcrumb"),
        html.Div(id=ids.LEADERS_FIGURES, className="figure-tiles"),
        html.Div([
            _section(t("section.trend", lang), dcc.Graph(id=ids.TREND_CHART, config={"displaylogo": False},
                                                         style={"height": "420px"}), class_name="wide"),
        ], className="report-row"),
        html.Div([
            _section(html.Span(id=ids.RANKING_TITLE),
                     html.Div([grid_table(ids.STREET_RANKING, lang, None, "autoSize"),
                               html.P(t("grading.note", lang), className="grading-note")]),
                     "ranking", lang, csv_id=ids.EXPORT_CSV),
            _section(t("section.map", lang), the_map),
        ], className="report-row two"),
        html.Div([
            _section(t("section.categories", lang), html.Div([
                dcc.Graph(id=ids.CATEGORY_TOP, config={"displayModeBar": False}, style={"height": "260px"}),
                grid_table(ids.CATEGORY_TABLE, lang, "420px", "autoSize")]), "categories", lang),
            _section(t("section.departments", lang), grid_table(ids.DEPT_TABLE, lang, "480px", "autoSize"),
                     "departments", lang),
        ], className="report-row two"),
        html.Div(patrol_section(settings, lang), id="patrol-slot", className="report-row"),
    ], className=f"report-page leaders-page lang-{lang}", lang="en" if lang == "en" else "zh-CN")


def _delta(change: float | None, unit: str, label: str, better_up: bool) -> html.Span:
    if change is None:
        return html.Span(f"{label} —", className="delta none")
    good = (change >= 0) == better_up
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "＝")
    return html.Span(f"{label} {arrow}{abs(change):g}{unit}",
                     className="delta " + ("up" if good else "down") if change else "delta none")


LOWER_IS_BETTER = frozenset({"rework_rate", "overdue", "mean_close_h"})
"""Figures where a fall is good news (coloured green)."""


def figure_tiles(rows: list[dict[str, Any]], lang: str) -> list[html.Div]:
    """One tile per headline figure with its 环比 and 同比 changes."""
    tiles = []
    for row in rows:
        name = row["figure"]
        value = row["value"]
        is_rate = name.endswith("_rate")
        shown = "—" if value is None else (f"{value:.2f}%" if is_rate else f"{value:g}")
        unit = "pp" if is_rate else "%"
        better_up = name not in LOWER_IS_BETTER
        deltas = [_delta(row.get("previous_change"), unit, t("figure.mom", lang), better_up),
                  _delta(row.get("year_before_change"), unit, t("figure.yoy", lang), better_up)]
        if name == "overdue":
            deltas = [html.Span(t("figure.now", lang), className="delta none")]
        tiles.append(html.Div([
            html.Div(t(f"figure.{name}", lang), className="label"),
            html.Div(shown, className="value", **{"data-figure": name}),
            html.Div(deltas, className="changes"),
        ], className="figure-tile", id={"type": ids.FIGURE, "name": name}))
    return tiles

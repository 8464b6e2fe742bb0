"""The patrol compliance (三定) section of the leadership page (``id="patrol-coverage"``).

Pure: tiles, tables, the missed-last-round list and the track replay map are empty here;
:mod:`callbacks.patrol` fills them from the page's scope store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html

from layouts import ids
from layouts.i18n import t

if TYPE_CHECKING:
    from layouts.leaders import ReportSettings

LEVELS = ("wardens", "checkpoints", "grids", "communities", "streets", "days")
"""The compliance table's choices, in the order shown (wardens first: who missed rounds)."""

_RATE = {"function": "params.value == null ? '—' : (params.value * 100).toFixed(1) + '%'"}
_LOW = {"patrol-low": "params.value != null && params.value < 0.8",
        "patrol-none": "params.value != null && params.value === 0"}

_COLUMNS: dict[str, tuple[str, ...]] = {
    "wardens": ("warden_id", "street", "grids", "checkpoints", "rounds_done", "rounds_due", "rate",
                "rounds_missed", "days_0", "days_1", "days_2", "missed_last_round"),
    "checkpoints": ("checkpoint_id", "name", "category", "street", "community", "grid", "warden_id", "unit",
                    "rounds_done", "rounds_due", "rate", "rounds_missed", "days_0", "days_1", "days_2",
                    "missed_last_round", "last_inspected_at"),
    "grids": ("grid", "community", "street", "warden_id", "checkpoints", "rounds_done", "rounds_due", "rate",
              "rounds_missed", "days_0", "days_1", "days_2", "missed_last_round"),
    "communities": ("community", "street", "checkpoints", "rounds_done", "rounds_due", "rate", "rounds_missed",
                    "days_0", "days_1", "days_2", "missed_last_round"),
    "streets": ("street", "checkpoints", "rounds_done", "rounds_due", "rate", "rounds_missed", "days_0", "days_1",
                "days_2", "missed_last_round"),
    "days": ("day", "checkpoints", "rounds_done", "rounds_due", "rate", "checkpoints_0", "checkpoints_1",
             "checkpoints_2"),
    "missed": ("checkpoint_id", "name", "category", "grid", "community", "warden_id", "unit",
               "last_inspected_at"),
}

_NUMERIC = {"checkpoints", "rounds_done", "rounds_due", "days_0", "days_1", "days_2", "missed_last_round",
            "checkpoints_0", "checkpoints_1", "checkpoints_2"}

_WHEN = {"function": "params.value ? params.value.slice(0, 16).replace('T', ' ') : '—'"}
_ZH_GRID = {"noRowsToShow": "无数据", "page": "页", "of": "/", "to": "–", "more": "更多",
            "firstPage": "首页", "previousPage": "上一页", "nextPage": "下一页", "lastPage": "末页",
            "filterOoo": "筛选…", "contains": "包含", "notContains": "不包含", "equals": "等于",
            "notEqual": "不等于", "startsWith": "开头是", "endsWith": "结尾是", "lessThan": "小于",
            "greaterThan": "大于", "inRange": "介于", "blank": "为空", "notBlank": "不为空",
            "andCondition": "且", "orCondition": "或"}
"""AG Grid's own words in Chinese (pagination, filters)."""


def patrol_columns(level: str, lang: str) -> list[dict[str, Any]]:
    """AG Grid column definitions of one compliance table (``missed`` or a level of :data:`LEVELS`)."""
    cols: list[dict[str, Any]] = []
    for key in _COLUMNS[level]:
        col: dict[str, Any] = {"field": key, "headerName": t(f"patrol.col.{key}", lang),
                               "headerTooltip": t(f"patrol.col.{key}", lang)}
        if key == "rate":
            col.update(valueFormatter=_RATE, cellClassRules=_LOW, filter="agNumberColumnFilter", minWidth=90)
        elif key == "rounds_missed":
            # the worst first: wardens who missed rounds on top
            col.update(filter="agNumberColumnFilter", type="numericColumn", minWidth=130, sort="desc",
                       cellClassRules={"patrol-none": "params.value > 0"})
        elif key in _NUMERIC:
            col.update(filter="agNumberColumnFilter", type="numericColumn", minWidth=100)
            if key == "missed_last_round" and level == "checkpoints":
                col.update(valueFormatter={"function": f"params.value ? '{t('patrol.yes', lang)}' : "
                                                       f"'{t('patrol.no', lang)}'"}, type=None,
                           filter=True)
        elif key in ("warden_id", "checkpoint_id"):
            col.update(pinned="left", minWidth=120)
        elif key in ("name", "category", "street", "community", "grid", "grids", "unit"):
            col.update(minWidth=130, tooltipField=key)
        elif key == "day":
            col.update(cellDataType="text", sort="desc")
        elif key == "last_inspected_at":
            col.update(cellDataType="text", valueFormatter=_WHEN,
                       minWidth=140)
        cols.append({k: v for k, v in col.items() if v is not None})
    return cols


def _exports(lang: str, csv_id: dict[str, str], xlsx_id: dict[str, str]) -> html.Div:
    """CSV and XLSX links of a compliance table (their hrefs follow the scope and the level)."""
    return html.Div([html.A(t("export.csv", lang), id=csv_id, href="#", className="export-link"),
                     html.A(t("export.xlsx", lang), id=xlsx_id, href="#", className="export-link")],
                    className="export-links")


def _grid(component_id: str, lang: str, height: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=component_id, rowData=[], columnDefs=[],
        defaultColDef={"sortable": True, "filter": True, "floatingFilter": True, "resizable": True,
                       "minWidth": 110},
        dashGridOptions={"animateRows": False, "suppressCellFocus": True, "pagination": True,
                         "paginationPageSize": 50, "paginationPageSizeSelector": False,
                         "localeText": _ZH_GRID if lang == "zh" else {"noRowsToShow": "No rows"}},
        columnSize="responsiveSizeToFit", className="report-grid patrol-grid",
        style={"height": height, "width": "100%"})


def _track_map(settings: ReportSettings) -> dl.MapContainer:
    lat, lon, zoom = settings.district_view
    layers: list[Any] = []
    if settings.tile_url:
        layers.append(dl.TileLayer(url=settings.tile_url, maxZoom=19,
                                   attribution=settings.tile_attribution or None))
    layers += [
        dl.GeoJSON(id=ids.PATROL_AREAS, data=None,
                   style={"color": "#1f5f8b", "weight": 1.5, "fillColor": "#1f5f8b", "fillOpacity": 0.06}),
        dl.LayerGroup(id=ids.PATROL_CHECKPOINTS),
        dl.Polyline(id=ids.PATROL_LINE, positions=[], color="#1f5f8b", weight=3, opacity=0.85),
        dl.CircleMarker(id=ids.PATROL_MARKER, center=[lat, lon], radius=9, className="patrol-marker",
                        pathOptions={"color": "#c0392b", "fillColor": "#e74c3c", "fillOpacity": 0.0,
                                     "opacity": 0.0, "weight": 3}),
    ]
    return dl.MapContainer(layers, id=ids.PATROL_MAP, center=[lat, lon], zoom=zoom, zoomSnap=0.25,
                           attributionControl=bool(settings.tile_url), className="patrol-map",
                           style={"height": "420px", "background": "#eef2f5"})


def patrol_section(settings: ReportSettings, lang: str) -> html.Section:
    """The compliance section: note, tiles, a table per level, last round's misses, track replay."""
    levels = [{"label": t(f"patrol.level.{level}", lang), "value": level} for level in LEVELS]
    return html.Section([
        html.Div([html.H2(t("section.patrol", lang))], className="section-head"),
        html.P(id=ids.PATROL_NOTE, className="patrol-note"),
        html.Div(id=ids.PATROL_SUMMARY, className="figure-tiles patrol-summary"),
        html.Div([
            html.Div([
                html.Div([
                    dcc.RadioItems(id=ids.PATROL_LEVEL, options=levels, value="wardens", inline=True,
                                   className="patrol-levels", inputClassName="patrol-level-input"),
                    _exports(lang, {"type": ids.PATROL_EXPORT, "format": "csv"},
                             {"type": ids.PATROL_EXPORT, "format": "xlsx"}),
                ], className="section-head"),
                _grid(ids.PATROL_TABLE, lang, "440px"),
            ], className="patrol-tables"),
            html.Div([
                html.Div([html.H3(id=ids.PATROL_MISSED_TITLE),
                          _exports(lang, {"type": ids.EXPORT, "table": "patrol-missed", "format": "csv"},
                                   {"type": ids.EXPORT, "table": "patrol-missed", "format": "xlsx"})],
                         className="section-head"),
                _grid(ids.PATROL_MISSED, lang, "320px"),
            ], className="patrol-missed"),
        ], className="patrol-row"),
        html.Div([
            html.H3(t("patrol.track.title", lang)),
            html.Div([
                html.Label(t("patrol.track.warden", lang), htmlFor=ids.PATROL_WARDEN),
                dcc.Dropdown(id=ids.PATROL_WARDEN, clearable=False, className="patrol-warden"),
                html.Label(t("patrol.track.day", lang), htmlFor=ids.PATROL_DAY),
                dcc.Dropdown(id=ids.PATROL_DAY, clearable=False, searchable=False, className="patrol-day"),
                html.Span(id=ids.PATROL_TRACK_NOTE, className="patrol-track-note"),
            ], className="track-controls"),
            _track_map(settings),
            html.Div([
                html.Div(dcc.Slider(id=ids.PATROL_SLIDER, min=0, max=0, step=1, value=0, marks=None,
                                    updatemode="drag", allow_direct_input=False), className="track-slider"),
                html.Span(id=ids.PATROL_TIME, className="patrol-time"),
            ], className="track-slider-row"),
            html.P(t("patrol.track.checkpoints", lang), className="patrol-legend"),
            dcc.Store(id=ids.PATROL_TRACK),
        ], className="patrol-track"),
    ], id=ids.PATROL_COVERAGE, className="report-section patrol-section")

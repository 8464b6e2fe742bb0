"""The case file page (``/case/<case_id>``) and the department page (``/dept/<department_id>``).

Pure: the layouts are skeletons with the id from the path in a store; :mod:`callbacks.casefile`
and :mod:`callbacks.dept` fill them from :mod:`dashboard.casefile`'s projections, rendered here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

import dash_leaflet as dl
from dash import dcc, html

from layouts import ids
from layouts.i18n import duration, normalize_lang, t
from layouts.leaders import ReportSettings, grid_table, page_header

DEPT_PERIODS = ("today", "7d", "30d", "month", "last_month")
"""The department page's period choices (default: the last 30 days)."""

STATUS_COLOURS = {"ok": "#2e9e5b", "pending": "#8a949e", "open": "#d4a800", "overdue": "#d93025",
                  "hazard": "#c000a8"}
"""Checkpoint status colours on the light report pages (same order of alarm as the wall)."""

COUNTDOWN_COLOURS = {"green": "#2e9e5b", "yellow": "#d4a800", "red": "#d93025"}
"""Countdown colours of a case's deadline."""


def _page(lang: str, children: list[Any]) -> html.Div:
    return html.Div(children, className=f"report-page case-page lang-{lang}", lang="en" if lang == "en" else "zh-CN")


def case_href(case_id: str, lang: str) -> str:
    """The path of a case's file (the id quoted), in ``lang``."""
    return f"/case/{quote(case_id, safe='')}" + ("?lang=en" if lang == "en" else "")


def when(iso: str | None) -> str:
    """``2026-05-09 08:15`` from an ISO timestamp (district time), ``—`` for none."""
    return iso[:16].replace("T", " ") if iso else "—"


def name(entry: Mapping[str, Any] | None, lang: str) -> str:
    """The name of a ``{"id", "name_zh", "name_en"}`` record in ``lang`` (``—`` for none)."""
    if not entry:
        return "—"
    return str(entry.get(f"name_{lang}") or entry.get("name_zh") or entry.get("id"))


# ---------------------------------------------------------------- case file
def case_layout(settings: ReportSettings, case_id: str, query: Mapping[str, str]) -> html.Div:
    """The case file skeleton; the case id comes from the path (percent-decoded)."""
    lang = normalize_lang(query.get("lang"), settings.lang)
    case_id = unquote(case_id)
    return _page(lang, [
        dcc.Store(id=ids.CASE_KEY, data={"case_id": case_id, "lang": lang}),
        page_header("case.title", lang, html.Span(case_id, className="case-id-head")),
        html.Div(html.P(t("case.loading", lang), className="report-note"), id=ids.CASE_BODY),
    ])


def case_message(text: str, kind: str) -> html.Div:
    """A clear message in place of the file: unknown id (404), record no longer kept (410)…"""
    return html.Div([html.H2("404" if kind == "not-found" else ("410" if kind == "retired" else "…")),
                     html.P(text)], className=f"report-error case-message case-{kind}")


def deadline_text(status: Mapping[str, Any], lang: str) -> str:
    """The deadline status in words."""
    kind = status["status"]
    if kind == "voided":
        return t("deadline.voided", lang)
    return t(f"deadline.{kind}", lang, d=duration(abs(status["seconds"] or 0), lang))


def step_text(step: Mapping[str, Any], lang: str) -> str:
    """One timeline step in words (reported with its channel, dispatched to which unit…)."""
    kind = step["type"]
    unit = name(step.get("unit"), lang) if step.get("unit") else t("step.by_unit", lang)
    values = {
        "channel": t(f"channel.{step.get('channel')}", lang),
        "warden": step.get("warden_id") or "—",
        "checkpoint": step.get("checkpoint_id") or "—",
        "level": t(f"level.{step.get('level') or 'street'}", lang),
        "unit": unit,
        "unit_type": t(f"unit.{step.get('unit_type')}", lang),
        "deadline": when(step.get("deadline")),
        "reason": step.get("reason") or "—",
        "rating": "",
    }
    if kind == "case.rated":
        rating = t("rating.satisfied" if step.get("satisfied") else "rating.unsatisfied", lang)
        values["rating"] = rating + (f" ({step['score']}/5)" if step.get("score") is not None else "")
    key = f"step.{kind}"
    if kind == "case.dispatched" and not step.get("deadline"):
        key += ".nodeadline"
    return t(key, lang, **values)


def _fact(label: str, value: Any) -> html.Div:
    return html.Div([html.Dt(label), html.Dd(value)], className="fact")


def _point(lat: float, lon: float, colour: str, radius: int, label: str, cls: str,
           direction: str) -> dl.CircleMarker:
    # each label on its own side: the three points are often a few metres apart
    offset = {"top": [0, -radius], "bottom": [0, radius], "left": [-radius, 0], "right": [radius, 0]}[direction]
    return dl.CircleMarker(center=[lat, lon], radius=radius, color="#ffffff", weight=2, fillColor=colour,
                           fillOpacity=0.95, children=dl.Tooltip(label, permanent=True, direction=direction,
                                                                  offset=offset, className=f"case-map-label {cls}"))


def _area_layers(settings: ReportSettings, record: Mapping[str, Any]) -> list[Any]:
    """The case's community and grid outlines only (a few features, not the district's)."""
    layers = []
    for level, key, style in (("community", "community", {"color": "#1f5f8b", "weight": 2, "fillOpacity": 0.06}),
                              ("grid", "grid", {"color": "#6b8aa3", "weight": 1.5, "dashArray": "4 4",
                                                "fillOpacity": 0})):
        area = record.get(key)
        doc = settings.boundaries.get(level) or {}
        if not area or not doc.get("features"):
            continue
        features = [f for f in doc["features"] if (f.get("properties") or {}).get(f"{level}_id") == area["id"]]
        if features:
            layers.append(dl.GeoJSON(data={"type": "FeatureCollection", "features": features},
                                     style=style, interactive=False))
    return layers


def case_map(settings: ReportSettings, record: Mapping[str, Any], lang: str) -> dl.MapContainer:
    """The case point, its checkpoint and the responsible warden's last known position."""
    children: list[Any] = []
    if settings.tile_url:
        children.append(dl.TileLayer(url=settings.tile_url, maxZoom=19,
                                     attribution=settings.tile_attribution or None))
    children += _area_layers(settings, record)
    points = [(record["lat"], record["lon"])]
    cp, warden = record.get("checkpoint"), record.get("warden")
    if cp and cp.get("lat") is not None:
        points.append((cp["lat"], cp["lon"]))
        children.append(_point(cp["lat"], cp["lon"], "#1f5f8b", 8,
                               f"{t('case.checkpoint', lang)} {cp['id']}", "label-checkpoint", "left"))
    if warden and warden.get("lat") is not None:
        points.append((warden["lat"], warden["lon"]))
        children.append(_point(warden["lat"], warden["lon"], "#2f80ed", 7,
                               f"{warden['id']} · {t('case.warden_seen', lang, t=when(warden['last_seen']))}",
                               "label-warden", "bottom"))
    colour = COUNTDOWN_COLOURS.get(record["deadline_status"].get("colour") or "", "#5b6b7a")
    children.append(_point(record["lat"], record["lon"], colour, 10,
                           f"{t('case.point', lang)} {record['case_id']}", "label-case", "top"))
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    view: dict[str, Any] = {"center": [record["lat"], record["lon"]], "zoom": 16}
    if max(lats) - min(lats) > 1e-4 or max(lons) - min(lons) > 1e-4:
        view = {"bounds": [[min(lats), min(lons)], [max(lats), max(lons)]],
                "boundsOptions": {"padding": [80, 80], "maxZoom": 16}}
    return dl.MapContainer(children, id=ids.CASE_MAP, attributionControl=bool(settings.tile_url),
                           className="case-map", style={"height": "380px", "background": "#eef2f5"}, **view)


def map_legend(record: Mapping[str, Any], lang: str) -> html.Div:
    """What the map's points are."""
    colour = COUNTDOWN_COLOURS.get(record["deadline_status"].get("colour") or "", "#5b6b7a")
    items = [(colour, t("case.point", lang)), ("#1f5f8b", t("case.checkpoint", lang)),
             ("#2f80ed", t("case.warden", lang))]
    return html.Div([html.Span([html.Span(className="dot", style={"background": c}), label]) for c, label in items],
                    className="case-map-legend")


def case_body(settings: ReportSettings, record: Mapping[str, Any], lang: str) -> list[Any]:
    """The file of one case: deadline status, facts, timeline and map."""
    status = record["deadline_status"]
    colour = status.get("colour") or ("late" if status["status"] == "closed_late" else "done")
    rating = record.get("rating")
    rating_text = "—" if not rating else t("rating.satisfied" if rating["satisfied"] else "rating.unsatisfied", lang) \
        + (f" ({rating['score']}/5)" if rating.get("score") is not None else "")
    cp, warden = record.get("checkpoint"), record.get("warden")
    facts = html.Dl([
        _fact(t("case.state", lang), t(f"state.{record['state']}", lang)),
        _fact(t("case.category", lang), name(record["category"], lang)),
        _fact(t("case.channel", lang), t(f"channel.{record['channel']}", lang)),
        _fact(t("case.priority", lang), t(f"priority.{record['priority']}", lang)),
        _fact(t("case.street", lang), name(record.get("street"), lang)),
        _fact(t("case.community", lang), name(record.get("community"), lang)),
        _fact(t("case.grid", lang), name(record.get("grid"), lang)),
        _fact(t("case.checkpoint", lang), cp["id"] if cp else "—"),
        _fact(t("case.warden", lang), warden["id"] if warden else "—"),
        _fact(t("case.reported_at", lang), when(record["reported_at"])),
        _fact(t("case.deadline", lang), when(record["deadline"])),
        _fact(t("case.departments", lang), "、".join(name(d, lang) for d in record["departments"]) or "—"),
        _fact(t("case.returned", lang), str(record["returned_count"])),
        _fact(t("case.rating", lang), rating_text),
    ], className="case-facts")
    steps = [html.Li([html.Span(when(s["ts"]), className="step-time"),
                      html.Span(step_text(s, lang), className="step-text")],
                     className=f"step step-{s['type'].replace('.', '-')}", **{"data-type": s["type"]})
             for s in record["timeline"]]
    return [
        html.Div([
            html.H2(t("case.heading", lang, id=record["case_id"])),
            html.Span(deadline_text(status, lang), id=ids.CASE_DEADLINE,
                      className=f"deadline-badge deadline-{colour}", **{"data-status": status["status"]}),
        ], className="case-title"),
        html.Div([
            html.Section([html.H2(t("case.facts", lang)), facts], className="report-section"),
            html.Section([html.H2(t("case.map", lang)), case_map(settings, record, lang),
                          map_legend(record, lang)],
                         className="report-section"),
        ], className="report-row two"),
        html.Section([html.H2(t("case.timeline", lang)), html.Ol(steps, id=ids.CASE_TIMELINE, className="timeline")],
                     className="report-section"),
    ]


# ---------------------------------------------------------------- department
def dept_layout(settings: ReportSettings, dept_id: str, query: Mapping[str, str]) -> html.Div:
    """The department page skeleton; the id comes from the path, the period from the query."""
    lang = normalize_lang(query.get("lang"), settings.lang)
    dept_id = unquote(dept_id)
    period = query.get("period") if query.get("period") in DEPT_PERIODS else "30d"
    picker = html.Div([
        html.Label(t("period.label", lang), htmlFor=ids.DEPT_PERIOD),
        dcc.Dropdown(id=ids.DEPT_PERIOD, value=period, clearable=False, searchable=False,
                     options=[{"label": t(f"period.opt.{p}", lang), "value": p} for p in DEPT_PERIODS],
                     className="period-dropdown"),
    ], className="period-picker")
    section = "report-section"
    return _page(lang, [
        dcc.Location(id=ids.DEPT_URL, refresh=False),
        dcc.Store(id=ids.DEPT_KEY, data={"department_id": dept_id, "lang": lang}),
        page_header("dept.title", lang, picker),
        html.Div(html.P(t("case.loading", lang), className="report-note"), id=ids.DEPT_BODY),
        html.Div([
            html.Div([
                html.Div([
                    html.Section([html.H2(id=ids.DEPT_CATEGORIES_TITLE),
                                  html.Div(id=ids.DEPT_CATEGORIES, className="dept-categories")], className=section),
                    html.Section([html.H2(t("dept.checkpoints", lang)),
                                  html.Div(id=ids.DEPT_CHECKPOINT_COUNTS, className="status-counts")],
                                 className=section),
                ], className="dept-column"),
                html.Section([html.Div([html.H2(t("dept.figures", lang)),
                                        html.Span(t("dept.figures_note", lang), className="period-note")],
                                       className="section-head"),
                              _auto_height(grid_table(ids.DEPT_FIGURES, lang))], className=section),
            ], className="report-row two"),
            html.Section(grid_table(ids.DEPT_CHECKPOINTS, lang, "360px"), className=section),
            html.Section([html.Div([html.H2(t("dept.cases", lang)), html.Span(id=ids.DEPT_CASE_COUNTS,
                                                                              className="period-note")],
                                   className="section-head"),
                          grid_table(ids.DEPT_CASES, lang, "420px")], className=section),
        ], id=ids.DEPT_SECTIONS, className="hidden"),
    ])


def _auto_height(grid: Any) -> Any:
    """A grid as tall as its rows (a short table: every figure visible without scrolling)."""
    grid.dashGridOptions = {**grid.dashGridOptions, "domLayout": "autoHeight"}
    grid.style = {"width": "100%"}
    return grid


def status_counts(counts: Mapping[str, int], lang: str) -> list[html.Span]:
    """One chip per checkpoint status, worst first, with its count."""
    return [html.Span(t("status.count", lang, name=t(f"status.{s}", lang), n=counts.get(s, 0)),
                      className=f"status-chip status-{s}", style={"borderLeftColor": STATUS_COLOURS[s]},
                      **{"data-status": s})  # type: ignore[arg-type]
            for s in ("hazard", "overdue", "open", "pending", "ok")]


def category_chips(categories: Sequence[tuple[str, str]]) -> list[html.Span]:
    """The subscribed categories as chips (their id in the tooltip)."""
    return [html.Span(label, className="category-chip", title=cid, **{"data-category": cid})  # type: ignore[arg-type]
            for cid, label in categories]


def _col(field: str, header: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "headerName": header, **extra}


def case_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of a case table; the id is a markdown link to the case file."""
    return [
        _col("case_link", t("col.case_id", lang), cellRenderer="markdown", minWidth=250),
        _col("category_name", t("col.category", lang)),
        _col("state_name", t("col.state", lang)),
        _col("street_name", t("col.street", lang)),
        _col("reported", t("col.reported_at", lang)),
        _col("deadline_at", t("col.deadline", lang)),
        _col("deadline_text", t("col.deadline_status", lang), minWidth=150,
             cellClassRules={"cell-red": "params.data.colour == 'red'",
                             "cell-yellow": "params.data.colour == 'yellow'"}),
        _col("returned_count", t("col.returned", lang), type="numericColumn", maxWidth=110),
    ]


def case_rows(rows: Sequence[Mapping[str, Any]], lang: str, category_names: Mapping[str, str],
              street_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Grid rows of case rows from :func:`dashboard.casefile.department_view`."""
    out = []
    for r in rows:
        open_ = r["state"] not in ("closed", "voided")
        status = {"status": r["deadline_status"], "seconds": abs(r["overdue_seconds"])}
        out.append({**r, "case_link": f"[{r['case_id']}]({case_href(r['case_id'], lang)})",
                    "category_name": category_names.get(r["category"], r["category"]),
                    "state_name": t(f"state.{r['state']}", lang),
                    "street_name": street_names.get(r["street_id"] or "", r["street_id"] or "—"),
                    "reported": when(r["reported_at"]), "deadline_at": when(r["deadline"]),
                    "deadline_text": deadline_text(status, lang) if open_ else t(f"state.{r['state']}", lang)})
    return out


def checkpoint_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of the department's checkpoint table."""
    return [
        _col("checkpoint_id", t("col.checkpoint", lang)),
        _col("category_name", t("col.category", lang)),
        _col("street_name", t("col.street", lang)),
        _col("status_name", t("col.status", lang),
             cellClassRules={f"cell-{s}": f"params.data.status == '{s}'" for s in STATUS_COLOURS}),
        _col("last_inspected", t("col.last_inspected", lang)),
        _col("open_links", t("col.open_cases", lang), cellRenderer="markdown", minWidth=260),
    ]


def checkpoint_rows(rows: Sequence[Mapping[str, Any]], lang: str, category_names: Mapping[str, str],
                    street_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Grid rows of the department's checkpoints (open cases link to their files)."""
    return [{"checkpoint_id": r["checkpoint_id"], "status": r["status"],
             "category_name": category_names.get(r["category"], r["category"]),
             "street_name": street_names.get(r["street_id"] or "", r["street_id"] or "—"),
             "status_name": t(f"status.{r['status']}", lang), "last_inspected": when(r["last_inspected_at"]),
             "open_links": " ".join(f"[{c}]({case_href(c, lang)})" for c in r["open_cases"])}
            for r in rows]


def figure_columns(lang: str) -> list[dict[str, Any]]:
    """Columns of the figures table: name and value."""
    return [_col("label", t("col.figure", lang), minWidth=200), _col("value", t("col.value", lang),
                                                                    type="numericColumn")]


FIGURE_ORDER = ("accepted", "processed", "on_time_processed", "on_time_processing_rate", "closed", "closure_rate",
                "on_time_closed", "on_time_closure_rate", "mean_hours_to_close", "median_hours_to_close",
                "returned", "rework_rate", "overdue", "rated", "satisfied", "satisfaction_rate")
"""Where the known figures go in the table (counts beside their rates); any other field follows."""


def figure_rows(record: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """Every numeric field of a KPI record, named when known (a new field shows under its key)."""
    rows = []
    order = {key: n for n, key in enumerate(FIGURE_ORDER)}
    for key, value in sorted(record.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        if isinstance(value, bool) or not isinstance(value, (int, float)) and value is not None:
            continue
        label = t(f"fig.{key}", lang)
        if value is None:
            shown = "—"
        elif key.endswith("_rate"):
            shown = f"{value * 100:.1f}%"
        elif isinstance(value, float):
            shown = f"{value:,.1f}"
        else:
            shown = f"{value:,}"
        rows.append({"key": key, "label": label if label != f"fig.{key}" else key, "value": shown})
    return rows

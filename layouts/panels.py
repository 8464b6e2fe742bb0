"""Pure renderers of the wall's data panels: district KPI tiles, street table, alert list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from dash import html

from layouts import ids
from layouts.i18n import duration, t


def _pct(rate: float | None, lang: str) -> str:
    return t("kpi.none", lang) if rate is None else f"{rate * 100:.1f}%"


def _ratio(num: Any, den: Any) -> str:
    return f"{int(num or 0):,}/{int(den or 0):,}"


def _tile(key: str, label: str, period: str, value: str, sub: str, tone: str = "") -> html.Div:
    return html.Div([
        html.Div([html.Span(label, className="tile-name"), html.Span(period, className="tile-period")],
                 className="tile-label"),
        html.Div(value, className="tile-value"),
        html.Div(sub, className="tile-sub"),
    ], className=f"tile {tone}".strip(), **{"data-kpi": key})  # type: ignore[arg-type]


def _count(value: Any) -> str:
    return f"{int(value or 0):,}"


TILES: tuple[tuple[str, str, str, str, str], ...] = (
    ("accepted", "kpi.accepted", "period.today", "count", "month"),
    ("self-handled", "kpi.self_handled", "period.month", "count", "ratio"),
    ("mobile", "kpi.mobile_disposal", "period.month", "count", "ratio"),
    ("citizen", "kpi.citizen_reported", "period.month", "count", "ratio"),
    ("closure", "kpi.closure_rate", "period.month", "pct", "ratio"),
    ("satisfaction", "kpi.satisfaction", "period.month", "pct", "ratio"),
    ("on-time", "kpi.on_time_rate", "period.month", "pct", "ratio"),
    ("overdue", "kpi.overdue", "period.now", "count", "tone"),
    ("coverage", "kpi.coverage", "period.round", "pct", "ratio"),
)
"""The district tiles: key, label, period, value kind (count/pct), sub-line kind (the browser's copy
renders pushed figures the same way, see dashboard/assets/wall.js ``renderTiles``)."""


def rate_figure(rate: Any) -> float | None:
    """A rate as sent to the browser (6 decimals), None when undefined."""
    return None if rate is None else round(float(rate), 6)


def tile_figures(kpis: Mapping[str, Any], coverage: Mapping[str, Any]) -> list[list[Any]]:
    """``[value, numerator, denominator]`` per tile, in the order of :data:`TILES`."""
    district = kpis.get("district") or {}
    today = district.get("today") or {}
    month = district.get("month") or {}
    cov = coverage.get("district") or {}

    def n(value: Any) -> int:
        return int(value or 0)

    accepted = n(month.get("accepted"))
    figures: dict[str, list[Any]] = {
        "accepted": [n(today.get("accepted")), accepted, None],
        "self-handled": [n(month.get("self_handled")), n(month.get("self_handled")), accepted],
        "mobile": [n(month.get("mobile_disposal")), n(month.get("mobile_disposal")), accepted],
        "citizen": [n(month.get("citizen_reported")), n(month.get("citizen_reported")), accepted],
        "closure": [rate_figure(month.get("closure_rate")), n(month.get("closed")), accepted],
        "satisfaction": [rate_figure(month.get("satisfaction_rate")), n(month.get("satisfied")), n(month.get("rated"))],
        "on-time": [rate_figure(month.get("on_time_closure_rate")), n(month.get("on_time_closed")), accepted],
        "overdue": [n(today.get("overdue") or month.get("overdue")), None, None],
        "coverage": [rate_figure(cov.get("rate")), n(cov.get("covered")), n(cov.get("registered"))],
    }
    return [figures[spec[0]] for spec in TILES]


def kpi_tiles(kpis: Mapping[str, Any], coverage: Mapping[str, Any], lang: str) -> list[html.Div]:
    """District tiles, each labelled with its period: the seed's six figures, on-time, overdue, coverage."""
    tiles = []
    for (key, label, period, kind, sub_kind), (value, num, den) in zip(TILES, tile_figures(kpis, coverage),
                                                                       strict=True):
        shown = _count(value) if kind == "count" else _pct(value, lang)
        tone = ""
        if sub_kind == "month":
            sub = t("kpi.month_total", lang, n=_count(num))
        elif sub_kind == "ratio":
            sub = _ratio(num, den)
        else:
            sub, tone = "", "tone-red" if value else "tone-ok"
        tiles.append(_tile(key, t(label, lang), t(period, lang), shown, sub, tone))
    return tiles


def street_rows(kpis: Mapping[str, Any], coverage: Mapping[str, Any],
                street_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rank streets by month closure rate, then on-time rate, then accepted (best first)."""
    streets = kpis.get("streets") or {}
    cov = coverage.get("streets") or {}
    ids_all = list(dict.fromkeys([*street_names, *streets]))
    rows = []
    for sid in ids_all:
        k = streets.get(sid) or {}
        month = k.get("month") or {}
        today = k.get("today") or {}
        rows.append({"street_id": sid, "name": street_names.get(sid, sid), "today": today,
                     "month": month, "coverage": cov.get(sid) or {}})

    def order(row: dict[str, Any]) -> tuple[float, float, int]:
        m = row["month"]
        return (-(m.get("closure_rate") if m.get("closure_rate") is not None else -1.0),
                -(m.get("on_time_closure_rate") if m.get("on_time_closure_rate") is not None else -1.0),
                -int(m.get("accepted") or 0))

    rows.sort(key=order)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _rate_cell(rate: float | None, num: Any, den: Any, lang: str) -> html.Td:
    return html.Td([html.Span(_pct(rate, lang), className="rate"),
                    html.Span(_ratio(num, den), className="ratio")], className="num")


STREET_ROWS = 8
"""Streets listed on the wall (a city has hundreds): the best ranked; the rest are counted."""


def street_table(rows: Sequence[Mapping[str, Any]], lang: str, limit: int = STREET_ROWS) -> html.Table:
    """The per-street table: rank, name, accepted today/month, rates with n/d, overdue, patrol."""
    cols = ("rank", "street", "today", "month", "closure", "on_time", "satisfaction",
            "overdue", "coverage")
    head = html.Thead(html.Tr([html.Th(t(f"col.{c}", lang), className=f"col-{c}") for c in cols]))
    body = []
    for row in rows[:limit]:
        m, d, c = row["month"], row["today"], row["coverage"]
        overdue = int(d.get("overdue") or m.get("overdue") or 0)
        body.append(html.Tr([
            html.Td(str(row["rank"]), className="rank"),
            html.Td(row["name"], className="name"),
            html.Td(f"{int(d.get('accepted') or 0):,}", className="num"),
            html.Td(f"{int(m.get('accepted') or 0):,}", className="num"),
            _rate_cell(m.get("closure_rate"), m.get("closed"), m.get("accepted"), lang),
            _rate_cell(m.get("on_time_closure_rate"), m.get("on_time_closed"), m.get("accepted"), lang),
            _rate_cell(m.get("satisfaction_rate"), m.get("satisfied"), m.get("rated"), lang),
            html.Td(str(overdue), className="num overdue" + (" hot" if overdue else "")),
            _rate_cell(c.get("rate"), c.get("covered"), c.get("registered"), lang),
        ], **{"data-street": row["street_id"]}))
    if len(rows) > limit:
        body.append(html.Tr(html.Td(t("streets.more", lang, n=len(rows) - limit), colSpan=len(cols),
                                    className="streets-more")))
    return html.Table([head, html.Tbody(body)], className="streets")


def alert_list(rows: Sequence[Mapping[str, Any]], more: int, lang: str,
               street_names: Mapping[str, str], category_names: Mapping[str, str]) -> list[html.Div]:
    """Alert rows (already sorted), each clickable; ``new`` rows flash for a few seconds."""
    if not rows:
        return [html.Div(t("alerts.empty", lang), className="alerts-empty")]
    items = []
    for row in rows:
        overdue_s = row["overdue_seconds"]
        countdown = (t("alerts.overdue_by", lang, d=_dur(overdue_s, lang)) if overdue_s >= 0
                     else t("alerts.left", lang, d=_dur(overdue_s, lang)))
        classes = ["alert", f"alert-{row['colour']}"]
        if row["hazard"]:
            classes.append("alert-hazard")
        if row["new"]:
            classes.append("alert-new")
        street = street_names.get(row["street_id"] or "", row["street_id"] or "")
        category = category_names.get(row["category"], row["category"])
        head: list[Any] = [html.Span(t("alerts.hazard", lang), className="alert-flag")] if row["hazard"] else []
        head.append(html.Span(row["case_id"], className="alert-case"))
        # the case file opens in a new tab: the wall itself never navigates away (kiosk hides it)
        head.append(html.A("↗", href=f"/case/{quote(row['case_id'], safe='')}" + ("?lang=en" if lang == "en" else ""),
                           target="_blank", rel="noopener", className="alert-link",
                           title=t("alerts.open_case", lang)))
        # two lines, the second free to wrap: English street and category names stay whole
        items.append(html.Div([
            html.Span(head, className="alert-head"),
            html.Span(countdown, className="alert-countdown"),
            html.Span([html.Span(street, className="alert-street"), html.Span(" · ", className="alert-sep"),
                       html.Span(category, className="alert-category")], className="alert-where"),
            html.Span(t("alerts.age", lang, d=_dur(row["age_seconds"], lang)), className="alert-age"),
        ], id={"type": ids.ALERT_ITEM, "index": row["case_id"]}, className=" ".join(classes),
            n_clicks=0, **{"data-case": row["case_id"]}))
    if more > 0:
        items.append(html.Div(t("alerts.more", lang, n=more), className="alerts-more"))
    return items


def _dur(seconds: float, lang: str) -> str:
    return duration(seconds, lang)

"""Callbacks of the department page (/dept/<department_id>): period in the URL, then the page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import dash
from dash import ALL, Input, Output, State, no_update

from dashboard.access import may_open_page
from dashboard.casefile import UnknownDepartment, department_of, department_view
from dashboard.periods import parse_period
from dashboard.runtime import Runtime
from layouts import ids
from layouts.casefile import (
    DEPT_PERIODS,
    case_columns,
    case_rows,
    category_chips,
    checkpoint_columns,
    checkpoint_rows,
    figure_columns,
    figure_rows,
    status_counts,
)
from layouts.i18n import name_of, normalize_lang, t

OUTPUTS = 12
"""Outputs of the page callback."""


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register the department page's callbacks on ``app``."""

    @app.callback(
        Output({"type": ids.DEPT_EXPORT, "table": ALL, "format": ALL}, "href"),
        Input(ids.DEPT_KEY, "data"),
        Input(ids.DEPT_URL, "search"),
        State({"type": ids.DEPT_EXPORT, "table": ALL, "format": ALL}, "id"),
    )
    def export_hrefs(key: dict[str, Any] | None, search: str | None, links: list[dict[str, str]]) -> list[str]:
        """``/export/dept-<table>.<format>?department=<id>&period=…``: the page's period and language."""
        args = dict(parse_qsl((search or "").lstrip("?")))
        query = {"department": (key or {}).get("department_id") or "",
                 "period": args.get("period") if args.get("period") in DEPT_PERIODS else "30d",
                 "lang": (key or {}).get("lang") or runtime.config.lang}
        return [f"/export/{link['table']}.{link['format']}?{urlencode(query)}" for link in links]

    @app.callback(
        Output(ids.DEPT_URL, "search"),
        Input(ids.DEPT_PERIOD, "value"),
        State(ids.DEPT_URL, "search"),
        prevent_initial_call=True,
    )
    def url_from_period(period: str | None, search: str | None) -> Any:
        """A new period goes into the URL (bookmarkable), keeping the language."""
        args = dict(parse_qsl((search or "").lstrip("?")))
        if args.get("period") == period:
            return no_update
        args["period"] = period if period in DEPT_PERIODS else "30d"
        return "?" + urlencode(args)

    @app.callback(
        Output(ids.DEPT_BODY, "children"),
        Output(ids.DEPT_SECTIONS, "className"),
        Output(ids.DEPT_CATEGORIES_TITLE, "children"),
        Output(ids.DEPT_CATEGORIES, "children"),
        Output(ids.DEPT_CHECKPOINT_COUNTS, "children"),
        Output(ids.DEPT_CHECKPOINTS, "rowData"),
        Output(ids.DEPT_CHECKPOINTS, "columnDefs"),
        Output(ids.DEPT_CASES, "rowData"),
        Output(ids.DEPT_CASES, "columnDefs"),
        Output(ids.DEPT_CASE_COUNTS, "children"),
        Output(ids.DEPT_FIGURES, "rowData"),
        Output(ids.DEPT_FIGURES, "columnDefs"),
        Input(ids.DEPT_KEY, "data"),
        Input(ids.DEPT_URL, "search"),
    )
    def fill(key: dict[str, Any] | None, search: str | None) -> tuple[Any, ...]:
        """Everything the department sees: only its categories' checkpoints and cases."""
        key = key or {}
        dept_id = str(key.get("department_id") or "")
        lang = normalize_lang(key.get("lang"), runtime.config.lang)
        ref = runtime.reference
        if not may_open_page("dept", dept_id):  # the id comes from the browser: check it here too
            message = dash.html.Div([dash.html.H2("403"), dash.html.P(t("dept.forbidden", lang, id=dept_id))],
                                    className="report-error case-message case-forbidden")
            return (message, "hidden") + (no_update,) * (OUTPUTS - 2)
        try:
            dept = department_of(ref, dept_id)
        except UnknownDepartment:
            message = dash.html.Div([dash.html.H2("404"), dash.html.P(t("dept.not_found", lang, id=dept_id))],
                                    className="report-error case-message case-not-found")
            return (message, "hidden") + (no_update,) * (OUTPUTS - 2)
        args = dict(parse_qsl((search or "").lstrip("?")))
        name = args.get("period") if args.get("period") in DEPT_PERIODS else "30d"
        now = runtime.now()
        view = department_view(runtime, dept_id, now, parse_period(name, None, None, now, runtime.config.tz))
        cat_names = {cid: name_of(c, lang, cid) for cid, c in ref.categories.items()}
        street_names = {sid: name_of(s, lang, sid) for sid, s in ref.streets.items()}
        period = view["period"]
        heading = dash.html.Div([
            dash.html.H2(f"{name_of(dept, lang, dept_id)} ({dept_id})", className="dept-name"),
            dash.html.P(t("dept.period_note", lang, label=t(f"period.opt.{name}", lang),
                          start=period.get("from") or "—", end=period.get("to") or "—"),
                        className="period-note"),
        ], className="dept-heading")
        cats = [(cid, cat_names.get(cid, cid)) for cid in view["categories"]]
        chips: Any = category_chips(cats) if cats else dash.html.P(t("dept.no_categories", lang))
        return (heading, "dept-sections", t("dept.categories", lang, n=len(cats)), chips,
                status_counts(view["checkpoint_status"], lang),
                checkpoint_rows(view["checkpoints"], lang, cat_names, street_names), checkpoint_columns(lang),
                case_rows(view["cases"], lang, cat_names, street_names), case_columns(lang),
                t("dept.case_counts", lang, **view["case_counts"]),
                figure_rows(view["figures"], lang), figure_columns(lang))

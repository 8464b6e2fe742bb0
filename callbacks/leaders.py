"""Callbacks of the leadership page: URL ⇄ scope, then each section from the scope."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import dash
from dash import Input, Output, State, no_update

from dashboard.periods import PeriodError
from dashboard.runtime import Runtime
from dashboard.scope import ScopeError, parse_scope
from layouts import ids
from layouts.i18n import normalize_lang


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

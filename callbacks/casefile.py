"""Callbacks of the case file page (/case/<case_id>): the file rendered from the shared projection."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output

from dashboard.access import may_open_page
from dashboard.app import report_settings
from dashboard.casefile import CaseNotFound, CaseRetired, case_file
from dashboard.runtime import Runtime
from layouts import ids
from layouts.casefile import case_body, case_message
from layouts.i18n import normalize_lang, t


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register the case file's callback on ``app``."""
    settings = report_settings(runtime.config, runtime.reference)  # boundaries: built once

    @app.callback(Output(ids.CASE_BODY, "children"), Input(ids.CASE_KEY, "data"))
    def fill(key: dict[str, Any] | None) -> Any:
        """The file of the case in the page's store, or why there is none."""
        key = key or {}
        case_id = str(key.get("case_id") or "")
        lang = normalize_lang(key.get("lang"), runtime.config.lang)
        if not may_open_page("case", case_id):  # the id comes from the browser: check it here too
            return case_message(t("case.forbidden", lang, id=case_id), "forbidden")
        try:
            record = case_file(runtime, case_id, runtime.now())
        except CaseRetired:
            days = f"{runtime.config.case_retention_days:g}"
            return case_message(t("case.retired", lang, id=case_id, days=days), "retired")
        except CaseNotFound:
            if not runtime.consumer.status.caught_up:
                return case_message(t("case.catching_up", lang), "catching-up")
            return case_message(t("case.not_found", lang, id=case_id), "not-found")
        return case_body(settings, record, lang)

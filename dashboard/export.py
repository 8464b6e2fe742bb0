"""Downloads of the report tables: CSV (UTF-8 with BOM, so Excel opens Chinese) and XLSX.

``GET /export/<table>.<csv|xlsx>`` takes the leadership page's query (period, area, lang) and
writes the rows :mod:`dashboard.reports` gives the page, with the page's column headers, in a
file named for the table, the area and the period. The JSON twin is ``/api/v1/report/<table>``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request, send_file

from dashboard import reports
from dashboard.api import not_before_caught_up
from dashboard.periods import PeriodError
from dashboard.runtime import EXTENSION_KEY, Runtime
from dashboard.scope import Scope, ScopeError, parse_scope
from layouts.columns import COLUMNS, headers
from layouts.i18n import normalize_lang

bp = Blueprint("export", __name__)

FORMATS = ("csv", "xlsx")
"""File formats of every table."""

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _runtime() -> Runtime:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _scope(runtime: Runtime) -> Scope:
    return parse_scope(request.args, runtime.reference, runtime.now(), runtime.config.tz)


def file_name(runtime: Runtime, table: str, scope: Scope, lang: str, fmt: str) -> str:
    """``<table>_<area>_<from>_<to>.<fmt>``, safe as a file name on any system."""
    area = reports.scope_name(runtime.reference, scope, lang)
    period = scope.period
    dates = f"{period.start or 'start'}_{period.end or 'now'}"
    safe = re.sub(r'[\\/:*?"<>|\s]+', "-", f"{table}_{area}_{dates}")
    return f"{safe}.{fmt}"


def frame(rows: list[dict[str, Any]], table: str, lang: str) -> pd.DataFrame:
    """The rows as a table with the page's columns and headers (in order)."""
    cols = headers(table, lang)
    # object columns: an integer column with a blank stays integers (pandas would make it float)
    return pd.DataFrame([[row.get(key) for key, _ in cols] for row in rows], columns=[h for _, h in cols],
                        dtype=object)


def write(df: pd.DataFrame, fmt: str, sheet: str) -> bytes:
    """CSV (UTF-8 with BOM) or XLSX bytes of a table."""
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8-sig")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        df.to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


RowSource = Callable[[Runtime, Scope, float, str], list[dict[str, Any]]]


def sources() -> dict[str, RowSource]:
    """Each exportable table's row function."""
    return {"ranking": reports.ranking, "categories": reports.categories,
            "departments": reports.departments}


@bp.before_request
def _not_before_caught_up() -> Response | None:
    return not_before_caught_up(_runtime())


@bp.get("/export/<table>.<fmt>")
def export(table: str, fmt: str) -> Any:
    """One report table of the query's scope as a file."""
    runtime = _runtime()
    table_sources = sources()
    if table not in table_sources or table not in COLUMNS:
        return _error(404, f"no table {table!r}; tables: {', '.join(sorted(table_sources))}")
    if fmt not in FORMATS:
        return _error(404, f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    lang = normalize_lang(request.args.get("lang"), runtime.config.lang)
    try:
        scope = _scope(runtime)
    except (PeriodError, ScopeError) as exc:
        return _error(400, str(exc))
    rows = table_sources[table](runtime, scope, runtime.now(), lang)
    data = write(frame(rows, table, lang), fmt, table)
    return send_file(io.BytesIO(data), mimetype="text/csv; charset=utf-8" if fmt == "csv" else XLSX,
                     as_attachment=True, download_name=file_name(runtime, table, scope, lang, fmt),
                     max_age=0)


@bp.get("/api/v1/report/<name>")
def report(name: str) -> Any:
    """JSON of a report table, or of ``figures`` / ``trend``, for the query's scope."""
    runtime = _runtime()
    lang = normalize_lang(request.args.get("lang"), runtime.config.lang)
    try:
        scope = _scope(runtime)
    except (PeriodError, ScopeError) as exc:
        return _error(400, str(exc))
    now = runtime.now()
    if name == "figures":
        return jsonify(reports.figures(runtime, scope, now))
    if name == "trend":
        return jsonify({"scope": scope.as_dict(), "days": reports.trend(runtime, scope, now)})
    if name not in reports.TABLES:
        return _error(404, f"no report {name!r}; reports: figures, trend, {', '.join(reports.TABLES)}")
    return jsonify({"scope": scope.as_dict(), "rows": reports.table(runtime, name, scope, now, lang)})

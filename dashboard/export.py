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

from dashboard import patrol, reports
from dashboard.api import not_before_caught_up
from dashboard.periods import PeriodError
from dashboard.runtime import EXTENSION_KEY, Runtime
from dashboard.scope import Scope, ScopeError, parse_scope
from layouts.columns import COLUMNS, headers
from layouts.i18n import normalize_lang
from layouts.patrol import patrol_columns

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


def frame(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> pd.DataFrame:
    """The rows as a table with the page's columns and headers (in order)."""
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


Table = tuple[list[dict[str, Any]], list[tuple[str, str]]]
"""Rows and their (key, header) columns, in the page's order."""

TableSource = Callable[[Runtime, Scope, float, str], Table]


def _report_table(name: str) -> TableSource:
    def source(runtime: Runtime, scope: Scope, now: float, lang: str) -> Table:
        return reports.table(runtime, name, scope, now, lang), headers(name, lang)
    return source


def _patrol_table(level: str) -> TableSource:
    def source(runtime: Runtime, scope: Scope, now: float, lang: str) -> Table:
        rows = patrol.patrol_rows(runtime, scope, level, lang, now)
        cols = [(c["field"], c["headerName"]) for c in patrol_columns(level, lang)]
        # the page shows the rate as a percentage with one decimal: so does the file
        rows = [{**r, "rate": None if r.get("rate") is None else round(100 * r["rate"], 1)} for r in rows]
        return rows, [(k, f"{h} %" if k == "rate" else h) for k, h in cols]
    return source


def sources() -> dict[str, TableSource]:
    """Each exportable table: the leadership page's report tables and the patrol tables."""
    out = {name: _report_table(name) for name in reports.TABLES if name in COLUMNS}
    out.update({f"patrol-{level}": _patrol_table(level) for level in (*patrol.LEVELS, "missed")})
    return out


@bp.before_request
def _not_before_caught_up() -> Response | None:
    return not_before_caught_up(_runtime())


@bp.get("/export/<table>.<fmt>")
def export(table: str, fmt: str) -> Any:
    """One report table of the query's scope as a file."""
    runtime = _runtime()
    table_sources = sources()
    if table not in table_sources:
        return _error(404, f"no table {table!r}; tables: {', '.join(sorted(table_sources))}")
    if fmt not in FORMATS:
        return _error(404, f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    lang = normalize_lang(request.args.get("lang"), runtime.config.lang)
    try:
        scope = _scope(runtime)
    except (PeriodError, ScopeError) as exc:
        return _error(400, str(exc))
    rows, cols = table_sources[table](runtime, scope, runtime.now(), lang)
    data = write(frame(rows, cols), fmt, table)
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

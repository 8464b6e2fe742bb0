"""Columns of every report table: key, header in zh-CN and English, and kind.

One list per table serves the page's AG Grid and the CSV/XLSX export, so a downloaded file
has the page's columns in the page's order with the page's numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Column = tuple[str, str, str, str]
"""(row key, zh header, en header, kind: text, int, pct, hours, grade, link)."""

COLUMNS: Mapping[str, tuple[Column, ...]] = {
    "ranking": (
        ("rank", "排名", "Rank", "int"),
        ("name", "名称", "Name", "link"),
        ("grade", "等级", "Grade", "grade"),
        ("score", "综合得分", "Score", "num"),
        ("accepted", "受理", "Accepted", "int"),
        ("closed", "结案", "Closed", "int"),
        ("closure_rate", "结案率%", "Closure %", "pct"),
        ("on_time_closure_rate", "按期结案率%", "On-time closure %", "pct"),
        ("satisfaction_rate", "满意度%", "Satisfaction %", "pct"),
        ("rework_rate", "返工率%", "Rework %", "pct"),
        ("overdue", "当前超期", "Overdue now", "int"),
        ("id", "编号", "Id", "text"),
    ),
    "categories": (
        ("rank", "序号", "#", "int"),
        ("name", "类别", "Category", "text"),
        ("group", "大类", "Group", "text"),
        ("accepted", "受理", "Accepted", "int"),
        ("closed", "结案", "Closed", "int"),
        ("closure_rate", "结案率%", "Closure %", "pct"),
        ("on_time_closure_rate", "按期结案率%", "On-time closure %", "pct"),
        ("rework_rate", "返工率%", "Rework %", "pct"),
        ("overdue", "当前超期", "Overdue now", "int"),
        ("id", "编号", "Id", "text"),
    ),
    "departments": (
        ("name", "部门", "Department", "link"),
        ("dispatched", "派遣", "Dispatched", "int"),
        ("processed", "已处理", "Processed", "int"),
        ("on_time_processing_rate", "按期处理率%", "On-time processing %", "pct"),
        ("rework_rate", "返工率%", "Rework %", "pct"),
        ("closed", "结案", "Closed", "int"),
        ("mean_close_h", "平均结案时长(小时)", "Mean time to close (h)", "num"),
        ("median_close_h", "结案时长中位数(小时)", "Median time to close (h)", "num"),
        ("overdue", "当前超期", "Overdue now", "int"),
        ("id", "编号", "Id", "text"),
    ),
}
"""Every exportable table's columns, in order."""


def headers(table: str, lang: str) -> list[tuple[str, str]]:
    """(key, header) of a table's columns in ``lang``."""
    return [(key, en if lang == "en" else zh) for key, zh, en, _ in COLUMNS[table]]


def column_defs(table: str, lang: str) -> list[dict[str, Any]]:
    """AG Grid column definitions of a table (links render as markdown links)."""
    out: list[dict[str, Any]] = []
    for key, zh, en, kind in COLUMNS[table]:
        col: dict[str, Any] = {"field": key, "headerName": en if lang == "en" else zh}
        if kind in ("int", "pct", "num"):
            col["type"] = "numericColumn"
            col["filter"] = "agNumberColumnFilter"
        if kind == "link":
            col["cellRenderer"] = "markdown"
            col["valueGetter"] = {"function": f"'[' + params.data.{key} + '](' + params.data.link + ')'"}
            col["filterValueGetter"] = {"function": f"params.data.{key}"}
            col["minWidth"] = 140
        if kind == "grade":
            col["cellClass"] = {"function": "'grade-cell grade-' + (params.value || 'none')"}
            col["maxWidth"] = 90
        if key in ("rank",):
            col["maxWidth"] = 80
        out.append(col)
    return out

"""Report tables of a scope (period + area): figures with 环比/同比, daily trends, rankings with
grades, categories and departments.

The leadership page, its CSV/XLSX exports and ``/api/v1/report/<table>`` all read these
functions, and these read only the KPI engine (:mod:`dashboard.kpis`): every number has one
implementation. Rows are flat dicts with stable English keys; rates are percentages rounded to
two decimals, exactly as shown and exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard import kpis
from dashboard.periods import Period, district_day, previous, year_before
from dashboard.reference import Reference
from dashboard.runtime import Runtime
from dashboard.scope import CHILD_LEVEL, Scope
from dashboard.tallies import CHANNELS, UNASSIGNED, cross_level

GRADE_WEIGHTS: Mapping[str, float] = {"closure_rate": 0.4, "on_time_closure_rate": 0.3,
                                      "satisfaction_rate": 0.3}
"""Composite score (0–100): 40 % closure rate, 30 % on-time closure rate, 30 % satisfaction.
A rate with no denominator (no ratings yet) is left out and the others re-weighted; an area
with no accepted case has no score."""

GRADES = ((90.0, "A"), (75.0, "B"), (60.0, "C"), (40.0, "D"), (float("-inf"), "E"))
"""Grade of a composite score: A ≥ 90, B 75–90, C 60–75, D 40–60, E < 40."""

FIGURES = ("accepted", "closed", "closure_rate", "on_time_closure_rate", "satisfaction_rate",
           "rework_rate", "self_handled", "mobile_disposal", "citizen_reported", "overdue",
           "mean_close_h")
"""The scope's headline figures, in the page's order."""

NOW_ONLY = frozenset({"overdue"})
"""Figures counted now, not over a period: no 环比/同比."""

TABLES = ("ranking", "categories", "departments")
"""The report tables (each is shown, exported and served by the API)."""


def pct(rate: float | None) -> float | None:
    """A rate as a percentage with two decimals (as shown and exported)."""
    return None if rate is None else round(rate * 100.0, 2)


def hours(value: float | None) -> float | None:
    """Hours with one decimal."""
    return None if value is None else round(value, 1)


def composite(record: Mapping[str, Any]) -> float | None:
    """Composite score of a KPI record (see :data:`GRADE_WEIGHTS`), two decimals."""
    if not record.get("accepted"):
        return None
    parts = [(w, record[k]) for k, w in GRADE_WEIGHTS.items() if record.get(k) is not None]
    weight = sum(w for w, _ in parts)
    if not weight:
        return None
    return round(100.0 * sum(w * v for w, v in parts) / weight, 2)


def grade(score: float | None) -> str | None:
    """A–E grade of a composite score (None without a score)."""
    if score is None:
        return None
    return next(g for floor, g in GRADES if score >= floor)


def child_areas(reference: Reference, scope: Scope) -> tuple[str, dict[str, Any]]:
    """The KPI level ranked under ``scope`` and its areas (id -> reference record or None).

    A grid has no child areas: its ranking is its community's grids (itself among them).
    """
    level = CHILD_LEVEL[scope.level] or "grids"
    if level == "streets":
        return level, dict(reference.streets)
    if level == "communities":
        return level, {k: a for k, a in reference.communities.items() if a.street_id == scope.street}
    parent = scope.community
    return level, {k: a for k, a in reference.grids.items() if a.community_id == parent}


def _name(reference: Reference, level: str, key: str, lang: str) -> str:
    tables: dict[str, Mapping[str, Any]] = {
        "streets": reference.streets, "communities": reference.communities, "grids": reference.grids,
        "departments": reference.units, "categories": reference.categories}
    found = tables.get(level, {}).get(key)
    if found is not None:
        return found.name(lang)
    if key == UNASSIGNED:
        return "未定位" if lang == "zh" else "not located"
    return key


def _report(runtime: Runtime, period: Period, now: float, levels: tuple[str, ...]) -> dict[str, Any]:
    return kpis.compute(runtime.state, period, now, levels)


def scope_record(runtime: Runtime, scope: Scope, period: Period, now: float) -> dict[str, Any]:
    """The KPI record of the scope's area over ``period``."""
    level, key = scope.group
    report = _report(runtime, period, now, () if level == "district" else (level,))
    if level == "district":
        return report["district"]  # type: ignore[no-any-return]
    return report[level].get(key) or kpis.finish([0] * len(kpis.COUNTS))  # type: ignore[no-any-return]


def figures(runtime: Runtime, scope: Scope, now: float) -> dict[str, Any]:
    """Headline figures of the scope with the previous period (环比) and a year before (同比,
    only where the history has that year's data)."""
    current = scope_record(runtime, scope, scope.period, now)
    prev_period = previous(scope.period)
    yoy_period = year_before(scope.period)
    prev = scope_record(runtime, scope, prev_period, now) if prev_period else None
    yoy = None
    if yoy_period is not None and yoy_period.start is not None and yoy_period.end is not None:
        with runtime.state.lock:
            has = runtime.state.tallies.has_days(yoy_period.start, yoy_period.end)
        if has:
            yoy = scope_record(runtime, scope, yoy_period, now)
    rows = []
    for name in FIGURES:
        value = _shown(name, current)
        row: dict[str, Any] = {"figure": name, "value": value}
        for label, other in (("previous", prev), ("year_before", yoy)):
            if other is None or name in NOW_ONLY:
                row[label] = row[f"{label}_change"] = None
                continue
            before = _shown(name, other)
            row[label] = before
            row[f"{label}_change"] = _change(name, value, before)
        rows.append(row)
    return {"scope": scope.as_dict(), "record": current, "rows": rows,
            "previous_period": prev_period.as_dict() if prev_period else None,
            "year_before_period": yoy_period.as_dict() if yoy is not None and yoy_period else None}


def _shown(name: str, record: Mapping[str, Any]) -> float | None:
    value = record.get(name)
    if name.endswith("_rate"):
        return pct(value)
    if name.endswith("_h"):
        return hours(value)
    return value


def _change(name: str, now: float | None, before: float | None) -> float | None:
    """Rates change in percentage points; counts and times in percent of the earlier value."""
    if now is None or before is None:
        return None
    if name.endswith("_rate"):
        return round(now - before, 2)
    if not before:
        return None
    return round(100.0 * (now - before) / before, 2)


def trend(runtime: Runtime, scope: Scope, now: float) -> list[dict[str, Any]]:
    """One row per day of the scope's period: cases by channel and by outcome."""
    period = scope.period
    if period.start is None or period.end is None:
        with runtime.state.lock:
            days = sorted(runtime.state.tallies.cases)
        today = district_day(now, runtime.config.tz)
        period = Period(period.start or (days[0] if days else today), period.end or today, period.label)
    out = []
    for day in kpis.daily(runtime.state, period, now, scope.group):
        closed, on_time = day["closed"], day["on_time_closed"]
        out.append({"day": day["day"], "accepted": day["accepted"],
                    **{c: day[f"ch_{c}"] for c in CHANNELS},
                    "closed_on_time": on_time, "closed_late": closed - on_time,
                    "open": day["accepted"] - closed})
    return out


def ranking(runtime: Runtime, scope: Scope, now: float, lang: str) -> list[dict[str, Any]]:
    """The scope's child areas ranked by composite score, with grades and drill-down links."""
    level, areas = child_areas(runtime.reference, scope)
    records = _report(runtime, scope.period, now, (level,))[level]
    keys = set(areas)
    if not areas:  # no reference data: rank what the events name
        keys = set(records)
    rows = []
    for key in keys:
        record = records.get(key) or kpis.finish([0] * len(kpis.COUNTS))
        score = composite(record)
        child = {"streets": "street", "communities": "community", "grids": "grid"}[level]
        rows.append({
            "id": key, "name": _name(runtime.reference, level, key, lang), "level": child,
            "accepted": record["accepted"], "closed": record["closed"],
            "closure_rate": pct(record["closure_rate"]),
            "on_time_closure_rate": pct(record["on_time_closure_rate"]),
            "satisfaction_rate": pct(record["satisfaction_rate"]),
            "rework_rate": pct(record["rework_rate"]), "overdue": record["overdue"],
            "score": score, "grade": grade(score),
            "link": scope_link(scope, child, key, lang),
        })
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0.0), -r["accepted"], r["id"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["score"] is not None else None
    return rows


def scope_link(scope: Scope, level: str, key: str, lang: str) -> str:
    """URL of the leadership page narrowed to one area (same period and language)."""
    fields: dict[str, Any] = {"street": None, "community": None, "grid": None}
    if level == "street":
        fields["street"] = key
    elif level == "community":
        fields.update(street=scope.street, community=key)
    else:
        fields.update(street=scope.street, community=scope.community, grid=key)
    return "/leaders" + scope.query(**fields, lang=lang if lang != "zh" else None)


def _cross(scope: Scope, what: str) -> str:
    """The KPI level of ``what`` (categories, departments) inside the scope's area."""
    level = scope.level
    if level == "district":
        return what
    if level == "grid" and what == "categories":
        level = "community"  # categories are not kept per grid: its community's are shown
    area = {"street": scope.street, "community": scope.community, "grid": scope.grid}[level] or ""
    return cross_level(f"{level}_{what}", area)


def categories(runtime: Runtime, scope: Scope, now: float, lang: str) -> list[dict[str, Any]]:
    """Every category with cases in the scope (plus the known ones with none), busiest first."""
    level = _cross(scope, "categories")
    found = _report(runtime, scope.period, now, (level,))[level]
    keys = set(found) | set(runtime.reference.categories)
    empty = kpis.finish([0] * len(kpis.COUNTS))
    rows = []
    for key in keys:
        record = found.get(key, empty)
        cat = runtime.reference.categories.get(key)
        rows.append({"id": key, "name": _name(runtime.reference, "categories", key, lang),
                     "group": (cat.group_en if lang == "en" else cat.group_zh) if cat else "",
                     "accepted": record["accepted"], "closed": record["closed"],
                     "closure_rate": pct(record["closure_rate"]),
                     "on_time_closure_rate": pct(record["on_time_closure_rate"]),
                     "rework_rate": pct(record["rework_rate"]), "overdue": record["overdue"]})
    rows.sort(key=lambda r: (-r["accepted"], -r["overdue"], r["id"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def departments(runtime: Runtime, scope: Scope, now: float, lang: str) -> list[dict[str, Any]]:
    """Each department's cases of the scope: dispatched, processed, on time, rework, time to close."""
    level = _cross(scope, "departments")
    found = _report(runtime, scope.period, now, (level,))[level]
    keys = set(found) | set(runtime.reference.departments())
    empty = kpis.finish([0] * len(kpis.COUNTS))
    rows = []
    for key in keys:
        record = found.get(key, empty)
        rows.append({"id": key, "name": _name(runtime.reference, "departments", key, lang),
                     "dispatched": record["accepted"], "processed": record["processed"],
                     "on_time_processing_rate": pct(record["on_time_processing_rate"]),
                     "rework_rate": pct(record["rework_rate"]), "closed": record["closed"],
                     "overdue": record["overdue"],
                     "mean_close_h": hours(record["mean_close_h"]),
                     "median_close_h": hours(record["median_close_h"]),
                     "link": f"/dept/{key}" + (f"?lang={lang}" if lang != "zh" else "")})
    rows.sort(key=lambda r: (r["on_time_processing_rate"] is None, r["on_time_processing_rate"] or 0.0,
                             -r["dispatched"], r["id"]))
    return rows


def table(runtime: Runtime, name: str, scope: Scope, now: float, lang: str) -> list[dict[str, Any]]:
    """Rows of one of :data:`TABLES`."""
    if name == "ranking":
        return ranking(runtime, scope, now, lang)
    if name == "categories":
        return categories(runtime, scope, now, lang)
    if name == "departments":
        return departments(runtime, scope, now, lang)
    raise KeyError(name)


def breadcrumb(reference: Reference, scope: Scope, lang: str) -> list[tuple[str, str]]:
    """(label, link) from the district down to the scope's area."""
    district = reference.district_name[1 if lang == "en" else 0]
    lang_q = lang if lang != "zh" else None
    out = [(district, "/leaders" + scope.query(street=None, community=None, grid=None, lang=lang_q))]
    if scope.street:
        out.append((_name(reference, "streets", scope.street, lang),
                    "/leaders" + scope.query(community=None, grid=None, lang=lang_q)))
    if scope.community:
        out.append((_name(reference, "communities", scope.community, lang),
                    "/leaders" + scope.query(grid=None, lang=lang_q)))
    if scope.grid:
        out.append((_name(reference, "grids", scope.grid, lang), "/leaders" + scope.query(lang=lang_q)))
    return out


def scope_name(reference: Reference, scope: Scope, lang: str) -> str:
    """The scope's area in words (the last breadcrumb)."""
    return breadcrumb(reference, scope, lang)[-1][0]

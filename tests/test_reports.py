"""Report tables on hand-made data: 环比/同比, grades, departments' times, exports = tables = API."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import redis

from dashboard import create_app, reports
from dashboard.app import runtime_of
from dashboard.periods import Period, parse_period
from dashboard.scope import Scope, ScopeError, parse_scope
from dashboard.tallies import BUCKET_BASE
from data_feed.publish import publish_many
from tests.events import CST, case_event, report
from tests.helpers import feed, make_runtime

NOW = datetime(2026, 6, 2, 12, tzinfo=CST).timestamp()


def t(day: str, clock: str = "09:00") -> str:
    return f"{day}T{clock}+08:00"


def month_of_cases(prefix: str, day: str, n: int, closed: int, street: str = "s1") -> list[dict[str, str]]:
    """``n`` cases reported on ``day``, the first ``closed`` of them closed an hour later."""
    out = []
    for i in range(n):
        out.append(report(f"{prefix}{i}", t(day), street=street))
        if i < closed:
            out.append(case_event("closed", f"{prefix}{i}", t(day, "10:00")))
    return out


def figure(figs: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in figs["rows"] if r["figure"] == name)


def test_month_on_month_and_year_on_year_on_hand_made_months(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, CASE_RETENTION_DAYS=800)
    feed(redis_conn, rt, [*month_of_cases("Y", "2025-05-10", 4, 2), *month_of_cases("A", "2026-04-10", 5, 5),
                          *month_of_cases("M", "2026-05-10", 10, 8)])
    last_month = parse_period("last_month", None, None, NOW, CST)  # type: ignore[arg-type]
    assert (last_month.start, last_month.end) == (date(2026, 5, 1), date(2026, 5, 31))
    figs = reports.figures(rt, Scope(last_month), NOW)
    accepted, closure = figure(figs, "accepted"), figure(figs, "closure_rate")
    assert (accepted["value"], accepted["previous"], accepted["year_before"]) == (10, 5, 4)
    assert accepted["previous_change"] == 100.0 and accepted["year_before_change"] == 150.0  # percent
    assert (closure["value"], closure["previous"], closure["year_before"]) == (80.0, 100.0, 50.0)
    assert closure["previous_change"] == -20.0 and closure["year_before_change"] == 30.0  # points
    assert figs["previous_period"]["from"] == "2026-04-01" and figs["previous_period"]["to"] == "2026-04-30"
    assert figs["year_before_period"]["from"] == "2025-05-01"
    assert figure(figs, "overdue")["previous"] is None  # counted now: no comparison

    # April's year before has no data: 同比 is absent, not zero
    april = Scope(Period(date(2026, 4, 1), date(2026, 4, 30), "custom"))
    figs = reports.figures(rt, april, NOW)
    assert figs["year_before_period"] is None and figure(figs, "accepted")["year_before"] is None
    assert figure(figs, "accepted")["previous"] == 0  # March: data window exists, nothing reported


@pytest.mark.parametrize(("rates", "score", "grade"), [
    ((0.9, 0.9, 0.9), 90.0, "A"), ((0.9, 0.9, 0.8997), 89.99, "B"), ((0.75, 0.75, 0.75), 75.0, "B"),
    ((0.749, 0.75, 0.75), 74.96, "C"), ((0.6, 0.6, 0.6), 60.0, "C"), ((0.4, 0.4, 0.4), 40.0, "D"),
    ((0.399, 0.4, 0.4), 39.96, "E"), ((1.0, 0.5, None), 78.57, "B"),
])
def test_composite_score_and_grade_boundaries(rates: tuple[float, float, float | None], score: float,
                                              grade: str) -> None:
    record = {"accepted": 3, "closure_rate": rates[0], "on_time_closure_rate": rates[1],
              "satisfaction_rate": rates[2]}
    assert reports.composite(record) == score
    assert reports.grade(reports.composite(record)) == grade


def test_no_cases_no_score() -> None:
    assert reports.composite({"accepted": 0, "closure_rate": None, "on_time_closure_rate": None,
                              "satisfaction_rate": None}) is None
    assert reports.grade(None) is None


def test_ranking_orders_by_score_and_links_down(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    # s1: 2 of 2 closed on time; s2: 1 of 2 closed
    feed(redis_conn, rt, [*month_of_cases("A", "2026-05-10", 2, 2, "s1"),
                          *month_of_cases("B", "2026-05-10", 2, 1, "s2")])
    scope = Scope(Period(date(2026, 5, 1), date(2026, 5, 31), "custom"))
    rows = reports.ranking(rt, scope, NOW, "zh")
    assert [r["id"] for r in rows] == ["s1", "s2"] and [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["closure_rate"] == 100.0 and rows[1]["closure_rate"] == 50.0
    assert rows[0]["link"] == "/leaders?from=2026-05-01&to=2026-05-31&street=s1"
    narrowed = reports.ranking(rt, Scope(scope.period, street="s1"), NOW, "en")
    assert all(r["level"] == "community" for r in narrowed)


def test_department_processing_and_time_to_close(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    events = []
    for i, (done, closed_after_h) in enumerate(((True, 2), (True, 4), (False, 10))):
        cid = f"D{i}"
        events += [report(cid, t("2026-05-10", "08:00"), category="lamp"),
                   case_event("dispatched", cid, t("2026-05-10", "08:05"), unit_id="dept-x",
                              unit_type="department", deadline=t("2026-05-10", "10:30"))]
        if done:
            events.append(case_event("processed", cid, t("2026-05-10", f"{8 + closed_after_h - 1:02d}:00")))
        events.append(case_event("closed", cid, t("2026-05-10", f"{8 + closed_after_h:02d}:00")))
    events += [report("D3", t("2026-05-10", "08:00")),
               case_event("dispatched", "D3", t("2026-05-10", "08:05"), unit_id="dept-x", unit_type="department"),
               case_event("returned", "D3", t("2026-05-10", "09:00"), reason="not fixed")]
    feed(redis_conn, rt, events)
    scope = Scope(Period(date(2026, 5, 1), date(2026, 5, 31), "custom"))
    row = next(r for r in reports.departments(rt, scope, NOW, "zh") if r["id"] == "dept-x")
    assert row["dispatched"] == 4 and row["processed"] == 2 and row["closed"] == 3
    assert row["on_time_processing_rate"] == 25.0  # D0 processed 09:00 by 10:30; D1 at 11:00 is late
    assert row["rework_rate"] == 25.0
    assert row["mean_close_h"] == round((2 + 4 + 10) / 3, 1)
    # the median (4 h) is read from a histogram whose buckets are 10 % wide
    assert abs(row["median_close_h"] - 4.0) <= 4.0 * (BUCKET_BASE - 1)


def test_scope_parameters_are_checked(redis_conn: redis.Redis, tmp_path: Path) -> None:
    from tests.browser import district

    ref_dir = district.write_reference(tmp_path / "ref")
    from dashboard.reference import load_reference

    ref = load_reference(ref_dir)
    street = next(iter(ref.streets))
    community = next(c for c in ref.communities.values() if c.street_id == street)
    other = next(s for s in ref.streets if s != street)
    scope = parse_scope({"community": community.area_id}, ref, NOW, CST)
    assert scope.street == street and scope.level == "community" and scope.period.label == "30d"
    with pytest.raises(ScopeError, match="does not contain"):
        parse_scope({"street": other, "community": community.area_id}, ref, NOW, CST)
    with pytest.raises(ScopeError, match="not a known street"):
        parse_scope({"street": "nope"}, ref, NOW, CST)


@pytest.fixture
def report_app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    publish_many(redis_conn, [*month_of_cases("A", "2026-05-10", 3, 3, "s1"),
                              *month_of_cases("B", "2026-05-12", 4, 1, "s2")])
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100})
    rt = runtime_of(app)
    try:
        assert rt.consumer.wait_caught_up(10)
        yield app, rt
    finally:
        rt.stop()


def test_exports_equal_the_table_and_the_kpi_api(report_app: tuple[Any, Any]) -> None:
    app, rt = report_app
    client = app.server.test_client()
    query = "?from=2026-05-01&to=2026-05-31"
    table = client.get(f"/api/v1/report/ranking{query}").get_json()["rows"]
    kpis = client.get(f"/api/v1/kpis{query}").get_json()
    resp = client.get(f"/export/ranking.csv{query}")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    disposition = resp.headers["Content-Disposition"]
    assert "ranking" in disposition and "2026-05-01_2026-05-31" in disposition
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert lines[0][:3] == ["排名", "名称", "等级"]
    by_id = {line[-1]: line for line in lines[1:]}
    assert set(by_id) == {r["id"] for r in table} == {"s1", "s2"}
    for row in table:
        line = by_id[row["id"]]
        assert int(line[4]) == row["accepted"] == kpis["streets"][row["id"]]["accepted"]
        assert float(line[6]) == row["closure_rate"] == round(100 * kpis["streets"][row["id"]]["closure_rate"], 2)
    xlsx = client.get(f"/export/ranking.xlsx{query}&lang=en")
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.values)
    assert values[0][:3] == ("Rank", "Name", "Grade")
    assert {(v[-1], v[4]) for v in values[1:]} == {(r["id"], r["accepted"]) for r in table}


def test_report_api_errors(report_app: tuple[Any, Any]) -> None:
    client = report_app[0].server.test_client()
    assert client.get("/api/v1/report/nope").status_code == 404
    assert client.get("/export/ranking.pdf").status_code == 404
    bad = client.get("/export/ranking.csv?period=yesterday")
    assert bad.status_code == 400 and "period" in json.loads(bad.data)["error"]
    assert client.get("/api/v1/report/figures?street=s1&from=2026-05-01&to=2026-05-31").status_code == 200
    trend = client.get("/api/v1/report/trend?from=2026-05-10&to=2026-05-12").get_json()["days"]
    assert [d["accepted"] for d in trend] == [3, 0, 4]
    assert [d["closed_on_time"] + d["closed_late"] for d in trend] == [3, 0, 1]


def test_patrol_exports_equal_the_patrol_api(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.events import iso

    now = datetime.now(CST)
    yesterday = (now - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    events: list[dict[str, str]] = []
    for i in range(3):
        events.append({"type": "checkpoint.registered", "ts": iso(yesterday - timedelta(days=2)),
                       "checkpoint_id": f"cp{i}", "category": "lamp", "lat": "41.12", "lon": "122.07",
                       "street_id": "s1", "warden_id": f"w{i % 2}"})
    for i in range(2):  # cp0 and cp1 inspected in yesterday's morning round, cp0 again in the afternoon
        events.append({"type": "inspection.completed", "ts": iso(yesterday), "checkpoint_id": f"cp{i}",
                       "warden_id": f"w{i % 2}", "result": "ok"})
    events.append({"type": "inspection.completed", "ts": iso(yesterday + timedelta(hours=6)),
                   "checkpoint_id": "cp0", "warden_id": "w0", "result": "ok"})
    publish_many(redis_conn, events)
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100})
    rt = runtime_of(app)
    try:
        assert rt.consumer.wait_caught_up(10)
        client = app.server.test_client()
        day = yesterday.date().isoformat()
        query = f"?from={day}&to={day}&street=s1"
        api = client.get(f"/api/v1/patrol{query}").get_json()
        resp = client.get(f"/export/patrol-wardens.csv{query}&lang=en")
        assert resp.status_code == 200
        lines = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
        rate_header = next(h for h in lines[0] if h.endswith(" %"))
        exported = {line[next(iter(line))]: line for line in lines}
        assert set(exported) == {r["warden_id"] for r in api["wardens"]} == {"w0", "w1"}
        for row in api["wardens"]:
            assert float(exported[row["warden_id"]][rate_header]) == round(100 * row["rate"], 1)
        w0 = next(r for r in api["wardens"] if r["warden_id"] == "w0")
        assert w0["rounds_done"] == 2 + 0  # cp0 twice; cp2 (also w0's) never
        missed = client.get(f"/export/patrol-missed.xlsx{query}")
        sheet = openpyxl.load_workbook(io.BytesIO(missed.data)).active
        assert len(list(sheet.values)) - 1 == len(api["missed_last_round"])
    finally:
        rt.stop()

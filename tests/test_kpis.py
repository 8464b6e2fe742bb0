"""KPI arithmetic on hand-made event sets: every KPI, period boundaries and the time zone."""

from __future__ import annotations

import time
from datetime import datetime

import redis

from dashboard import views
from dashboard.periods import Period, parse_period
from tests.events import CST, case_event, iso, report
from tests.helpers import feed, make_runtime

D = "2026-05-20"


def t(clock: str, day: str = D) -> str:
    return f"{day}T{clock}+08:00"


def may_period() -> Period:
    return Period(datetime(2026, 5, 1).date(), datetime(2026, 5, 31).date(), "custom")


def scenario() -> list[dict[str, str]]:
    """Eight cases, each exercising a different part of the definitions."""
    return [
        # K1: hotline, resolved on site within its limit, rated satisfied.
        report("K1", t("08:00"), channel="hotline"),
        case_event("resolved_on_site", "K1", t("08:30")),
        case_event("rated", "K1", t("09:00"), satisfied="true", score="5"),
        # K2: patrol, escalated, mobile team, closed after its 4 h hazard limit, rated unhappy.
        report("K2", t("08:00"), priority="hazard"),
        case_event("escalated", "K2", t("08:10")),
        case_event("dispatched", "K2", t("08:20"), unit_id="m1", unit_type="mobile_team"),
        case_event("processed", "K2", t("11:00"), unit_id="m1"),
        case_event("closed", "K2", t("13:00")),
        case_event("rated", "K2", t("14:00"), satisfied="false", score="2"),
        # K3: wechat, sent to a department with a past deadline, returned once, still open.
        report("K3", t("09:00"), channel="wechat", street="s2"),
        case_event("dispatched", "K3", t("09:30"), unit_id="dept-power", unit_type="department",
                   deadline=t("12:00")),
        case_event("processed", "K3", t("11:00")),
        case_event("returned", "K3", t("11:30"), reason="still broken"),
        # K4: web, voided: excluded from every KPI, even its rating.
        report("K4", t("10:00"), channel="web"),
        case_event("closed", "K4", t("10:30")),
        case_event("rated", "K4", t("10:40"), satisfied="false"),
        case_event("voided", "K4", t("11:00"), reason="duplicate"),
        # K5: reported in April, rated in May: counts for May's satisfaction only.
        report("K5", t("10:00", "2026-04-30"), channel="hotline"),
        case_event("closed", "K5", t("12:00", "2026-04-30")),
        case_event("rated", "K5", t("09:00"), satisfied="true"),
        # K6: department channel, closed then returned: last state is not closed.
        report("K6", t("10:00"), channel="department", street="s2"),
        case_event("closed", "K6", t("11:00")),
        case_event("returned", "K6", t("12:00")),
        # K7: street team then closed, rework then closed again, on time.
        report("K7", t("10:00")),
        case_event("dispatched", "K7", t("10:05"), unit_id="st1", unit_type="street_team"),
        case_event("closed", "K7", t("11:00")),
        case_event("returned", "K7", t("11:30")),
        case_event("closed", "K7", t("12:00")),
        # K8: department AND mobile team, reported 31 May, closed 1 June (not closed as of May's end).
        report("K8", t("23:00", "2026-05-31"), street=None),
        case_event("dispatched", "K8", t("23:10", "2026-05-31"), unit_id="dept-police",
                   unit_type="department"),
        case_event("dispatched", "K8", t("23:20", "2026-05-31"), unit_id="m2", unit_type="mobile_team"),
        case_event("closed", "K8", t("09:00", "2026-06-01")),
    ]


def test_every_kpi_matches_the_contract_definitions(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, scenario())
    now = datetime(2026, 6, 2, 12, 0, tzinfo=CST).timestamp()
    rep = views.kpi_report(rt, may_period(), now)
    d = rep["district"]
    # accepted: K1 K2 K3 K6 K7 K8 (K4 voided, K5 reported in April)
    assert d["accepted"] == 6
    # never dispatched to a department: K1 K2 K6 K7
    assert d["self_handled"] == 4
    assert d["mobile_disposal"] == 2  # K2 K8
    assert d["citizen_reported"] == 2  # K1 hotline, K3 wechat (K4 web is voided)
    # K1 K2 K7; K8 was closed on 1 June: closure is counted as of the period's end (contract, 2026-11-30)
    assert d["closed"] == 3
    assert d["closure_rate"] == 3 / 6
    # K2 closed 13:00 past its 12:00 hazard deadline (default hazard limit 4 h)
    assert d["on_time_closed"] == 2
    assert d["on_time_closure_rate"] == 2 / 6
    assert d["returned"] == 3  # K3 K6 K7
    assert d["rework_rate"] == 3 / 6
    # rated in May: K1 yes, K2 no, K5 yes (K4 voided)
    assert (d["rated"], d["satisfied"]) == (3, 2)
    assert d["satisfaction_rate"] == 2 / 3
    # open now: K3 (deadline 12:00 on the 20th passed) and K6 (72 h normal limit passed)
    assert d["overdue"] == 2
    s1, s2 = rep["streets"]["s1"], rep["streets"]["s2"]
    assert (s1["accepted"], s1["closed"], s1["rated"], s1["satisfied"]) == (3, 3, 3, 2)
    assert (s2["accepted"], s2["closed"], s2["returned"], s2["overdue"]) == (2, 0, 2, 2)
    assert s2["closure_rate"] == 0.0 and s2["satisfaction_rate"] is None
    assert rep["streets"]["unassigned"]["accepted"] == 1  # K8: no street, no boundaries
    assert rep["departments"]["dept-power"]["accepted"] == 1
    assert rep["departments"]["dept-police"]["closed"] == 0  # K8, closed on 1 June
    june = views.kpi_report(rt, Period(datetime(2026, 5, 1).date(), datetime(2026, 6, 1).date(), "custom"), now)
    assert june["departments"]["dept-police"]["closed"] == 1 and june["district"]["closed"] == 4


def test_rates_are_none_without_denominator(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    rep = views.kpi_report(rt, may_period(), time.time())
    d = rep["district"]
    assert d["accepted"] == 0
    for rate in ("closure_rate", "on_time_closure_rate", "rework_rate", "satisfaction_rate"):
        assert d[rate] is None


def test_period_boundaries_are_district_days(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [
        report("last-second-of-may", "2026-05-31T23:59:59+08:00"),
        report("first-second-of-june", "2026-06-01T00:00:00+08:00"),
        # 16:30 UTC on May 31 is 00:30 on June 1 in Shanghai: June for the district.
        report("utc-may-31", "2026-05-31T16:30:00Z"),
        report("first-of-may", "2026-05-01T00:00:00+08:00"),
        report("last-of-april", "2026-04-30T23:59:59+08:00"),
    ])
    now = datetime(2026, 6, 1, 12, tzinfo=CST).timestamp()
    may = views.kpi_report(rt, may_period(), now)["district"]["accepted"]
    june = views.kpi_report(rt, parse_period(None, "2026-06-01", "2026-06-01", now, rt.config.tz), now)
    assert may == 2
    assert june["district"]["accepted"] == 2
    def accepted(name: str) -> int:
        return views.kpi_report(rt, parse_period(name, None, None, now, rt.config.tz), now)["district"]["accepted"]

    assert accepted("today") == 2
    assert accepted("all") == 5
    assert accepted("7d") == 3  # May 26 to June 1


def test_time_zone_setting_moves_the_day_boundary(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, TZ="UTC")
    feed(redis_conn, rt, [report("utc-may-31", "2026-05-31T16:30:00Z")])
    now = datetime(2026, 6, 1, 12, tzinfo=CST).timestamp()
    assert views.kpi_report(rt, may_period(), now)["district"]["accepted"] == 1


def test_unknown_category_is_accepted_with_default_limit_and_counted(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, DEFAULT_LIMIT_HOURS="10,5,1")
    reported = datetime(2026, 5, 20, 8, tzinfo=CST)
    feed(redis_conn, rt, [report("K1", iso(reported), category="brand-new-category", priority="urgent")])
    case = rt.state.cases["K1"]
    assert case.deadline == reported.timestamp() + 5 * 3600
    assert rt.state.summary()["quality"]["unknown_categories"] == 1
    assert "brand-new-category" in rt.state.summary()["unknown_category_ids"]
    assert views.kpi_report(rt, may_period(), reported.timestamp())["district"]["accepted"] == 1


def test_overdue_and_colour_follow_the_time_limit(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)  # normal limit 72 h
    reported = datetime(2026, 5, 20, 8, tzinfo=CST).timestamp()
    feed(redis_conn, rt, [report("K1", t("08:00"))])
    case = rt.state.cases["K1"]
    assert case.colour(reported + 0.79 * 72 * 3600, 0.8) == "green"
    assert case.colour(reported + 0.80 * 72 * 3600, 0.8) == "yellow"
    assert case.colour(reported + 72 * 3600 + 1, 0.8) == "red"
    assert [a["case_id"] for a in views.alerts(rt, reported + 3600)] == []
    near = views.alerts(rt, reported + 0.9 * 72 * 3600)
    assert near[0]["colour"] == "yellow" and near[0]["overdue_seconds"] < 0
    assert views.kpi_report(rt, may_period(), reported + 73 * 3600)["district"]["overdue"] == 1


def test_alerts_put_hazard_first_then_most_overdue(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [
        report("old-normal", t("08:00", "2026-05-10")),
        report("newer-normal", t("08:00", "2026-05-12")),
        report("hazard", t("08:00", "2026-05-19"), priority="hazard"),
        report("closed-one", t("08:00", "2026-05-10")),
        case_event("closed", "closed-one", t("09:00", "2026-05-10")),
    ])
    now = datetime(2026, 5, 20, 12, tzinfo=CST).timestamp()
    order = [a["case_id"] for a in views.alerts(rt, now)]
    assert order == ["hazard", "old-normal", "newer-normal"]
    assert all(a["colour"] == "red" for a in views.alerts(rt, now))


def test_last_state_follows_event_time_not_arrival(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [
        report("K1", t("08:00")),
        case_event("closed", "K1", t("12:00")),
        # uploaded late: happened before the close, must not re-open the case
        case_event("returned", "K1", t("10:00")),
        report("K2", t("08:00")),
        case_event("closed", "K2", t("09:00")),
        case_event("returned", "K2", t("10:00")),  # after the close: re-opens
    ])
    k1, k2 = rt.state.cases["K1"], rt.state.cases["K2"]
    assert k1.state == "closed" and k1.returned_count == 1 and k1.closed_at is not None
    assert k2.state == "returned" and "K2" in rt.state.open_cases and "K1" not in rt.state.open_cases


def test_a_fresh_hazard_is_an_alert_at_once_and_on_top(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)  # hazard limit 4 h, normal 72 h
    reported = datetime(2026, 5, 20, 8, tzinfo=CST).timestamp()
    feed(redis_conn, rt, [report("N", t("08:00", "2026-05-10")), report("U", t("08:00"), priority="urgent"),
                          report("H", t("08:00"), priority="hazard")])
    # one second after its report the hazard is listed first; the urgent case (24 h) is not near yet
    assert [a["case_id"] for a in views.alerts(rt, reported + 1)] == ["H", "N"]
    assert [a["case_id"] for a in views.alerts(rt, reported + 20 * 3600)] == ["H", "N", "U"]  # 83 % used


def test_patrol_coverage_counts_per_round_and_street(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)  # rounds split at 12:00
    cps = [{"type": "checkpoint.registered", "ts": t("07:00"), "checkpoint_id": f"cp{n}", "category": "lamp",
            "lat": "41.12", "lon": "122.07", "street_id": "s1" if n < 3 else "s2"} for n in range(5)]
    insp = [{"type": "inspection.completed", "ts": t(clock), "checkpoint_id": cp, "warden_id": "w", "result": "ok"}
            for cp, clock in (("cp0", "08:00"), ("cp0", "09:00"), ("cp1", "11:59"), ("cp3", "12:00"),
                              ("cp9", "08:30"))]  # cp9 is inspected before it registers
    late = [{"type": "checkpoint.registered", "ts": t("10:00"), "checkpoint_id": "cp9", "category": "lamp",
             "lat": "41.12", "lon": "122.07", "street_id": "s2"},
            # cp4 moves from s2 to s1 after its morning inspection
            {"type": "inspection.completed", "ts": t("10:30"), "checkpoint_id": "cp4", "warden_id": "w",
             "result": "ok"},
            {"type": "checkpoint.registered", "ts": t("10:45"), "checkpoint_id": "cp4", "category": "lamp",
             "lat": "41.12", "lon": "122.07", "street_id": "s1"}]
    feed(redis_conn, rt, cps + insp + late)
    morning = views.patrol_coverage(rt, datetime(2026, 5, 20, 11, tzinfo=CST).timestamp())
    assert morning["round"]["name"] == "am"
    assert morning["district"] == {"covered": 4, "registered": 6, "rate": 4 / 6}  # cp0 cp1 cp9 cp4
    assert morning["streets"]["s1"] == {"covered": 3, "registered": 4, "rate": 0.75}  # cp0 cp1 cp4
    assert morning["streets"]["s2"] == {"covered": 1, "registered": 2, "rate": 0.5}  # cp9 (cp3: afternoon)
    afternoon = views.patrol_coverage(rt, datetime(2026, 5, 20, 13, tzinfo=CST).timestamp())
    assert afternoon["round"]["name"] == "pm" and afternoon["district"]["covered"] == 1


def test_closure_is_counted_as_of_the_period_end(redis_conn: redis.Redis) -> None:
    """The contract since 2026-11-30: a published month does not change when its cases close later."""
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [
        report("A", t("10:00", "2026-05-31")), case_event("closed", "A", t("09:00", "2026-06-02")),
        report("B", t("10:00", "2026-05-30")), case_event("closed", "B", t("23:59", "2026-05-31")),
        report("C", t("10:00", "2026-05-31")),  # still open
        # closed in May, reopened (returned) in June, closed again in June: closed as of its latest closure
        report("D", t("08:00", "2026-05-10")), case_event("closed", "D", t("09:00", "2026-05-10")),
        case_event("returned", "D", t("09:00", "2026-06-03")), case_event("closed", "D", t("10:00", "2026-06-04")),
    ])
    now = datetime(2026, 6, 10, 12, tzinfo=CST).timestamp()
    may = views.kpi_report(rt, may_period(), now)["district"]
    assert (may["accepted"], may["closed"]) == (4, 1)  # only B was closed by 31 May (D's closure is June's)
    assert may["closure_rate"] == 0.25
    june1 = Period(datetime(2026, 5, 1).date(), datetime(2026, 6, 2).date(), "custom")
    through = views.kpi_report(rt, june1, now)["district"]
    assert through["closed"] == 2  # A closed on 2 June, inside this period's end
    current = views.kpi_report(rt, Period(datetime(2026, 5, 1).date(), datetime(2026, 6, 10).date(), "custom"), now)
    assert current["district"]["closed"] == 3  # includes today: as of now
    assert views.kpi_report(rt, Period(None, None, "all"), now)["district"]["closed"] == 3

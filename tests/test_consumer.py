"""Consumer: dead letters exactly once, idempotence, late events, restarts and Redis outages."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from dashboard import views
from dashboard.periods import parse_period
from data_feed.publish import publish, publish_many
from tests.events import VALID, case_event, report
from tests.helpers import RedisProcess, drain, feed, make_runtime


def t(clock: str, day: str = "2026-05-20") -> str:
    return f"{day}T{clock}+08:00"


def accepted_all(rt) -> int:  # type: ignore[no-untyped-def]
    period = parse_period("all", None, None, time.time(), rt.config.tz)
    return views.kpi_report(rt, period)["district"]["accepted"]


def test_malformed_entry_goes_to_deadletter_with_reason_and_original_fields(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    bad = dict(VALID["case.reported"], lat="north", stream="oops")
    entry_id = redis_conn.xadd("grid:events", bad)
    publish(redis_conn, report("K-ok", t("08:00")))
    drain(rt)
    dead = redis_conn.xrange("grid:deadletter")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields["error"] == "lat='north' is not a number"
    assert fields["stream"] == "grid:events"
    assert fields["entry_id"] == entry_id
    assert fields["orig.stream"] == "oops"  # a clashing original field is kept, renamed
    for key, value in bad.items():
        if key != "stream":
            assert fields[key] == value
    assert "K-ok" in rt.state.cases  # the app kept going


def test_deadletter_is_written_once_across_restarts_and_processes(redis_conn: redis.Redis) -> None:
    redis_conn.xadd("grid:events", {"type": "case.closed", "ts": "not a time", "case_id": "K"})
    redis_conn.xadd("grid:positions", {"type": "warden.position", "ts": t("08:00"), "warden_id": "w"})
    first = make_runtime(redis_conn)
    drain(first)
    assert redis_conn.xlen("grid:deadletter") == 2
    # A restarted process (fresh state, same history) and a second process both reject them again.
    for _ in range(2):
        drain(make_runtime(redis_conn, POSITION_LOOKBACK_S=10**9))
    assert redis_conn.xlen("grid:deadletter") == 2
    reasons = sorted(f["error"] for _, f in redis_conn.xrange("grid:deadletter"))
    assert reasons == ["missing required field 'lat'", "ts='not a time' is not an ISO 8601 timestamp"]


def test_repeated_event_id_is_applied_once(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    rep = report("K1", t("08:00"), event_id="e-1")
    ret = case_event("returned", "K1", t("09:00"), event_id="e-2")
    feed(redis_conn, rt, [rep, rep, ret, ret, ret])
    assert accepted_all(rt) == 1
    assert rt.state.cases["K1"].returned_count == 1
    assert rt.state.quality.duplicates == 3
    assert redis_conn.xlen("grid:deadletter") == 0


def test_second_report_of_a_case_is_dead_lettered(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [report("K1", t("08:00")), report("K1", t("08:05"), channel="web")])
    assert rt.state.cases["K1"].channel == "patrol"
    dead = redis_conn.xrange("grid:deadletter")
    assert len(dead) == 1 and "already reported" in dead[0][1]["error"]


def test_late_case_events_wait_for_their_report(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [case_event("dispatched", "K1", t("09:00"), unit_id="d", unit_type="department"),
                          case_event("closed", "K1", t("10:00"))])
    assert "K1" not in rt.state.cases and rt.state.pending_count == 2
    feed(redis_conn, rt, [report("K1", t("08:00"))])
    case = rt.state.cases["K1"]
    assert case.state == "closed" and case.departments == {"d"}
    assert rt.state.pending_count == 0 and redis_conn.xlen("grid:deadletter") == 0


def test_late_events_past_the_window_are_dead_lettered_once(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, LATE_WINDOW_S=0.3)
    feed(redis_conn, rt, [case_event("closed", "K-late", t("10:00"))])
    assert rt.state.pending_count == 1
    time.sleep(0.5)
    drain(rt)  # caught up: the Redis clock passes the window
    assert rt.state.pending_count == 0
    feed(redis_conn, rt, [report("K-late", t("08:00"))])
    assert rt.state.cases["K-late"].state == "reported"  # the expired close was not applied
    dead = redis_conn.xrange("grid:deadletter")
    assert len(dead) == 1 and "late window" in dead[0][1]["error"]
    # Replaying the whole history decides the same way and writes nothing new.
    again = make_runtime(redis_conn, LATE_WINDOW_S=0.3)
    drain(again)
    assert again.state.cases["K-late"].state == "reported"
    assert redis_conn.xlen("grid:deadletter") == 1


def test_restart_rebuilds_the_same_state_without_double_counting(redis_conn: redis.Redis) -> None:
    events = []
    for n in range(1200):  # more than one XREAD batch
        events.append(report(f"K{n}", t("08:00"), event_id=f"r{n}"))
        if n % 3 == 0:
            events.append(case_event("closed", f"K{n}", t("09:00"), event_id=f"c{n}"))
    publish_many(redis_conn, events)
    first = make_runtime(redis_conn, READ_COUNT=500)
    drain(first)
    publish_many(redis_conn, events[:50])  # producer retries
    publish_many(redis_conn, [report("K-new", t("10:00"))])
    drain(first)
    restarted = make_runtime(redis_conn, READ_COUNT=500)
    drain(restarted)
    for rt in (first, restarted):
        rep = views.kpi_report(rt, parse_period("all", None, None, time.time(), rt.config.tz))
        assert rep["district"]["accepted"] == 1201
        assert rep["district"]["closed"] == 400


def test_positions_replay_only_the_recent_past(redis_conn: redis.Redis) -> None:
    now_ms = int(time.time() * 1000)
    redis_conn.xadd("grid:positions", dict(VALID["warden.position"], warden_id="old"), id=f"{now_ms - 3_600_000}-0")
    redis_conn.xadd("grid:positions", dict(VALID["warden.position"], warden_id="recent"), id=f"{now_ms - 60_000}-0")
    rt = make_runtime(redis_conn, POSITION_LOOKBACK_S=600)
    drain(rt)
    assert set(rt.state.wardens) == {"recent"}


def test_personal_data_never_reaches_logs(redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rt = make_runtime(redis_conn)
    secret = dict(VALID["case.reported"], lat="999")  # rejected: logged with its reason
    feed(redis_conn, rt, [secret, dict(VALID["case.reported"], case_id="K2", category="nope")])
    assert redis_conn.xlen("grid:deadletter") == 1
    assert "out of range" in caplog.text
    for value in (VALID["case.reported"]["description"], VALID["case.reported"]["reporter_phone"]):
        assert value not in caplog.text


# ------------------------------------------------------------------ Redis outage
def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_consumer_survives_redis_restart_and_resumes(redis_process: RedisProcess) -> None:
    from data_feed.connection import connect_url

    conn = connect_url(redis_process.url)
    producer = redis.Redis.from_url(redis_process.url, decode_responses=True)
    rt = make_runtime(conn, BLOCK_MS=200)
    rt.consumer.backoff_initial_s = 0.1
    rt.consumer.backoff_max_s = 0.4
    publish_many(producer, [report(f"A{n}", t("08:00")) for n in range(300)])
    rt.start()
    try:
        assert _wait(lambda: len(rt.state.cases) == 300)
        redis_process.stop()
        assert _wait(lambda: not rt.consumer.status.connected)
        reconnects = rt.consumer.status.reconnects
        time.sleep(0.5)
        redis_process.start()
        publish_many(producer, [report(f"B{n}", t("09:00")) for n in range(200)])
        assert _wait(lambda: len(rt.state.cases) == 500)
        assert rt.consumer.status.connected
        assert rt.consumer.status.reconnects >= reconnects >= 1
        assert accepted_all(rt) == 500  # nothing lost, nothing counted twice
        assert producer.xlen("grid:deadletter") == 0  # the outage made no entry look malformed
    finally:
        rt.stop()


def test_dedupe_window_bounds_memory_by_event_time(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, DEDUPE_WINDOW_S=86400)
    feed(redis_conn, rt, [report("K1", t("08:00", "2026-05-17"), event_id="e-1"),
                          case_event("returned", "K1", t("09:00"), event_id="e-2"),
                          case_event("returned", "K1", t("09:00"), event_id="e-2")])  # a retry: ignored
    assert rt.state.cases["K1"].returned_count == 1
    # e-1's event time is three days before the newest: forgotten (a backfill keeps a window, not all)
    assert not rt.state.ingestion.seen("e-1") and rt.state.ingestion.seen("e-2")


def test_an_internal_error_dead_letters_the_entry_and_the_stream_goes_on(
        redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    rt = make_runtime(redis_conn)
    original = rt.state.book._handlers["case.escalated"]

    def broken(case: object, event: object) -> None:
        original(case, event)  # changes the case (its copy) ...
        raise KeyError("13800000000")  # ... then a bug whose message happens to quote a phone number

    monkeypatch.setitem(rt.state.book._handlers, "case.escalated", broken)
    feed(redis_conn, rt, [report("K1", t("08:00"), reporter_phone="13800000000"),
                          case_event("escalated", "K1", t("08:10"), level="district"),
                          case_event("closed", "K1", t("09:00"))])
    assert rt.state.cases["K1"].state == "closed"
    assert rt.state.cases["K1"].escalation_level is None  # nothing of the failed event stayed
    dead = redis_conn.xrange("grid:deadletter")
    assert len(dead) == 1 and dead[0][1]["error"].startswith("internal error while applying (KeyError)")
    assert "Traceback" in caplog.text and "broken" in caplog.text  # the traceback is logged ...
    assert "13800000000" not in caplog.text and "13800000000" not in dead[0][1]["error"]  # ... redacted

"""Single entries that used to break the consumer (issue 8): bytes, size, order, time, logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from dashboard import create_app
from dashboard.app import runtime_of
from data_feed.connection import bytes_client as raw_client
from tests.events import case_event, report
from tests.helpers import drain, feed, make_runtime


def t(clock: str, day: str = "2026-05-20") -> str:
    return f"{day}T{clock}+08:00"


@pytest.mark.parametrize("where", ["value", "name"])
def test_an_entry_that_is_not_utf8_is_dead_lettered_with_its_bytes_and_the_stream_goes_on(
        redis_conn: redis.Redis, redis_url: str, tmp_path: Path, where: str) -> None:
    good = report("K1", t("08:00"))
    poison: dict[bytes, bytes] = {k.encode(): v.encode() for k, v in report("K2", t("08:01")).items()}
    if where == "value":
        poison[b"category"] = b"\xff\xfe"
    else:
        poison[b"\xff\xfeoops"] = b"x"
    redis_conn.xadd("grid:events", good)  # type: ignore[arg-type]
    bad_id = redis_conn.xadd("grid:events", poison)  # type: ignore[arg-type]
    redis_conn.xadd("grid:events", report("K3", t("08:02")))  # type: ignore[arg-type]
    redis_conn.xadd("grid:positions", {b"type": b"warden.position", b"ts": t("08:00").encode(),  # type: ignore[dict-item]
                                       b"warden_id": b"w\xff", b"lat": b"41.1", b"lon": b"122.1"})
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "START_CONSUMER": False,
                      "POSITION_LOOKBACK_S": 10**9})
    rt = runtime_of(app)
    drain(rt)
    assert set(rt.state.cases) == {"K1", "K3"}  # everything after the poison entry was applied
    raw = raw_client(redis_conn)  # the same server and database, answering in bytes
    dead = {(f[b"stream"], f[b"entry_id"].decode()): f for _, f in raw.xrange("grid:deadletter")}
    assert len(dead) == 2
    letter = dead[(b"grid:events", bad_id)]
    assert b"not valid UTF-8" in letter[b"error"]
    if where == "value":
        assert letter[b"category"] == b"\xff\xfe"  # its bytes preserved
    else:
        assert letter[b"\xff\xfeoops"] == b"x"
    health = app.server.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["consumer"]["undecodable"] == 2


def test_a_rejected_entry_with_thousands_of_fields_is_still_dead_lettered(redis_conn: redis.Redis) -> None:
    huge = {"type": "case.closed", "ts": "not a time", "case_id": "K"}
    huge.update({f"f{n}": "v" for n in range(5000)})
    huge["blob"] = "x" * 100_000
    entry_id = redis_conn.xadd("grid:events", huge)  # type: ignore[arg-type]
    rt = make_runtime(redis_conn)
    drain(rt)
    letters = redis_conn.xrange("grid:deadletter")
    assert len(letters) == 1 and letters[0][1]["entry_id"] == entry_id
    fields = letters[0][1]
    assert int(fields["dl.omitted_fields"]) > 0  # marked, not dropped
    assert rt.consumer.status.deadlettered == 1 and not rt.consumer._unwritten


def test_a_long_value_is_cut_and_marked_in_the_dead_letter(redis_conn: redis.Redis) -> None:
    redis_conn.xadd("grid:events", {"type": "case.closed", "ts": "x" * 100_000, "case_id": "K"})
    drain(make_runtime(redis_conn))
    fields = redis_conn.xrange("grid:deadletter")[0][1]
    assert len(fields["ts"]) < 20_000 and "cut: 100000 bytes" in fields["ts"]
    assert len(fields["error"]) < 2100


def test_a_late_older_rating_does_not_overwrite_a_newer_one(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn)
    feed(redis_conn, rt, [report("K1", t("08:00")), case_event("closed", "K1", t("09:00")),
                          case_event("rated", "K1", t("11:00"), satisfied="true"),
                          case_event("rated", "K1", t("10:00"), satisfied="false")])
    case = rt.state.cases["K1"]
    assert case.satisfied is True and case.rated_at is not None


def test_a_dead_lettered_late_event_does_not_count_as_seen(redis_conn: redis.Redis) -> None:
    rt = make_runtime(redis_conn, LATE_WINDOW_S=1)
    now_ms = redis_conn.time()[0] * 1000
    redis_conn.xadd("grid:events", case_event("closed", "K1", t("09:00"), event_id="close-1"),  # type: ignore[arg-type]
                    id=f"{now_ms - 10_000}-0")
    drain(rt)  # held, then expired past the late window: dead-lettered
    assert redis_conn.xlen("grid:deadletter") == 1
    feed(redis_conn, rt, [report("K1", t("08:00")),
                          case_event("closed", "K1", t("09:00"), event_id="close-1")])  # the producer retries
    assert rt.state.cases["K1"].state == "closed"


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59+08:00", "2031-01-01T00:00:00+08:00",
                                   "1970-01-02T00:00:00+08:00"])
def test_timestamps_far_from_the_entry_time_are_rejected_with_a_reason(redis_conn: redis.Redis, stamp: str) -> None:
    rt = make_runtime(redis_conn, POSITION_LOOKBACK_S=10**9)
    now = redis_conn.time()[0]
    from datetime import datetime

    from tests.events import CST
    real = datetime.fromtimestamp(now, CST).isoformat()
    feed(redis_conn, rt, [
        {"type": "warden.position", "ts": stamp, "warden_id": "w1", "lat": "41.1", "lon": "122.1"},
        {"type": "warden.position", "ts": real, "warden_id": "w1", "lat": "41.2", "lon": "122.2"},
        report("K1", stamp)])
    assert rt.state.wardens["w1"][0] == 41.2  # the real position moves the warden
    errors = [f["error"] for _, f in redis_conn.xrange("grid:deadletter")]
    assert len(errors) == 2 and all("GRID_MAX" in e or "out of range" in e for e in errors), errors
    assert "K1" not in rt.state.cases


def test_a_rejection_is_logged_once_and_short(redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    redis_conn.xadd("grid:events", {"type": "case.closed", "ts": "y" * 50_000, "case_id": "K"})
    drain(make_runtime(redis_conn))
    drain(make_runtime(redis_conn))  # a restart replays the history: no second log line
    lines = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 1 and len(lines[0]) < 500

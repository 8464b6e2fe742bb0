"""Order (issue 8): any upload order within the late window, duplicates and hours-late uploads
end in the same state and KPIs as the in-order run.

A handful of hand-made cases with full lifecycles (re-dispatch with a new deadline, two
escalations, two ratings, rework, on-site resolution, void, an inspection naming a case) are
XADDed with explicit stream ids: every event is uploaded hours after it happened; hypothesis
permutes them (a case event may come up to ~45 min of stream time before its report), repeats
some (same ``event_id``), moves some to a second upload three hours later, and varies the read
batch size. The final cases, KPIs and alerts must equal those of the in-order run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import views
from dashboard.periods import parse_period
from dashboard.runtime import Runtime
from data_feed.publish import stream_for
from tests.events import CST
from tests.helpers import drain, make_runtime

MIN = 60.0
HOUR = 3600.0

CASE_FIELDS = ("state", "state_ts", "closed_at", "resolved_on_site", "returned_count", "rated_at", "rating_day",
               "satisfied", "score", "departments", "dispatched_types", "deadline", "escalation_level",
               "checkpoint_id", "street_id", "community_id", "channel", "priority")
"""Everything of a case that an upload order could change."""


def lifecycles(t0: float) -> list[dict[str, str]]:
    """The hand-made cases' events (``ts`` from ``t0``), each with a unique ``event_id``."""

    def at(minutes: float) -> str:
        return datetime.fromtimestamp(t0 + minutes * MIN, CST).isoformat()

    def ev(kind: str, case_id: str, minutes: float, **fields: str) -> dict[str, str]:
        return {"type": kind, "ts": at(minutes), "case_id": case_id, **fields}

    def rep(case_id: str, minutes: float, **fields: str) -> dict[str, str]:
        return ev("case.reported", case_id, minutes, category="lamp", lat="41.12", lon="122.07", **fields)

    events = [
        # A: escalated twice, dispatched, reworked, re-dispatched with a later deadline, closed, rated twice
        rep("A", 0, channel="hotline", street_id="s1", checkpoint_id="cp1"),
        ev("case.escalated", "A", 10, level="street"),
        ev("case.escalated", "A", 20, level="district"),
        ev("case.dispatched", "A", 30, unit_id="d1", unit_type="department", deadline=at(240)),
        ev("case.processed", "A", 120, unit_id="d1"),
        ev("case.returned", "A", 180, reason="not fixed"),
        ev("case.dispatched", "A", 190, unit_id="d2", unit_type="department", deadline=at(1800)),
        ev("case.processed", "A", 300, unit_id="d2"),
        ev("case.closed", "A", 360, verified_by="center"),
        ev("case.rated", "A", 420, satisfied="false", score="2"),
        ev("case.rated", "A", 480, satisfied="true", score="4"),
        # B: found on patrol, the checkpoint named by the inspection, resolved on site
        rep("B", 5, channel="patrol", street_id="s2", community_id="c2"),
        {"type": "inspection.completed", "ts": at(6), "checkpoint_id": "cp2", "warden_id": "w1",
         "result": "problem", "case_id": "B"},
        ev("case.resolved_on_site", "B", 15, warden_id="w1"),
        ev("case.rated", "B", 60, satisfied="true", score="5"),
        # C: a hazard to a mobile team, still open (overdue now)
        rep("C", 40, channel="wechat", priority="hazard", street_id="s3"),
        ev("case.dispatched", "C", 50, unit_id="m1", unit_type="mobile_team"),
        ev("case.processed", "C", 100, unit_id="m1"),
        # D: voided
        rep("D", 60, channel="web", priority="urgent", street_id="s1"),
        ev("case.dispatched", "D", 70, unit_id="t1", unit_type="street_team"),
        ev("case.voided", "D", 90, reason="duplicate"),
        # E: closed after its dispatch deadline (not on time)
        rep("E", 100, channel="department", street_id="s2"),
        ev("case.dispatched", "E", 110, unit_id="d1", unit_type="department", deadline=at(180)),
        ev("case.processed", "E", 200, unit_id="d1"),
        ev("case.closed", "E", 260),
        ev("case.rated", "E", 270, satisfied="false"),
    ]
    for n, e in enumerate(events):
        e["event_id"] = f"ev-{n}"
    return events


def checkpoints(t0: float) -> list[dict[str, str]]:
    """The checkpoints the cases use, registered long before."""
    ts = datetime.fromtimestamp(t0 - 86400, CST).isoformat()
    return [{"type": "checkpoint.registered", "ts": ts, "checkpoint_id": cp, "category": "lamp",
             "lat": "41.12", "lon": "122.07", "street_id": street, "community_id": community}
            for cp, street, community in (("cp1", "s1", "c1"), ("cp2", "s2", "c2"))]


def upload(conn: redis.Redis, segments: list[tuple[float, list[dict[str, str]]]]) -> None:
    """XADD each segment's entries one minute apart from its start (epoch seconds), in order."""
    pipe = conn.pipeline(transaction=False)
    for start, entries in segments:
        for k, fields in enumerate(entries):
            pipe.xadd(stream_for(fields), fields, id=f"{int((start + k * MIN) * 1000)}-0")  # type: ignore[arg-type]
    pipe.execute()


def picture(rt: Runtime, now: float) -> dict[str, Any]:
    """Cases, KPIs and alerts at ``now``: what must not depend on the upload order."""
    state = rt.state
    with state.lock:
        cases = {cid: {f: getattr(c, f) for f in CASE_FIELDS} for cid, c in state.cases.items()}
    period = parse_period("all", None, None, now, rt.config.tz)
    return {"cases": cases, "kpis": views.kpi_report(rt, period, now),
            # listed_at is when this process listed an alert (wall time), not part of the picture
            "alerts": [{k: v for k, v in a.items() if k != "listed_at"} for a in views.alerts(rt, now)],
            "held": state.pending_count}


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Where two pictures differ (for a readable failure)."""
    out: dict[str, Any] = {}
    for cid in sorted(set(a["cases"]) | set(b["cases"])):
        ca, cb = a["cases"].get(cid, {}), b["cases"].get(cid, {})
        fields = {f: (ca.get(f), cb.get(f)) for f in CASE_FIELDS if ca.get(f) != cb.get(f)}
        if fields:
            out[f"case {cid} (in order, permuted)"] = fields
    if a["kpis"]["district"] != b["kpis"]["district"]:
        out["district kpis"] = {k: (v, b["kpis"]["district"].get(k)) for k, v in a["kpis"]["district"].items()
                                if v != b["kpis"]["district"].get(k)}
    return out


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    logging.disable(logging.WARNING)  # unknown street ids are warned about on purpose
    yield
    logging.disable(logging.NOTSET)


def in_order_picture(conn: redis.Redis, now: float, t0: float) -> dict[str, Any]:
    """The reference: every event uploaded once, in the order it happened."""
    conn.flushdb()
    events = sorted(lifecycles(t0), key=lambda e: datetime.fromisoformat(e["ts"]).timestamp())
    upload(conn, [(now - 5 * HOUR, checkpoints(t0) + events)])
    rt = make_runtime(conn)
    drain(rt)
    assert conn.xlen("grid:deadletter") == 0
    return picture(rt, now)


N_EVENTS = len(lifecycles(0))
NOT_REPORTS = [n for n, e in enumerate(lifecycles(0)) if e["type"] != "case.reported"]


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(order=st.permutations(range(N_EVENTS)),
       late=st.sets(st.sampled_from(NOT_REPORTS), max_size=8),
       repeats=st.lists(st.tuples(st.integers(0, N_EVENTS - 1), st.integers(0, 10**6)), max_size=6),
       read_count=st.integers(1, 40))
def test_permuted_repeated_and_hours_late_uploads_end_as_the_in_order_run(
        redis_server: redis.Redis, quiet_logs: None, order: list[int], late: set[int],
        repeats: list[tuple[int, int]], read_count: int) -> None:
    now = float(redis_server.time()[0])
    t0 = now - 20 * HOUR  # every event is uploaded at least ~2 hours after it happened
    expected = in_order_picture(redis_server, now, t0)

    redis_server.flushdb()
    events = lifecycles(t0)
    first = [events[n] for n in order if n not in late]  # within ~45 min of stream time
    second = [events[n] for n in order if n in late]  # three hours later still
    for n, where in repeats:  # the producer retried: the same event again (same event_id)
        seq = first if where % 2 else second
        seq.insert(where // 2 % (len(seq) + 1), dict(events[n]))
    start = now - 5 * HOUR
    upload(redis_server, [(start, checkpoints(t0) + first), (start + 3 * HOUR, second)])
    rt = make_runtime(redis_server, READ_COUNT=read_count)
    drain(rt)

    letters = [f["error"] for _, f in redis_server.xrange("grid:deadletter")]
    assert letters == [], letters
    got = picture(rt, now)
    assert got == expected, diff(expected, got)
    assert rt.state.quality.applied == 2 + N_EVENTS  # two checkpoints and every event, each once
    assert rt.state.quality.duplicates == len(repeats)


# ---------------------------------------------------------------------- the smallest failing orders
def _run(conn: redis.Redis, events: list[dict[str, str]]) -> Runtime:
    now = float(conn.time()[0])
    upload(conn, [(now - HOUR, events)])
    rt = make_runtime(conn)
    drain(rt)
    return rt


def test_a_late_older_dispatch_does_not_overwrite_the_newer_deadline(redis_conn: redis.Redis) -> None:
    t0 = float(redis_conn.time()[0]) - 20 * HOUR
    events = {e["event_id"]: e for e in lifecycles(t0)}
    # A's re-dispatch (deadline t0+30 h) arrives before its first dispatch (deadline t0+4 h)
    rt = _run(redis_conn, [events["ev-0"], events["ev-6"], events["ev-3"]])
    assert rt.state.cases["A"].deadline == pytest.approx(t0 + 1800 * MIN)


def test_a_late_older_escalation_does_not_overwrite_the_newer_level(redis_conn: redis.Redis) -> None:
    t0 = float(redis_conn.time()[0]) - 20 * HOUR
    events = {e["event_id"]: e for e in lifecycles(t0)}
    rt = _run(redis_conn, [events["ev-0"], events["ev-2"], events["ev-1"]])  # district, then (older) street
    assert rt.state.cases["A"].escalation_level == "district"


def test_an_older_position_uploaded_late_does_not_move_the_warden_back(redis_conn: redis.Redis) -> None:
    now = float(redis_conn.time()[0])
    at = [datetime.fromtimestamp(now - s, CST).isoformat() for s in (60, 3 * HOUR)]
    upload(redis_conn, [(now - 2 * MIN, [
        {"type": "warden.position", "ts": at[0], "warden_id": "w1", "lat": "41.2", "lon": "122.2"},
        {"type": "warden.position", "ts": at[1], "warden_id": "w1", "lat": "41.1", "lon": "122.1"}])])
    rt = make_runtime(redis_conn, POSITION_LOOKBACK_S=600)
    drain(rt)
    assert rt.state.wardens["w1"][:2] == (41.2, 122.2)


def test_without_event_id_a_retried_entry_is_applied_again(redis_conn: redis.Redis) -> None:
    # the documented limit: only an event_id makes a producer's retry harmless
    t0 = float(redis_conn.time()[0]) - 20 * HOUR
    events = {e["event_id"]: e for e in lifecycles(t0)}
    returned = {k: v for k, v in events["ev-5"].items() if k != "event_id"}
    rt = _run(redis_conn, [events["ev-0"], returned, dict(returned), events["ev-5"], dict(events["ev-5"])])
    assert rt.state.cases["A"].returned_count == 3  # two entries without an id, one id applied once

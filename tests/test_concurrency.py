"""Races: the consumer applies at full speed while request threads read every view (issue 7)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import redis

from callbacks.wall import tick
from dashboard import create_app, views
from dashboard.app import runtime_of, wall_model_of
from data_feed.publish import publish_many
from tests.events import CST, case_event, iso, report


def _events(n_cases: int, offset: int) -> list[dict[str, str]]:
    base = time.time() - 5 * 86400
    out: list[dict[str, str]] = []
    for n in range(n_cases):
        when = datetime.fromtimestamp(base + (n % 4000) * 60, CST)
        cid, cp = f"C{offset + n}", f"cp{n % 300}"
        if offset == 0 and n < 300:
            out.append({"type": "checkpoint.registered", "ts": iso(when), "checkpoint_id": cp,
                        "category": "lamp", "lat": "41.12", "lon": "122.07", "street_id": f"s{n % 8}"})
        if n % 7 == 0:  # uploaded before its report: held in the late buffer for a moment
            out.append(case_event("escalated", cid, iso(when)))
        out.append(report(cid, iso(when), checkpoint=cp, street=f"s{n % 8}",
                          category="lamp" if n % 5 else f"unknown-{n % 400}",
                          priority=("hazard", "urgent", "normal", "normal")[n % 4]))
        out.append({"type": "inspection.completed", "ts": iso(when), "checkpoint_id": cp, "warden_id": "w",
                    "result": "problem", "case_id": cid})
        out.append({"type": "warden.position", "ts": iso(when), "warden_id": f"w{n % 50}",
                    "lat": "41.1", "lon": "122.1"})
        if n % 3:
            out.append(case_event("dispatched", cid, iso(when), unit_id=f"d{n % 5}", unit_type="department"))
        if n % 2:
            out.append(case_event("closed", cid, iso(when)))
            out.append(case_event("rated", cid, iso(when), satisfied="true"))
    return out


def test_readers_and_a_full_speed_consumer_raise_nothing(redis_conn: redis.Redis, redis_url: str,
                                                          tmp_path: Path) -> None:
    # a burst of late uploads first: thousands of case events wait for their reports for a while
    publish_many(redis_conn, [case_event("processed", f"C{n}", iso(datetime.fromtimestamp(time.time() - 86400, CST)))
                              for n in range(0, 20_000, 2)])
    publish_many(redis_conn, _events(20_000, 0))
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 50, "READ_COUNT": 200,
                      "POSITION_LOOKBACK_S": 10**7})
    rt = runtime_of(app)
    model = wall_model_of(app)
    errors: list[BaseException] = []
    reads = [0]
    stop = threading.Event()

    def reader(paths: tuple[str, ...]) -> None:
        client = app.server.test_client()
        while not stop.is_set():
            try:
                for path in paths:
                    response = client.get(path)
                    assert response.status_code in (200, 503), (path, response.status_code)
                    response.get_data()
                now = time.time()
                rt.state.summary()
                views.checkpoint_statuses(rt, now)
                views.patrol_coverage(rt, now)
                views.warden_positions(rt, now)
                views.alert_page(rt, now, 50)
                tick(model, {"lang": "zh"}, None, now)  # a wall viewer's tick, from scratch each time
                reads[0] += 1
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                errors.append(exc)

    def writer() -> None:
        for chunk in range(5):  # more history arrives while the readers read
            publish_many(redis_conn, _events(2_000, 100_000 + chunk * 2_000))

    threads = [threading.Thread(target=reader, args=(p,)) for p in (
        ("/healthz", "/api/v1/kpis?period=all"), ("/api/v1/alerts", "/api/v1/checkpoints"),
        ("/api/v1/kpis?period=7d&street=s1", "/healthz"))]
    try:
        for th in threads:
            th.start()
        write = threading.Thread(target=writer)
        write.start()
        write.join(120)
        assert rt.consumer.wait_caught_up(120)
        deadline = time.time() + 120
        while rt.state.summary()["cases"] < 30_000 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for th in threads:
            th.join(30)
        rt.stop()
    assert not errors, errors[:3]
    assert reads[0] > 10  # the readers really ran alongside the consumer
    assert rt.state.summary()["cases"] == 30_000

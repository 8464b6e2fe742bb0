"""/metrics: Prometheus text from each app's own registry, read from the runtime at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from dashboard import create_app
from dashboard.app import runtime_of
from dashboard.metrics import VIEWER_COOKIE, ViewerLog, metrics_of
from data_feed.publish import publish_many
from tests.events import VALID, report

PAST = "2026-05-01T08:00:00+08:00"


def _app(redis_url: str, tmp_path: Path, **extra: object) -> tuple[Any, Any]:
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100, **extra})
    rt = runtime_of(app)
    assert rt.consumer.wait_caught_up(10)
    return app, rt


@pytest.fixture
def app_rt(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    publish_many(redis_conn, [
        VALID["checkpoint.registered"],
        VALID["case.reported"],  # carries description and reporter_phone
        report("K2", PAST),
        {"type": "case.closed", "ts": PAST},  # malformed: dead-lettered
        VALID["warden.position"] | {"ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())},
    ])
    app, rt = _app(redis_url, tmp_path)
    try:
        deadline = time.time() + 10
        while rt.consumer.status.entries < 5 or rt.consumer.status.deadlettered < 1:
            assert time.time() < deadline, "the entries were not consumed"
            time.sleep(0.05)
        yield app, rt
    finally:
        rt.stop()


def scrape(client: Any) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """family name -> {(sample name, labels): value}, parsed by the reference parser."""
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        out[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return out


def value(families: dict[str, Any], family: str, sample: str | None = None, **labels: str) -> float:
    return families[family][(sample or family, tuple(sorted(labels.items())))]  # type: ignore[no-any-return]


def test_metrics_are_scraped_and_match_the_runtime(app_rt: tuple[Any, Any]) -> None:
    app, rt = app_rt
    m = scrape(app.server.test_client())
    assert value(m, "grid_events_applied", "grid_events_applied_total") == rt.state.quality.applied >= 4
    assert value(m, "grid_deadletters", "grid_deadletters_total", reason="missing_field") \
        == rt.consumer.status.deadlettered == 1  # by class of reason ("missing required field 'case_id'")
    assert value(m, "grid_lag_entries", stream="grid:events") == 0
    assert value(m, "grid_lag_entries", stream="grid:positions") == 0
    assert value(m, "grid_seconds_since_last_applied") >= 0
    assert value(m, "grid_entries_read", "grid_entries_read_total") == rt.consumer.status.entries == 5
    assert value(m, "grid_reconnects", "grid_reconnects_total") == 0
    assert value(m, "grid_quality_events", "grid_quality_events_total", kind="rejected") == 1
    assert value(m, "grid_caught_up") == 1 and value(m, "grid_redis_connected") == 1
    assert 0 <= value(m, "grid_last_event_age_seconds") < 600  # the position is stamped now
    assert value(m, "grid_data_age_seconds") >= 0
    assert value(m, "grid_viewers") == 0
    assert value(m, "grid_wall_tick_seconds", "grid_wall_tick_seconds_count") == 0
    assert "process_resident_memory_bytes" in m  # RSS, for soak checks


def test_metrics_text_has_no_personal_data(app_rt: tuple[Any, Any]) -> None:
    text = app_rt[0].server.test_client().get("/metrics").get_data(as_text=True)
    personal = (VALID["case.reported"]["description"], VALID["case.reported"]["reporter_phone"], "张三")
    assert text and not any(p in text for p in personal)


def test_tick_histogram_is_observed_through_the_app(app_rt: tuple[Any, Any]) -> None:
    app = app_rt[0]
    metrics = metrics_of(app)
    metrics.observe_tick(0.03)
    with metrics.tick_seconds.time():
        pass
    m = scrape(app.server.test_client())
    assert value(m, "grid_wall_tick_seconds", "grid_wall_tick_seconds_count") == 2
    assert value(m, "grid_wall_tick_seconds", "grid_wall_tick_seconds_bucket", le="0.05") == 2
    assert 0.03 <= value(m, "grid_wall_tick_seconds", "grid_wall_tick_seconds_sum") < 0.5


def test_viewers_are_counted_by_their_ticks(app_rt: tuple[Any, Any]) -> None:
    app = app_rt[0]
    wall = app.server.test_client()
    page = wall.get("/")
    assert VIEWER_COOKIE in page.headers.get("Set-Cookie", "")
    for _ in range(3):
        wall.post("/_dash-update-component", json={})
    other = app.server.test_client()
    other.post("/_dash-update-component", json={}, headers={"User-Agent": "another wall"})
    m = scrape(app.server.test_client())
    assert value(m, "grid_viewers") == 2
    assert value(m, "grid_callback_seconds", "grid_callback_seconds_count") == 4


def test_viewer_log_forgets_after_the_window_and_stays_bounded() -> None:
    log = ViewerLog(window_s=30, max_viewers=100)
    log.seen("a", now=1000.0)
    log.seen("b", now=1010.0)
    log.seen("a", now=1020.0)
    assert log.count(now=1021.0) == 2
    assert log.count(now=1045.0) == 1  # b last seen at 1010
    assert log.count(now=1051.0) == 0
    for n in range(1000):
        log.seen(f"v{n}", now=2000.0)
    assert len(log) <= 100 and log.count(now=2000.0) == 100


def test_two_apps_in_one_process_have_their_own_registries(redis_conn: redis.Redis, redis_url: str,
                                                            tmp_path: Path) -> None:
    publish_many(redis_conn, [report("K1", PAST)])
    first, rt1 = _app(redis_url, tmp_path / "a", STREAM_EVENTS="grid:events")
    second, rt2 = _app(redis_url, tmp_path / "b", STREAM_EVENTS="other:events")
    try:
        assert metrics_of(first).registry is not metrics_of(second).registry
        one, two = scrape(first.server.test_client()), scrape(second.server.test_client())
        assert value(one, "grid_events_applied", "grid_events_applied_total") == 1
        assert value(two, "grid_events_applied", "grid_events_applied_total") == 0
    finally:
        rt1.stop()
        rt2.stop()

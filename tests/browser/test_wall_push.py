"""The pushed wall (GRID_PUSH=sse, the default) in headless Chromium: the browser renders pushed
data the same as the poll's server-rendered panels, ticks countdowns itself, shows a stale badge
when the push stops and resumes from the last event it saw."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By

from data_feed.publish import publish_many
from tests.browser import district
from tests.browser.conftest import Served, wait_caught_up
from tests.browser.test_wall import N, open_wall, until

pytestmark = pytest.mark.browser

PANELS_JS = """
function cells(sel) {
  return Array.prototype.map.call(document.querySelectorAll(sel), function (e) {
    return [e.className, e.getAttribute('data-kpi') || e.getAttribute('data-street') || e.getAttribute('data-case'),
            e.innerText];
  });
}
return {tiles: cells('#kpi-district .tile'), rows: cells('#street-table tr'), alerts: cells('#alerts > div'),
        round: document.getElementById('round-label').innerText};
"""


def _panels(browser: Any) -> dict[str, Any]:
    return browser.execute_script(PANELS_JS)  # type: ignore[no-any-return]


def _pushes(browser: Any, key: str, since_ms: float) -> int:
    return int(browser.execute_script(
        "var key = arguments[0], since = arguments[1];"
        "return (window.gridWall.pushes || []).filter(function (p) { return p[0] >= since && "
        "p[3].split(',').indexOf(key) >= 0; }).length;", key, since_ms))


def test_pushed_panels_equal_the_polled_ones_and_the_api(redis_conn: redis.Redis, redis_url: str,
                                                          serve: Callable[..., Served], browser: Any) -> None:
    now = time.time()
    publish_many(redis_conn, district.events(N, now, cases=12, wardens=10))
    pushed = serve(redis_url)
    polled = serve(redis_url, PUSH="poll")
    for served in (pushed, polled):
        wait_caught_up(served.runtime)
    for lang in ("en", "zh"):
        shown = []
        for served in (polled, pushed):
            open_wall(browser, served, f"?lang={lang}")
            until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .alert"), 10, "no alerts drawn")
            time.sleep(0.3)
            shown.append(_panels(browser))
        assert shown[0]["tiles"] and shown[0]["rows"] and shown[0]["alerts"]
        assert shown[1] == shown[0]  # same classes, keys and text in every tile, row and alert
    assert browser.execute_script("return !!window.gridWall.source")  # the last page was the pushed one
    with urllib.request.urlopen(pushed.url + "/api/v1/kpis?period=month") as response:
        month = json.load(response)["district"]
    accepted = browser.find_element(By.CSS_SELECTOR, "#kpi-district [data-kpi='self-handled'] .tile-sub").text
    assert accepted.endswith(f"/{month['accepted']:,}")


def test_countdowns_tick_in_the_browser_without_a_new_event(redis_conn: redis.Redis, redis_url: str,
                                                             serve: Callable[..., Served], browser: Any) -> None:
    now = time.time()
    events = district.events(N, now, cases=0, wardens=10)
    _, lat, lon = district.checkpoint_position(N, 3)
    # overdue by 56 s when the page opens: "0m" now, "1m" a few seconds later, with no event between
    events += [{"type": "case.reported", "ts": district.iso(now - 600), "case_id": "TICK1", "channel": "web",
                "category": "bin", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "checkpoint_id": "cp3"},
               {"type": "case.dispatched", "ts": district.iso(now - 500), "case_id": "TICK1", "unit_id": "u1",
                "unit_type": "department", "deadline": district.iso(now - 56)}]
    publish_many(redis_conn, events)
    served = serve(redis_url)
    wait_caught_up(served.runtime)
    open_wall(browser, served, "?lang=en")
    countdown = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts [data-case='TICK1'] "
                                                                          ".alert-countdown"), 10, "no alert")[0]
    assert countdown.text == "overdue 0m", countdown.text
    since = time.time() * 1000
    until(browser, lambda d: countdown.text == "overdue 1m", 15, "the countdown did not tick")
    assert _pushes(browser, "alerts", since) == 0  # no alert was re-sent: the browser ticked it
    assert browser.execute_script("return window.gridWall.beats") > 0


def test_stale_badge_when_the_push_stops_then_resume_from_the_last_event(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    publish_many(redis_conn, district.events(N, time.time(), cases=12, wardens=10))
    served = serve(redis_url, STALE_AFTER_S=3)
    wait_caught_up(served.runtime)
    open_wall(browser, served)
    badge = browser.find_element(By.ID, "last-update")
    until(browser, lambda d: badge.text and "stale" not in badge.get_attribute("class"), 5, "badge stale at start")
    connects = browser.execute_script("return window.gridWall.connects")
    served.stop()  # the push stops: no heartbeat any more
    until(browser, lambda d: "stale" in badge.get_attribute("class"), 15, "badge never turned stale")
    until(browser, lambda d: d.find_element(By.ID, "conn-banner").is_displayed(), 10, "no lost-server banner")
    since = time.time() * 1000
    served.restart()
    until(browser, lambda d: "stale" not in badge.get_attribute("class"), 20, "badge did not recover")
    # resumed (by itself, with its Last-Event-ID): the layers and panels it holds are not re-sent
    assert _pushes(browser, "base", since) == 0 and _pushes(browser, "tiles", since) == 0
    assert browser.execute_script("return window.gridWall.connects") >= connects
    assert browser.execute_script("return Object.keys(window.gridWall.drawn.base).length") == N


def test_a_moved_warden_updates_its_marker_alone(redis_conn: redis.Redis, redis_url: str,
                                                  serve: Callable[..., Served], browser: Any) -> None:
    from data_feed.publish import publish

    publish_many(redis_conn, district.events(N, time.time(), cases=4, wardens=10))
    served = serve(redis_url)
    wait_caught_up(served.runtime)
    open_wall(browser, served)
    until(browser, lambda d: d.execute_script("return window.gridWall.wardensDrawn") == 10, 10, "no wardens")
    since = time.time() * 1000
    _, lat, lon = district.checkpoint_position(N, 77)
    publish(redis_conn, {"type": "warden.position", "ts": district.iso(time.time()), "warden_id": "w4",
                         "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"})
    until(browser, lambda d: d.execute_script("return window.gridWall.wardensMoved") >= 1, 5, "warden not moved")
    where = browser.execute_script("var p = window.gridWall.wardenLayers['w4'].getLatLng(); return [p.lat, p.lng];")
    assert abs(where[0] - lat) < 1e-4 and abs(where[1] - lon) < 1e-4
    # in place: the layer was not redrawn (still 10 markers made), and the event held w4 alone
    assert browser.execute_script("return window.gridWall.wardensDrawn") == 10
    sizes = browser.execute_script(
        "var since = arguments[0]; return window.gridWall.pushes.filter(function (p) { return p[0] >= since && "
        "p[3].indexOf('wardens') >= 0; }).map(function (p) { return p[2]; });", since)
    assert sizes and max(sizes) < 400, sizes

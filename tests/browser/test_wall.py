"""The wall screen in headless Chromium: map, live updates, alerts, kiosk, stale badge."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from dashboard.status import STATUS_RANK
from data_feed.publish import publish, publish_many
from tests.browser import district
from tests.browser.conftest import Served, wait_caught_up
from tests.helpers import RedisProcess

pytestmark = pytest.mark.browser

N = 120
"""Checkpoints of the test district (enough to exercise the layers, small enough to be quick)."""

RANK = STATUS_RANK
"""Status name -> the rank the page draws (the enum's order)."""


def until(driver: Any, condition: Callable[[Any], Any], timeout: float, message: str) -> Any:
    """Wait for ``condition(driver)`` to be truthy (polling every 100 ms)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def status_of(driver: Any, checkpoint_id: str) -> Any:
    """The status rank the page last drew for a checkpoint (overlay over base)."""
    return driver.execute_script("return window.gridWall && window.gridWall.statusOf(arguments[0]);",
                                 checkpoint_id)


def tile(driver: Any, key: str) -> str:
    """Big value of a district KPI tile."""
    return driver.find_element(By.CSS_SELECTOR, f"#kpi-district [data-kpi='{key}'] .tile-value").text


def backfilled(redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served]) -> Served:
    """Publish the synthetic district, serve the app and wait until it has applied it all."""
    publish_many(redis_conn, district.events(N, time.time(), cases=12, wardens=10))
    served = serve(redis_url)
    wait_caught_up(served.runtime)
    return served


def open_wall(browser: Any, served: Served, query: str = "") -> None:
    """Load the page and wait until the base layer has drawn every checkpoint."""
    browser.get(served.url + "/" + query)
    until(browser, lambda d: d.execute_script(
        "return window.gridWall && Object.keys(window.gridWall.drawn.base).length") == N,
        15, "the base layer never drew the district's checkpoints")


def test_draws_the_checkpoints_of_a_backfilled_district(redis_conn: redis.Redis, redis_url: str,
                                                        serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    drawn = browser.execute_script("return window.gridWall.drawn.base")
    from dashboard import views

    expected = views.checkpoint_statuses(served.runtime, time.time())
    assert set(drawn) == set(expected)
    mismatched = {cid for cid, status in expected.items()
                  if status_of(browser, cid) != RANK[status]}
    assert not mismatched, f"colours differ from the server's statuses: {sorted(mismatched)[:5]}"
    assert browser.execute_script("return window.gridWall.wardensDrawn") == 10
    assert browser.find_elements(By.CSS_SELECTOR, "#map .leaflet-interactive, #map canvas")
    assert browser.find_element(By.ID, "street-table").find_elements(By.CSS_SELECTOR, "tbody tr")
    assert browser.find_element(By.ID, "map").is_displayed()


def test_xadded_case_recolours_checkpoint_and_kpi_then_closure_restores(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    cid = "cp5"  # no case in the synthetic district: ok or pending
    before = status_of(browser, cid)
    assert before in (RANK["ok"], RANK["pending"])
    accepted, overdue = tile(browser, "accepted"), tile(browser, "overdue")
    _, lat, lon = district.checkpoint_position(N, 5)
    now = time.time()
    publish(redis_conn, {"type": "case.reported", "ts": district.iso(now - 120), "case_id": "T1",
                         "channel": "hotline", "category": "lamp", "lat": f"{lat:.6f}",
                         "lon": f"{lon:.6f}", "checkpoint_id": cid, "street_id": "s6"})
    t0 = time.time()
    until(browser, lambda d: status_of(d, cid) == RANK["open"], 3, "checkpoint not yellow within 3 s")
    print(f"XADD -> checkpoint recoloured on screen in {time.time() - t0:.2f} s")
    until(browser, lambda d: tile(d, "accepted") == str(int(accepted.replace(",", "")) + 1), 3,
          "accepted tile did not count the new case within 3 s")
    assert time.time() - t0 < 3.5
    publish(redis_conn, {"type": "case.dispatched", "ts": district.iso(now - 60), "case_id": "T1",
                         "unit_id": "u1", "unit_type": "department", "deadline": district.iso(now - 30)})
    until(browser, lambda d: status_of(d, cid) == RANK["overdue"], 3, "checkpoint not red within 3 s")
    until(browser, lambda d: tile(d, "overdue") == str(int(overdue) + 1), 3, "overdue tile unchanged")
    publish(redis_conn, {"type": "case.closed", "ts": district.iso(time.time()), "case_id": "T1"})
    until(browser, lambda d: status_of(d, cid) == before, 3, "closure did not restore the colour")
    until(browser, lambda d: tile(d, "overdue") == overdue, 3, "closure did not restore the overdue tile")


def test_case_dispatched_with_past_deadline_appears_in_alerts(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    now = time.time()
    _, lat, lon = district.checkpoint_position(N, 9)
    publish_many(redis_conn, [
        {"type": "case.reported", "ts": district.iso(now - 600), "case_id": "LATE1", "channel": "web",
         "category": "drain", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "checkpoint_id": "cp9"},
        {"type": "case.dispatched", "ts": district.iso(now - 300), "case_id": "LATE1", "unit_id": "u1",
         "unit_type": "street_team", "deadline": district.iso(now - 120)},
    ])
    item = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts [data-case='LATE1']"), 3,
                 "the overdue case is not in #alerts within 3 s")[0]
    assert "alert-red" in item.get_attribute("class")
    assert "alert-new" in item.get_attribute("class")  # flashes while new
    assert "LATE1" in item.text
    # clicking an alert flies the map to it
    proxy = "return document.querySelector('#map .leaflet-proxy').style.transform;"
    before = browser.execute_script(proxy)  # Leaflet's proxy encodes the view's zoom and origin
    item.click()
    until(browser, lambda d: d.execute_script(proxy) != before, 5, "map did not fly to the alert")


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)], ids=["1080p", "4k"])
def test_kiosk_hides_controls_and_does_not_scroll(redis_conn: redis.Redis, redis_url: str,
                                                  serve: Callable[..., Served],
                                                  browser_factory: Callable[[int, int], Any],
                                                  size: tuple[int, int]) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    driver = browser_factory(*size)
    open_wall(driver, served, "?kiosk=1")
    until(driver, lambda d: "kiosk" in d.find_element(By.ID, "wall").get_attribute("class"), 5,
          "kiosk class not applied")
    assert not driver.find_element(By.ID, "controls").is_displayed()
    assert not [e for e in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-zoom") if e.is_displayed()]
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .alert"), 5, "no alerts drawn")
    metrics = driver.execute_script(
        "var e = document.documentElement, b = document.body;"
        "return [innerWidth, innerHeight, e.scrollWidth, e.scrollHeight, b.scrollWidth, b.scrollHeight];")
    width, height, sw, sh, bw, bh = metrics
    assert (width, height) == size
    assert sw <= width and bw <= width and sh <= height and bh <= height, metrics
    # every panel fits inside the viewport
    overflow = driver.execute_script(
        "return Array.from(document.querySelectorAll('.panel, .wall-header')).filter(function (el) {"
        " var r = el.getBoundingClientRect(); return r.bottom > innerHeight + 1 || r.right > innerWidth + 1;"
        "}).length;")
    assert overflow == 0
    # without kiosk the controls are there
    driver.get(served.url + "/")
    until(driver, lambda d: d.find_element(By.ID, "controls").is_displayed(), 5, "controls missing")


def test_english_with_lang_en(redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served],
                              browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served, "?lang=en")
    until(browser, lambda d: "Command Center" in d.find_element(By.TAG_NAME, "h1").text, 5, "title not English")
    until(browser, lambda d: "Closure rate" in d.find_element(By.ID, "kpi-district").text, 5, "KPIs not English")
    browser.get(served.url + "/")
    until(browser, lambda d: "指挥中心" in d.find_element(By.TAG_NAME, "h1").text, 5, "default is not zh-CN")


def test_stale_badge_while_redis_is_stopped_and_recovery(redis_process: RedisProcess,
                                                          serve: Callable[..., Served], browser: Any) -> None:
    client = redis.Redis(port=redis_process.port, decode_responses=True)
    publish_many(client, district.events(N, time.time(), cases=12, wardens=10))
    served = serve(redis_process.url, STALE_AFTER_S=5)
    wait_caught_up(served.runtime)
    open_wall(browser, served)
    badge = browser.find_element(By.ID, "last-update")
    until(browser, lambda d: badge.text and "stale" not in badge.get_attribute("class"), 5, "badge stale at start")
    redis_process.stop()
    until(browser, lambda d: "stale" in badge.get_attribute("class"), 20, "badge never turned stale")
    banner = browser.find_element(By.ID, "conn-banner")
    assert banner.is_displayed() and banner.text
    drawn = browser.execute_script("return Object.keys(window.gridWall.drawn.base).length")
    assert drawn == N  # the last picture stays
    redis_process.start()
    until(browser, lambda d: "stale" not in badge.get_attribute("class"), 40, "badge did not recover")
    until(browser, lambda d: not d.find_element(By.ID, "conn-banner").is_displayed(), 10, "banner stayed")


def test_page_survives_server_restart(redis_conn: redis.Redis, redis_url: str,
                                      serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    served.stop()
    until(browser, lambda d: d.find_element(By.ID, "conn-banner").is_displayed(), 15, "no lost-server banner")
    assert browser.execute_script("return Object.keys(window.gridWall.drawn.base).length") == N
    served.restart()
    until(browser, lambda d: not d.find_element(By.ID, "conn-banner").is_displayed(), 20,
          "page did not recover when the server came back")
    publish(redis_conn, {"type": "case.reported", "ts": district.iso(time.time()), "case_id": "AFTER",
                         "channel": "wechat", "category": "bin", "lat": "41.11", "lon": "122.05",
                         "checkpoint_id": "cp11"})
    until(browser, lambda d: status_of(d, "cp11") == RANK["open"], 5, "no live updates after recovery")


def test_every_resource_is_served_locally_and_no_tiles_are_fetched(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    time.sleep(1.5)  # a few ticks
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        ".concat([document.location.href]);")
    foreign = [u for u in urls if not (u.startswith(served.url) or u.startswith("data:"))]
    assert urls and foreign == [], f"fetched from outside the server: {foreign[:5]}"
    assert not browser.find_elements(By.CSS_SELECTOR, "#map .leaflet-tile")  # GRID_TILE_URL is empty


def test_draws_the_simulated_district(redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served],
                                      browser: Any, tmp_path: Any) -> None:
    from dashboard import views
    from data_feed.simulator import backfill

    backfill(redis_conn, "district", 1, None, 1, tmp_path / "sim-ref")
    served = serve(redis_url, REFERENCE_DIR=str(tmp_path / "sim-ref"))
    wait_caught_up(served.runtime)
    browser.get(served.url + "/?kiosk=1")
    until(browser, lambda d: d.execute_script(
        "return window.gridWall && Object.keys(window.gridWall.drawn.base).length") == 3319,
        30, "the base layer never drew the simulated district's 3,319 checkpoints")
    expected = views.checkpoint_statuses(served.runtime, time.time())
    drawn = browser.execute_script(
        "var out = {}; Object.keys(window.gridWall.drawn.base).forEach(function (id) {"
        " out[id] = window.gridWall.statusOf(id); }); return out;")
    mismatched = [cid for cid, status in expected.items() if drawn.get(cid) != RANK[status]]
    # a status may change between the two reads (time passes); allow a handful, not a pattern
    assert len(mismatched) <= 5, mismatched[:10]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#street-table tbody tr")) == 8
    assert browser.find_elements(By.CSS_SELECTOR, "#map .leaflet-overlay-pane path, #map canvas")


PIXELS_JS = """
// Centre pixel of every isolated base-layer marker, read from the base layer's own canvas.
var points = arguments[0], g = window.gridWall, ids = Object.keys(g.linked.base);
var map = ids.length ? g.linked.base[ids[0]]._map : null;
if (!map) { return null; }
var canvas = document.querySelector('#map .leaflet-overlay-pane canvas');
var rect = canvas.getBoundingClientRect(), ctx = canvas.getContext('2d');
var sx = canvas.width / rect.width, sy = canvas.height / rect.height, box = map.getContainer().getBoundingClientRect();
var at = Object.keys(points).map(function (id) {
  var p = map.latLngToContainerPoint([points[id][0], points[id][1]]);
  return [id, box.left + p.x, box.top + p.y];
});
var out = [];
at.forEach(function (a) {
  var alone = at.every(function (b) { return b === a || Math.hypot(a[1] - b[1], a[2] - b[2]) > 24; });
  if (!alone) { return; }
  var px = ctx.getImageData(Math.round((a[1] - rect.left) * sx), Math.round((a[2] - rect.top) * sy), 1, 1).data;
  out.push([a[0], g.drawn.base[a[0]], px[0], px[1], px[2]]);
});
return out;
"""


def test_the_compact_base_layer_draws_every_checkpoint_in_its_colour(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    """The base layer comes from its own GET (not the tick) and each marker has its status's colour."""
    from dashboard import views
    from layouts.map import STATUS_COLORS

    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)  # not a kiosk: markers of open cases are linked (their map is reachable)
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        ".filter(function (n) { return n.indexOf('/api/v1/wall/base/') >= 0; })")
    assert len(fetched) == 1, fetched
    now = time.time()
    expected = views.checkpoint_statuses(served.runtime, now)
    drawn = browser.execute_script("return window.gridWall.drawn.base")
    assert set(drawn) == set(expected)
    assert {cid: RANK[s] for cid, s in expected.items()} == drawn
    points = {cid: [lat, lon] for cid, lat, lon, *_ in views.checkpoint_points(served.runtime)}
    pixels = until(browser, lambda d: d.execute_script(PIXELS_JS, points), 5, "no linked marker, no map")
    colours = {RANK[status.value]: colour for status, colour in STATUS_COLORS.items()}
    checked = [p for p in pixels if p[1] != RANK["hazard"]]  # hazards are DOM triangles, not canvas dots
    assert len(checked) >= 20, f"only {len(checked)} isolated markers to check"
    wrong = []
    for cid, rank, r, g, b in checked:
        want = colours[rank]
        rgb = (int(want[1:3], 16), int(want[3:5], 16), int(want[5:7], 16))
        if max(abs(x - y) for x, y in zip((r, g, b), rgb, strict=True)) > 40:
            wrong.append((cid, rank, (r, g, b), want))
    assert not wrong, f"{len(wrong)} of {len(checked)} markers drawn in another colour: {wrong[:5]}"

"""The wall as an operator meets it: honest while catching up after a restart, readable from 5 m."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By

from dashboard.status import STATUS_ORDER, STATUS_RANK
from data_feed.publish import publish_many
from tests.browser import district
from tests.browser.conftest import Served, _serve, wait_caught_up
from tests.browser.test_wall import N, backfilled, open_wall, until

pytestmark = pytest.mark.browser

MIN_FONT_PX = 18.0
"""Smallest text an operator must read on a 1080p wall."""


def visible(driver: Any, element_id: str) -> bool:
    """Whether the element with ``element_id`` is displayed."""
    found = driver.find_elements(By.ID, element_id)
    return bool(found) and found[0].is_displayed()


def tile_values(driver: Any) -> list[str]:
    """Texts of the district KPI tiles' big values."""
    return [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, "#kpi-district .tile-value")]


def test_fresh_wall_shows_progress_and_no_figures_until_caught_up(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    publish_many(redis_conn, district.events(N, time.time(), cases=12, wardens=10))
    served = serve(redis_url, START_CONSUMER=False)  # the history is in Redis, nothing read yet
    browser.get(served.url + "/")
    until(browser, lambda d: visible(d, "catchup"), 10, "no progress screen while the history is unread")
    text = browser.find_element(By.ID, "catchup").text
    assert "正在读取历史数据" in text and ("%" in text or "请稍候" in text), text
    badge = browser.find_element(By.ID, "last-update").text
    assert "追赶" in badge and "秒前更新" not in badge, badge
    time.sleep(1.5)  # several ticks answered
    assert not any(tile_values(browser)), "KPI figures shown before the history was read"
    assert not browser.find_elements(By.CSS_SELECTOR, "#alerts .alert")
    assert browser.execute_script("return Object.keys(window.gridWall.drawn.base).length") == 0
    assert not visible(browser, "conn-banner")  # catching up is not an outage
    served.runtime.start()
    until(browser, lambda d: not visible(d, "catchup"), 20, "progress screen stayed after catch-up")
    until(browser, lambda d: any(tile_values(d)), 5, "no KPI figures after catch-up")
    until(browser, lambda d: "秒前更新" in d.find_element(By.ID, "last-update").text, 5, "badge not live")
    assert browser.execute_script("return Object.keys(window.gridWall.drawn.base).length") == N
    # replayed history never flashes
    assert browser.find_elements(By.CSS_SELECTOR, "#alerts .alert")
    assert not browser.find_elements(By.CSS_SELECTOR, "#alerts .alert-new")


def test_a_wall_with_a_picture_keeps_it_with_a_badge_while_a_restarted_app_catches_up(
        redis_conn: redis.Redis, redis_url: str, reference_dir: Path, data_dir: Path,
        serve: Callable[..., Served], browser: Any) -> None:
    from dashboard import create_app

    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    until(browser, lambda d: any(tile_values(d)), 5, "no KPI figures")
    before = tile_values(browser)
    served.stop()  # the app restarts: same port, a new process that has read nothing yet
    restarted = create_app({"REDIS_URL": redis_url, "REFERENCE_DIR": str(reference_dir),
                            "DATA_DIR": str(data_dir), "START_CONSUMER": False})
    server = _serve(restarted, served.port)
    runtime = restarted.server.extensions["grid"]
    try:
        until(browser, lambda d: "追赶" in d.find_element(By.ID, "last-update").text, 15,
              "no catching-up badge while the restarted app reads the history")
        assert "catching-up" in browser.find_element(By.ID, "last-update").get_attribute("class")
        assert not visible(browser, "catchup")  # the picture stays, no progress screen over it
        assert tile_values(browser) == before
        assert browser.execute_script("return Object.keys(window.gridWall.drawn.base).length") == N
        runtime.start()
        wait_caught_up(runtime)
        until(browser, lambda d: "秒前更新" in d.find_element(By.ID, "last-update").text, 10,
              "badge did not go back to live after catch-up")
        assert not browser.find_elements(By.CSS_SELECTOR, "#alerts .alert-new")
    finally:
        runtime.stop()
        server.shutdown()
        server.server_close()


def test_no_operator_text_below_18px_at_1080p_and_nothing_overlaps(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    for query in ("?kiosk=1", "?kiosk=1&lang=en", ""):
        open_wall(browser, served, query)
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .alert"), 5, "no alerts drawn")
        small = browser.execute_script("""
            var out = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
              var node = walker.currentNode, el = node.parentElement;
              if (!node.textContent.trim() || !el || !el.getClientRects().length) continue;
              var style = getComputedStyle(el);
              if (style.visibility === 'hidden') continue;
              var px = parseFloat(style.fontSize);
              if (px < arguments[0]) out.push([el.className, node.textContent.trim().slice(0, 30), px]);
            }
            return out;""", MIN_FONT_PX)
        assert not small, f"{query}: text below {MIN_FONT_PX}px: {small[:8]}"
        clipped = browser.execute_script("""
            return Array.from(document.querySelectorAll('.tile-name, .tile-period, .tile-value, .tile-sub'))
              .filter(function (el) { return el.scrollWidth > el.clientWidth + 1; })
              .map(function (el) { return el.textContent; });""")
        assert not clipped, f"{query}: tile text cut off: {clipped}"
    # the banner sits over the map, never over a heading; the legend sits beside the map
    served.stop()
    until(browser, lambda d: visible(d, "conn-banner"), 15, "no lost-server banner")
    boxes = browser.execute_script("""
        function box(el) { var r = el.getBoundingClientRect();
                           return [r.left, r.top, r.right, r.bottom, el.tagName + '.' + el.className]; }
        var q = function (s) { return Array.from(document.querySelectorAll(s)).map(box); };
        return { banner: box(document.getElementById('conn-banner')),
                 headings: q('h1, h2, .wall-header, .tile-label, #street-table th'),
                 legend: box(document.querySelector('.legend-box')),
                 map: box(document.getElementById('map')) };""")

    def overlap(a: list[Any], b: list[Any]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    covered = [h[4] for h in boxes["headings"] if overlap(boxes["banner"], h)]
    assert not covered, f"the banner covers {covered}"
    assert not overlap(boxes["legend"], boxes["map"]), (boxes["legend"], boxes["map"])
    assert boxes["legend"][1] >= boxes["map"][3] - 1  # under the map


def test_every_seed_figure_is_on_a_tile_labelled_with_its_period(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    until(browser, lambda d: any(tile_values(d)), 5, "no KPI figures")
    tiles = {e.get_attribute("data-kpi"): e for e in browser.find_elements(By.CSS_SELECTOR, "#kpi-district .tile")}
    names = {"accepted": "受理", "self-handled": "自行处理", "mobile": "流动处置", "citizen": "群众举报",
             "closure": "结案率", "satisfaction": "满意度"}
    for key, name in names.items():
        assert key in tiles, f"no {name} tile"
        assert name in tiles[key].find_element(By.CSS_SELECTOR, ".tile-name").text
    periods = {key: el.find_element(By.CSS_SELECTOR, ".tile-period").text for key, el in tiles.items()}
    assert periods["accepted"] == "今日"
    assert all(periods[k] == "本月" for k in ("self-handled", "mobile", "citizen", "closure", "satisfaction"))
    assert all(periods.values()), periods
    from dashboard.app import wall_model_of

    month = wall_model_of(served.app).snapshot(time.time()).kpis["district"]["month"]
    assert tiles["self-handled"].find_element(By.CSS_SELECTOR, ".tile-value").text == f"{month['self_handled']:,}"


def test_english_alert_rows_show_whole_street_and_category_names(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served, "?kiosk=1&lang=en")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .alert-category"), 5, "no alerts")
    clipped = browser.execute_script("""
        return Array.from(document.querySelectorAll('#alerts .alert-street, #alerts .alert-category'))
          .filter(function (el) { var p = el.parentElement;
                                  return el.scrollWidth > el.clientWidth + 1 || p.scrollWidth > p.clientWidth + 1; })
          .map(function (el) { return el.textContent; });""")
    assert not clipped, clipped
    names = {en for _, _, en in district.CATEGORIES}
    shown = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#alerts .alert-category")}
    assert shown and shown <= names, shown


def test_overdue_and_hazard_markers_stand_out(redis_conn: redis.Redis, redis_url: str,
                                              serve: Callable[..., Served], browser: Any) -> None:
    served = backfilled(redis_conn, redis_url, serve)
    open_wall(browser, served)
    hazard = browser.execute_script("""
        return Math.max.apply(null, Array.from(document.querySelectorAll('#map .cp-hazard'))
          .map(function (el) { return el.getBoundingClientRect().width; }).concat([0]));""")
    assert hazard >= 30, hazard  # was 26 px
    style = browser.execute_script("""
        var ranks = arguments[0], h = { ranks: ranks, colors: ['#000', '#111', '#222', '#333', '#444'] }, out = {};
        Object.keys(ranks).forEach(function (name) { out[name] = window.gridWall.markerStyle(ranks[name], h); });
        return out;""", STATUS_RANK)
    ok, overdue = style["ok"], style["overdue"]
    assert overdue["radius"] + overdue["weight"] / 2 >= 2.5 * (ok["radius"] + ok["weight"] / 2), style
    # the browser's copy of the statuses is the server's enum
    assert browser.execute_script("return window.gridWall.statuses") == [s.value for s in STATUS_ORDER]


def test_browser_names_only_statuses_the_enum_knows() -> None:
    source = (Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "wall.js").read_text()
    used = set(re.findall(r"ranks\.(\w+)", source))
    assert used and used <= set(STATUS_RANK), used - set(STATUS_RANK)
    assert not re.search(r"\|\|\s*4\b", source), "a hard-coded rank in wall.js"


def test_tile_attribution_reaches_the_map(redis_url: str, reference_dir: Path, data_dir: Path) -> None:
    from dashboard import create_app

    app = create_app({"REDIS_URL": redis_url, "REFERENCE_DIR": str(reference_dir), "DATA_DIR": str(data_dir),
                      "START_CONSUMER": False, "TILE_URL": "http://tiles.local/{z}/{x}/{y}.png",
                      "TILE_ATTRIBUTION": "© 兴隆台区测绘"})
    layout = app.server.test_client().get("/_dash-layout").get_json()

    def find(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            here = [node] if node.get("type") == "TileLayer" else []
            return here + [t for v in node.values() for t in find(v)]
        if isinstance(node, list):
            return [t for v in node for t in find(v)]
        return []

    tiles = find(layout)
    assert [t["props"]["attribution"] for t in tiles] == ["© 兴隆台区测绘"]
    assert tiles[0]["props"]["url"] == "http://tiles.local/{z}/{x}/{y}.png"


RECORD_ERRORS = """
    window.__errors = [];
    var original = console.error;
    console.error = function () {
      window.__errors.push(Array.from(arguments).map(function (a) {
        try { return typeof a === 'string' ? a : JSON.stringify(a); } catch (e) { return String(a); }
      }).join(' '));
      return original.apply(console, arguments);
    };"""
"""Installed before any page script: keeps console.error's arguments as text (Dash logs objects)."""


def errors_after_load(driver: Any, url: str) -> list[str]:
    """console.error calls while ``url`` loads and ticks for a few seconds."""
    driver.get(url)
    time.sleep(3.0)
    return list(driver.execute_script("return window.__errors || []"))


def test_callbacks_and_layout_agree_and_a_mistyped_id_fails_loudly(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    from dash import Input, Output

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ERRORS})
    served = backfilled(redis_conn, redis_url, serve)
    assert served.app.config.suppress_callback_exceptions is False
    assert errors_after_load(browser, served.url + "/") == []
    # an app with one callback naming an id the layout lacks: the page says so
    broken = serve(redis_url)
    broken.app.callback(Output("no-such-id", "children"), Input("tick", "n_intervals"))(lambda n: str(n))
    errors = errors_after_load(browser, broken.url + "/")
    assert any("no-such-id" in e for e in errors), errors
    broken.app.config.suppress_callback_exceptions = True  # what the app did before: silence
    assert not [e for e in errors_after_load(browser, broken.url + "/") if "no-such-id" in e]


def test_layouts_take_plain_settings_not_the_runtime() -> None:
    from layouts.wall import WallSettings, wall_layout

    root = Path(__file__).resolve().parents[2] / "layouts"
    offenders = [p.name for p in root.glob("*.py") if re.search(r"\bRuntime\b|dashboard\.runtime", p.read_text())]
    assert offenders == []
    page = wall_layout(WallSettings(lang="en", tick_ms=750))
    config = next(c for c in page.children if getattr(c, "id", None) == "wall-config")
    assert config.data["default_lang"] == "en" and config.data["statuses"] == [s.value for s in STATUS_ORDER]
    interval = next(c for c in page.children if getattr(c, "id", None) == "tick")
    assert interval.interval == 750

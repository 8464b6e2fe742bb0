"""Case files and department pages in headless Chromium: a hand-made case's timeline, the wall's
alert linking to its file, and a department that sees only its own categories."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By

from data_feed.publish import publish_many
from tests.browser.conftest import Served, wait_caught_up
from tests.browser.test_wall import until
from tests.casefile_events import PLANTED_PHONE, STEPS, add_departments, at, handmade_case
from tests.events import report

pytestmark = pytest.mark.browser


def _events(now: float) -> list[dict[str, str]]:
    start = int(now) - 3 * 86400
    return [
        *handmade_case("K1", start),
        # an open lamp case past its deadline: on the wall's alert list
        {"type": "checkpoint.registered", "ts": at(now, -86400), "checkpoint_id": "cpL", "category": "lamp",
         "lat": "41.101", "lon": "122.001", "street_id": "s1"},
        report("LATE7", at(now, -7200), category="lamp", checkpoint="cpL", lat="41.101", lon="122.001"),
        {"type": "case.dispatched", "ts": at(now, -7000), "case_id": "LATE7", "unit_id": "T-S1",
         "unit_type": "street_team", "deadline": at(now, -600)},
        # sanitation's categories (bin, drain) and a flowerbed nobody follows
        {"type": "checkpoint.registered", "ts": at(now, -86400), "checkpoint_id": "cpB", "category": "bin",
         "lat": "41.102", "lon": "122.002", "street_id": "s1"},
        report("BIN1", at(now, -3600), category="bin", checkpoint="cpB", lat="41.102", lon="122.002"),
        report("DRAIN3", at(now, -3600), category="drain"),
        report("FLOWER4", at(now, -3600), category="flowerbed"),
    ]


@pytest.fixture
def served(redis_conn: redis.Redis, redis_url: str, reference_dir: Path,
           serve: Callable[..., Served]) -> Served:
    """The synthetic district with departments and the hand-made cases, served and read."""
    add_departments(reference_dir)
    publish_many(redis_conn, _events(time.time()))
    app = serve(redis_url)
    wait_caught_up(app.runtime)
    return app


def _grid_rows(driver: Any, grid_id: str, column: str) -> list[str]:
    cells = driver.find_elements(By.CSS_SELECTOR, f"#{grid_id} .ag-center-cols-container [col-id='{column}']")
    return sorted(c.text for c in cells)


def test_case_file_shows_the_hand_made_timeline_in_order(served: Served, browser: Any) -> None:
    browser.get(served.url + "/case/K1")
    steps = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#case-timeline li"), 10, "no timeline")
    assert [s.get_attribute("data-type") for s in steps] == list(STEPS)
    texts = [s.text for s in steps]
    assert "wK" in texts[0] and "cpK" in texts[0]  # found by the warden at the checkpoint
    assert "网格员巡查" in texts[1]  # reported, with its channel
    assert "城市照明管理处" in texts[3] and "时限" in texts[3]  # dispatched to which unit, with the deadline
    assert "灯仍不亮" in texts[5]  # returned, and why
    badge = browser.find_element(By.ID, "case-deadline")
    assert badge.get_attribute("data-status") == "closed_on_time" and "按期结案" in badge.text
    assert browser.find_elements(By.CSS_SELECTOR, "#case-map .leaflet-interactive")  # the points are drawn
    assert PLANTED_PHONE not in browser.page_source and "PLANTED-DESCRIPTION" not in browser.page_source
    browser.get(served.url + "/case/K1?lang=en")
    until(browser, lambda d: "Dispatched to Street Lighting Office" in d.find_element(By.ID, "case-timeline").text,
          10, "no English timeline")
    browser.get(served.url + "/case/NOPE")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".case-not-found"), 10, "no 404 message")
    assert "NOPE" in browser.find_element(By.CSS_SELECTOR, ".case-not-found").text


def test_a_wall_alert_links_to_its_case_file_except_in_kiosk_mode(served: Served, browser: Any) -> None:
    browser.get(served.url + "/")
    link = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts [data-case='LATE7'] a.alert-link"),
                 10, "the alert has no link")[0]
    assert link.get_attribute("href") == served.url + "/case/LATE7"
    assert link.get_attribute("target") == "_blank" and link.is_displayed()
    browser.get(link.get_attribute("href"))
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#case-timeline li"), 10, "the link's page is empty")
    assert browser.find_element(By.ID, "case-deadline").get_attribute("data-status") == "overdue"
    browser.get(served.url + "/?kiosk=1")
    link = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts [data-case='LATE7'] a.alert-link"),
                 10, "no alert in kiosk mode")[0]
    assert not link.is_displayed()  # a kiosk wall never navigates away


def test_a_department_sees_only_its_categories(served: Served, browser: Any) -> None:
    browser.get(served.url + "/dept/D-SAN")
    until(browser, lambda d: _grid_rows(d, "dept-cases", "case_link"), 10, "no case rows")
    chips = {c.get_attribute("data-category") for c in browser.find_elements(By.CSS_SELECTOR, ".category-chip")}
    assert chips == {"bin", "drain"}
    assert _grid_rows(browser, "dept-cases", "case_link") == ["BIN1", "DRAIN3"]
    assert _grid_rows(browser, "dept-checkpoints", "checkpoint_id") == ["cpB"]
    link = browser.find_element(By.CSS_SELECTOR, "#dept-cases [col-id='case_link'] a")
    assert link.get_attribute("href").startswith(served.url + "/case/")
    browser.get(served.url + "/dept/D-LIGHT?lang=en")
    until(browser, lambda d: _grid_rows(d, "dept-cases", "case_link"), 10, "no case rows")
    assert _grid_rows(browser, "dept-cases", "case_link") == ["K1", "LATE7"]  # open, and reworked
    assert _grid_rows(browser, "dept-checkpoints", "checkpoint_id") == ["cpK", "cpL"]
    figures = browser.find_element(By.ID, "dept-figures").text
    assert "Dispatched cases" in figures and "Rework rate" in figures
    browser.get(served.url + "/dept/D-SAN?period=7d")  # the period is in the URL (bookmarkable)
    until(browser, lambda d: "近7天" in d.find_element(By.ID, "dept-body").text, 10, "the period is not stated")
    browser.get(served.url + "/dept/NOPE")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".case-not-found"), 10, "no 404 message")


def test_a_wall_marker_with_open_cases_lists_them_with_links(served: Served, browser: Any) -> None:
    browser.get(served.url + "/")
    until(browser, lambda d: d.execute_script("return !!(window.gridWall && window.gridWall.linkedMarker('cpL'))"),
          10, "the checkpoint with an open case has no clickable marker")
    browser.execute_script("window.gridWall.linkedMarker('cpL').fire('click');")
    link = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".cp-popup a.cp-case-link"), 10,
                 "no popup with the checkpoint's cases")[0]
    assert link.get_attribute("textContent") == "LATE7" and link.get_attribute("href") == served.url + "/case/LATE7"
    browser.get(served.url + "/?kiosk=1")
    until(browser, lambda d: d.execute_script("return window.gridWall && window.gridWall.statusOf('cpL')"), 10,
          "the kiosk wall never drew cpL")
    assert not browser.execute_script("return !!window.gridWall.linkedMarker('cpL')")  # inert in kiosk mode

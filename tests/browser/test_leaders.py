"""The leadership page in headless Chromium: its numbers are the API's, drill-down narrows the
scope (from the table, the map and the breadcrumb), the period picker and the exports follow."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from selenium.webdriver.common.by import By

from data_feed.publish import publish_many
from tests.browser import district
from tests.browser.conftest import Served, wait_caught_up
from tests.browser.test_wall import until

pytestmark = pytest.mark.browser

N = 160


@pytest.fixture
def served(redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served]) -> Served:
    publish_many(redis_conn, district.events(N, time.time(), cases=80, wardens=10))
    app = serve(redis_url)
    wait_caught_up(app.runtime)
    return app


def get_json(url: str) -> Any:
    import json

    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def figure_value(driver: Any, name: str) -> str:
    """Text of a figure tile's value (read in one script: the tile may be re-rendered meanwhile)."""
    return str(driver.execute_script(
        "var e = document.querySelector('[data-figure=\"' + arguments[0] + '\"]');"
        " return e ? e.textContent.trim() : null;", name))


def ranking_rows(driver: Any) -> list[dict[str, str]]:
    """The ranking grid's rendered rows as {column field: text} (read in one script)."""
    return list(driver.execute_script("""
        return Array.from(document.querySelectorAll('#street-ranking .ag-center-cols-container .ag-row'))
          .map(function (row) {
            var out = {};
            row.querySelectorAll('.ag-cell').forEach(function (c) {
              out[c.getAttribute('col-id')] = c.textContent.trim(); });
            return out; });"""))


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-figure="accepted"]'), 20, "no figures")
    until(driver, lambda d: ranking_rows(d), 20, "no ranking rows")


def test_page_numbers_equal_the_kpi_api_at_district_and_street(served: Served, browser: Any) -> None:
    open_page(browser, served.url + "/leaders")
    note = browser.find_element(By.ID, "period-note").text
    assert "近30天" in note and "默认" in note, note  # the default is stated
    api = get_json(served.url + "/api/v1/kpis?period=30d")
    district_kpis = api["district"]
    assert figure_value(browser, "accepted") == str(district_kpis["accepted"])
    assert figure_value(browser, "closure_rate") == f"{100 * district_kpis['closure_rate']:.2f}%"
    assert figure_value(browser, "overdue") == str(district_kpis["overdue"])
    rows = {r["id"]: r for r in ranking_rows(browser)}
    assert set(rows) == {s[0] for s in district.STREETS}
    for sid, row in rows.items():
        assert row["accepted"] == str(api["streets"][sid]["accepted"]), sid

    # drill down from the table: a street's name is a link to the narrowed page
    busiest = max(api["streets"], key=lambda s: api["streets"][s]["accepted"])
    link = browser.find_element(By.CSS_SELECTOR, f'#street-ranking a[href*="street={busiest}"]')
    link.click()
    until(browser, lambda d: f"street={busiest}" in d.current_url, 10, "URL did not take the street")
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#breadcrumb a")) == 2, 10, "no breadcrumb")
    until(browser, lambda d: figure_value(d, "accepted") == str(api["streets"][busiest]["accepted"]), 10,
          "street figures differ from /api/v1/kpis")
    until(browser, lambda d: all(r["id"].startswith(busiest) for r in ranking_rows(d)) and ranking_rows(d), 10,
          "ranking did not switch to the street's communities")
    street_api = get_json(served.url + f"/api/v1/kpis?period=30d&street={busiest}")
    for row in ranking_rows(browser):
        assert row["accepted"] == str(street_api["communities"].get(row["id"], {"accepted": 0})["accepted"])
    crumbs = browser.find_elements(By.CSS_SELECTOR, "#breadcrumb a")
    assert crumbs[0].text == "兴隆台区" and crumbs[1].text == dict((s, zh) for s, zh, _ in district.STREETS)[busiest]

    # the bookmarked URL shows the same view in a new page, and the breadcrumb leads back up
    url = browser.current_url
    open_page(browser, url)
    assert figure_value(browser, "accepted") == str(api["streets"][busiest]["accepted"])
    browser.find_elements(By.CSS_SELECTOR, "#breadcrumb a")[0].click()
    until(browser, lambda d: "street=" not in d.current_url, 10, "breadcrumb did not go up")
    until(browser, lambda d: figure_value(d, "accepted") == str(district_kpis["accepted"]), 10, "not district again")


def test_map_click_drills_down(served: Served, browser: Any) -> None:
    open_page(browser, served.url + "/leaders?lang=en")
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#leaders-map path.leaflet-interactive"), 10,
          "no areas on the map")
    areas = browser.find_elements(By.CSS_SELECTOR, "#leaders-map path.leaflet-interactive")
    assert len(areas) == len(district.STREETS)
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", areas[0])
    until(browser, lambda d: "street=" in d.current_url, 10, "a map click did not drill down")
    street = parse_qs(urlsplit(browser.current_url).query)["street"][0]
    assert parse_qs(urlsplit(browser.current_url).query)["lang"] == ["en"]  # the language is kept
    until(browser, lambda d: "Community ranking" in d.find_element(By.ID, "ranking-title").text, 10, "no drill")
    api = get_json(served.url + f"/api/v1/kpis?period=30d&street={street}")
    until(browser, lambda d: figure_value(d, "accepted") == str(api["streets"][street]["accepted"]), 10,
          "figures after a map drill-down differ from the API")


def test_period_picker_and_export_follow_the_scope(served: Served, browser: Any) -> None:
    open_page(browser, served.url + "/leaders")
    browser.find_element(By.ID, "period").click()  # Dash 4's dropdown lists its options in a popover
    option = until(browser, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                                       if o.text == "今日"], 5, "no period options")
    option[0].click()
    until(browser, lambda d: "period=today" in d.current_url, 10, "the picker did not change the URL")
    api = get_json(served.url + "/api/v1/kpis?period=today")
    until(browser, lambda d: figure_value(d, "accepted") == str(api["district"]["accepted"]), 10,
          "today's figures differ from the API")
    href = until(browser, lambda d: (h := d.find_element(By.ID, "export-csv").get_attribute("href"))
                 and "period=today" in h and h, 10, "export link does not follow the period")
    with urllib.request.urlopen(href, timeout=10) as resp:
        assert "attachment" in resp.headers["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(resp.read().decode("utf-8-sig"))))
    exported = {line[-1]: line for line in lines[1:]}
    shown = {r["id"]: r for r in ranking_rows(browser)}
    assert set(exported) == set(shown)
    for sid, row in shown.items():
        # same columns in the same order: rank, name, grade, score, accepted, closed, closure %
        assert exported[sid][1] == row["name"] and exported[sid][4] == row["accepted"]
        assert exported[sid][0] == row["rank"] and exported[sid][2] == row["grade"]
        def num(text: str) -> float | None:
            return float(text) if text else None
        assert num(exported[sid][6]) == num(row["closure_rate"]), (sid, exported[sid], row)


def test_english_page_and_bad_scope(served: Served, browser: Any) -> None:
    open_page(browser, served.url + "/leaders?lang=en&period=7d")
    assert "Last 7 days" in browser.find_element(By.ID, "period-note").text
    assert browser.find_element(By.ID, "trend-chart").find_elements(By.CSS_SELECTOR, ".main-svg")
    browser.get(served.url + "/leaders?street=nowhere")
    until(browser, lambda d: "nowhere" in d.find_element(By.CSS_SELECTOR, ".report-error").text, 10,
          "a bad street id is not explained")

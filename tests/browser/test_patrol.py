"""The patrol compliance (三定) section of /leaders in headless Chromium, on a hand-made case."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from data_feed.publish import publish_many
from tests.browser import district
from tests.browser.conftest import Served, wait_caught_up

pytestmark = pytest.mark.browser


def until(driver: Any, condition: Callable[[Any], Any], timeout: float, message: str) -> Any:
    """Wait for ``condition(driver)`` to be truthy (polling every 100 ms)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def hand_made(now: float) -> list[dict[str, str]]:
    """Street s1: cpA (warden wa) 2+2 rounds, cpB (wa) 1+0, cpC (wb) 0+0 over the two days before
    today, nothing today; cpD in s2 (outside the scope) 2+2. wa walked for the last ten minutes."""
    today = datetime.fromtimestamp(now, district.CST).date()
    d2, d1 = (today - timedelta(days=2)).isoformat(), (today - timedelta(days=1)).isoformat()
    lat, lon = 41.1, 122.0
    out: list[dict[str, str]] = []
    for cp, street, warden in (("cpA", "s1", "wa"), ("cpB", "s1", "wa"), ("cpC", "s1", "wb"), ("cpD", "s2", "wc")):
        out.append({"type": "checkpoint.registered", "ts": district.iso(now - 3 * 86400), "checkpoint_id": cp,
                    "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "street_id": street,
                    "warden_id": warden})
    for cp, day, clock in (("cpA", d2, "08:30"), ("cpA", d2, "14:30"), ("cpA", d1, "09:30"), ("cpA", d1, "15:30"),
                           ("cpB", d2, "10:00"), ("cpD", d2, "08:00"), ("cpD", d2, "13:00"),
                           ("cpD", d1, "08:00"), ("cpD", d1, "13:00")):
        out.append({"type": "inspection.completed", "ts": f"{day}T{clock}:00+08:00", "checkpoint_id": cp,
                    "warden_id": "wa", "result": "ok"})
    for k in range(57):  # every 10 s: the track keeps one a minute
        out.append({"type": "warden.position", "ts": district.iso(now - 590 + k * 10), "warden_id": "wa",
                    "lat": f"{lat + k * 0.0002:.6f}", "lon": f"{lon + k * 0.0001:.6f}"})
    return out


def grid_rows(driver: Any, grid_id: str) -> list[dict[str, Any]]:
    """An AG Grid's rows in their displayed order (after its sort and filters)."""
    return driver.execute_script(
        "var rows = []; var api = dash_ag_grid.getApi(arguments[0]);"
        "api.forEachNodeAfterFilterAndSort(function (n) { rows.push(n.data); }); return rows;", grid_id)


def test_patrol_section_shows_the_hand_made_rounds_and_replays_a_track(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any) -> None:
    now = time.time()
    publish_many(redis_conn, hand_made(now))
    served = serve(redis_url)
    wait_caught_up(served.runtime)
    rounds = served.runtime.state.rounds
    due_today = 1 if rounds.round_at(time.time()).name == "am" else 2
    due = 4 + due_today  # per checkpoint: two full days and today's rounds so far
    missed = ["cpA", "cpB", "cpC"] if due_today == 2 else ["cpB", "cpC"]

    browser.get(served.url + "/leaders?period=7d&street=s1")
    section = until(browser, lambda d: d.find_element(By.ID, "patrol-coverage"), 15, "no #patrol-coverage")
    rounds_tile = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".patrol-tile-rounds .ratio").text,
                        15, "the compliance tiles never filled")
    assert rounds_tile == f"已巡 5 / 应巡 {3 * due} 轮次"
    assert section.find_element(By.CSS_SELECTOR, ".patrol-tile-rounds .value").text == f"{5 / (3 * due) * 100:.1f}%"
    assert section.find_element(By.CSS_SELECTOR, ".patrol-tile-wardens .value").text == "2"
    assert "上一轮漏巡" in section.text and "今日只计已结束或正在进行的轮次" in section.text

    wardens = until(browser, lambda d: grid_rows(d, "patrol-table"), 10, "the wardens table is empty")
    assert [(w["warden_id"], w["rounds_done"], w["rounds_due"]) for w in wardens] == [
        ("wb", 0, due), ("wa", 5, 2 * due)]  # the worst first; cpD's warden is outside the street
    assert until(browser, lambda d: "0.0%" in d.find_element(By.ID, "patrol-table").text, 5,
                 "the rate column does not show 0.0% for wb")
    assert sorted(r["checkpoint_id"] for r in grid_rows(browser, "patrol-missed")) == missed
    api = served.app.server.test_client().get("/api/v1/patrol?period=7d&street=s1").get_json()
    assert (api["summary"]["rounds_done"], api["summary"]["rounds_due"]) == (5, 3 * due)
    assert {w["warden_id"]: w for w in api["wardens"]} == {w["warden_id"]: w for w in wardens}  # the page's rows

    # per checkpoint
    browser.find_element(By.XPATH, "//*[@id='patrol-level']//label[contains(., '实测点')]").click()
    until(browser, lambda d: "checkpoint_id" in (grid_rows(d, "patrol-table") or [{}])[0],
          10, "the checkpoint table never showed")
    per_cp = {r["checkpoint_id"]: (r["rounds_done"], r["days_0"], r["days_1"], r["days_2"])
              for r in grid_rows(browser, "patrol-table")}
    assert per_cp == {"cpA": (4, 1, 0, 2), "cpB": (1, 2, 1, 0), "cpC": (0, 3, 0, 0)}

    # the track replay: wa (the worst warden with a track today) on today; the slider moves the marker
    until(browser, lambda d: "(1/" in d.find_element(By.ID, "patrol-time").text, 15, "no track was loaded")
    total = int(browser.find_element(By.ID, "patrol-time").text.split("/")[1].rstrip(")"))
    assert 9 <= total <= 11
    marker = browser.find_element(By.CSS_SELECTOR, "#patrol-map path.patrol-marker")
    before = marker.get_attribute("d")
    handle = browser.find_element(By.CSS_SELECTOR, "#patrol-slider [role='slider']")
    for _ in range(5):
        handle.send_keys(Keys.ARROW_RIGHT)
    until(browser, lambda d: f"(6/{total})" in d.find_element(By.ID, "patrol-time").text, 5,
          "the time slider did not move along the track")
    until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#patrol-map path.patrol-marker").get_attribute("d")
          != before, 5, "the marker did not move")
    assert browser.find_elements(By.CSS_SELECTOR, "#patrol-map path.leaflet-interactive")

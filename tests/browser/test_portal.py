"""The public portal in headless Chromium: embeds framed by an allowed origin (and refused by
another), the citizen query, no personal data in anything the public pages receive or the log,
the wall under its Content-Security-Policy, and the wall's token across a server restart."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Response, request
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from werkzeug.security import generate_password_hash

from dashboard.push_streams import hub_of
from data_feed.publish import publish, publish_many
from tests.browser import district
from tests.browser.conftest import Served, _serve, wait_caught_up
from tests.browser.district import iso
from tests.browser.portal import WIDGETS, Portal, portal_html

pytestmark = pytest.mark.browser

SECRET = "portal-test-secret-" + "k" * 30
WALL_TOKEN = "portal-wall-token-0123456789abcdef"
DESCRIPTIONS = ["PII王大妈家门口路灯不亮7731", "PII-desc-neighbour-noise-8842", "PII小区东门井盖丢失5520"]
PHONES = ["13987650001", "13987650002", "13987650003"]
CODES = ["QCODE2345", "QCODE3456", "QCODE4567"]
CONTENT = {"kpis": ".tile .value", "streets": "table.streets td", "map": "svg.map circle",
           "board": "ul.board li", "query": "#query-form"}
"""What each embed shows once it has drawn its data."""


def until(driver: Any, condition: Callable[[Any], Any], timeout: float, message: str) -> Any:
    """Wait for ``condition(driver)`` to be truthy."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def planted(now: float) -> list[dict[str, str]]:
    """Cases carrying descriptions and phone numbers: two closed recently (the board), one open."""
    out = []
    for k, (desc, phone, code) in enumerate(zip(DESCRIPTIONS, PHONES, CODES, strict=True)):
        sid, lat, lon = district.checkpoint_position(120, k * 7)
        case_id = f"PII{k}"
        reported = now - 3 * 3600
        out.append({"type": "case.reported", "ts": iso(reported), "case_id": case_id, "channel": "hotline",
                    "category": district.CATEGORIES[k][0], "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                    "street_id": sid, "priority": "normal", "description": desc, "reporter_phone": phone,
                    "query_code": code})
        if k < 2:
            out.append({"type": "case.closed", "ts": iso(now - 1800 + k), "case_id": case_id})
    return out


@pytest.fixture
def users(tmp_path: Path) -> Path:
    """A leader user (the wall's token comes from GRID_WALL_TOKEN)."""
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"username": "leader", "role": "leader",
                                           "password_hash": generate_password_hash("leader-pass")}]}))
    return path


@pytest.fixture
def portals() -> Iterator[list[Portal]]:
    """Two sample portals on two ports: the first allowed to frame the embeds, the second not."""
    started = [Portal(), Portal()]
    yield started
    for p in started:
        p.stop()


class Recorder:
    """Every response body the app sends (before compression), by path."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[tuple[str, bytes]] = []

    def __call__(self, response: Response) -> Response:
        if response.is_streamed:  # a push stream never ends: its frames are read from the hub
            with self.lock:
                self.bodies.append((request.full_path, b""))
        elif not response.direct_passthrough:
            with self.lock:
                self.bodies.append((request.full_path, response.get_data()))
        return response


def _frame_text(driver: Any, frame_id: str) -> str:
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, frame_id))
    try:
        return str(driver.execute_script("return document.documentElement.outerHTML"))
    finally:
        driver.switch_to.default_content()


def _drawn(driver: Any, widget: str) -> bool:
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, f"embed-{widget}"))
    try:
        return bool(driver.find_elements(By.CSS_SELECTOR, CONTENT[widget]))
    finally:
        driver.switch_to.default_content()


def test_portal_embeds_live_widgets_without_personal_data(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any, users: Path,
        portals: list[Portal], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    now = time.time()
    publish_many(redis_conn, district.events(120, now, cases=12, wardens=10) + planted(now))
    allowed, other = portals
    served = serve(redis_url, AUTH="on", SECRET_KEY=SECRET, USERS_FILE=str(users), WALL_TOKEN=WALL_TOKEN,
                   EMBED_ORIGINS=allowed.origin)
    recorder = Recorder()
    served.app.server.after_request(recorder)
    wait_caught_up(served.runtime)
    allowed.page = portal_html(served.url)
    other.page = portal_html(served.url, ["kpis"])

    browser.get(allowed.origin + "/")
    for widget in WIDGETS:
        until(browser, lambda d, w=widget: _drawn(d, w), 20, f"embed {widget} did not draw in the allowed portal")

    # the query, as a citizen types it
    browser.switch_to.frame(browser.find_element(By.ID, "embed-query"))
    browser.find_element(By.NAME, "query_code").send_keys(CODES[2])
    browser.find_element(By.NAME, "phone").send_keys("139 8765 0003")
    browser.find_element(By.CSS_SELECTOR, "#query-form button").click()
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "section.case dd"), 10, "no answer to the query")
    answer = browser.find_element(By.CSS_SELECTOR, "section.case").text
    assert "已受理" in answer
    browser.find_element(By.NAME, "phone").clear()
    browser.find_element(By.NAME, "phone").send_keys("13900000000")
    browser.find_element(By.CSS_SELECTOR, "#query-form button").click()
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "p.notice"), 10, "no answer to a wrong pair")
    browser.switch_to.default_content()

    # live: a case reported now shows up in the KPI embed without a reload
    def accepted() -> int:
        text = _frame_text(browser, "embed-kpis")
        start = text.index('class="value"') + len('class="value">')
        return int(text[start:text.index("<", start)])

    before = accepted()
    sid, lat, lon = district.checkpoint_position(120, 3)
    publish(redis_conn, {"type": "case.reported", "ts": iso(time.time()), "case_id": "LIVE1", "channel": "web",
                         "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "street_id": sid,
                         "priority": "normal"})
    until(browser, lambda d: accepted() == before + 1, 30, "the KPI embed did not update live")

    # board: closed cases by category and street, with outcome; never the planted text
    board = _frame_text(browser, "embed-board")
    assert "花坛" in board or "井篦子" in board

    # the other origin may not frame them: Chromium shows its error page instead of the widget
    browser.get(other.origin + "/")
    time.sleep(3)
    assert not _drawn(browser, "kpis")
    refused = [e["message"] for e in browser.get_log("browser") if "frame-ancestors" in e["message"]]
    assert refused, "Chromium did not report the refused framing"

    # nothing the public pages received, nor the log, holds a description or a phone number
    paths = {p.split("?")[0] for p, _ in recorder.bodies}
    assert {"/api/v1/public/stream/tiles", "/api/v1/public/stream/kpis", "/api/v1/public/stream/board",
            "/api/v1/public/stream/map",
            "/api/v1/public/query", "/api/v1/public/boundaries", "/embed/kpis"} <= paths
    frames = [c.frame.body for c in hub_of(served.app.server).channels() if c.frame is not None]
    assert len(frames) >= 3
    recorder.bodies += [("push frame", f) for f in frames]
    assert not any(p.startswith(("/_dash", "/api/v1/alerts")) for p in paths)
    secrets_ = DESCRIPTIONS + PHONES + [p[-4:] + "PII" for p in PHONES]
    for path, body in recorder.bodies:
        text = body.decode("utf-8", "replace")
        for secret in secrets_:
            assert secret not in text, f"{secret!r} in the response to {path}"
        for k in range(3):
            assert f'"PII{k}"' not in text, f"case id PII{k} in the response to {path}"
    for secret in DESCRIPTIONS + PHONES:
        assert secret not in caplog.text


def test_wall_runs_under_its_csp_and_its_token_survives_a_restart(
        redis_conn: redis.Redis, redis_url: str, serve: Callable[..., Served], browser: Any, users: Path,
        reference_dir: Path, data_dir: Path) -> None:
    from dashboard import create_app

    publish_many(redis_conn, district.events(120, time.time(), cases=12, wardens=10))
    settings = {"AUTH": "on", "SECRET_KEY": SECRET, "USERS_FILE": str(users), "WALL_TOKEN": WALL_TOKEN}
    served = serve(redis_url, **settings)
    wait_caught_up(served.runtime)
    browser.get(f"{served.url}/?kiosk=1&token={WALL_TOKEN}")

    def accepted(d: Any) -> str:
        # read in one script: the tile is re-rendered by every update (a found element goes stale)
        return str(d.execute_script(
            "var e = document.querySelector(\"#kpi-district [data-kpi='accepted'] .tile-value\");"
            " return e ? e.innerText : '';"))

    until(browser, accepted, 30, "the wall did not draw its KPIs")
    before = accepted(browser)
    violations = [e["message"] for e in browser.get_log("browser")
                  if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    assert not violations, violations

    # a restart: a new app from the same configuration, on the same port
    served.runtime.stop()
    served.stop()
    time.sleep(1)
    app = create_app({"REDIS_URL": redis_url, "REFERENCE_DIR": str(reference_dir), "DATA_DIR": str(data_dir),
                      **settings})
    runtime = app.server.extensions["grid"]
    served.app, served.runtime = app, runtime
    served.server = _serve(app, served.port)
    wait_caught_up(runtime)
    sid, lat, lon = district.checkpoint_position(120, 3)
    publish(redis_conn, {"type": "case.reported", "ts": iso(time.time()), "case_id": "AFTER1", "channel": "web",
                         "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "street_id": sid,
                         "priority": "normal"})
    until(browser, lambda d: accepted(d) not in ("", before), 40, "the wall did not update after the restart")
    assert "/login" not in browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, "input[type=password]")

"""Access control, security headers, the public JSON and the citizen query, against a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug.security import generate_password_hash

from dashboard import create_app
from dashboard.access import token_digest
from dashboard.app import runtime_of
from dashboard.config import load_config
from data_feed.errors import ConfigError
from data_feed.publish import publish_many
from tests.events import case_event, report

SECRET = "s" * 40
WALL_TOKEN = "wall-token-0123456789-abcdefghij"
LEADER_TOKEN = "leader-token-0123456789-abcdefghij"
CST = timezone(timedelta(hours=8))


def _now_iso(minutes_ago: float = 0) -> str:
    return (datetime.now(CST) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    """Users of every role, and a leader's API token."""
    path = tmp_path / "users.json"
    path.write_text(json.dumps({
        "users": [
            {"username": "leader", "role": "leader", "password_hash": generate_password_hash("leader-pass")},
            {"username": "dept", "role": "department", "department_id": "D01",
             "password_hash": generate_password_hash("dept-pass")},
            {"username": "admin", "role": "admin", "password_hash": generate_password_hash("admin-pass")},
        ],
        "tokens": [{"name": "leader-api", "role": "leader", "token_sha256": token_digest(LEADER_TOKEN)}],
    }))
    return path


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """Two categories, one of them the department D01's."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "categories.json").write_text(json.dumps([
        {"category_id": "lamp", "name_zh": "路灯", "name_en": "Street lamp", "department_id": "D01",
         "time_limit_hours": {"normal": 72, "urgent": 24, "hazard": 4}},
        {"category_id": "bin", "name_zh": "垃圾箱", "name_en": "Garbage bin", "department_id": "D02",
         "time_limit_hours": {"normal": 72, "urgent": 24, "hazard": 4}},
    ]))
    return ref


def _settings(redis_url: str, tmp_path: Path, users_file: Path, reference: Path, **extra: Any) -> dict[str, Any]:
    return {"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100, "AUTH": "on",
            "SECRET_KEY": SECRET, "USERS_FILE": str(users_file), "WALL_TOKEN": WALL_TOKEN,
            "REFERENCE_DIR": str(reference), "EMBED_ORIGINS": "http://portal.example:8080", **extra}


@pytest.fixture
def app(redis_url: str, tmp_path: Path, users_file: Path, reference: Path) -> Iterator[Any]:
    """An app with access control on, caught up."""
    app = create_app(_settings(redis_url, tmp_path, users_file, reference))
    assert runtime_of(app).consumer.wait_caught_up(10)
    yield app
    runtime_of(app).stop()


def _login(client: Any, user: str, password: str) -> Any:
    return client.post("/login", data={"username": user, "password": password, "next": ""})


WALL_CALLBACK = {"output": "..page.children...page-path.data..",
                 "outputs": [{"id": "page", "property": "children"}, {"id": "page-path", "property": "data"}],
                 "inputs": [{"id": "page-url", "property": "pathname", "value": "/"}],
                 "changedPropIds": ["page-url.pathname"],
                 "state": [{"id": "page-url", "property": "search", "value": ""},
                           {"id": "page-path", "property": "data", "value": None}]}
"""The router's callback (root components: anyone signed in; it renders only pages the caller may open)."""

TICK_CALLBACK = {"output": "heartbeat.data", "outputs": [{"id": "heartbeat", "property": "data"},
                                                         {"id": "alerts", "property": "children"}],
                 "inputs": [], "changedPropIds": [], "state": []}
"""Outputs of the wall's tick (the wall's data)."""


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize(("settings", "message"), [
    ({"AUTH": "on"}, "no users or tokens are configured"),
    ({"AUTH": "maybe"}, "GRID_AUTH"),
    ({"AUTH": "on", "WALL_TOKEN": WALL_TOKEN, "SECRET_KEY": "short"}, "GRID_SECRET_KEY"),
    ({"AUTH": "on", "WALL_TOKEN": "short"}, "GRID_WALL_TOKEN"),
    ({"AUTH": "off", "USERS_FILE": "/nonexistent/users.json"}, "GRID_USERS_FILE"),
    ({"AUTH": "off", "EMBED_ORIGINS": "portal.example.com"}, "GRID_EMBED_ORIGINS"),
    ({"AUTH": "off", "QUERY_RATE_LIMIT": "ten a minute"}, "GRID_QUERY_RATE_LIMIT"),
])
def test_bad_access_settings_fail_at_start_naming_the_fix(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(settings, environ={})


def test_a_users_file_with_a_plain_password_is_refused(redis_url: str, tmp_path: Path, reference: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"users": [{"username": "x", "role": "leader", "password_hash": "hunter2"}]}))
    with pytest.raises(ConfigError, match="hash-password"):
        create_app({"REDIS_URL": redis_url, "AUTH": "on", "SECRET_KEY": SECRET, "USERS_FILE": str(bad),
                    "START_CONSUMER": False})


# ------------------------------------------------------------------ roles
def test_anonymous_reaches_public_paths_only(app: Any) -> None:
    client = app.server.test_client()
    page = client.get("/?kiosk=1")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/%3Fkiosk%3D1"
    for path in ("/api/v1/kpis", "/api/v1/alerts", "/api/v1/checkpoints", "/metrics", "/_dash-layout",
                 "/_dash-dependencies"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/_dash-update-component", json=WALL_CALLBACK).status_code == 401
    for path in ("/embed/kpis", "/embed/streets", "/embed/map", "/embed/board", "/embed/query", "/healthz",
                 "/api/v1/public/kpis", "/api/v1/public/board", "/api/v1/public/map",
                 "/api/v1/public/boundaries", "/api/v1/openapi.json", "/login", "/embed/static/embed.js"):
        assert client.get(path).status_code == 200, path


def test_the_wall_token_opens_the_wall_and_its_data_without_a_login(app: Any) -> None:
    client = app.server.test_client()
    assert client.get(f"/?kiosk=1&token={WALL_TOKEN}").status_code == 200
    # the page's own Dash requests carry its URL (with the token) as referrer
    referrer = {"Referer": f"http://localhost/?kiosk=1&token={WALL_TOKEN}"}
    assert client.get("/_dash-layout", headers=referrer).status_code == 200
    assert client.post("/_dash-update-component", json=WALL_CALLBACK, headers=referrer).status_code == 200
    bearer = {"Authorization": f"Bearer {WALL_TOKEN}"}
    for path in ("/api/v1/kpis", "/api/v1/alerts", "/api/v1/checkpoints", "/metrics"):
        assert client.get(path, headers=bearer).status_code == 200, path
    # a referrer from another site carries no token
    foreign = {"Referer": f"http://evil.example/?token={WALL_TOKEN}"}
    assert client.get("/_dash-layout", headers=foreign).status_code == 401
    # a callback writing components of no page the wall may open is refused
    other = {**WALL_CALLBACK, "output": "leaders-table.children",
             "outputs": {"id": "leaders-table", "property": "children"}}
    assert client.post("/_dash-update-component", json=other, headers=referrer).status_code == 403
    assert client.get("/?token=wrong-token-0123456789-abcdefgh").status_code == 302


def test_users_log_in_and_get_what_their_role_may(app: Any, redis_conn: redis.Redis) -> None:
    rt = runtime_of(app)
    publish_many(redis_conn, [report("L1", _now_iso(200), category="lamp", priority="hazard"),
                              report("B1", _now_iso(200), category="bin", priority="hazard")])
    deadline = time.time() + 10
    while len(rt.state.cases) < 2 and time.time() < deadline:
        time.sleep(0.05)
    leader = app.server.test_client()
    assert _login(leader, "leader", "wrong").status_code == 401
    response = _login(leader, "leader", "leader-pass")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert leader.get("/").status_code == 200
    assert leader.get("/_dash-layout").status_code == 200
    assert {a["case_id"] for a in leader.get("/api/v1/alerts").get_json()["alerts"]} == {"L1", "B1"}

    dept = app.server.test_client()
    assert _login(dept, "dept", "dept-pass").status_code == 302
    assert dept.get("/").status_code == 403
    assert dept.post("/_dash-update-component", json=TICK_CALLBACK).status_code == 403
    routed = dept.post("/_dash-update-component", json=WALL_CALLBACK)  # the router renders a 403, not the wall
    assert routed.status_code == 200 and "403" in routed.get_data(True) and "kpi" not in routed.get_data(True)
    alerts = dept.get("/api/v1/alerts").get_json()
    assert [a["case_id"] for a in alerts["alerts"]] == ["L1"] and alerts["total"] == 1  # its category only
    assert {f["properties"]["category"] for f in dept.get("/api/v1/checkpoints").get_json()["features"]} <= {"lamp"}
    assert set(dept.get("/api/v1/kpis").get_json()) == {"period", "departments"}

    admin = app.server.test_client()
    assert _login(admin, "admin", "admin-pass").status_code == 302
    assert admin.get("/metrics").status_code == 200

    api = app.server.test_client()
    assert api.get("/api/v1/kpis", headers={"Authorization": f"Bearer {LEADER_TOKEN}"}).status_code == 200
    leader.get("/logout")
    assert leader.get("/api/v1/kpis").status_code == 401


def test_a_session_and_the_token_survive_a_restart(redis_url: str, tmp_path: Path, users_file: Path,
                                                   reference: Path) -> None:
    settings = _settings(redis_url, tmp_path, users_file, reference, START_CONSUMER=False)
    first = create_app(settings)
    client = first.server.test_client()
    assert _login(client, "leader", "leader-pass").status_code == 302
    cookie = client.get_cookie("grid_session")
    assert cookie is not None
    second = create_app(settings)  # a restarted server: same configuration, new process state
    again = second.server.test_client()
    again.set_cookie("grid_session", cookie.value)
    assert again.get("/api/v1/kpis").status_code != 401
    assert second.server.test_client().get(f"/?token={WALL_TOKEN}").status_code == 200


def test_failed_logins_are_rate_limited_per_client(app: Any) -> None:
    client = app.server.test_client()
    codes = [_login(client, "leader", f"wrong-{i}").status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert "登录失败次数过多" in client.post("/login", data={"username": "leader", "password": "x"}).get_data(True)


# ------------------------------------------------------------------ headers
def test_security_headers_on_every_response(app: Any) -> None:
    client = app.server.test_client()
    for path in ("/login", "/api/v1/public/kpis", "/healthz", "/_dash-component-suites/nothing.js",
                 "/no-such-page", "/api/v1/kpis", "/assets/wall.css"):
        response = client.get(path)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Frame-Options"] == "DENY", path
    embed = client.get("/embed/kpis").headers
    assert "frame-ancestors 'self' http://portal.example:8080" in embed["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed
    assert "unsafe-eval" not in embed["Content-Security-Policy"]


# ------------------------------------------------------------------ public JSON and the query
def test_public_json_is_cacheable_and_built_from_the_kpi_engine(app: Any, redis_conn: redis.Redis) -> None:
    rt = runtime_of(app)
    publish_many(redis_conn, [report("P1", _now_iso(30), category="lamp", street=None),
                              case_event("resolved_on_site", "P1", _now_iso(10))])
    deadline = time.time() + 10
    while not rt.state.cases.get("P1") or rt.state.cases["P1"].is_open:
        assert time.time() < deadline
        time.sleep(0.05)
    client = app.server.test_client()
    response = client.get("/api/v1/public/kpis")
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    tag = response.headers["ETag"]
    assert client.get("/api/v1/public/kpis", headers={"If-None-Match": tag}).status_code == 304
    internal = client.get("/api/v1/kpis?period=today", headers={"Authorization": f"Bearer {WALL_TOKEN}"}).get_json()
    assert response.get_json()["district"]["today"]["accepted"] == internal["district"]["accepted"] == 1
    board = client.get("/api/v1/public/board?lang=en").get_json()
    assert board["closed"] == 1
    item = board["items"][0]
    assert item["category_name"] == "Street lamp" and item["outcome"] == "resolved_on_site"
    assert "case_id" not in json.dumps(board) and "P1" not in json.dumps(board)
    assert client.get("/api/v1/public/kpis?street=nowhere").status_code == 404


def test_citizen_query_answers_the_right_pair_and_one_generic_answer_otherwise(
        app: Any, redis_conn: redis.Redis) -> None:
    rt = runtime_of(app)
    publish_many(redis_conn, [
        {"type": "inspection.completed", "ts": _now_iso(61), "checkpoint_id": "cpQ", "warden_id": "W-SECRET",
         "result": "problem", "case_id": "Q1"},
        report("Q1", _now_iso(60), query_code="ABCD2345", reporter_phone="13912345678",
               description="王大妈家门口的路灯坏了"),
        case_event("dispatched", "Q1", _now_iso(50), unit_id="D01", unit_type="department"),
        case_event("returned", "Q1", _now_iso(40), reason="王大妈说还是不亮"),
    ])
    deadline = time.time() + 10
    while "Q1" not in rt.state.cases or rt.state.cases["Q1"].returned_count < 1:
        assert time.time() < deadline
        time.sleep(0.05)
    client = app.server.test_client()
    found = client.post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "139 1234 5678",
                                                      "lang": "en"})
    assert found.status_code == 200
    body = found.get_json()
    assert body["status"] == "returned" and body["category_name"] == "Street lamp"
    # the case's whole path, without the warden who found it or the staff's reasons
    assert [step["event"] for step in body["timeline"]] == ["reported", "dispatched", "returned"]
    text = json.dumps(body, ensure_ascii=False)
    assert "王大妈" not in text and "13912345678" not in text and "Q1" not in text and "W-SECRET" not in text
    wrong_phone = client.post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "13900000000"})
    unknown = client.post("/api/v1/public/query", json={"query_code": "ZZZZ9999", "phone": "13912345678"})
    assert wrong_phone.status_code == unknown.status_code == 404
    assert wrong_phone.get_json() == unknown.get_json()
    assert client.post("/api/v1/public/query", json={"query_code": "x"}).status_code == 400


def test_query_rate_limit_per_code_holds_across_two_workers(redis_url: str, tmp_path: Path, users_file: Path,
                                                            reference: Path) -> None:
    settings = _settings(redis_url, tmp_path, users_file, reference, START_CONSUMER=False,
                         QUERY_CODE_RATE_LIMIT="4/hour", QUERY_RATE_LIMIT="100/hour")
    workers = [create_app(settings).server.test_client() for _ in range(2)]
    codes = [workers[i % 2].post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "13900000000"},
                                 environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(6)]
    # four tries of that code in all, whichever worker and client: then 429 on both workers
    assert codes == [404, 404, 404, 404, 429, 429]
    other = workers[1].post("/api/v1/public/query", json={"query_code": "WXYZ2345", "phone": "13900000000"})
    assert other.status_code == 404


def test_query_rate_limit_per_client_holds_across_two_workers(redis_url: str, tmp_path: Path, users_file: Path,
                                                              reference: Path) -> None:
    settings = _settings(redis_url, tmp_path, users_file, reference, START_CONSUMER=False,
                         QUERY_CODE_RATE_LIMIT="100/hour", QUERY_RATE_LIMIT="3/minute")
    workers = [create_app(settings).server.test_client() for _ in range(2)]
    codes = [workers[i % 2].post("/api/v1/public/query", json={"query_code": f"CODE{i}234", "phone": "13900000000"})
             .status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]


def test_login_returns_to_the_page_asked_for_and_never_off_site(app: Any) -> None:
    client = app.server.test_client()
    form = client.get("/login?next=%2F%3Fkiosk%3D1").get_data(True)
    assert 'name="next" value="/?kiosk=1"' in form
    response = client.post("/login", data={"username": "leader", "password": "leader-pass", "next": "/?kiosk=1"})
    assert response.headers["Location"] == "/?kiosk=1"
    other = app.server.test_client()
    response = other.post("/login", data={"username": "leader", "password": "leader-pass",
                                          "next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_department_scopes_of_pages() -> None:
    """A department opens its own /dept/<id> and case files of its subscribed categories only."""
    from dashboard.access import Access, Directory, Principal
    from dashboard.pages import Route
    from dashboard.roles import DEPARTMENTS, Role

    config = load_config({"AUTH": "off"}, environ={})
    cases = {"K1": "lamp", "K2": "bin"}
    access = Access(config, Directory(), lambda dept: frozenset({"lamp"}) if dept == "D01" else frozenset(),
                    cases.get)
    dept_page = Route("dept", "/dept/", prefix=True, roles=DEPARTMENTS, scope="department")
    case_page = Route("case", "/case/", prefix=True, roles=DEPARTMENTS, scope="case")
    leaders = Route("leaders", "/leaders")
    d01 = Principal("d", Role.DEPARTMENT, "D01")
    assert access.may_open(d01, dept_page, "D01") and not access.may_open(d01, dept_page, "D02")
    assert access.may_open(d01, case_page, "K1") and not access.may_open(d01, case_page, "K2")
    assert not access.may_open(d01, case_page, "unknown") and not access.may_open(d01, leaders, "")
    leader = Principal("l", Role.LEADER)
    assert access.may_open(leader, dept_page, "D02") and access.may_open(leader, case_page, "K2")
    wall = Principal("w", Role.COMMAND_CENTER)
    assert not access.may_open(wall, leaders, "") and not access.may_open(wall, case_page, "K1")


def test_department_pages_case_files_and_leaders_page_by_role(app: Any, redis_conn: redis.Redis) -> None:
    rt = runtime_of(app)
    publish_many(redis_conn, [report("L2", _now_iso(100), category="lamp"),
                              report("B2", _now_iso(100), category="bin")])
    deadline = time.time() + 10
    while len(rt.state.cases) < 2:
        assert time.time() < deadline
        time.sleep(0.05)
    dept = app.server.test_client()
    assert _login(dept, "dept", "dept-pass").headers["Location"] == "/dept/D01"
    assert dept.get("/dept/D01").status_code == 200
    assert dept.get("/dept/D02").status_code == 403
    assert dept.get("/case/L2").status_code == 200
    assert dept.get("/case/B2").status_code == 403
    assert dept.get("/leaders").status_code == 403
    assert dept.get("/api/v1/cases/L2").status_code == 200
    assert dept.get("/api/v1/cases/B2").status_code == 403
    assert dept.get("/export/ranking.csv").status_code == 403
    # the department page's callback reads its id from the browser: another id gets a 403 message
    key = next(k for k in app.callback_map if "dept-body.children" in k)
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in key.strip(".").split("...")]
    body = {"output": key, "outputs": outputs, "changedPropIds": ["dept-key.data"], "state": [],
            "inputs": [{"id": "dept-key", "property": "data", "value": {"department_id": "D02", "lang": "en"}},
                       {"id": "dept-url", "property": "search", "value": ""}]}
    answer = dept.post("/_dash-update-component", json=body, headers={"Referer": "http://localhost/dept/D01"})
    assert answer.status_code == 200 and "may not open department D02" in answer.get_data(True)
    wall = app.server.test_client()
    bearer = {"Authorization": f"Bearer {WALL_TOKEN}"}
    assert wall.get(f"/leaders?token={WALL_TOKEN}").status_code == 403
    # the wall's alerts link to case files: its token opens them (and nothing else internal)
    assert wall.get("/api/v1/cases/L2", headers=bearer).status_code == 200
    assert wall.get(f"/case/L2?token={WALL_TOKEN}").status_code == 200
    assert wall.get("/api/v1/patrol", headers=bearer).status_code == 403
    leader = app.server.test_client()
    _login(leader, "leader", "leader-pass")
    for path in ("/leaders", "/case/B2", "/dept/D02", "/api/v1/cases/B2"):
        assert leader.get(path).status_code == 200, path


def test_a_login_form_posted_from_another_site_is_refused(app: Any) -> None:
    client = app.server.test_client()
    form = {"username": "leader", "password": "leader-pass", "next": ""}
    evil = client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and client.get("/leaders").status_code != 200
    assert client.post("/login", data=form, headers={"Origin": "null"}).status_code == 403
    ok = client.post("/login", data=form, headers={"Origin": "http://localhost"})
    assert ok.status_code == 302 and client.get("/leaders").status_code == 200


def test_rate_limited_routes_answer_503_not_500_while_redis_is_away(
        redis_process: Any, tmp_path: Path, users_file: Path, reference: Path) -> None:
    app = create_app(_settings(redis_process.url, tmp_path, users_file, reference))
    try:
        assert runtime_of(app).consumer.wait_caught_up(10)
        client = app.server.test_client()
        form = {"username": "leader", "password": "wrong", "next": ""}
        assert client.post("/login", data=form).status_code == 401
        redis_process.stop()
        down = client.post("/login", data=form)
        assert down.status_code == 503 and down.headers["Retry-After"] == "5"
        query = client.post("/api/v1/public/query", json={"query_code": "Q1", "phone": "13800000000"})
        assert query.status_code == 503 and "Redis is unreachable" in query.get_json()["error"]
    finally:
        runtime_of(app).stop()


def test_the_wall_push_stream_is_open_to_the_wall_only(app: Any) -> None:
    """GRID_PUSH=sse: the kiosk's EventSource carries the page's URL (with its token) as referrer."""
    client = app.server.test_client()
    assert client.get("/api/v1/stream/wall").status_code == 401
    referrer = {"Referer": f"http://localhost/?kiosk=1&token={WALL_TOKEN}"}
    response = client.get("/api/v1/stream/wall?lang=en", headers=referrer, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert next(iter(response.response)).startswith(b"retry: ")
    response.close()
    dept = app.server.test_client()
    _login(dept, "dept", "dept-pass")
    assert dept.get("/api/v1/stream/wall").status_code == 403


def test_the_public_streams_are_open_and_the_leaders_stream_is_the_leaders_pages(app: Any) -> None:
    """Public embeds' push: anyone; the leaders page's push: leaders and administrators, as the page."""
    anonymous = app.server.test_client()
    public = anonymous.get("/api/v1/public/stream/kpis?lang=en", buffered=False)
    assert public.status_code == 200 and public.mimetype == "text/event-stream"
    assert "frame-ancestors" in public.headers.get("Content-Security-Policy", "")  # CSP as every public answer
    public.close()
    assert anonymous.get("/api/v1/stream/leaders").status_code == 401
    dept = app.server.test_client()
    _login(dept, "dept", "dept-pass")
    assert dept.get("/api/v1/stream/leaders").status_code == 403
    referrer = {"Referer": f"http://localhost/?kiosk=1&token={WALL_TOKEN}"}  # the wall is not the leaders page
    assert anonymous.get("/api/v1/stream/leaders", headers=referrer).status_code == 403
    for who in (("leader", "leader-pass"), ("admin", "admin-pass")):
        client = app.server.test_client()
        _login(client, *who)
        response = client.get("/api/v1/stream/leaders", buffered=False)
        assert response.status_code == 200 and next(iter(response.response)).startswith(b"retry: ")
        response.close()
    token = anonymous.get("/api/v1/stream/leaders", headers={"Authorization": f"Bearer {LEADER_TOKEN}"},
                          buffered=False)
    assert token.status_code == 200
    token.close()

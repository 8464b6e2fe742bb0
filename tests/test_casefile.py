"""Case files and department views: the shared projection on hand-made cases, and their API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from dashboard import create_app
from dashboard.app import runtime_of
from dashboard.casefile import (
    CaseNotFound,
    CaseRetired,
    case_file,
    department_view,
    public_case_file,
)
from dashboard.periods import parse_period
from dashboard.reference import load_reference
from data_feed.publish import publish_many
from tests.browser import district
from tests.casefile_events import PLANTED_DESCRIPTION, PLANTED_PHONE, STEPS, add_departments, at, handmade_case
from tests.events import report
from tests.helpers import feed, make_runtime


@pytest.fixture
def ref_dir(tmp_path: Path) -> Path:
    """The synthetic district with two departments."""
    return add_departments(district.write_reference(tmp_path / "ref"))


def _open_cases(start: float) -> list[dict[str, str]]:
    """An open bin case (sanitation's category), an open lamp case overdue, a drain case dispatched
    to street lighting (not its category), and a flowerbed case nobody subscribes to."""
    return [
        {"type": "checkpoint.registered", "ts": at(start, -3600), "checkpoint_id": "cpB", "category": "bin",
         "lat": "41.100", "lon": "122.000", "street_id": "s1"},
        {"type": "checkpoint.registered", "ts": at(start, -3600), "checkpoint_id": "cpL", "category": "lamp",
         "lat": "41.101", "lon": "122.001", "street_id": "s1"},
        report("BIN1", at(start, 0), category="bin", checkpoint="cpB", lat="41.100", lon="122.000"),
        report("LAMP2", at(start, 0), category="lamp", checkpoint="cpL", lat="41.101", lon="122.001"),
        {"type": "case.dispatched", "ts": at(start, 60), "case_id": "LAMP2", "unit_id": "T-S1",
         "unit_type": "street_team", "deadline": at(start, 3600)},
        report("DRAIN3", at(start, 0), category="drain"),
        {"type": "case.dispatched", "ts": at(start, 60), "case_id": "DRAIN3", "unit_id": "D-LIGHT",
         "unit_type": "department"},
        report("FLOWER4", at(start, 0), category="flowerbed"),
    ]


def test_case_file_of_a_hand_made_case(redis_conn: redis.Redis, ref_dir: Path) -> None:
    rt = make_runtime(redis_conn, load_reference(ref_dir))
    start = int(time.time()) - 3 * 86400
    feed(redis_conn, rt, handmade_case("K1", start))
    record = case_file(rt, "K1", time.time())
    assert [s["type"] for s in record["timeline"]] == list(STEPS)
    found, reported, _esc, dispatched, _p1, returned = record["timeline"][:6]
    assert (found["checkpoint_id"], found["warden_id"]) == ("cpK", "wK")
    assert reported["channel"] == "patrol"
    assert dispatched["unit"] == {"id": "D-LIGHT", "name_zh": "城市照明管理处", "name_en": "Street Lighting Office"}
    assert dispatched["deadline"] == at(start, 48 * 3600)
    assert returned["reason"] == "灯仍不亮 still dark"
    assert record["state"] == "closed" and record["returned_count"] == 1
    assert record["deadline_status"]["status"] == "closed_on_time"
    assert record["deadline_status"]["seconds"] == -21 * 3600  # closed 21 h before its deadline
    assert record["category"]["name_zh"] == "路灯"
    assert record["street"]["name_en"] == "Xinglong" and record["community"]["id"] == "s1c00"
    assert record["checkpoint"]["id"] == "cpK" and record["warden"]["id"] == "wK"
    assert record["warden"]["lat"] == pytest.approx(41.1242)
    assert record["departments"][0]["id"] == "D-LIGHT"
    assert record["rating"]["satisfied"] is True and record["rating"]["score"] == 5
    text = json.dumps(record, ensure_ascii=False)
    assert PLANTED_DESCRIPTION not in text and PLANTED_PHONE not in text and "description" not in text
    public = json.dumps(public_case_file(record), ensure_ascii=False)
    assert "wK" not in public and "still dark" not in public and "D-LIGHT" not in public.replace(
        '"id": "D-LIGHT"', "")  # the department is named, but no staff fields remain
    assert "warden" not in public


def test_deadline_status_counts_down_then_overdue(redis_conn: redis.Redis, ref_dir: Path) -> None:
    rt = make_runtime(redis_conn, load_reference(ref_dir))
    start = int(time.time()) - 1800
    feed(redis_conn, rt, _open_cases(start))
    lamp = case_file(rt, "LAMP2", start + 600)["deadline_status"]
    assert lamp == {"status": "open", "colour": "green", "seconds": 3000}
    assert case_file(rt, "LAMP2", start + 3400)["deadline_status"]["colour"] == "yellow"
    late = case_file(rt, "LAMP2", start + 7200)["deadline_status"]
    assert late == {"status": "overdue", "colour": "red", "seconds": 3600}


def test_unknown_and_retired_cases(redis_conn: redis.Redis, ref_dir: Path) -> None:
    rt = make_runtime(redis_conn, load_reference(ref_dir), CASE_RETENTION_DAYS=1)
    start = int(time.time()) - 5 * 86400
    feed(redis_conn, rt, [*handmade_case("OLD", start), report("NEW", at(start, 4 * 86400))])
    with pytest.raises(CaseRetired, match="no longer kept"):
        case_file(rt, "OLD", time.time())
    with pytest.raises(CaseNotFound):
        case_file(rt, "NOPE", time.time())


def test_a_department_sees_only_its_categories_and_its_dispatches(redis_conn: redis.Redis, ref_dir: Path) -> None:
    rt = make_runtime(redis_conn, load_reference(ref_dir))
    start = int(time.time()) - 1800
    feed(redis_conn, rt, [*handmade_case("K1", time.time() - 3 * 86400), *_open_cases(start)])
    now = time.time() + 7200  # LAMP2 is overdue by then
    period = parse_period("30d", None, None, now, rt.config.tz)
    light = department_view(rt, "D-LIGHT", now, period)
    assert light["categories"] == ["lamp"]
    # its open lamp case, the reworked (closed) lamp case, and the drain case dispatched to it
    assert {r["case_id"] for r in light["cases"]} == {"LAMP2", "K1", "DRAIN3"}
    assert {r["checkpoint_id"] for r in light["checkpoints"]} == {"cpK", "cpL"}
    assert light["checkpoint_status"]["overdue"] == 1 and light["checkpoint_status"]["ok"] == 0
    assert light["case_counts"] == {"open": 2, "overdue": 1, "reworked": 1}
    assert light["cases"][0]["case_id"] == "LAMP2"  # the most overdue open case first
    # the KPI engine's department record (dispatched to it): the hand-made case and DRAIN3
    assert light["figures"]["accepted"] == 2 and light["figures"]["returned"] == 1
    san = department_view(rt, "D-SAN", now, period)
    assert san["categories"] == ["bin", "drain"]
    assert {r["case_id"] for r in san["cases"]} == {"BIN1", "DRAIN3"}
    assert {r["checkpoint_id"] for r in san["checkpoints"]} == {"cpB"}
    assert san["figures"]["accepted"] == 0


def _app(redis_url: str, tmp_path: Path, ref_dir: Path, **extra: object):  # type: ignore[no-untyped-def]
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "var"), "REFERENCE_DIR": str(ref_dir),
                      "BLOCK_MS": 100, **extra})
    rt = runtime_of(app)
    assert rt.consumer.wait_caught_up(10)
    return app, rt


def _wait_for(rt, case_id: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + 10
    while time.time() < deadline:
        with rt.state.lock:
            if case_id in rt.state.cases:
                return
        time.sleep(0.05)
    raise AssertionError(f"{case_id} never applied")


def _plain(response) -> str:  # type: ignore[no-untyped-def]
    """A response's text with JSON's \\u escapes decoded (Chinese as written)."""
    text = response.get_data(as_text=True)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return str(text)


def test_case_api_404_410_and_no_personal_fields(redis_conn: redis.Redis, redis_url: str, tmp_path: Path,
                                                 ref_dir: Path) -> None:
    start = int(time.time()) - 5 * 86400
    publish_many(redis_conn, [*handmade_case("OLD", start), *handmade_case("K2", time.time() - 2 * 86400,
                                                                           checkpoint="cp2", warden="w2")])
    app, rt = _app(redis_url, tmp_path, ref_dir, CASE_RETENTION_DAYS=1)
    try:
        _wait_for(rt, "K2")
        client = app.server.test_client()
        ok = client.get("/api/v1/cases/K2")
        assert ok.status_code == 200
        body = ok.get_json()
        assert [s["type"] for s in body["timeline"]] == list(STEPS)
        assert body["case_id"] == "K2" and body["deadline_status"]["status"] == "closed_on_time"
        assert client.get("/api/v1/cases/OLD").status_code == 410
        missing = client.get("/api/v1/cases/NOPE")
        assert missing.status_code == 404 and "NOPE" in missing.get_json()["error"]
        cp = client.get("/api/v1/checkpoints/cp2/cases")
        assert cp.status_code == 200 and cp.get_json()["open_cases"] == []
        assert client.get("/api/v1/checkpoints/nope/cases").status_code == 404
        # the page and its callback: neither carries the planted personal fields
        page = client.get("/case/K2")
        assert page.status_code == 200
        layout = client.get("/_dash-layout", headers={"Referer": "http://x/case/K2"})
        fill = client.post("/_dash-update-component", json={
            "output": "case-body.children", "outputs": {"id": "case-body", "property": "children"},
            "inputs": [{"id": "case-key", "property": "data", "value": {"case_id": "K2", "lang": "zh"}}],
            "changedPropIds": ["case-key.data"], "state": []})
        assert fill.status_code == 200
        for response in (ok, page, layout, fill):
            text = _plain(response)
            assert PLANTED_PHONE not in text and "PLANTED-DESCRIPTION" not in text and "张三" not in text
        assert "城市照明管理处" in _plain(fill) and "灯仍不亮" in _plain(fill)
        assert client.get("/dept/D-LIGHT").status_code == 200
    finally:
        rt.stop()


def test_case_api_answers_503_while_catching_up(redis_url: str, tmp_path: Path, ref_dir: Path) -> None:
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "var"), "REFERENCE_DIR": str(ref_dir),
                      "START_CONSUMER": False})
    response = app.server.test_client().get("/api/v1/cases/K1")
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_every_timeline_step_and_figure_has_words_in_both_languages() -> None:
    from dashboard.cases import STEP_FIELDS
    from layouts.casefile import figure_rows, step_text
    from layouts.i18n import STRINGS

    for kind in STEP_FIELDS:
        for lang in ("zh", "en"):
            assert f"step.{kind}" in STRINGS[lang]
            text = step_text({"type": kind, "ts": "2026-05-09T08:00:00+08:00", "channel": "web",
                              "unit_type": "department", "satisfied": True}, lang)
            assert "{" not in text and not text.startswith("step.")
    # every numeric field of a KPI record shows: known ones named, a new one under its key
    rows = figure_rows({"accepted": 3, "closure_rate": 0.5, "rework_rate": None, "hours_new_figure": 2.25,
                        "label": "text is skipped"}, "en")
    assert [(r["key"], r["value"]) for r in rows] == [
        ("accepted", "3"), ("closure_rate", "50.0%"), ("rework_rate", "—"), ("hours_new_figure", "2.2")]
    assert rows[0]["label"] == "Dispatched cases" and rows[-1]["label"] == "hours_new_figure"


def test_ids_in_paths_are_percent_decoded_and_links_quote_them(ref_dir: Path) -> None:
    from layouts.casefile import case_href, case_layout
    from layouts.leaders import ReportSettings

    page = case_layout(ReportSettings(), "A%2FB%20C", {})
    assert page.children[0].data["case_id"] == "A/B C"
    assert case_href("A/B C", "en") == "/case/A%2FB%20C?lang=en"


def test_a_department_only_named_in_subscriptions_is_known(redis_conn: redis.Redis, ref_dir: Path) -> None:
    from dashboard.casefile import UnknownDepartment, department_of

    (ref_dir / "subscriptions.json").write_text(json.dumps({"D-NEW": ["ads"], "D-LIGHT": ["lamp"]}))
    ref = load_reference(ref_dir)
    assert department_of(ref, "D-NEW").name_zh == "D-NEW"
    with pytest.raises(UnknownDepartment, match="D-NONE"):
        department_of(ref, "D-NONE")
    rt = make_runtime(redis_conn, ref)
    view = department_view(rt, "D-NEW", time.time(), parse_period("7d", None, None, time.time(), rt.config.tz))
    assert view["categories"] == ["ads"] and view["cases"] == []

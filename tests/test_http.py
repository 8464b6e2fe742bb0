"""HTTP behaviour of the whole app: 404s, Dash internals, 414, compression, ETag, unknown ids."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dashboard import create_app
from dashboard.app import runtime_of
from dashboard.pages import PAGES
from data_feed.publish import publish_many
from tests.events import VALID, report, ts

PAST = "2026-05-01T08:00:00+08:00"


def _write_reference(folder: Path) -> Path:
    """Two streets and a community with no geometry: enough to make their ids known."""
    folder.mkdir()
    streets = [{"type": "Feature", "geometry": None, "properties": {"street_id": sid}} for sid in ("S1", "S2")]
    communities = [{"type": "Feature", "geometry": None,
                    "properties": {"community_id": "C1", "street_id": "S1"}}]
    for name, features in (("streets.geojson", streets), ("communities.geojson", communities)):
        (folder / name).write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return folder


@pytest.fixture
def app_rt(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """An app with a tiny reference (S1, S2, C1) and a street and community only the stream knows."""
    publish_many(redis_conn, [
        dict(VALID["checkpoint.registered"], checkpoint_id="cp1", street_id="S1", community_id="C1"),
        dict(VALID["checkpoint.registered"], checkpoint_id="cp2", street_id="s-stream",
             community_id="c-stream"),
        report("K1", PAST, checkpoint="cp1"),
        dict(report("K2", PAST), street_id="s-case-only", community_id="c-case-only"),
    ])
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100,
                      "REFERENCE_DIR": str(_write_reference(tmp_path / "ref"))})
    rt = runtime_of(app)
    try:
        assert rt.consumer.wait_caught_up(10)
        yield app, rt
    finally:
        rt.stop()


def _settle(rt: Any, n: int) -> None:
    deadline = time.time() + 10
    while rt.consumer.status.entries < n:
        assert time.time() < deadline, f"consumer read {rt.consumer.status.entries} of {n} entries"
        time.sleep(0.05)


# ---- unknown paths -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v2/kpis", "/api/", "/api/v1/kpis/extra"])
def test_unknown_api_path_is_a_json_404(app_rt: tuple[Any, Any], path: str) -> None:
    resp = app_rt[0].server.test_client().get(path)
    assert resp.status_code == 404
    assert resp.mimetype == "application/json"
    assert path in resp.get_json()["error"]


@pytest.mark.parametrize("path", ["/openapi.json", "/admin", "/wall/extra", "/index.html"])
def test_unknown_page_is_an_html_404(app_rt: tuple[Any, Any], path: str) -> None:
    resp = app_rt[0].server.test_client().get(path)
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    text = resp.get_data(as_text=True)
    assert "404" in text and 'href="/"' in text
    assert "_dash-config" not in text  # not the wall page


def test_the_404_page_escapes_the_path_and_speaks_english_on_request(app_rt: tuple[Any, Any]) -> None:
    client = app_rt[0].server.test_client()
    text = client.get("/<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text
    assert "页面不存在" in text  # zh-CN by default
    assert "Page not found" in client.get("/nope?lang=en").get_data(as_text=True)


def test_known_pages_serve_the_dash_app(app_rt: tuple[Any, Any]) -> None:
    client = app_rt[0].server.test_client()
    assert "/" in PAGES
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200 and "_dash-config" in resp.get_data(as_text=True)
    assert client.get("/?kiosk=1&lang=en").status_code == 200


def test_dash_internals_keep_working(app_rt: tuple[Any, Any]) -> None:
    app = app_rt[0]
    client = app.server.test_client()
    index = client.get("/").get_data(as_text=True)
    suites = re.findall(r'src="(/_dash-component-suites/[^"]+)"', index)
    assert suites, "the index lists Dash's scripts"
    for path in [*suites[:3], "/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico",
                 "/assets/wall.js", "/assets/wall.css"]:
        resp = client.get(path)
        assert resp.status_code == 200, path
    for missing in ("/assets/no-such-file.js", "/_dash-component-suites/dash/no-such.js",
                    "/_dash-component-suites/no_such_package/x.js"):
        assert client.get(missing).status_code == 404, missing
    # a callback POST reaches Dash (a malformed body is Dash's 4xx/5xx, not our 404 page)
    resp = client.post("/_dash-update-component", json={})
    assert resp.status_code != 404


# ---- over-long URLs ------------------------------------------------------------------------


def test_over_long_api_url_is_a_json_414(app_rt: tuple[Any, Any]) -> None:
    client = app_rt[0].server.test_client()
    resp = client.get("/api/v1/kpis?period=today&street=" + "x" * 4000)
    assert resp.status_code == 414
    assert "too long" in resp.get_json()["error"]
    assert client.get("/api/v1/kpis?period=today&pad=" + "x" * 3900).status_code == 200
    assert client.get("/" + "a" * 4000).status_code == 414


# ---- unknown street / community ids --------------------------------------------------------


@pytest.mark.parametrize("query", ["street=nope", "community=nope", "street=S1&community=nope"])
@pytest.mark.parametrize("endpoint", ["/api/v1/kpis?period=all&", "/api/v1/checkpoints?"])
def test_unknown_street_or_community_is_a_404_naming_it(app_rt: tuple[Any, Any], endpoint: str,
                                                         query: str) -> None:
    resp = app_rt[0].server.test_client().get(endpoint + query)
    assert resp.status_code == 404
    error = resp.get_json()["error"]
    assert "'nope'" in error and ("street" in error or "community" in error)


@pytest.mark.parametrize("query", ["street=S1", "street=S2", "street=s-stream", "street=s-case-only",
                                   "community=C1", "community=c-stream", "community=c-case-only"])
def test_known_ids_from_reference_or_state_are_answered(app_rt: tuple[Any, Any], query: str) -> None:
    client = app_rt[0].server.test_client()
    assert client.get("/api/v1/kpis?period=all&" + query).status_code == 200
    assert client.get("/api/v1/checkpoints?" + query).status_code == 200


def test_community_filter_narrows_kpis_and_checkpoints(app_rt: tuple[Any, Any]) -> None:
    client = app_rt[0].server.test_client()
    body = client.get("/api/v1/kpis?period=all&community=C1").get_json()
    assert list(body["communities"]) == ["C1"] and body["communities"]["C1"]["accepted"] == 1
    fc = client.get("/api/v1/checkpoints?community=c-stream").get_json()
    assert [f["properties"]["checkpoint_id"] for f in fc["features"]] == ["cp2"]
    fc = client.get("/api/v1/checkpoints?street=S1").get_json()
    assert [f["properties"]["checkpoint_id"] for f in fc["features"]] == ["cp1"]


# ---- compression and ETag ------------------------------------------------------------------


def test_responses_are_compressed_when_the_client_accepts_gzip(app_rt: tuple[Any, Any]) -> None:
    app = app_rt[0]
    client = app.server.test_client()
    plain = client.get("/api/v1/checkpoints")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/api/v1/checkpoints", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert json.loads(gzip.decompress(packed.get_data())) == plain.get_json()
    index = client.get("/").get_data(as_text=True)
    script = re.findall(r'src="(/_dash-component-suites/[^"]+\.js)"', index)[0]
    for path in (script, "/_dash-layout", "/_dash-dependencies", "/"):
        resp = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.status_code == 200 and resp.headers.get("Content-Encoding") == "gzip", path
        assert gzip.decompress(resp.get_data()), path


def test_checkpoints_etag_gives_304_until_something_changes(app_rt: tuple[Any, Any],
                                                            redis_conn: redis.Redis) -> None:
    app, rt = app_rt
    client = app.server.test_client()
    for encoding in ("identity", "gzip"):
        first = client.get("/api/v1/checkpoints", headers={"Accept-Encoding": encoding})
        etag = first.headers["ETag"]
        again = client.get("/api/v1/checkpoints", headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b""
        other = client.get("/api/v1/checkpoints", headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
    streets = client.get("/api/v1/checkpoints?street=S1").headers["ETag"]
    assert streets != etag
    seen = rt.consumer.status.entries
    publish_many(redis_conn, [dict(VALID["checkpoint.registered"], checkpoint_id="cp3", ts=ts())])
    _settle(rt, seen + 1)
    changed = client.get("/api/v1/checkpoints", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag

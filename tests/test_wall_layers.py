"""The wall's cached layers: the compact base layer (round trip, endpoint, ETag, access), the
boundaries by URL, a small layout, cache headers of static files, and compression of every answer."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import create_app
from dashboard.app import runtime_of, wall_model_of
from dashboard.status import STATUS_RANK, CheckpointStatus
from dashboard.wall_layers import BASE_FORMAT, SCALE, decode_base, encode_base
from tests.browser import district

WALL_TOKEN = "wall-token-0123456789-abcdefghij"
PENDING = STATUS_RANK[CheckpointStatus.PENDING.value]
N = 200

coordinate = st.tuples(st.floats(-89.9, 89.9, allow_nan=False), st.floats(-179.9, 179.9, allow_nan=False))
ident = st.text(string.ascii_letters + string.digits + "-_:", min_size=1, max_size=12)


# ---- the compact form ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(ident, st.tuples(coordinate, st.integers(0, 4)), max_size=60),
       st.booleans())
def test_compact_base_round_trip(points: dict[str, tuple[tuple[float, float], int]], with_ids: bool) -> None:
    where = {cid: latlon for cid, (latlon, _rank) in points.items()}
    ranks = {cid: rank for cid, (_latlon, rank) in points.items()}
    doc = json.loads(json.dumps(encode_base("b1", where, ranks, PENDING, cluster=not with_ids, with_ids=with_ids)))
    rows = decode_base(doc)
    assert doc["format"] == BASE_FORMAT and doc["n"] == len(points) and doc["cluster"] is (not with_ids)
    # worst last (drawn on top), then by id: the order the wall draws in
    order = sorted(points, key=lambda cid: (ranks[cid], cid))
    assert [r[2] for r in rows] == [ranks[c] for c in order]
    for row, cid in zip(rows, order, strict=True):
        lat, lon = where[cid]
        assert abs(row[0] - lon) <= 0.5 / SCALE + 1e-9 and abs(row[1] - lat) <= 0.5 / SCALE + 1e-9
        assert row[:2] == [round(lon * SCALE) / SCALE, round(lat * SCALE) / SCALE]
        assert (row[3] == cid) if with_ids else len(row) == 3


def test_compact_base_is_small_and_checked() -> None:
    where = {f"cp{i:05d}": (41.1 + (i % 97) * 1e-3, 122.0 + (i // 97) * 1e-3) for i in range(5000)}
    doc = encode_base("b1", where, {}, PENDING, cluster=False)
    assert set(doc["s"]) == {str(PENDING)}  # an unknown rank is pending
    raw = json.dumps(doc, separators=(",", ":"))
    assert max(abs(d) for d in doc["lat"][1:]) < 10_000  # deltas, not absolute coordinates
    rows_json = json.dumps([[round(lon, 5), round(lat, 5), PENDING, cid] for cid, (lat, lon) in where.items()])
    assert len(raw) < 0.7 * len(rows_json)
    with pytest.raises(ValueError, match="format"):
        decode_base(dict(doc, format="something-else"))
    with pytest.raises(ValueError, match="length"):
        decode_base(dict(doc, s=doc["s"][:-1]))


# ---- the app -------------------------------------------------------------------------------


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """Access control on (the wall's token), the synthetic district's reference and N checkpoints."""
    from data_feed.publish import publish_many

    publish_many(redis_conn, district.events(N, time.time(), cases=8, wardens=3))
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100, "AUTH": "on",
                      "SECRET_KEY": "s" * 40, "WALL_TOKEN": WALL_TOKEN,
                      "REFERENCE_DIR": str(district.write_reference(tmp_path / "ref"))})
    runtime = runtime_of(app)
    try:
        assert runtime.consumer.wait_caught_up(10)
        deadline = time.time() + 10
        while len(runtime.state.checkpoints) < N:
            assert time.time() < deadline
            time.sleep(0.05)
        yield app
    finally:
        runtime.stop()


WALL = {"Authorization": f"Bearer {WALL_TOKEN}"}


def test_base_layer_endpoint_etag_and_access(app: Any) -> None:
    model = wall_model_of(app)
    base = model.current_base()
    assert base is not None
    url = f"/api/v1/wall/base/{base.base_id}"
    client = app.server.test_client()
    assert client.get(url).status_code == 401  # anonymous
    first = client.get(url, headers={**WALL, "Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert "Accept-Encoding" in first.headers["Vary"]
    doc = json.loads(gzip.decompress(first.get_data()))
    rows = decode_base(doc)
    assert doc["id"] == base.base_id and len(rows) == N
    assert {row[3]: row[2] for row in rows} == {cid: base.ranks.get(cid, PENDING) for cid in model._points()}
    # the page's own requests carry its URL (with the kiosk's token) as referrer
    kiosk = client.get(url, headers={"Referer": f"http://localhost/?kiosk=1&token={WALL_TOKEN}"})
    assert kiosk.status_code == 200 and "Content-Encoding" not in kiosk.headers
    assert kiosk.get_json() == doc
    again = client.get(url, headers={**WALL, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    missing = client.get("/api/v1/wall/base/nobody-1-2", headers=WALL)
    assert missing.status_code == 404 and missing.headers["Cache-Control"] == "no-store"
    assert client.get(url, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401


def test_layout_is_small_and_names_the_base_and_the_boundaries(app: Any) -> None:
    client = app.server.test_client()
    model = wall_model_of(app)
    referrer = {"Referer": f"http://localhost/?kiosk=1&token={WALL_TOKEN}"}
    layout = client.get("/_dash-layout", headers=referrer)
    assert layout.status_code == 200
    text = layout.get_data(as_text=True).replace("\\u002f", "/")  # Dash escapes slashes
    assert '"coordinates"' not in text, "boundary geometry travels in the layout"
    assert len(text) < 40_000
    base = model.current_base()
    assert base is not None and f"/api/v1/wall/base/{base.base_id}" in text
    urls = re.findall(r'"(/api/v1/wall/boundaries/[a-z]+\?v=[0-9a-f]+)"', text)
    assert {u.split("/")[-1].split("?")[0] for u in urls} == {"street", "community"}
    for url in urls:
        assert client.get(url).status_code == 401
        resp = client.get(url, headers={**referrer, "Accept-Encoding": "gzip"})
        assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        geo = json.loads(gzip.decompress(resp.get_data()))
        assert geo["type"] == "FeatureCollection" and geo["features"]
        unpinned = client.get(url.split("?")[0], headers=referrer)
        assert unpinned.headers["Cache-Control"] == "private, no-cache"
        assert client.get(url, headers={**referrer, "If-None-Match": resp.headers["ETag"]}).status_code == 304


def test_static_files_are_cached_for_good_only_when_fingerprinted(app: Any) -> None:
    client = app.server.test_client()
    index = client.get("/", headers=WALL).get_data(as_text=True)
    suite = re.findall(r'src="(/_dash-component-suites/[^"]+\.js)"', index)[0]
    asset = re.findall(r'src="(/assets/wall\.js\?m=[0-9.]+)"', index)[0]
    immutable = "public, max-age=31536000, immutable"
    for url in (suite, asset, "/embed/static/embed.js?v=1"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == immutable, url
    for url in ("/assets/wall.js", "/embed/static/embed.js", "/_dash-component-suites/dash_leaflet/async-GeoJSON.js"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-cache", url
        assert resp.headers.get("ETag"), url  # revalidated, not fetched again
        again = client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 304, url
    assert "immutable" not in (client.get("/", headers=WALL).headers.get("Cache-Control") or "")


def test_embed_pages_link_their_script_and_style_by_fingerprint(app: Any, tmp_path: Path) -> None:
    from dashboard.public import ASSETS, STATIC, asset_urls

    client = app.server.test_client()
    page = client.get("/embed/kpis").get_data(as_text=True)
    linked = re.findall(r'(?:src|href)="(/embed/static/[^"]+)"', page)
    assert sorted(u.split("?")[0].rsplit("/", 1)[1] for u in linked) == sorted(ASSETS)
    for url in linked:
        name, _, version = url.rsplit("/", 1)[1].partition("?v=")
        assert version == hashlib.blake2b((STATIC / name).read_bytes(), digest_size=8).hexdigest(), url
        resp = client.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # a release that changes a file changes its URL (and only its URL)
    for name in ASSETS:
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    before = asset_urls(tmp_path)
    (tmp_path / "embed.js").write_bytes((STATIC / "embed.js").read_bytes() + b"\n// next release\n")
    after = asset_urls(tmp_path)
    assert after["embed.js"] != before["embed.js"] and after["embed.css"] == before["embed.css"]


def test_every_answer_the_wall_reads_is_compressed_but_the_push_stream(app: Any) -> None:
    client = app.server.test_client()
    gz = {**WALL, "Accept-Encoding": "gzip"}
    index = client.get("/", headers=gz)
    page = gzip.decompress(index.get_data()).decode()
    assert index.headers["Content-Encoding"] == "gzip"
    scripts = re.findall(r'src="(/(?:assets|_dash-component-suites)/[^"]+)"', page)
    styles = re.findall(r'href="(/assets/[^"]+\.css[^"]*)"', page)
    assert scripts and styles
    stream = client.get("/api/v1/stream/wall", headers=gz, buffered=False)
    assert stream.status_code == 200 and "Content-Encoding" not in stream.headers  # see docs/performance.md
    frames = iter(stream.response)
    assert next(frames).startswith(b"retry: ")
    first = next(frames).decode()  # the whole picture, with the base layer to fetch
    stream.close()
    event = json.loads(next(line[5:] for line in first.splitlines() if line.startswith("data:")))
    base_url = event["base"]["url"]
    # as Chromium asks (files are sent as streams, which Flask-Compress packs with zstd, br or deflate)
    browser = {**WALL, "Accept-Encoding": "gzip, deflate, br, zstd"}
    for url in [*scripts, *styles, "/_dash-layout", base_url, "/api/v1/kpis", "/api/v1/checkpoints"]:
        resp = client.get(url, headers=browser)
        assert resp.status_code == 200 and resp.headers.get("Content-Encoding") in ("gzip", "zstd", "br"), url
        assert resp.get_data(), url
        resp.close()


def test_the_wall_index_leaves_out_the_libraries_it_never_draws(app: Any) -> None:
    client = app.server.test_client()
    wall = client.get("/?kiosk=1", headers=WALL).get_data(as_text=True)
    scripts = " ".join(re.findall(r'<script src="([^"]+)"', wall))
    assert "dash_leaflet" in scripts and "dash_renderer" in scripts and "dash_core_components" in scripts
    assert "dash_ag_grid" not in scripts and "dash_table" not in scripts, scripts
    other = client.get("/case/C1", headers=WALL)  # any other page: every library (its grids need them)
    assert other.status_code == 200 and "dash_ag_grid" in " ".join(re.findall(r'<script src="([^"]+)"',
                                                                              other.get_data(as_text=True)))
    from dashboard.index import WALL_SKIPS, drop_scripts

    full = '<script src="/_dash-component-suites/dash_ag_grid/x.js"></script>\n<script src="/a.js"></script>'
    assert drop_scripts(full, WALL_SKIPS) == '<script src="/a.js"></script>'


def test_fingerprinted_static_files_are_compressed_once(app: Any) -> None:
    from dashboard.http import StaticCompressCache

    cache = StaticCompressCache(size=2)
    cache.set("zstd;/_dash-component-suites/dash/dcc/dcc.v4_4_1m1.js?", b"packed")
    cache.set("zstd;/assets/wall.js?m=1", b"w")
    cache.set("zstd;/api/v1/kpis?", b"never kept")
    cache.set("zstd;/assets/wall.js?", b"unpinned: never kept")
    assert cache.get("zstd;/_dash-component-suites/dash/dcc/dcc.v4_4_1m1.js?") == b"packed"
    assert cache.get("zstd;/api/v1/kpis?") is None and cache.get("zstd;/assets/wall.js?") is None
    cache.set("zstd;/assets/other.css?m=2", b"o")  # bounded: the oldest goes
    assert cache.get("zstd;/_dash-component-suites/dash/dcc/dcc.v4_4_1m1.js?") is None
    client = app.server.test_client()
    index = client.get("/", headers=WALL).get_data(as_text=True)
    suite = re.findall(r'src="(/_dash-component-suites/[^"]+\.js)"', index)[0]
    first = client.get(suite, headers={"Accept-Encoding": "gzip"})
    second = client.get(suite, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.get_data() == second.get_data()
    assert gzip.decompress(first.get_data())

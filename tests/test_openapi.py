"""The OpenAPI document, and schemathesis against a live app: no generated request gets a 5xx."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.app import runtime_of
from data_feed.publish import publish_many
from tests.browser import district
from tests.conftest import TEST_DB
from tests.helpers import free_port

WALL_TOKEN = "schemathesis-wall-token-0123456789"


@pytest.fixture(scope="module")
def live_url(redis_server: redis.Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with access control on, a small district in it, served on a local port."""
    redis_server.flushdb()
    base = tmp_path_factory.mktemp("openapi")
    ref = district.write_reference(base / "ref")
    publish_many(redis_server, district.events(60, time.time(), cases=12, wardens=5))
    kwargs = redis_server.connection_pool.connection_kwargs
    url = (f"unix://{kwargs['path']}?db={TEST_DB}" if kwargs.get("path")
           else f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{TEST_DB}")
    app = create_app({"REDIS_URL": url, "DATA_DIR": str(base), "REFERENCE_DIR": str(ref), "BLOCK_MS": 100,
                      "AUTH": "on", "SECRET_KEY": "x" * 40, "WALL_TOKEN": WALL_TOKEN,
                      # the query logic itself is under test here, not its rate limit
                      "QUERY_RATE_LIMIT": "100000/hour", "QUERY_CODE_RATE_LIMIT": "100000/hour"})
    assert runtime_of(app).consumer.wait_caught_up(20)
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        runtime_of(app).stop()
        redis_server.flushdb()


def test_no_generated_request_gets_a_server_error(live_url: str, tmp_path: Path) -> None:
    """schemathesis (its own command: its pytest plugin does not run on this pytest) against the live app."""
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{live_url}/api/v1/openapi.json",
               "--checks", "not_a_server_error", "--header", f"Authorization: Bearer {WALL_TOKEN}",
               "--max-examples", "40", "--seed", "11", "--generation-database", "none",
               "--request-timeout", "10", "--no-color", "--continue-on-failure",
               # server-sent event streams never end: a generated request would wait for its timeout
               "--exclude-path-regex", "/stream/"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=420, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "5xx" not in result.stdout, result.stdout[-3000:]
    print(result.stdout[-1500:])


def test_the_document_lists_every_json_endpoint(live_url: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live_url}/api/v1/openapi.json", timeout=5) as response:
        doc = json.load(response)
    assert doc["openapi"].startswith("3.")
    assert {"/healthz", "/api/v1/kpis", "/api/v1/alerts", "/api/v1/checkpoints", "/api/v1/public/kpis",
            "/api/v1/public/board", "/api/v1/public/map", "/api/v1/public/query",
            "/api/v1/public/stream/{view}", "/api/v1/stream/leaders"} <= set(doc["paths"])
    stream = doc["paths"]["/api/v1/public/stream/{view}"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"] and stream["security"] == []

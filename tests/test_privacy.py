"""Personal data (description, reporter_phone) never reaches a public view, API response or log."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import plotly
import pytest
import redis

from callbacks.wall import tick
from dashboard import create_app
from dashboard.app import runtime_of, wall_model_of
from data_feed.publish import publish_many
from tests.events import CST, iso, report

SECRET_TEXT = "王大妈家楼道堆放杂物 电话见附件"
SECRET_PHONE = "13912345678"


def _first_event(client: Any, path: str) -> str:
    """The data of the first event a push stream sends (its payload, the same for every viewer)."""
    response = client.get(path, buffered=False)
    try:
        for chunk in response.response:
            data = [line[6:] for line in chunk.decode().splitlines() if line.startswith("data: ")]
            if data and not chunk.startswith(b"event: hb"):
                return data[0]
        return ""
    finally:
        response.close()


def test_no_personal_data_in_any_public_output(redis_conn: redis.Redis, redis_url: str, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    from datetime import datetime

    now = time.time()
    when = iso(datetime.fromtimestamp(now - 80 * 3600, CST))  # overdue: it shows in the alerts too
    publish_many(redis_conn, [
        {"type": "checkpoint.registered", "ts": when, "checkpoint_id": "cp1", "category": "lamp",
         "lat": "41.12", "lon": "122.07", "street_id": "s1"},
        report("P1", when, channel="web", checkpoint="cp1", priority="hazard", query_code="QC-777",
               description=SECRET_TEXT, reporter_phone=SECRET_PHONE),
        report("P2", when, channel="hotline", lat="999", description=SECRET_TEXT, reporter_phone=SECRET_PHONE),
    ])
    app = create_app({"REDIS_URL": redis_url, "DATA_DIR": str(tmp_path), "BLOCK_MS": 100})
    rt = runtime_of(app)
    try:
        assert rt.consumer.wait_caught_up(10)
        deadline = time.time() + 10
        while "P1" not in rt.state.cases and time.time() < deadline:
            time.sleep(0.05)
        with rt.state.lock:  # the process keeps no personal data: only a salted digest of the phone
            kept = [repr(getattr(c, name)) for c in rt.state.cases.values() for name in c.__slots__]
        assert rt.state.cases["P1"].phone_digest and rt.state.cases["P1"].query_code == "QC-777"
        assert not any(SECRET_PHONE in v or SECRET_TEXT in v for v in kept)
        client = app.server.test_client()
        outputs = [client.get(p).get_data(as_text=True) for p in (
            "/", "/_dash-layout", "/healthz", "/api/v1/kpis?period=all", "/api/v1/alerts", "/api/v1/checkpoints",
            "/api/v1/cases/P1", "/api/v1/cases/P2", "/api/v1/checkpoints/cp1/cases", "/case/P1",
            "/api/v1/patrol?period=all")]
        streamed = [_first_event(client, f"/api/v1/public/stream/{view}?lang={lang}")
                    for view in ("kpis", "tiles", "board", "map") for lang in ("zh", "en")]
        assert all(streamed) and not any("warden" in text for text in streamed)  # the push: figures only
        outputs += streamed
        for lang in ("zh", "en"):
            out = tick(wall_model_of(app), {"lang": lang}, None, time.time())
            outputs.append(json.dumps(out, cls=plotly.utils.PlotlyJSONEncoder))
        assert "P1" in outputs[4]  # the alert is there ...
        # JSON responses escape Chinese as \uXXXX: look for the escaped form too (a check for
        # the raw text alone could never fail on them)
        secrets = [SECRET_PHONE, SECRET_TEXT, json.dumps(SECRET_TEXT)[1:-1], "QC-777",
                   SECRET_TEXT.split()[0], json.dumps(SECRET_TEXT.split()[0])[1:-1]]
        assert json.dumps(SECRET_TEXT)[1:-1] != SECRET_TEXT  # the escaped form differs: both are checked
        for text in outputs + [caplog.text]:
            for secret in secrets:
                assert secret not in text
    finally:
        rt.stop()

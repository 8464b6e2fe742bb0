"""A city split across Redis Cluster shards by street: the simulator's events, routed to their street's
streams (``grid:{<street_id>}:events`` / ``:positions``) on a real 3-node cluster, give the app the same
KPIs and checkpoint statuses as a single Redis holding the same events in the two default streams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path

import pytest
import redis

from dashboard.app import create_app, runtime_of
from dashboard.config import load_config
from dashboard.reference import load_reference
from data_feed import keys
from data_feed.connection import connect_url
from data_feed.errors import ConfigError
from data_feed.publish import publish_many
from data_feed.routing import StreetRouter, publish_routed
from data_feed.simulator import backfill
from tests.events import ts
from tests.helpers import stream_history
from tests.topology import Cluster

POISON = {"type": "case.reported", "ts": "yesterday", "case_id": "BAD1"}
"""An entry every run dead-letters (its time has no offset)."""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.stop()


POSITIONS_KEPT = 3000
"""Newest positions of the backfill kept (the rest would only make the test slow)."""


def _statuses(client: object) -> dict[str, str]:
    body = client.get("/api/v1/checkpoints").get_json()  # type: ignore[attr-defined]
    return {f["properties"]["checkpoint_id"]: f["properties"]["status"] for f in body["features"]}


def test_sharded_layout_is_validated() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"STREAM_SHARDS": "community"}, environ={})
    assert "GRID_STREAM_SHARDS" in str(info.value)
    with pytest.raises(ConfigError) as info:
        create_app({"STREAM_SHARDS": "street", "START_CONSUMER": False})  # the built-in reference has no streets
    assert "GRID_STREAM_SHARDS" in str(info.value) and "GRID_REFERENCE_DIR" in str(info.value)
    assert keys.shard_stream("grid:events", "ST01") == "grid:{ST01}:events"
    assert keys.shard_stream("events", "ST01") == "{ST01}:events"
    assert keys.slot_safe_index("grid:deadletter") == "{grid:deadletter}:index"


def _yesterday_noon() -> float:
    """A fixed time of day to end the history at: a 0.1-day window ending when the suite runs
    held 15 cases at 19:00 local time (and would hold fewer at night), below the test's floor."""
    tz = timezone(timedelta(hours=8))
    return datetime.combine(datetime.now(tz).date() - timedelta(days=1), dtime(12, 0), tz).timestamp()


def test_cluster_by_street_gives_the_single_node_figures(cluster: Cluster, redis_conn: redis.Redis,
                                                         redis_url: str, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    backfill(redis_conn, "district", 3, None, 0.1, ref, now=_yesterday_noon())
    history = stream_history(redis_conn, POSITIONS_KEPT, empty=True)  # written again, as a producer would
    publish_many(redis_conn, history)
    redis_conn.xadd(keys.EVENTS_STREAM, POISON)  # type: ignore[arg-type]

    reference = load_reference(ref)
    conn = connect_url(cluster.url)
    router = StreetRouter(locate=lambda lat, lon: reference.locate(lat, lon)[0])
    counts = publish_routed(conn, router, history)
    conn.xadd(keys.shard_stream(keys.EVENTS_STREAM, "ST01"), POISON)  # type: ignore[arg-type]
    # not UTF-8: read again as bytes through a second cluster client, dead-lettered, not a stall
    conn.xadd(keys.shard_stream(keys.EVENTS_STREAM, "ST02"), {"type": b"case.\xff"})  # type: ignore[dict-item]
    streets = {s for s in reference.streets if counts.get(keys.shard_stream(keys.EVENTS_STREAM, s))}
    assert len(streets) == len(reference.streets) == 8
    assert sum(counts.values()) == len(history)
    assert counts.get(keys.EVENTS_STREAM, 0) < len(history) / 100  # nearly everything has a street
    assert all(n.client().dbsize() > 0 for n in cluster.nodes)  # the streets are spread over every node

    settings = {"DATA_DIR": str(tmp_path / "single"), "REFERENCE_DIR": str(ref), "BLOCK_MS": 100}
    single = create_app({"REDIS_URL": redis_url, **settings})
    sharded = create_app({**settings, "REDIS_URL": cluster.url, "STREAM_SHARDS": "street",
                          "DATA_DIR": str(tmp_path / "sharded")})
    one, many = runtime_of(single), runtime_of(sharded)
    try:
        assert one.consumer.wait_caught_up(60) and many.consumer.wait_caught_up(60)
        assert len(many.consumer._slots) == len(reference.streets) + 2  # a slot per street, and the base two
        a, b = single.server.test_client(), sharded.server.test_client()
        kpis = a.get("/api/v1/kpis?period=all").get_json()
        assert kpis["district"]["accepted"] > 20
        assert b.get("/api/v1/kpis?period=all").get_json() == kpis
        assert b.get("/api/v1/kpis?period=today").get_json() == a.get("/api/v1/kpis?period=today").get_json()
        assert _statuses(b) == _statuses(a) and len(_statuses(a)) > 100
        assert many.state.quality.applied == one.state.quality.applied
        assert many.state.quality.duplicates == one.state.quality.duplicates

        # the dead letters of the street streams: written once, with their index in the stream's slot
        assert many.consumer.status.deadlettered == 2 and conn.xlen(keys.DEADLETTER_STREAM) == 2
        assert conn.hlen(keys.slot_safe_index(keys.DEADLETTER_STREAM)) == 2
        assert many.consumer.status.deadletters_by_reason == {"bad_time": 1, "not_utf8": 1}

        # live: an entry on one street's stream reaches the app while it waits on every slot
        before = many.state.quality.applied
        started = time.monotonic()
        conn.xadd(keys.shard_stream(keys.EVENTS_STREAM, "ST05"),  # type: ignore[arg-type]
                  {"type": "case.reported", "ts": ts(day=time.strftime("%Y-%m-%d"), clock="08:00:00"),
                   "case_id": "LIVE1", "channel": "hotline", "category": "lamp", "lat": "41.12", "lon": "122.07",
                   "street_id": "ST05"})
        while many.state.quality.applied == before and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert many.state.quality.applied == before + 1

        health = b.get("/healthz")
        assert health.status_code == 200
        assert "grid:{ST05}:events" in health.get_json()["streams"]
        # the rate limiter counts in the cluster too: the code's limit (5 an hour) holds
        codes = [b.post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "13900000000"}).status_code
                 for _ in range(6)]
        assert codes == [404] * 5 + [429]
    finally:
        one.stop()
        many.stop()
        conn.close()

"""Redis with a replica and Sentinel: the app finds the primary through the sentinels, and after the
primary is killed and the replica promoted, its consumer reconnects and goes on from its last id,
losing nothing and counting nothing twice. Real redis-server processes on loopback ports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.app import create_app, runtime_of
from dashboard.config import load_config
from data_feed.connection import connect_url, parse_redis_url, redact_url
from data_feed.errors import ConfigError, FeedUnavailable
from data_feed.publish import publish_many
from tests.events import case_event, report, ts
from tests.topology import MASTER, SentinelSet


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    topo = SentinelSet(tmp_path / "redis")
    try:
        yield topo
    finally:
        topo.stop()


def _cases(first: int, count: int) -> list[dict[str, str]]:
    """``count`` reported cases; every other one closed."""
    events = []
    for n in range(first, first + count):
        events.append(report(f"F{n}", ts(clock=f"08:{n % 60:02d}:00"), event_id=f"r{n}"))
        if n % 2 == 0:
            events.append(case_event("closed", f"F{n}", ts(clock=f"09:{n % 60:02d}:00"), event_id=f"c{n}"))
    return events


def _publish(url: str, events: list[dict[str, str]], replicas: int) -> None:
    """Publish as a producer would (through the sentinels), then wait until ``replicas`` replicas have it."""
    client = connect_url(url)
    publish_many(client, events)
    if replicas:
        assert client.execute_command("WAIT", replicas, 5000) == replicas
    client.close()


def _until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


def test_sentinel_url_is_validated_at_start() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"REDIS_URL": "redis+sentinel://127.0.0.1:26379"}, environ={})
    assert "GRID_REDIS_URL" in str(info.value) and "<master-name>" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config({"REDIS_URL": "redis+sentinel://:pw@127.0.0.1:x/grid/0"}, environ={})
    assert "'127.0.0.1:x' is not host:port" in str(info.value) and "pw" not in str(info.value)


def test_sentinel_credentials_are_read_and_redacted() -> None:
    target = parse_redis_url("redis+sentinel://:primary-pw@127.0.0.1:26379/grid/2"
                             "?sentinel_username=app&sentinel_password=s%2Fpw")
    assert (target.password, target.db, target.sentinel_username, target.sentinel_password) == \
        ("primary-pw", 2, "app", "s/pw")
    shown = redact_url(target.url)
    assert "primary-pw" not in shown and "s%2Fpw" not in shown and "sentinel_password=***" in shown
    with pytest.raises(ConfigError) as info:  # a typo is caught at start, not met as "no master found"
        load_config({"REDIS_URL": "redis+sentinel://127.0.0.1:26379/grid/0?sentinel_pasword=x"}, environ={})
    assert "sentinel_pasword" in str(info.value) and "sentinel_password" in str(info.value)


def test_sentinels_with_their_own_password(tmp_path: Path) -> None:
    """Sentinels with ``requirepass`` (another password than the primary's): the app asks them with
    theirs and the primary with its own; without the sentinels' password it fails at start saying so."""
    topo = SentinelSet(tmp_path / "redis", password="primary-pw", sentinel_password="sentinel-pw")
    try:
        assert topo.sentinels[0].client().sentinel_master(MASTER)["num-other-sentinels"] == 2
        _publish(topo.url, _cases(0, 10), replicas=1)
        app = create_app({"REDIS_URL": topo.url, "DATA_DIR": str(tmp_path / "var"), "BLOCK_MS": 100})
        rt = runtime_of(app)
        try:
            assert rt.consumer.wait_caught_up(15)
            client = app.server.test_client()
            district = client.get("/api/v1/kpis?period=all").get_json()["district"]
            assert (district["accepted"], district["closed"]) == (10, 5)
            assert client.get("/healthz").status_code == 200
            codes = [client.post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "13900000000"})
                     .status_code for _ in range(6)]  # the limiter's storage reaches the primary too
            assert codes == [404] * 5 + [429]
        finally:
            rt.stop()
        without = topo.url.split("?")[0]
        with pytest.raises(FeedUnavailable) as info:
            connect_url(without)
        message = str(info.value)
        assert "sentinel_password" in message and "primary-pw" not in message and "sentinel-pw" not in message
        assert message.count("asks for a password") == 3, message  # each sentinel said so
        wrong = without + "?sentinel_password=nope"
        with pytest.raises(FeedUnavailable) as info:
            connect_url(wrong)
        assert "nope" not in str(info.value) and str(info.value).count("refuses the password given") == 3
        with pytest.raises(FeedUnavailable) as info:
            connect_url(topo.url.replace(f"/{MASTER}/", "/elsewhere/"))
        assert "no sentinel named a primary 'elsewhere'" in str(info.value)
        assert str(info.value).count(f"monitors {MASTER}") == 3
    finally:
        topo.stop()


def test_consumer_survives_a_failover_without_losing_or_repeating(sentinels: SentinelSet, tmp_path: Path) -> None:
    _publish(sentinels.url, _cases(0, 30), replicas=1)  # on the replica too, before anything is killed
    app = create_app({"REDIS_URL": sentinels.url, "DATA_DIR": str(tmp_path / "var"), "BLOCK_MS": 100})
    rt = runtime_of(app)
    client = app.server.test_client()
    try:
        assert rt.consumer.wait_caught_up(15)
        before = client.get("/api/v1/kpis?period=all").get_json()["district"]
        assert (before["accepted"], before["closed"]) == (30, 15)
        old = sentinels.primary.port
        assert rt.redis.connection_pool.get_master_address()[1] == old  # type: ignore[attr-defined]

        killed = time.monotonic()
        sentinels.primary.kill()
        _until(lambda: all(sentinels.primary_port(s) != old for s in range(3)),
               "the sentinels did not promote the replica")
        assert sentinels.primary_port() == sentinels.replica.port
        status = rt.consumer.status
        _until(lambda: status.reconnects > 0 and status.connected, "the consumer did not reconnect to the new primary")
        reconnected = time.monotonic() - killed
        _publish(sentinels.url, _cases(30, 20), replicas=0)
        _until(lambda: rt.state.quality.applied >= 30 + 15 + 20 + 10, "events after the failover never arrived")
        after = client.get("/api/v1/kpis?period=all").get_json()["district"]
        assert (after["accepted"], after["closed"]) == (50, 25)
        assert rt.state.quality.applied == 75 and rt.state.quality.duplicates == 0
        assert rt.consumer.status.deadlettered == 0 and rt.consumer.status.connected
        print(f"primary killed -> consumer reading the new primary in {reconnected:.1f} s "
              f"({status.reconnects} failed reads while the sentinels elected it)")
        health = client.get("/healthz")
        assert health.status_code == 200, health.get_json()
        # the rate limiter counts in the new primary too: the code's limit (5 an hour) holds
        codes = [client.post("/api/v1/public/query", json={"query_code": "ABCD2345", "phone": "13900000000"})
                 .status_code for _ in range(6)]
        assert codes == [404] * 5 + [429]
    finally:
        rt.stop()

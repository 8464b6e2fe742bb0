"""Faults (issue 8), mid-stream, with real processes: Redis SIGKILL (AOF), app SIGKILL, Redis SIGSTOP.

A producer thread writes a day-mix workload (case lifecycles with ``event_id``, inspections,
positions) in pipelined chunks, retrying a chunk whenever Redis fails it (at-least-once, as real
producers do: a retried chunk may land twice). The fault strikes while it writes and while the
dashboard reads. Each run must end with exactly the cases and KPIs of a runtime that read the
same events once, without faults. (tests/test_consumer.py covers a Redis restart between two
quiet writes; here the fault hits a live stream and the whole picture is compared.)
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from dashboard import create_app, views
from dashboard.app import runtime_of
from dashboard.periods import parse_period
from dashboard.runtime import Runtime
from data_feed.connection import connect_url
from data_feed.publish import publish_many
from tests.events import CST
from tests.helpers import RedisProcess, drain, free_port, make_runtime

ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0


def workload(n_cases: int = 400, seed: int = 8) -> list[dict[str, str]]:
    """Case lifecycles 5 to 10 days old (every deadline passed: KPIs do not move with the clock),
    checkpoints, inspections and positions, in upload order."""
    rng = random.Random(seed)
    now = time.time()

    def at(ts: float) -> str:
        return datetime.fromtimestamp(ts, CST).isoformat()

    out: list[dict[str, str]] = [
        {"type": "checkpoint.registered", "ts": at(now - 11 * DAY), "checkpoint_id": f"cp{c}", "category": "lamp",
         "lat": f"{41.1 + c / 1000:.4f}", "lon": "122.07", "street_id": f"s{c % 4}", "event_id": f"cp-{c}"}
        for c in range(40)]
    for n in range(n_cases):
        t = now - 10 * DAY + n * (5 * DAY / n_cases)
        cid = f"K{n}"
        life = [{"type": "case.reported", "ts": at(t), "case_id": cid, "category": "lamp",
                 "channel": rng.choice(["patrol", "hotline", "wechat", "web", "department"]),
                 "priority": rng.choice(["normal", "normal", "urgent", "hazard"]), "lat": "41.12", "lon": "122.07",
                 "checkpoint_id": f"cp{n % 40}", "street_id": f"s{n % 4}"}]
        unit = rng.choice(["department", "mobile_team", "street_team"])
        life.append({"type": "case.dispatched", "ts": at(t + 600), "case_id": cid, "unit_id": f"{unit}-{n % 3}",
                     "unit_type": unit})
        if rng.random() < 0.3:
            life.append({"type": "case.returned", "ts": at(t + 3600), "case_id": cid})
        life.append({"type": "case.processed", "ts": at(t + 7200), "case_id": cid})
        fate = rng.random()
        if fate < 0.7:
            life.append({"type": "case.closed", "ts": at(t + rng.choice([3, 30, 100]) * 3600), "case_id": cid})
            if rng.random() < 0.5:
                life.append({"type": "case.rated", "ts": at(t + 101 * 3600), "case_id": cid,
                             "satisfied": rng.choice(["true", "false"])})
        elif fate < 0.8:
            life.append({"type": "case.voided", "ts": at(t + 1800), "case_id": cid})
        for k, e in enumerate(life):
            e["event_id"] = f"{cid}-{k}"
        out.extend(life)
        out.append({"type": "inspection.completed", "ts": at(t), "checkpoint_id": f"cp{n % 40}",
                    "warden_id": f"w{n % 30}", "result": "problem", "case_id": cid, "event_id": f"i-{n}"})
        for _ in range(6):
            out.append({"type": "warden.position", "ts": at(now - rng.random() * 60),
                        "warden_id": f"w{rng.randrange(30)}", "lat": f"{41.1 + rng.random() / 10:.5f}",
                        "lon": f"{122.0 + rng.random() / 10:.5f}"})
    return out


class Producer(threading.Thread):
    """Writes ``events`` in pipelined chunks; a chunk Redis fails is retried whole (may land twice)."""

    def __init__(self, url: str, events: list[dict[str, str]], chunk: int = 100, pause_s: float = 0.03) -> None:
        super().__init__(name="producer", daemon=True)
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=1)
        self.events = events
        self.chunk = chunk
        self.pause_s = pause_s
        self.chunks_done = 0
        self.retries = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, len(self.events), self.chunk):
                part = self.events[start:start + self.chunk]
                deadline = time.time() + 90
                while True:
                    try:
                        publish_many(self.client, part)
                        break
                    except (redis.ConnectionError, redis.TimeoutError):
                        if time.time() > deadline:
                            raise
                        self.retries += 1
                        time.sleep(0.2)
                self.chunks_done += 1
                time.sleep(self.pause_s)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def finish(self, timeout: float = 120) -> None:
        """Wait until every chunk is written; fail on a producer error."""
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        assert self.error is None, self.error


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def kpis(rt: Runtime, now: float) -> dict[str, Any]:
    """The KPI report of period=all, as the API would serialise it."""
    report = views.kpi_report(rt, parse_period("all", None, None, now, rt.config.tz), now)
    return json.loads(json.dumps(report))  # type: ignore[no-any-return]


def cases(rt: Runtime) -> dict[str, tuple[Any, ...]]:
    with rt.state.lock:
        return {cid: (c.state.value, c.returned_count, c.satisfied, c.deadline, tuple(sorted(c.departments)))
                for cid, c in rt.state.cases.items()}


def read_everything(rt: Runtime) -> bool:
    """True once the consumer has applied every entry of both streams."""
    c = rt.consumer
    return c.status.caught_up and not c.entries_behind(rt.config.events_stream) and \
        not c.entries_behind(rt.config.positions_stream)


@pytest.fixture(scope="module")
def events() -> list[dict[str, str]]:
    return workload()


@pytest.fixture(scope="module")
def reference(redis_server: redis.Redis, events: list[dict[str, str]]) -> Iterator[Runtime]:
    """A runtime that read the same events once, without faults."""
    redis_server.flushdb()
    publish_many(redis_server, events)
    rt = make_runtime(redis_server, POSITION_LOOKBACK_S=10**9)
    drain(rt)
    assert redis_server.xlen("grid:deadletter") == 0
    redis_server.flushdb()
    yield rt


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    logging.disable(logging.ERROR)  # reconnect warnings are the point here
    yield
    logging.disable(logging.NOTSET)


def assert_same_as_reference(rt: Runtime, reference: Runtime) -> None:
    now = time.time()
    assert cases(rt) == cases(reference)
    assert kpis(rt, now) == kpis(reference, now)
    assert rt.redis.xlen(rt.config.deadletter_stream) == 0


# ---------------------------------------------------------------------- Redis SIGKILL (AOF)
def test_redis_sigkill_mid_stream_ends_with_the_uninterrupted_kpis(
        redis_process: RedisProcess, events: list[dict[str, str]], reference: Runtime) -> None:
    rt = make_runtime(connect_url(redis_process.url), BLOCK_MS=200)
    rt.consumer.backoff_initial_s, rt.consumer.backoff_max_s = 0.1, 0.5
    producer = Producer(redis_process.url, events, pause_s=0.06)
    rt.start()
    try:
        producer.start()
        wait_for(lambda: producer.chunks_done >= 15 and rt.consumer.status.entries > 500, 60, "a live stream")
        assert producer.is_alive(), "the kill must strike mid-stream"
        assert redis_process.proc is not None
        redis_process.proc.send_signal(signal.SIGKILL)  # a crash: no shutdown, no final save
        redis_process.proc.wait(10)
        wait_for(lambda: not rt.consumer.status.connected, 20, "the consumer to notice")
        time.sleep(1.0)
        redis_process.start()  # the same port and folder: the AOF brings every acknowledged write back
        producer.finish()
        wait_for(lambda: read_everything(rt), 60, "the consumer to read everything")
        assert rt.consumer.status.reconnects >= 1 and producer.retries >= 1  # both sides saw the crash
        assert_same_as_reference(rt, reference)
    finally:
        rt.stop()


# ---------------------------------------------------------------------- app SIGKILL
def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (OSError, ValueError):  # not listening (yet), or too slow to answer this time
        return 0, None


def _serve(url: str, folder: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": "/tmp", "HOME": os.environ.get("HOME", "/tmp"),
           "GRID_REDIS_URL": url, "GRID_DATA_DIR": str(folder), "GRID_BLOCK_MS": "200", "GRID_AUTH": "off"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "dashboard", "--log-level", "WARNING", "serve",
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out)


def _up(port: int) -> bool:
    return _get(port, "/healthz")[0] in (200, 503)


def test_app_sigkill_mid_stream_then_restart_ends_with_the_uninterrupted_kpis(
        redis_process: RedisProcess, events: list[dict[str, str]], reference: Runtime, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    app = _serve(redis_process.url, tmp_path, port, log)
    producer = Producer(redis_process.url, events, pause_s=0.1)
    try:
        wait_for(lambda: _up(port), 60, f"the app to listen (log: {log})")
        producer.start()

        def applied() -> int:
            body = _get(port, "/healthz")[1]
            return int(body["state"]["quality"]["applied"]) if isinstance(body, dict) and "state" in body else 0

        wait_for(lambda: applied() > 800, 60, "the app to apply part of the stream")
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        killed_at = producer.chunks_done
        time.sleep(1.0)  # the producer goes on while the app is down
        app = _serve(redis_process.url, tmp_path, port, log)
        wait_for(lambda: _up(port), 60, f"the app to listen again (log: {log})")
        producer.finish()
        assert killed_at < len(events) // producer.chunk, "the kill did not strike mid-stream"

        def same() -> bool:
            status, body = _get(port, "/api/v1/kpis?period=all")
            return status == 200 and body == kpis(reference, time.time())

        wait_for(same, 60, "the restarted app's KPIs to equal the uninterrupted run's")
        status, health = _get(port, "/healthz")
        assert status == 200 and health["status"] == "ok"
        assert health["deadletter_length"] == 0
        assert health["state"]["cases"] == len(reference.state.cases)
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(10)


# ---------------------------------------------------------------------- Redis SIGSTOP (20 s, once)
FREEZE_S = 20.0


@pytest.fixture(scope="module")
def frozen_run(events: list[dict[str, str]], reference: Runtime,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One run with Redis stopped (SIGSTOP) for 20 s mid-stream; what the tests need to judge it."""
    folder = tmp_path_factory.mktemp("frozen")
    server = RedisProcess(folder)
    server.start()
    app = create_app({"REDIS_URL": server.url, "DATA_DIR": str(folder), "BLOCK_MS": 200})
    rt = runtime_of(app)
    rt.consumer.backoff_initial_s, rt.consumer.backoff_max_s = 0.1, 0.5
    client = app.server.test_client()
    producer = Producer(server.url, events, pause_s=0.06)
    health: dict[str, Any] = {}

    def probe() -> None:  # what a load balancer sees during the freeze
        started = time.time()
        response = client.get("/healthz")
        health.update(seconds=time.time() - started, status=response.status_code,
                      says=(response.get_json() or {}).get("status"))

    result: dict[str, Any] = {"rt": rt, "health": health}
    try:
        producer.start()
        wait_for(lambda: producer.chunks_done >= 15 and rt.consumer.status.entries > 500, 60, "a live stream")
        assert producer.is_alive(), "the freeze must strike mid-stream"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.time()
        try:
            time.sleep(FREEZE_S / 2)
            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            time.sleep(FREEZE_S / 2)
            result["applied_during_freeze"] = rt.consumer.status.entries
        finally:
            server.proc.send_signal(signal.SIGCONT)
        result["frozen_s"] = time.time() - stopped_at
        producer.finish()
        prober.join(30)
        wait_for(lambda: read_everything(rt), 60, "the consumer to read everything after the freeze")
        result["producer_retries"] = producer.retries
        result["reconnects"] = rt.consumer.status.reconnects
        result["health_after"] = client.get("/healthz").status_code
        yield result
    finally:
        rt.stop()
        server.stop()


def test_redis_sigstop_20s_mid_stream_ends_with_the_uninterrupted_kpis(
        frozen_run: dict[str, Any], reference: Runtime) -> None:
    assert frozen_run["frozen_s"] >= FREEZE_S
    assert frozen_run["producer_retries"] >= 1  # writes really failed during the freeze (and were retried)
    assert frozen_run["reconnects"] >= 1  # so did the consumer's reads
    assert_same_as_reference(frozen_run["rt"], reference)
    assert frozen_run["health_after"] == 200


HEALTHZ_BOUND_S = 8.0
"""/healthz must answer within the Redis client's socket timeout (redis-py's default, 5 s) and a
margin: never hang for as long as Redis is frozen."""


def test_healthz_answers_503_while_redis_is_frozen_and_does_not_hang(frozen_run: dict[str, Any]) -> None:
    health = frozen_run["health"]
    print("healthz during the freeze:", health)
    assert health, "the /healthz probe never returned"
    assert health["seconds"] < HEALTHZ_BOUND_S, f"/healthz took {health['seconds']:.1f} s while Redis was frozen"
    assert health["status"] == 503 and health["says"] in ("redis unreachable", "degraded"), health

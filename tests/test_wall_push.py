"""The wall's push (GRID_PUSH=sse): change signal, shared events, resume by id, bounded ring, stop."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import redis

from dashboard import access
from dashboard.reference import load_reference
from dashboard.wall_model import WallModel
from dashboard.wall_push import STREAM_PATH, WallPush
from data_feed.changes import ChangeSignal
from tests.browser import district
from tests.helpers import feed, make_runtime


def _push(redis_conn: redis.Redis, tmp_path: Path, **kwargs: float) -> tuple[WallPush, float]:
    runtime = make_runtime(redis_conn, load_reference(district.write_reference(tmp_path / "ref")))
    now = time.time()
    feed(redis_conn, runtime, district.events(120, now, cases=6, wardens=4))
    runtime.consumer.status.caught_up = True
    return WallPush(WallModel(runtime), **kwargs), now  # type: ignore[arg-type]


def _event(text: str) -> tuple[str | None, dict[str, object]]:
    event_id = None
    data = None
    for line in text.strip().splitlines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
    assert data is not None, text
    return event_id, data


def test_change_signal_wakes_on_change_times_out_and_closes() -> None:
    signal = ChangeSignal()
    t0 = time.monotonic()
    assert signal.wait(signal.version, 0.1) == 0 and time.monotonic() - t0 >= 0.09
    signal.notify()
    assert signal.wait(0, 5) == 1  # already past: no wait
    woke: list[float] = []
    waiter = threading.Thread(target=lambda: (signal.wait(signal.version, 30), woke.append(time.monotonic())))
    waiter.start()
    time.sleep(0.05)
    t1 = time.monotonic()
    signal.close()
    waiter.join(2)
    assert not waiter.is_alive() and woke[0] - t1 < 1 and signal.closed


def test_consumer_signals_each_batch_that_read_entries(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    runtime = push.model.runtime
    before = runtime.changes.version
    assert runtime.consumer.poll() == 0 and runtime.changes.version == before  # nothing read: no signal
    feed(redis_conn, runtime, [{"type": "case.reported", "ts": district.iso(now), "case_id": "S1",
                                "channel": "web", "category": "lamp", "lat": "41.12", "lon": "122.07",
                                "checkpoint_id": "cp3"}])
    assert runtime.changes.version == before + 1


def test_stream_sends_everything_then_heartbeats_then_the_change(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path, heartbeat_s=0.2)
    stream = push.stream(None)
    assert next(stream).startswith("retry: ")
    first_id, first = _event(next(stream))
    assert first_id and {"hb", "base", "tiles", "table", "round", "alerts", "geo", "wardens"} <= set(first)
    assert first["base"]["n"] == 120  # type: ignore[index]
    _, beat = _event(next(stream))  # nothing changed: the heartbeat alone, about heartbeat_s later
    assert set(beat) == {"hb"}
    _, lat, lon = district.checkpoint_position(120, 5)
    feed(redis_conn, push.model.runtime, [
        {"type": "case.reported", "ts": district.iso(now), "case_id": "S2", "channel": "web",
         "category": "lamp", "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "checkpoint_id": "cp5"}])
    t0 = time.monotonic()
    _, change = _event(next(stream))
    assert time.monotonic() - t0 < 0.15  # woken by the consumer's signal, not the heartbeat
    assert "overlay" in change and "base" not in change and "wardens" not in change
    assert any(row[3] == "cp5" for row in change["overlay"])  # type: ignore[union-attr, index]
    assert push.clients == 1
    stream.close()
    assert push.clients == 0


def test_viewers_in_step_share_one_event(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path)
    a = push.event({}, now)
    b = push.event({}, now)
    assert a is b  # built once, the same id and text for both (events are language-free)
    assert push.event(a[2], now)[0] != a[0]  # a viewer holding everything gets the heartbeat alone


def test_resume_from_the_last_event_id_or_a_full_snapshot(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, _ = _push(redis_conn, tmp_path)
    stream = push.stream(None)
    next(stream)
    first_id, _ = _event(next(stream))
    stream.close()
    resumed = push.stream(first_id)
    next(resumed)
    _, data = _event(next(resumed))
    assert "base" not in data and "tiles" not in data  # it holds them already
    resumed.close()
    fresh = push.stream("gone.1")  # an unknown id (another worker, or too far behind): everything
    next(fresh)
    _, data = _event(next(fresh))
    assert "base" in data and "tiles" in data
    fresh.close()


def test_the_resume_ring_is_bounded(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, now = _push(redis_conn, tmp_path, ring_size=3)
    ids = [push.event({}, now + k)[0] for k in range(10)]  # a new snapshot each second
    assert push.ring_length() == 3
    assert push.resume(ids[0]) == {} and push.resume(ids[-1]) != {}


def test_stopping_the_runtime_ends_every_stream(redis_conn: redis.Redis, tmp_path: Path) -> None:
    push, _ = _push(redis_conn, tmp_path, heartbeat_s=30)
    ended: list[int] = []

    def read() -> None:
        ended.append(sum(1 for _ in push.stream(None)))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)
    assert push.clients == 3
    push.model.runtime.stop()
    for reader in readers:
        reader.join(2)
    assert not any(r.is_alive() for r in readers) and ended == [2, 2, 2] and push.clients == 0


def test_the_stream_is_the_walls_to_read() -> None:
    assert access.API_RULES[STREAM_PATH] == access.WALL

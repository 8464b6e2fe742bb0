"""Streams split by street on one Redis server (GRID_STREAM_SHARDS=street without a cluster): the
consumer reads every street's streams in one XREAD, applies their events in one id order
(data_feed.merge), and builds the same picture as from the two default streams, also when it
starts from a snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from dashboard.reference import load_reference
from dashboard.runtime import Runtime
from data_feed import keys
from data_feed.routing import StreetRouter, publish_routed
from data_feed.simulator import backfill
from tests.helpers import drain, stream_history
from tests.test_snapshot import picture, runtime, snapshot_midway


def _picture(rt: Runtime) -> dict[str, Any]:
    """:func:`picture`, with each day's patrol coverage by checkpoint id: stream ids order entries
    of one stream only (two streets' entries of one millisecond may come in either order), and a
    checkpoint's place in the coverage bytes is the order it was first seen in."""
    out = picture(rt)
    with rt.state.lock:
        places = {cid: cp.index for cid, cp in rt.state.checkpoints.items()}
        out["coverage"] = {day: {cid: bits[i] if i < len(bits) else 0 for cid, i in places.items()}
                           for day, bits in rt.state.registry.coverage.items()}
    return out


def test_street_streams_give_the_picture_of_the_default_ones(redis_conn: redis.Redis, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    backfill(redis_conn, "tiny", 5, None, 3, ref)
    plain = runtime(redis_conn, ref, tmp_path / "plain")
    drain(plain)
    expected = _picture(plain)
    assert expected["cases"]

    reference = load_reference(ref)
    router = StreetRouter(locate=lambda lat, lon: reference.locate(lat, lon)[0])
    counts = publish_routed(redis_conn, router, stream_history(redis_conn, empty=True))
    assert set(counts) == {keys.shard_stream(base, street) for street in reference.streets
                           for base in (keys.EVENTS_STREAM, keys.POSITIONS_STREAM)}

    data = tmp_path / "sharded"
    snapshot_midway(redis_conn, ref, data, STREAM_SHARDS="street")
    resumed = runtime(redis_conn, ref, data, STREAM_SHARDS="street")
    drain(resumed)
    assert resumed.consumer.status.resumed_from is not None
    assert keys.shard_stream(keys.EVENTS_STREAM, "ST01") in resumed.consumer.status.resumed_from
    assert _picture(resumed) == expected

    full = runtime(redis_conn, ref, tmp_path / "full", STREAM_SHARDS="street")
    drain(full)
    assert full.consumer.status.resumed_from is None
    assert _picture(full) == expected
    assert full.state.quality.applied == plain.state.quality.applied


class _Recorder:
    """A sink that records the order entries are applied in."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def apply_batch(self, positions: list[Any], events: list[Any], clock_ms: int | None = None) -> list[Any]:
        self.order.extend(entry_id for _, entry_id, _ in events)
        return []


def test_events_of_several_streets_are_applied_in_one_id_order_across_reads(redis_conn: redis.Redis) -> None:
    from data_feed.consumer import Consumer

    busy, quiet = keys.shard_stream(keys.EVENTS_STREAM, "A"), keys.shard_stream(keys.EVENTS_STREAM, "B")
    for ms in range(1, 41):  # a busy street: every millisecond; a quiet one: every seventh
        redis_conn.xadd(busy, {"n": str(ms)}, id=f"{ms}-1")
        if ms % 7 == 0:
            redis_conn.xadd(quiet, {"n": str(ms)}, id=f"{ms}-0")
    sink = _Recorder()
    consumer = Consumer(redis_conn, sink, shards=("A", "B"), count=5)
    reads = 0
    while consumer.poll():
        reads += 1
        held = sum(len(h) for h in consumer._merge.held.values())  # type: ignore[union-attr]
        assert held <= 5  # only what one read of a stream gave is ever held back
    written = [*(f"{ms}-1" for ms in range(1, 41)), *(f"{ms}-0" for ms in range(7, 41, 7))]
    # a read of each stream as it comes would apply 1..5 and then 7, 14, 21, 28, 35 before 6
    assert sink.order == sorted(written, key=lambda i: tuple(int(p) for p in i.split("-")))
    assert reads >= 8 and consumer.status.caught_up
    assert consumer.status.last_ids[busy] == "40-1" and consumer.status.last_ids[quiet] == "35-0"


def test_the_simulator_writes_each_entry_to_its_street_with_street_shards(redis_conn: redis.Redis,
                                                                            tmp_path: Path) -> None:
    from dashboard.cli import street_route
    from dashboard.config import load_config
    from data_feed.simulator import cli as sim_cli
    from data_feed.simulator.options import SimOptions

    assert street_route(load_config({"AUTH": "off"}, environ={})) is None  # the default: two streams
    route = street_route(load_config({"AUTH": "off", "STREAM_SHARDS": "street"}, environ={}))
    ref = tmp_path / "ref"
    sim_cli.run(SimOptions(preset="tiny", seed=2, backfill_days=0.5), redis_conn, ref, route=route)
    reference = load_reference(ref)
    streams = {keys.shard_stream(base, street) for street in reference.streets
               for base in (keys.EVENTS_STREAM, keys.POSITIONS_STREAM)}
    assert all(redis_conn.xlen(stream) for stream in streams)
    assert redis_conn.xlen(keys.POSITIONS_STREAM) == 0
    # the base stream keeps only cases reported with neither a street nor a checkpoint (the router
    # has no boundaries here), each with all of its events
    unplaced = [f for _, f in redis_conn.xrange(keys.EVENTS_STREAM)]
    reports = {f["case_id"] for f in unplaced if f["type"] == "case.reported"}
    assert all(f["type"].startswith("case.") and f["case_id"] in reports for f in unplaced)
    assert not any("street_id" in f or "checkpoint_id" in f for f in unplaced if f["type"] == "case.reported")
    assert len(unplaced) < sum(redis_conn.xlen(stream) for stream in streams) / 100
    for street in reference.streets:  # each street's stream holds that street's checkpoints only
        entries = redis_conn.xrange(keys.shard_stream(keys.EVENTS_STREAM, street))
        registered = {f["street_id"] for _, f in entries if f["type"] == "checkpoint.registered"}
        assert registered == {street}
    sharded = runtime(redis_conn, ref, tmp_path / "var", STREAM_SHARDS="street")
    drain(sharded)
    assert sharded.state.quality.applied > 0 and sharded.consumer.status.deadlettered == 0

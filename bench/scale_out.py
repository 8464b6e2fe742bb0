"""Growth past one machine: the consumer on a Redis Cluster split by street against one server, and
the time a Sentinel failover costs the consumer. Real redis-server processes on loopback.

Usage: ``TMPDIR=/tmp python -m bench.scale_out [--days 0.25] [--runs 3] [--quick] [--json PATH]``.

1. **Cluster ingest**: a simulated ``district`` (8 streets) writes ``--days`` of history to one
   redis-server (the two default streams) and, routed by street (``data_feed.routing``), to a
   3-node cluster (``grid:{<street>}:events`` / ``:positions``). In the same run, a fresh state and
   consumer read all of it from each, interleaved ``--runs`` times; the report gives both rates
   (median) and the ratio cluster / single (the baseline). Both read over TCP on loopback.
2. **Failover**: a primary, a replica and three sentinels (``down-after-milliseconds 1000``); a
   producer XADDs through the sentinels every 20 ms while the app's consumer tails the stream;
   the primary is killed. Measured per run: from the kill until the consumer applies the first
   entry written to the promoted replica. Every entry written is applied exactly once (checked).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from dashboard.reference import load_reference
from data_feed import keys
from data_feed.connection import connect_url
from data_feed.routing import StreetRouter, publish_routed
from data_feed.simulator import backfill
from tests.helpers import drain, make_runtime, stream_history
from tests.topology import Cluster, Node, SentinelSet

GOAL_RATIO = 0.5
"""Cluster ingest at least half the single server's (a street's XREAD per slot costs round trips)."""

GOAL_FAILOVER_S = 5.0
"""Consumer applying again within 5 s of the primary's death, with down-after-milliseconds 1000."""


def _ingest_rate(connection: redis.Redis, ref: Path, **settings: Any) -> tuple[float, int]:
    runtime = make_runtime(connection, load_reference(ref), REFERENCE_DIR=str(ref),
                           POSITION_LOOKBACK_S=10 * 86400, **settings)
    started = time.perf_counter()
    n = drain(runtime)
    return n / (time.perf_counter() - started), n


def cluster_ingest(work: Path, days: float, runs: int) -> dict[str, Any]:
    """Rates of one server and of the cluster reading the same history; ratio cluster / single."""
    server = Node(work / "single", ["appendonly no"]).start()
    cluster = Cluster(work / "cluster")
    try:
        single = redis.Redis(port=server.port, decode_responses=True)
        ref = work / "ref"
        t0 = time.perf_counter()
        backfill(single, "district", 1, None, days, ref)
        history = stream_history(single)
        reference = load_reference(ref)
        sharded = connect_url(cluster.url)
        router = StreetRouter(locate=lambda lat, lon: reference.locate(lat, lon)[0])
        counts = publish_routed(sharded, router, history)
        print(f"{len(history):,} entries ({single.xlen(keys.POSITIONS_STREAM):,} positions) written to one server "
              f"and to {len(counts)} streams on 3 cluster nodes in {time.perf_counter() - t0:.1f} s")
        one, many = [], []
        for _ in range(runs):  # interleaved: both see the same machine noise
            rate, n1 = _ingest_rate(single, ref)
            one.append(rate)
            rate, n2 = _ingest_rate(sharded, ref, STREAM_SHARDS="street")
            many.append(rate)
            assert n1 == n2 == len(history), (n1, n2, len(history))
        a, b = statistics.median(one), statistics.median(many)
        print(f"single server : {a:>9,.0f} entries/s  (runs: {', '.join(f'{r:,.0f}' for r in one)})")
        print(f"cluster (3)   : {b:>9,.0f} entries/s  (runs: {', '.join(f'{r:,.0f}' for r in many)})")
        print(f"ratio cluster/single = {b / a:.2f}  (goal >= {GOAL_RATIO})")
        sharded.close()
        return {"single": a, "cluster": b, "ratio": b / a, "entries": len(history)}
    finally:
        cluster.stop()
        server.kill()


def _producer(url: str, stop: threading.Event, written: list[tuple[float, str]]) -> None:
    """XADD a case report every 20 ms through the sentinels, retrying while there is no primary."""
    client = connect_url(url)
    n = 0
    while not stop.is_set():
        event = {"type": "case.reported", "ts": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "case_id": f"FO{n}",
                 "event_id": f"fo-{n}", "channel": "hotline", "category": "lamp", "lat": "41.12", "lon": "122.07"}
        try:
            client.xadd(keys.EVENTS_STREAM, event)  # type: ignore[arg-type]
            written.append((time.monotonic(), event["case_id"]))
            n += 1
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            pass  # no primary yet: the entry is retried
        stop.wait(0.02)


def failover_once(work: Path) -> float:
    """Seconds from the primary's death to the consumer applying an entry written to the new primary."""
    topo = SentinelSet(work)
    stop = threading.Event()
    written: list[tuple[float, str]] = []
    runtime = make_runtime(connect_url(topo.url), BLOCK_MS=100)
    producer = threading.Thread(target=_producer, args=(topo.url, stop, written), daemon=True)
    try:
        producer.start()
        runtime.start()
        time.sleep(1.0)
        old = topo.primary.port
        killed = time.monotonic()
        topo.primary.kill()
        deadline = killed + 60
        while any(topo.primary_port(s) == old for s in range(3)) and time.monotonic() < deadline:
            time.sleep(0.02)
        promoted = time.monotonic()
        first_new = None
        while first_new is None and time.monotonic() < deadline:
            after = [cid for at, cid in written if at > promoted]
            with runtime.state.lock:
                if after and after[0] in runtime.state.cases:
                    first_new = time.monotonic()
            time.sleep(0.005)
        assert first_new is not None, "the consumer never applied an entry written after the failover"
        stop.set()
        producer.join(5)
        # every entry written after the promotion, and every one written well before the kill (so
        # surely replicated), is applied, once; the last ones the old primary took may be lost with it
        expected = {cid for at, cid in written if at > promoted or at < killed - 0.5}
        settle = time.monotonic() + 10
        while time.monotonic() < settle:
            with runtime.state.lock:
                missing = expected - set(runtime.state.cases)
            if not missing:
                break
            time.sleep(0.05)
        assert not missing, f"{len(missing)} entries written before the kill or after the promotion never applied"
        assert runtime.state.quality.duplicates == 0
        applied = len(runtime.state.cases)
        print(f"  killed -> sentinels agree {promoted - killed:.2f} s -> consumer applies new entries "
              f"{first_new - killed:.2f} s ({applied:,} cases, {runtime.consumer.status.reconnects} failed reads)")
        return first_new - killed
    finally:
        stop.set()
        runtime.stop()
        topo.stop()


def main() -> int:
    """Run both measures and print (and with --json write) the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=0.25, help="days of simulated district history")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.05 days and one run of each")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    os.environ.setdefault("TMPDIR", "/tmp")
    logging.disable(logging.WARNING)
    days, runs = (0.05, 1) if args.quick else (args.days, args.runs)
    work = Path(tempfile.mkdtemp(prefix="grid-scale-"))
    try:
        print(f"== cluster ingest ({days:g} days of the district, {runs} runs)")
        ingest = cluster_ingest(work, days, runs)
        print(f"== Sentinel failover ({runs} runs)")
        times = [failover_once(work / f"sentinel-{i}") for i in range(runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = max(times)
    print(f"failover: median {statistics.median(times):.2f} s, worst {worst:.2f} s (goal <= {GOAL_FAILOVER_S:g} s)")
    if args.json:
        command = "TMPDIR=/tmp python -m bench.scale_out " + " ".join(sys.argv[1:])
        rows = [{"measure": "consumer ingest, 3-node cluster split by street vs one server",
                 "goal": f">= {GOAL_RATIO} of one server",
                 "value": f"{ingest['cluster']:,.0f} entries/s (one server {ingest['single']:,.0f}, "
                          f"ratio {ingest['ratio']:.2f})",
                 "met": ingest["ratio"] >= GOAL_RATIO,
                 "detail": "" if ingest["ratio"] >= GOAL_RATIO else
                           "one XREAD per street slot per round: more round trips per entry"},
                {"measure": "Sentinel failover: primary killed -> consumer applies new entries, worst",
                 "goal": f"<= {GOAL_FAILOVER_S:g} s (down-after 1 s)",
                 "value": f"{worst:.2f} s (median {statistics.median(times):.2f} s of {runs})",
                 "met": worst <= GOAL_FAILOVER_S,
                 "detail": "" if worst <= GOAL_FAILOVER_S else
                           "sentinel election and the consumer's backoff (0.5, 1, 2 s ...) add up"}]
        args.json.write_text(json.dumps({"bench": "bench.scale_out", "command": command, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

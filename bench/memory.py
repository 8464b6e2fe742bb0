"""Memory benchmark: RSS of a dashboard process after reading a month and a year of history.

Usage (from the repository root): ``python -m bench.memory [--days 30 365] [--code DIR ...] [--quick]
[--json PATH]``. For each history length the district simulator backfills a fresh embedded Redis
(a cached copy when one is fresh: :mod:`bench.history`); then, for each
code tree given (default: this one), a fresh child process builds the runtime, reads the whole
history and reports its RSS. Printed: RSS per (code, days) and the ratio of the longest history
to the shortest, measured in the same run (goals: a month <= 500 MB, a year <= 2x a month).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(socket: str, reference_dir: str) -> None:
    """Runs inside the measured process: build the runtime, read everything, print RSS."""
    import psutil
    import redis

    from dashboard.config import load_config
    from dashboard.reference import load_reference
    from dashboard.runtime import build_runtime

    conn = redis.Redis(unix_socket_path=socket, decode_responses=True)
    config = load_config({"AUTH": "off", "START_CONSUMER": False, "REFERENCE_DIR": reference_dir}, environ={})
    runtime = build_runtime(config, conn, load_reference(Path(reference_dir)))
    t0 = time.perf_counter()
    while runtime.consumer.poll():
        pass
    seconds = time.perf_counter() - t0
    gc.collect()
    rss = psutil.Process().memory_info().rss
    cases = len(runtime.state.cases)
    print(json.dumps({"rss_mb": rss / 2**20, "seconds": seconds, "cases_in_memory": cases,
                      "entries": runtime.consumer.status.entries}))


def measure(code: Path, socket: str, reference_dir: str) -> dict[str, float]:
    """RSS of a fresh process of ``code`` after reading the history at ``socket``."""
    out = subprocess.run([sys.executable, "-m", "bench.memory", "--child", socket, reference_dir],
                         cwd=code, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(code)})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Backfill each history length, measure each code tree, print RSS and ratios."""
    from bench.history import history
    from bench.results import row, write_json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, nargs="+", default=[30, 365],
                        help="history lengths; the shortest is the month, the longest the year")
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT],
                        help="code trees to measure (e.g. an older checkout for a before/after)")
    parser.add_argument("--no-cache", action="store_true", help="backfill again instead of the cached history")
    parser.add_argument("--quick", action="store_true", help="smoke run: 7 and 21 days")
    parser.add_argument("--json", type=Path, help="also write the result here (for bench/run_all)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.quick:
        args.days = [7, 21]
    results: dict[tuple[str, float], dict[str, float]] = {}
    for days in args.days:
        with history(days, cache=not args.no_cache) as h:
            print(f"{days:g} days: {h.written} entries ({'cached copy' if h.cached else 'written now'})", flush=True)
            for code in args.code:
                # a child of each code tree reads the same copy of the history
                results[(str(code), days)] = r = measure(code, h.server.socket_file, str(h.reference))
                print(f"  {code}: RSS {r['rss_mb']:.0f} MB, {r['cases_in_memory']} cases in memory, "
                      f"read in {r['seconds']:.1f} s", flush=True)
    lo, hi = min(args.days), max(args.days)
    rows = []
    for code in args.code:
        month, year = results[(str(code), lo)]["rss_mb"], results[(str(code), hi)]["rss_mb"]
        ratio = year / month
        print(f"{code}: RSS {lo:g} d {month:.0f} MB, {hi:g} d {year:.0f} MB; {hi:g} d / {lo:g} d = {ratio:.2f} "
              f"(goal: <= 500 MB for a month, a year <= 2x a month)")
        if code == ROOT:
            rows.append(row(f"RSS after catch-up, {lo:g} days", "<= 500 MB", f"{month:.0f} MB", month <= 500,
                            "" if month <= 500 else f"{month - 500:.0f} MB over"))
            rows.append(row(f"RSS after catch-up, {hi:g} days / {lo:g} days", "<= 2x",
                            f"{ratio:.2f} ({year:.0f} MB / {month:.0f} MB)", ratio <= 2,
                            "" if ratio <= 2 else "the day tallies and retired case ids grow with the history"))
    write_json(args.json, "bench.memory", rows)


if __name__ == "__main__":
    main()

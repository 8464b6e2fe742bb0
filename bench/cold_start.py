"""Cold-start benchmark: a start from a snapshot plus the streams' tail, against a full replay and
against a plain XRANGE of the history.

Usage (from the repository root): ``python -m bench.cold_start [--days 30,365] [--tail-s 5] [--runs 3]
[--quick] [--json PATH]``. For each history length the district simulator backfills a fresh
embedded Redis (a cached copy when one is fresh: :mod:`bench.history`); a child process reads it and
saves a snapshot (as a process stopping cleanly does); the live simulator then writes a tail for
``--tail-s`` seconds at ``--speed``. Then, ``--runs`` times each, a fresh child process

* XRANGEs every entry of the events stream, and the positions of the look-back window (baseline:
  the reading alone, nothing applied),
* starts with no snapshot and reads the whole history (full replay; up to ``--full-max-days``),
* starts from the snapshot and reads the tail,

and the per-run ratios are printed with the worst (goal: baseline / snapshot start >= 1 in every
run) and a check that both starts reached the same state.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _runtime(socket: str, reference_dir: str, data_dir: str, snapshots: bool) -> Any:
    import redis

    from dashboard.config import load_config
    from dashboard.reference import load_reference
    from dashboard.runtime import build_runtime

    conn = redis.Redis(unix_socket_path=socket, decode_responses=True)
    config = load_config({"AUTH": "off", "START_CONSUMER": False, "REFERENCE_DIR": reference_dir,
                          "DATA_DIR": data_dir, "SNAPSHOT_INTERVAL_S": 300 if snapshots else 0}, environ={})
    return build_runtime(config, conn, load_reference(Path(reference_dir)))


def _rss_mb() -> float:
    import psutil

    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def _fingerprint(runtime: Any) -> dict[str, Any]:
    summary = runtime.state.summary()
    return {k: summary[k] for k in ("checkpoints", "cases", "open_cases", "retired_case_ids", "held_late",
                                    "event_ids_remembered")} | {"history_time": runtime.state.history_time}


def child_save(socket: str, reference_dir: str, data_dir: str) -> dict[str, Any]:
    """Read the whole history, then save a snapshot (as a process stopping cleanly does)."""
    rt = _runtime(socket, reference_dir, data_dir, snapshots=True)
    t0 = time.perf_counter()
    while not rt.consumer.status.caught_up:
        rt.consumer.poll()
    read_s = time.perf_counter() - t0
    store = rt.snapshots.snapshots
    saved = store.save(rt.state, rt.consumer.status.last_ids)  # in this thread: the lock held while pickling
    saved.path.unlink()
    t1 = time.perf_counter()
    pid, fork_s = store.save_in_child(rt.state, rt.consumer.status.last_ids)  # as the periodic save does
    ok = store.reap(pid, t1)
    return {"read_s": read_s, "snapshot_mb": saved.size / 1e6, "lock_s": saved.lock_s,
            "write_s": saved.write_s, "fork_s": fork_s, "child_s": time.perf_counter() - t1, "child_ok": ok,
            "rss_mb": _rss_mb(), "ids": rt.consumer.status.last_ids}


def child_xrange(socket: str, reference_dir: str, data_dir: str) -> dict[str, Any]:
    """The baseline: XRANGE the events stream and the look-back window of positions, in pages
    (with the same client and page size as the consumer)."""
    rt = _runtime(socket, reference_dir, data_dir, snapshots=False)
    conn, count = rt.redis, rt.config.read_count
    t0 = time.perf_counter()
    since = int(time.time() * 1000 - rt.config.position_lookback_s * 1000)
    entries = 0
    for stream, start in ((rt.config.events_stream, "-"), (rt.config.positions_stream, f"{since}-0")):
        low = start
        while True:
            page = conn.xrange(stream, min=low, count=count)
            entries += len(page)
            if len(page) < count:
                break
            low = f"({page[-1][0]}"
    return {"seconds": time.perf_counter() - t0, "entries": entries}


def child_start(socket: str, reference_dir: str, data_dir: str, snapshots: bool) -> dict[str, Any]:
    """Build the runtime and read until caught up (from the snapshot when ``snapshots``); the
    modules are imported first (the baseline child imports them too)."""
    import dashboard.runtime  # noqa: F401

    t0 = time.perf_counter()
    rt = _runtime(socket, reference_dir, data_dir, snapshots)
    built = time.perf_counter()
    rt.consumer.poll()  # the first read loads the snapshot
    first = time.perf_counter()
    while not rt.consumer.status.caught_up:
        rt.consumer.poll()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "build_s": built - t0, "first_read_s": first - built,
            "entries": rt.consumer.status.entries, "rss_mb": _rss_mb(),
            "resumed": rt.consumer.status.resumed_from is not None, "state": _fingerprint(rt)}


def run_child(kind: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.cold_start", "--child", kind, *args],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(days: float, args: argparse.Namespace) -> dict[str, Any]:
    """One history length: backfill (or the cached copy), snapshot, tail, then the timed starts."""
    import threading

    from bench.history import history
    from data_feed.simulator import run_live

    with history(days, cache=not args.no_cache) as h:
        server = h.server
        ref, data, empty = str(h.reference), str(h.folder / "data"), str(h.folder / "empty")
        print(f"\n== {days:g} days: {h.written} entries ({'cached copy' if h.cached else 'written now'}; "
              f"events stream {server.xlen('grid:events')})", flush=True)
        saved = run_child("save", server.socket_file, ref, data)
        print(f"snapshot after a full read ({saved['read_s']:.1f} s, RSS {saved['rss_mb']:.0f} MB): "
              f"{saved['snapshot_mb']:.1f} MB; saved in place: ingestion paused {saved['lock_s'] * 1000:.0f} ms "
              f"while pickling, written in {saved['write_s'] * 1000:.0f} ms; saved by a forked child: "
              f"paused {saved['fork_s'] * 1000:.0f} ms, child done in {saved['child_s'] * 1000:.0f} ms "
              f"(ok: {saved['child_ok']})", flush=True)
        stop = threading.Event()
        timer = threading.Timer(args.tail_s, stop.set)
        timer.start()
        tail = run_live(server, "district", 1, args.speed, stop)
        # The backfill wrote a day of positions in seconds; in production those entries are spread
        # over the day and only the look-back window (10 minutes) is read. Keep the positions
        # written after the snapshot, so every start reads the same positions.
        server.xtrim("grid:positions", minid=saved["ids"]["grid:positions"], approximate=False)
        print(f"tail: {tail} entries written after the snapshot ({args.tail_s:g} s of the live simulator "
              f"at {args.speed:g}x)", flush=True)
        kinds = ("xrange", "full", "snapshot") if days <= args.full_max_days else ("xrange", "snapshot")
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(args.runs):
            for kind in kinds:
                runs[kind].append(run_child(kind, server.socket_file, ref, data if kind == "snapshot" else empty))
            print("  " + ", ".join(f"{k} {v[-1]['seconds']:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    snap = runs["snapshot"][-1]
    ratios = [x["seconds"] / s["seconds"] for x, s in zip(runs["xrange"], runs["snapshot"], strict=True)]
    print(f"baseline XRANGE of {runs['xrange'][-1]['entries']} entries: {med['xrange']:.2f} s (median of {args.runs})")
    if "full" in runs:
        full = runs["full"][-1]
        print(f"full replay of {full['entries']} entries: {med['full']:.2f} s, RSS {full['rss_mb']:.0f} MB; "
              f"XRANGE / full replay = {med['xrange'] / med['full']:.2f}")
        same = full["state"] == snap["state"]
        print(f"same state after both starts: {same}" + ("" if same else f" {full['state']} != {snap['state']}"))
    else:
        print(f"full replay: the snapshot child's read, {saved['read_s']:.1f} s (not repeated beyond "
              f"{args.full_max_days:g} days)")
    print(f"snapshot + tail of {snap['entries']} entries: {med['snapshot']:.2f} s, RSS {snap['rss_mb']:.0f} MB"
          f" (resumed: {snap['resumed']}; runtime built in {snap['build_s']:.2f} s, snapshot loaded and the "
          f"first read in {snap['first_read_s']:.2f} s)")
    print(f"per run XRANGE / snapshot start: {', '.join(f'{r:.2f}' for r in ratios)}; worst {min(ratios):.2f}, "
          f"median {statistics.median(ratios):.2f} (goal >= 1 in every run)", flush=True)
    return {"days": days, "ratios": ratios, "median": med, "saved": saved, "snapshot": snap,
            "xrange_entries": runs["xrange"][-1]["entries"],
            "resumed": all(r["resumed"] for r in runs["snapshot"])}


def main() -> None:
    """For each history length: backfill, snapshot near the end, then time the ways to start."""
    from bench.results import row, write_json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", default="30,365", help="history lengths, comma-separated (default 30,365)")
    parser.add_argument("--tail-s", type=float, default=5.0, help="seconds of live simulation after the snapshot")
    parser.add_argument("--speed", type=float, default=60.0, help="speed of that live simulation")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-max-days", type=float, default=60,
                        help="time full replays only up to this history (a year's takes minutes per run)")
    parser.add_argument("--no-cache", action="store_true", help="backfill again instead of the cached history")
    parser.add_argument("--quick", action="store_true", help="smoke run: 7 days, 2 runs, a 3 s tail")
    parser.add_argument("--json", type=Path, help="also write the result here (for bench/run_all)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "save":
            result = child_save(*rest[:3])
        elif kind == "xrange":
            result = child_xrange(*rest[:3])
        else:
            result = child_start(rest[0], rest[1], rest[2], kind == "snapshot")
        print(json.dumps(result))
        return
    if args.quick:
        args.days, args.runs, args.tail_s = "7", 2, 3.0
    results = [measure(float(d), args) for d in args.days.split(",")]
    rows = []
    print()
    for r in results:
        worst, ok = min(r["ratios"]), min(r["ratios"]) >= 1 and r["resumed"]
        line = (f"{r['days']:g} days: XRANGE / snapshot start per run {', '.join(f'{x:.2f}' for x in r['ratios'])}; "
                f"worst {worst:.2f} (goal >= 1 every run): {'met' if ok else 'MISSED'}")
        print(line)
        med = r["median"]
        rows.append(row(
            f"cold start from a snapshot, {r['days']:g} days, vs XRANGE of the history (worst of {len(r['ratios'])})",
            ">= 1 every run",
            f"worst {worst:.2f}, runs {', '.join(f'{x:.2f}' for x in r['ratios'])} (snapshot + tail "
            f"{med['snapshot']:.2f} s vs XRANGE of {r['xrange_entries']:,} entries {med['xrange']:.2f} s; snapshot "
            f"{r['saved']['snapshot_mb']:.0f} MB)", ok,
            "" if ok else "loading the snapshot (unpickling the cases and tallies) is CPU-bound like the XRANGE, "
                          "so a busy neighbour moves both; a smaller state (cases in columns) would widen the margin"))
    write_json(args.json, "bench.cold_start", rows)


if __name__ == "__main__":
    main()

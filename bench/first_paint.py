"""First paint of the wall in headless Chromium, cold cache, at the district and at 100k checkpoints.

Usage: ``TMPDIR=/tmp python -m bench.first_paint [--runs 3] [--before REV] [--json PATH] [--quick]``.

**First paint** = from navigation start (``performance.timeOrigin``) to the first animation
frame in which (a) the checkpoint base layer is on the map (district: every checkpoint drawn,
``Object.keys(gridWall.drawn.base).length`` equals the number of checkpoints; 100k, clustered:
a cluster marker ``.cp-cluster`` is in the page) and (b) the district KPI tiles
(``#kpi-district``) hold figures. A script installed before the page's own
(``Page.addScriptToEvaluateOnNewDocument``) checks both on every frame and notes
``performance.now()`` the first time both hold: the frame painted next shows them.

Each run opens a fresh headless Chromium (the browser tests' flags, a fresh user-data dir: cold
cache) at 1920x1080 on ``/?kiosk=1``; bytes are the sum of CDP ``Network.loadingFinished``
``encodedDataLength`` (what travelled, headers included) up to first paint; the layout size is
the ``/_dash-layout`` answer's, as sent and decoded. After each cold run the same browser loads
the page again (warm: what the cache headers save).

The app (this checkout) is served by the browser tests' helper (``tests.browser.simulated``:
the simulator's backfill in an embedded Redis, werkzeug threaded) in a child process per scale.
Baselines measured in the same run:

- **no compression**: the same server, the browser sending ``Accept-Encoding: identity``
  (every answer then travels uncompressed); runs alternate with the compressed ones;
- with ``--before REV`` (e.g. the commit before the compact base layer): that revision's code
  (``git archive``), served the same way over its own backfill of the same preset and seed.

Prints median and worst per variant, ratios against the baselines, and the answers that were
not compressed (the push stream is deliberately not: see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

GOALS_S = {"district": 1.0, "megacity": 2.5}
"""Issue 12: first paint at the district and at 100k checkpoints, the worst of three runs."""

CHECKPOINTS = {"district": 3319, "megacity": 100_000}
"""Checkpoints of each preset (the clustered layer starts above 20,000)."""

CLUSTER_ABOVE = 20_000

FP_JS = """
(function () {
  var expected = %(expected)d, cluster = %(cluster)s;
  window.__firstPaint = null;
  window.__fpParts = {};
  function check() {
    var g = window.gridWall, k = document.getElementById('kpi-district');
    var map = cluster ? !!document.querySelector('.cp-cluster')
                      : !!(g && g.drawn && Object.keys(g.drawn.base).length >= expected);
    var kpi = !!(k && k.children.length && /[0-9]/.test(k.textContent));
    var t = performance.now(), parts = window.__fpParts;
    if (map && parts.map === undefined) { parts.map = t; }
    if (kpi && parts.kpi === undefined) { parts.kpi = t; }
    if (map && kpi) { window.__firstPaint = t; return; }
    requestAnimationFrame(check);
  }
  requestAnimationFrame(check);
})();
"""

CHILD = """
import sys
from tests.browser.simulated import simulated_app
with simulated_app(%(preset)r, %(seed)d, %(days)r, {}) as served:
    print("URL " + served.url, flush=True)
    sys.stdin.read()
"""

STREAM_PREFIX = "/api/v1/stream/"
"""The push stream: deliberately not compressed (each event must go out at once)."""


@dataclass
class Load:
    """One page load: first paint, bytes, the layout, the answers sent uncompressed."""

    first_paint_s: float | None
    bytes_total: int
    requests: int
    layout_sent: int
    layout_size: int
    uncompressed: list[tuple[str, int]] = field(default_factory=list)
    timeline: list[tuple[float, float, int, int, str, str]] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)
    """When the map (markers) and the KPI tiles were first seen on a frame (s after navigation)."""
    """Per request: start and end (s after the first request), bytes sent and decoded, encoding, path."""


@dataclass
class Variant:
    """The loads of one variant (a code tree and a browser setting) at one scale."""

    name: str
    cold: list[Load] = field(default_factory=list)
    warm: list[Load] = field(default_factory=list)

    def paints(self, loads: list[Load]) -> list[float]:
        return [ld.first_paint_s if ld.first_paint_s is not None else float("inf") for ld in loads]

    def median(self, warm: bool = False) -> float:
        return statistics.median(self.paints(self.warm if warm else self.cold))

    def worst(self) -> float:
        return max(self.paints(self.cold))

    def bytes_median(self, warm: bool = False) -> float:
        return statistics.median(ld.bytes_total for ld in (self.warm if warm else self.cold))


class Server:
    """The app of one code tree serving one simulated scale, in a child process."""

    def __init__(self, code: Path, preset: str, seed: int, days: float) -> None:
        env = dict(os.environ, PYTHONPATH=str(code), TMPDIR=os.environ.get("TMPDIR", "/tmp"))
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD % {"preset": preset, "seed": seed, "days": days}],
                                     cwd=code, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            print(f"  [{code.name}] {line.rstrip()}", flush=True)
            if line.startswith("URL "):
                self.url = line.split()[1]
                break
        if not self.url:
            raise RuntimeError(f"the app in {code} did not start (exit {self.proc.wait()})")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _browser(identity: bool) -> tuple[Any, Path]:
    from selenium import webdriver

    from tests.browser.chrome import chrome_options

    options = chrome_options(1920, 1080)
    profile = next(Path(a.split("=", 1)[1]) for a in options.arguments if a.startswith("--user-data-dir="))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Network.enable", {})
    if identity:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}})
    return driver, profile


def _load(driver: Any, url: str, expected: int, timeout: float) -> Load:
    script = FP_JS % {"expected": expected, "cluster": "true" if expected > CLUSTER_ABOVE else "false"}
    found = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    driver.get_log("performance")  # drop what came before
    driver.get(url)
    deadline = time.time() + timeout
    paint = None
    while time.time() < deadline:
        paint = driver.execute_script("return window.__firstPaint")
        if paint is not None:
            break
        time.sleep(0.05)
    parts = driver.execute_script("return window.__fpParts") or {}
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": found["identifier"]})
    load = _network(driver.get_log("performance"), paint / 1000 if paint is not None else None)
    load.parts = {k: v / 1000 for k, v in parts.items()}
    return load


def _network(entries: list[dict[str, Any]], paint: float | None) -> Load:
    urls: dict[str, str] = {}
    encoding: dict[str, str] = {}
    decoded: dict[str, int] = {}
    finished: dict[str, int] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for entry in entries:
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            started.setdefault(rid, float(params.get("timestamp", 0)))
        elif method == "Network.responseReceived":
            response = params["response"]
            urls[rid] = response["url"]
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            encoding[rid] = headers.get("content-encoding", "")
        elif method == "Network.dataReceived":
            decoded[rid] = decoded.get(rid, 0) + int(params.get("dataLength", 0))
        elif method == "Network.loadingFinished":
            finished[rid] = int(params.get("encodedDataLength", 0))
            ended[rid] = float(params.get("timestamp", 0))
    layout = [rid for rid, u in urls.items() if "/_dash-layout" in u]
    uncompressed = sorted(((urls[rid].split("//", 1)[-1].split("/", 1)[-1], decoded.get(rid, 0))
                           for rid in urls if not encoding.get(rid) and decoded.get(rid, 0) > 1000
                           and STREAM_PREFIX not in urls[rid]), key=lambda x: -x[1])
    t0 = min(started.values(), default=0.0)
    timeline = sorted((started.get(rid, t0) - t0, ended[rid] - t0, finished[rid], decoded.get(rid, 0),
                       encoding.get(rid, ""), urls.get(rid, "?").split("//", 1)[-1].split("/", 1)[-1][:90])
                      for rid in finished)
    return Load(paint, sum(finished.values()), len(finished),
                finished.get(layout[0], 0) if layout else 0, decoded.get(layout[0], 0) if layout else 0,
                uncompressed, timeline)


def measure(url: str, expected: int, identity: bool, timeout: float) -> tuple[Load, Load]:
    """A cold load in a fresh browser, then a warm one (same browser, same cache)."""
    driver, profile = _browser(identity)
    try:
        cold = _load(driver, url + "/?kiosk=1", expected, timeout)
        warm = _load(driver, url + "/?kiosk=1", expected, timeout)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return cold, warm


def _fmt(s: float) -> str:
    return "never" if s == float("inf") else f"{s:.2f} s"


def _kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _print_run(run: int, name: str, cold: Load, warm: Load, verbose: bool) -> None:
    if verbose:
        for start, end, sent, size, enc, path in cold.timeline:
            print(f"    {start:6.3f}-{end:6.3f} s {sent:>9,} B sent {size:>9,} B {enc or '-':>5} /{path}")
    paint, again = cold.first_paint_s or float("inf"), warm.first_paint_s or float("inf")
    print(f"  run {run + 1} {name:>15}: first paint {_fmt(paint)}, {_kb(cold.bytes_total)} in {cold.requests}"
          f" requests (layout {_kb(cold.layout_sent)} sent, {_kb(cold.layout_size)} decoded);"
          f" warm reload {_fmt(again)}, {_kb(warm.bytes_total)}; markers at {cold.parts.get('map', 0):.2f} s,"
          f" KPI tiles at {cold.parts.get('kpi', 0):.2f} s", flush=True)


def run_scale(preset: str, args: argparse.Namespace, before: Path | None) -> dict[str, Variant]:
    expected = CHECKPOINTS[preset]
    days = args.days if preset == "district" else args.megacity_days
    print(f"\n== {preset}: {expected:,} checkpoints, {days:g} days of history", flush=True)
    variants = {"now": Variant("now"), "identity": Variant("no compression")}
    # this checkout: compressed and uncompressed runs alternate; then the older code, if asked
    plan: list[tuple[Path, list[tuple[str, bool]]]] = [(ROOT, [("now", False), ("identity", True)])]
    if before is not None:
        variants["before"] = Variant(f"before ({args.before})")
        plan.append((before, [("before", False)]))
    for code, kinds in plan:
        server = Server(code, preset, args.seed, days)
        try:
            for run in range(args.runs):
                for key, identity in kinds:
                    cold, warm = measure(server.url, expected, identity, args.timeout)
                    variants[key].cold.append(cold)
                    variants[key].warm.append(warm)
                    _print_run(run, variants[key].name, cold, warm, args.verbose)
        finally:
            server.stop()
    return variants


def summarise(preset: str, variants: dict[str, Variant]) -> list[dict[str, Any]]:
    now, plain = variants["now"], variants["identity"]
    before = variants.get("before")
    goal = GOALS_S[preset]
    print(f"\n-- {preset} summary (cold cache, {len(now.cold)} runs)")
    for v in variants.values():
        print(f"  {v.name:>22}: first paint median {_fmt(v.median())}, worst {_fmt(v.worst())};"
              f" bytes median {_kb(v.bytes_median())}; layout {_kb(v.cold[0].layout_sent)} sent /"
              f" {_kb(v.cold[0].layout_size)}; warm reload median {_fmt(v.median(True))}, {_kb(v.bytes_median(True))}")
    ratios = [f"no compression {_fmt(plain.median())}, ratio {now.median() / plain.median():.2f}"]
    byte_ratios = [f"uncompressed {_kb(plain.bytes_median())}, ratio {now.bytes_median() / plain.bytes_median():.2f}"]
    if before is not None:
        ratios.append(f"before {_fmt(before.median())} median / {_fmt(before.worst())} worst, ratio "
                      f"{now.median() / before.median():.2f}")
        byte_ratios.append(f"before {_kb(before.bytes_median())}, "
                           f"ratio {now.bytes_median() / before.bytes_median():.2f}")
    print("  ratios (median, now / baseline): " + "; ".join(ratios))
    leaks = sorted({u for ld in now.cold for u in ld.uncompressed})
    print("  answers over 1 KB sent uncompressed: " + (", ".join(f"{u} ({_kb(n)})" for u, n in leaks) or "none"))
    met = now.worst() <= goal
    scale = f"{CHECKPOINTS[preset]:,} checkpoints"
    detail = "" if met else (f"worst {_fmt(now.worst())} is {now.worst() - goal:.2f} s over the goal; "
                             "see docs/performance.md (first paint) for the cause and what would close it")
    return [
        {"measure": f"first paint, {preset} ({scale}), median / worst of {len(now.cold)} cold runs",
         "goal": f"<= {goal:g} s (worst)", "value": f"{_fmt(now.median())} / {_fmt(now.worst())} ({'; '.join(ratios)})",
         "met": met, "detail": detail},
        {"measure": f"bytes to first paint, {preset}, cold cache (median)", "goal": "every answer compressed",
         "value": f"{_kb(now.bytes_median())}, layout {_kb(now.cold[0].layout_sent)} ({'; '.join(byte_ratios)}); "
                  f"warm reload {_kb(now.bytes_median(True))}",
         "met": not leaks, "detail": "" if not leaks else "sent uncompressed: " + ", ".join(u for u, _ in leaks)},
    ]


def checkout(rev: str) -> Path:
    """The code of revision ``rev`` in a temporary folder (git archive)."""
    target = Path(tempfile.mkdtemp(prefix="grid-fp-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="cold runs per variant and scale")
    parser.add_argument("--scales", default="district,megacity")
    parser.add_argument("--days", type=float, default=1.0, help="history of the district")
    parser.add_argument("--megacity-days", type=float, default=0.2, help="history at 100k checkpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a first paint")
    parser.add_argument("--before", default="", help="a git revision to measure as well (its own server)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every request of each cold load")
    parser.add_argument("--json", default="", help="write the results for bench/run_all here")
    parser.add_argument("--quick", action="store_true", help="1 run, short histories (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.days, args.megacity_days = 1, 0.2, 0.02
    before = checkout(args.before) if args.before else None
    rows: list[dict[str, Any]] = []
    try:
        for preset in [s for s in args.scales.split(",") if s]:
            rows += summarise(preset, run_scale(preset, args, before))
    finally:
        if before is not None:
            shutil.rmtree(before, ignore_errors=True)
    if args.json:
        command = "TMPDIR=/tmp python -m bench.first_paint " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.json).write_text(json.dumps({"bench": "first_paint", "command": command.strip(), "rows": rows},
                                              indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

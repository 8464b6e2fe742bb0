"""Full-page screenshots of the report pages (leaders, case files, departments) into docs/.

Run: ``TMPDIR=/tmp python -m tests.browser.page_shots [--days 30] [--out docs/screenshots]
[--shot leaders-zh=/leaders --shot leaders-en=/leaders?lang=en ...]``.
It fills an embedded Redis with the district simulator (as :mod:`tests.browser.screenshots`
does), serves the app, opens each path in headless Chromium at 1600 px wide, waits for the
page to settle and saves the whole page (its full height) as ``<name>.png``. ``{street}``,
``{community}``, ``{grid}``, ``{case}`` and ``{dept}`` in a path are replaced by real ids of
the simulated district (the busiest street, its busiest community, …).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from selenium import webdriver

from tests.browser.chrome import chrome_options
from tests.browser.simulated import simulated_app

DEFAULT_SHOTS = ("leaders-zh=/leaders", "leaders-en=/leaders?lang=en",
                 "leaders-street-zh=/leaders?street={street}",
                 "leaders-community-en=/leaders?period=7d&street={street}&community={community}&lang=en")


def sample_ids(runtime: Any) -> dict[str, str]:
    """Ids of the simulated district to put in the paths: the busiest areas, an open case, …"""
    state = runtime.state
    with state.lock:
        cases = list(state.cases.values())
    def busiest(attr: str, within: dict[str, str] | None = None) -> str:
        counts: dict[str, int] = {}
        for case in cases:
            if within and any(getattr(case, k) != v for k, v in within.items()):
                continue
            key = getattr(case, attr)
            if key:
                counts[key] = counts.get(key, 0) + 1
        return max(counts, key=lambda k: counts[k]) if counts else ""
    street = busiest("street_id")
    community = busiest("community_id", {"street_id": street})
    grid = busiest("grid_id", {"community_id": community})
    rich = max((c for c in cases if c.departments), key=lambda c: len(c.timeline), default=None)
    rich = rich or max(cases, key=lambda c: len(c.timeline), default=None)
    dept = sorted(rich.departments)[0] if rich is not None and rich.departments else \
        next(iter(runtime.reference.departments()), "")
    return {"street": street, "community": community, "grid": grid,
            "case": rich.case_id if rich else "", "dept": dept}


def shoot(driver: webdriver.Chrome, url: str, path: Path, width: int, settle: float) -> None:
    """Open ``url``, wait until Dash is idle, and save the full page."""
    driver.get(url)
    deadline = time.time() + 60
    time.sleep(1.0)
    while time.time() < deadline:
        busy = driver.execute_script(
            "return !!document.querySelector('._dash-loading, [data-dash-is-loading=\"true\"]')")
        if not busy:
            break
        time.sleep(0.3)
    time.sleep(settle)
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 900)")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
    time.sleep(1.0)
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print(path, width, height)


def main() -> None:
    """Fill, serve, shoot, stop."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--preset", default="district")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--shot", action="append", help="name=path (repeatable); default: the leaders views")
    parser.add_argument("--config", action="append", default=[], help="KEY=VALUE app config (repeatable)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(c.split("=", 1) for c in args.config)
    with simulated_app(args.preset, args.seed, args.days, config, args.port) as served:
        ids = sample_ids(served.runtime)
        print("sample ids:", ids)
        driver = webdriver.Chrome(options=chrome_options(args.width, 1000))
        try:
            for spec in args.shot or DEFAULT_SHOTS:
                name, path = spec.split("=", 1)
                shoot(driver, f"{served.url}{path.format(**ids)}", out / f"{name}.png", args.width, args.settle)
        finally:
            driver.quit()

if __name__ == "__main__":
    main()

"""Screenshots of the patrol compliance (三定) section of /leaders, zh and en, from the simulator.

Run: ``TMPDIR=/tmp python -m tests.browser.patrol_screenshots [--out docs/screenshots]``.
It backfills the simulator's district (``--days 3``, positions of the last day), serves the app
with ``GRID_POSITION_LOOKBACK_S`` covering that day (so the tracks are rebuilt), opens
``/leaders?period=7d&street=<the first street>``, moves the track slider to the middle and
saves ``leaders-patrol-zh.png`` and ``leaders-patrol-en.png`` (the section only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.chrome import chrome_options
from tests.browser.simulated import simulated_app


def main() -> None:
    """Fill, serve, shoot, clean up."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--preset", default="district")
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with simulated_app(args.preset, 1, args.days, {"POSITION_LOOKBACK_S": 86400}, args.port) as served:
        street = sorted(served.runtime.reference.streets)[0]
        for lang in ("zh", "en"):
            driver = webdriver.Chrome(options=chrome_options(1600, 2400))
            try:
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": 1600, "height": 2400, "deviceScaleFactor": 1, "mobile": False})
                driver.get(f"{served.url}/leaders?period=7d&street={street}&lang={lang}")
                deadline = time.time() + 60
                while time.time() < deadline and not driver.execute_script(
                        "return document.querySelectorAll('#patrol-line').length + "
                        "document.querySelectorAll('#patrol-map path.leaflet-interactive').length > 1 && "
                        "document.querySelector('#patrol-track-note').textContent.length > 0;"):
                    time.sleep(0.25)
                handle = driver.find_element(By.CSS_SELECTOR, "#patrol-slider [role='slider']")
                for _ in range(40):
                    handle.send_keys(Keys.ARROW_RIGHT)
                time.sleep(2)
                section = driver.find_element(By.ID, "patrol-coverage")
                driver.execute_script("arguments[0].scrollIntoView()", section)
                time.sleep(0.5)
                name = out / f"leaders-patrol-{lang}.png"
                section.screenshot(str(name))
                print(name)
            finally:
                driver.quit()

if __name__ == "__main__":
    main()

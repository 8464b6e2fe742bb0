"""Fixtures for the wall-screen browser tests: a served app, headless Chromium, a killable Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from werkzeug.serving import BaseWSGIServer, make_server

from tests.browser import district
from tests.browser.chrome import chrome_options
from tests.helpers import free_port

pytestmark = pytest.mark.browser


@dataclass
class Served:
    """An app served on 127.0.0.1 with its runtime."""

    url: str
    app: Any
    runtime: Any
    server: BaseWSGIServer
    port: int

    def stop(self) -> None:
        """Stop serving (the page loses its server).

        Open push streams (GRID_PUSH=sse) end too, as they would with the process: shutting the
        listening socket down leaves running requests alone.
        """
        self.runtime.changes.close()
        self.server.shutdown()
        self.server.server_close()

    def restart(self) -> None:
        """Serve the same app again on the same port."""
        self.runtime.changes.reopen()
        self.server = _serve(self.app, self.port)


def _serve(app: Any, port: int) -> BaseWSGIServer:
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def reference_dir(tmp_path: Path) -> Path:
    """Reference files of the synthetic district."""
    return district.write_reference(tmp_path / "ref")


@pytest.fixture
def serve(reference_dir: Path, data_dir: Path) -> Iterator[Callable[..., Served]]:
    """Factory: ``serve(redis_url, **config)`` builds the app with create_app and serves it."""
    from dashboard import create_app

    started: list[Served] = []

    def start(redis_url: str, **config: Any) -> Served:
        app = create_app({"REDIS_URL": redis_url, "REFERENCE_DIR": str(reference_dir),
                          "DATA_DIR": str(data_dir), **config})
        runtime = app.server.extensions["grid"]
        port = free_port()
        served = Served(f"http://127.0.0.1:{port}", app, runtime, _serve(app, port), port)
        started.append(served)
        return served

    yield start
    for served in started:
        served.runtime.stop()
        try:
            served.stop()
        except Exception:  # already stopped by the test
            pass


def wait_caught_up(runtime: Any, version: int = 1, timeout: float = 20.0) -> None:
    """Block until the consumer has applied at least ``version`` batches and caught up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if runtime.consumer.status.caught_up and runtime.state.version >= version:
            return
        time.sleep(0.05)
    raise AssertionError(f"consumer not caught up after {timeout}s: {runtime.consumer.status}")


@pytest.fixture
def browser_factory() -> Iterator[Callable[[int, int], webdriver.Chrome]]:
    """Factory of headless Chromium drivers whose viewport is exactly width x height."""
    drivers: list[webdriver.Chrome] = []

    def make(width: int = 1920, height: int = 1080) -> webdriver.Chrome:
        driver = webdriver.Chrome(options=chrome_options(width, height))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


@pytest.fixture
def browser(browser_factory: Callable[[int, int], webdriver.Chrome]) -> webdriver.Chrome:
    """A 1920x1080 headless Chromium."""
    return browser_factory(1920, 1080)

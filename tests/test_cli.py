"""The command line: serve against a URL, and bad configuration failing at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    env.update(TMPDIR="/tmp", PYTHONPATH=str(ROOT), **extra)
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

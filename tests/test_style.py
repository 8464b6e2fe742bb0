"""House style, checked: ruff (E, F, I, UP, W, B) and mypy on the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_callbacks_are_registered_on_the_app_not_globally() -> None:
    decorators = ("@dash." + "callback", "\n@" + "callback")  # spelled apart: this file is no offender
    offenders = [str(p) for p in ROOT.glob("**/*.py")
                 if ".venv" not in p.parts and any(d in p.read_text() for d in decorators)]
    assert offenders == []

"""Packaging: ``pip install .`` installs the four packages, the assets and a working ``grid-dashboard`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "requirements.txt", "README.md", "dashboard", "data_feed", "layouts", "callbacks")


def test_pip_install_gives_the_packages_their_assets_and_the_command(tmp_path: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(src)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in ("dashboard/cli.py", "dashboard/assets/wall.js", "dashboard/assets/wall.css",
                 "data_feed/simulator/live.py", "data_feed/simulator/data/xinglongtai-211103.wgs84.geojson",
                 "data_feed/simulator/data/README.md", "layouts/ids.py", "callbacks/__init__.py"):
        assert (target / path).is_file(), path
    assert not (target / "tests").exists() and not (target / "bench").exists()
    command = target / "bin" / "grid-dashboard"
    assert command.is_file()
    # Run the installed command outside the checkout, so only the installed packages can be imported.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(target), TMPDIR="/tmp")
    shown = subprocess.run([str(command), "demo", "--help"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: grid-dashboard demo") and "(default: 8050)" in shown.stdout
    bad = subprocess.run([str(command), "demo", "--speed", "0"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("grid-dashboard demo: error: argument --speed")
    found = subprocess.run([sys.executable, "-c", "import dashboard; print(dashboard.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == str(target / "dashboard" / "__init__.py")

"""Layering: ``data_feed`` (the feed and the simulator) never imports the app's packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_PACKAGES = {"dashboard", "layouts", "callbacks"}


def imported_packages(path: Path) -> set[str]:
    """Top-level package names a module imports, anywhere in it (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_data_feed_does_not_import_the_app() -> None:
    modules = sorted((ROOT / "data_feed").rglob("*.py"))
    assert len(modules) > 10
    offenders = {str(p.relative_to(ROOT)): sorted(imported_packages(p) & APP_PACKAGES) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from dashboard import create_app\n    import layouts.ids\n")
    assert imported_packages(module) == {"dashboard", "layouts"}

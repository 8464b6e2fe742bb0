"""The machine-readable result of a benchmark (``--json PATH``), read by ``bench/run_all``."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any


def row(measure: str, goal: str, value: str, met: bool, detail: str = "") -> dict[str, Any]:
    """One measured figure against its goal (``detail``: if not met, by how much, why, what would close it)."""
    return {"measure": measure, "goal": goal, "value": value, "met": met, "detail": detail}


def write_json(path: Path | None, bench: str, rows: list[dict[str, Any]]) -> None:
    """Write ``{"bench", "command", "rows"}`` to ``path`` (nothing when None); the command is this
    process's own command line, to reproduce the figures."""
    if path is None:
        return
    command = "python -m " + bench + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    path.write_text(json.dumps({"bench": bench, "command": command, "rows": rows}, indent=2, ensure_ascii=False))

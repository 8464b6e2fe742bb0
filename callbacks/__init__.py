"""Callback registration: ``register(app, wall)`` wires every page's callbacks onto ``app``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from callbacks import casefile, dept, leaders, patrol, router, wall

if TYPE_CHECKING:
    import dash

    from dashboard.runtime import Runtime
    from dashboard.wall_model import WallModel


def register(app: dash.Dash, runtime: Runtime, wall_model: WallModel,
             render: Callable[[str, dict[str, str]], Any]) -> None:
    """Register every callback of the dashboard on ``app`` (never on the global dash registry)."""
    router.register(app, render)
    leaders.register(app, runtime)
    patrol.register(app, runtime)
    wall.register(app, wall_model, push=runtime.config.push == "sse")
    casefile.register(app, runtime)
    dept.register(app, runtime)

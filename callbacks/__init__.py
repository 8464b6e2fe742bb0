"""Callback registration: ``register(app, runtime)`` wires every page's callbacks onto ``app``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callbacks import wall

if TYPE_CHECKING:
    import dash

    from dashboard.runtime import Runtime


def register(app: dash.Dash, runtime: Runtime) -> None:
    """Register every callback of the dashboard on ``app`` (never on the global dash registry)."""
    wall.register(app, runtime)

"""Callback registration: ``register(app, wall)`` wires every page's callbacks onto ``app``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callbacks import wall

if TYPE_CHECKING:
    import dash

    from dashboard.wall_model import WallModel


def register(app: dash.Dash, wall_model: WallModel) -> None:
    """Register every callback of the dashboard on ``app`` (never on the global dash registry)."""
    wall.register(app, wall_model)

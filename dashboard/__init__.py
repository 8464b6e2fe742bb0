"""Grid command-center dashboard: app factory, configuration, state, KPIs and API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dash

__all__ = ["create_app"]


def create_app(config: Any = None, **kwargs: Any) -> dash.Dash:
    """Build the dashboard app (see :func:`dashboard.app.create_app`)."""
    from dashboard.app import create_app as factory

    return factory(config, **kwargs)

"""The page router: renders another page's layout when the path changes in the browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import dash
from dash import Input, Output, State, no_update

from layouts import ids


def register(app: dash.Dash, render: Callable[[str, dict[str, str]], Any]) -> None:
    """Register the router on ``app``; ``render(path, query)`` builds a page's layout."""

    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.PAGE_PATH, "data"),
        Input(ids.PAGE_URL, "pathname"),
        State(ids.PAGE_URL, "search"),
        State(ids.PAGE_PATH, "data"),
    )
    def route(pathname: str | None, search: str | None, rendered: str | None) -> tuple[Any, Any]:
        """Skip when the server already rendered this path (the usual first load)."""
        if not pathname or pathname == rendered:
            return no_update, no_update
        return render(pathname, dict(parse_qsl((search or "").lstrip("?")))), pathname

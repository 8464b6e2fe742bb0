"""The root layout every page shares: the router's location, and the page's own layout.

The page is rendered on the server when the browser asks for the layout (the path comes
from the request), so the first paint needs no extra round trip; the router callback
(:mod:`callbacks.router`) renders another page only when the path changes in the browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dash import dcc, html

from layouts import ids

PageLayout = Callable[[str, Mapping[str, str]], Any]
"""A page's layout function: ``(id from the path, query parameters) -> component``."""


def root_layout(path: str, content: Any) -> html.Div:
    """The shared root: the router's location, the rendered path, and the page."""
    return html.Div([
        dcc.Location(id=ids.PAGE_URL, refresh=False),
        dcc.Store(id=ids.PAGE_PATH, data=path),
        html.Div(content, id=ids.PAGE),
    ])


def not_found(path: str, lang: str) -> html.Div:
    """In-app 404 (a client-side navigation to a path no page serves)."""
    text = f"There is no page at {path}" if lang == "en" else f"没有这个页面：{path}"
    return html.Div([html.H1("404"), html.P(text), html.A("/", href="/")], className="not-found")


def forbidden(path: str, lang: str) -> html.Div:
    """In-app 403: the signed-in role may not open the page (e.g. a client-side navigation)."""
    text = f"Your role may not open {path}" if lang == "en" else f"当前账号无权查看：{path}"
    return html.Div([html.H1("403"), html.P(text), html.A("/login", href="/login")], className="not-found")

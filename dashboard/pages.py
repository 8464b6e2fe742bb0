"""The pages the app serves, in one table, and the page shown for any other path.

Dash answers every GET it has no route for with its index page (a catch-all route), so a
mistyped URL would show the wall with 200. :mod:`dashboard.http` lets the catch-all answer
only the paths routed here; a new page adds its :class:`Route` to :data:`ROUTES` and its
layout to the app factory's page table.

Each route says who may open it (``roles``; leaders and administrators by default) and, for a
department, how far (``scope``): :mod:`dashboard.access` enforces it for the page, for its
layout and for every Dash callback whose outputs live on it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from dashboard.roles import CASE_READERS, DEPARTMENTS, INTERNAL, WALL, Role


@dataclass(frozen=True)
class Route:
    """A page: ``path`` exactly, or (``prefix``) ``path`` followed by one id segment.

    ``roles`` may open it. ``scope`` narrows a department's access to an id: ``"department"``
    (the id is the department's own id, as in ``/dept/<id>``) or ``"case"`` (the id is a case
    of one of its subscribed categories); a department may not open a page without a scope.
    """

    name: str
    path: str
    prefix: bool = False
    roles: frozenset[Role] = INTERNAL
    scope: str = ""


ROUTES: tuple[Route, ...] = (
    Route("wall", "/", roles=WALL),
    Route("leaders", "/leaders"),
    Route("case", "/case/", prefix=True, roles=CASE_READERS, scope="case"),
    Route("dept", "/dept/", prefix=True, roles=DEPARTMENTS, scope="department"),
)
"""Every page of the Dash app; any other page path is a 404."""

PAGES: tuple[str, ...] = tuple(r.path for r in ROUTES if not r.prefix)
"""The fixed page paths (the prefixed ones take an id: ``/case/<case_id>``)."""

_ID = re.compile(r"[^/]{1,200}")
"""One path segment: an id of a case, a department, …"""


def match(path: str) -> tuple[str, str] | None:
    """``(route name, id)`` of the page at ``path`` (id "" for a fixed page), or None."""
    for route in ROUTES:
        if not route.prefix:
            if path == route.path:
                return route.name, ""
        elif path.startswith(route.path) and _ID.fullmatch(path[len(route.path):]):
            return route.name, path[len(route.path):]
    return None


_NOT_FOUND = {
    # A standalone page: the Dash layout and its i18n table are not loaded for an error.
    "zh": ("页面不存在", "没有这个页面：", "返回指挥中心大屏"),
    "en": ("Page not found", "There is no page at ", "Back to the command center wall"),
}

_PATH_SHOWN = 200
"""Characters of the requested path quoted on the 404 page."""


def route_named(name: str) -> Route:
    """The route called ``name``."""
    return next(r for r in ROUTES if r.name == name)


def is_page(path: str) -> bool:
    """True if ``path`` is one of the app's pages."""
    return match(path) is not None


def not_found_html(path: str, lang: str) -> str:
    """A small self-contained 404 page naming ``path`` (escaped), in ``lang`` (zh or en)."""
    title, lead, back = _NOT_FOUND.get(lang, _NOT_FOUND["zh"])
    shown = html.escape(path[:_PATH_SHOWN] + ("…" if len(path) > _PATH_SHOWN else ""))
    html_lang = "en" if lang == "en" else "zh-CN"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f"<title>404 · {title}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<style>body{font:20px/1.5 sans-serif;background:#0b1a2b;color:#e6eef7;margin:10vh 10vw}"
            "a{color:#7cc4ff}code{word-break:break-all}</style></head>"
            f"<body><h1>404 · {title}</h1><p>{lead}<code>{shown}</code></p>"
            f'<p><a href="/">{back}</a></p></body></html>\n')

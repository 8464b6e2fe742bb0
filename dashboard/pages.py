"""The pages the app serves, in one list, and the page shown for any other path.

Dash answers every GET it has no route for with its index page (a catch-all route), so a
mistyped URL would show the wall with 200. :mod:`dashboard.http` lets the catch-all answer
only the paths listed here; a new page registers its path in :data:`PAGES`.
"""

from __future__ import annotations

import html

PAGES: tuple[str, ...] = ("/",)
"""Paths served by the Dash app (the wall screen at ``/``); every other page path is a 404."""

_NOT_FOUND = {
    # A standalone page: the Dash layout and its i18n table are not loaded for an error.
    "zh": ("页面不存在", "没有这个页面：", "返回指挥中心大屏"),
    "en": ("Page not found", "There is no page at ", "Back to the command center wall"),
}

_PATH_SHOWN = 200
"""Characters of the requested path quoted on the 404 page."""


def is_page(path: str) -> bool:
    """True if ``path`` is one of the app's pages."""
    return path in PAGES


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

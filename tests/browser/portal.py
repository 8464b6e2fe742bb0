"""A sample public portal page (民声网) that frames the dashboard's embeds, served on its own port.

Its origin differs from the app's by the port, as a real portal's differs by the host: the
browser applies ``frame-ancestors`` the same way.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import free_port

WIDGETS: dict[str, tuple[int, int]] = {
    "kpis": (640, 300), "streets": (640, 420), "map": (640, 520), "board": (640, 420), "query": (640, 420),
}
"""Each embed with the iframe size the sample portal gives it (width, height)."""


def portal_html(app_url: str, widgets: Sequence[str] = tuple(WIDGETS), query: str = "") -> str:
    """A portal page with an iframe per widget (``query`` is appended to every embed URL)."""
    frames = "".join(
        f'<section><h2>{html.escape(w)}</h2><iframe id="embed-{w}" title="{w}" '
        f'src="{html.escape(app_url)}/embed/{w}{html.escape(query)}" width="{WIDGETS[w][0]}" '
        f'height="{WIDGETS[w][1]}" loading="eager"></iframe></section>'
        for w in widgets)
    return ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>民声网 · 示例门户</title>'
            "<style>body{font:15px sans-serif;margin:0;background:#eef1f5}header{background:#c8102e;color:#fff;"
            "padding:14px 24px;font-size:22px}main{display:flex;flex-wrap:wrap;gap:18px;padding:18px}"
            "section{background:#fff;padding:8px;box-shadow:0 1px 3px #0002}"
            "h2{font-size:13px;color:#666;margin:0 0 4px}"
            "iframe{border:0;display:block}</style></head>"
            f"<body><header>兴隆台区 · 民声网（示例门户）</header><main>{frames}</main></body></html>")


class Portal:
    """The sample portal served from a second local HTTP server (its ``page`` is set once the app runs)."""

    def __init__(self) -> None:
        self.page = ""
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server interface)
                body = portal.page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

"""Security headers on every response: Content-Security-Policy, nosniff, Referrer-Policy, framing.

Embeds (``/embed/…``) may be framed by the origins of ``GRID_EMBED_ORIGINS`` (CSP
``frame-ancestors``; the app's own origin always); every other response refuses framing
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``). Dash pages need one inline
script (the renderer's start), allowed by its hash, and inline styles (components set them).
The referrer policy keeps same-origin referrers whole: the page router reads the page's URL
from the referrer of ``/_dash-layout``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from urllib.parse import urlsplit

import dash
from flask import Response, request

EMBED_PREFIX = "/embed/"
"""Paths that portals may frame."""

REFERRER_POLICY = "strict-origin-when-cross-origin"
"""Full URL to the app itself (the router needs it), only the origin elsewhere."""

def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def policies(embed_origins: Sequence[str], inline_scripts: Sequence[str] = (),
             tile_url: str = "") -> tuple[str, str]:
    """(CSP of Dash pages and everything else, CSP of embeds); ``inline_scripts`` are allowed by hash."""
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "*").split("{z}")[0])
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    common = ("default-src 'self'; base-uri 'self'; object-src 'none'; form-action 'self'; "
              "connect-src 'self'; font-src 'self' data:; ")
    page = (common + f"script-src 'self' {' '.join(map(_hash, inline_scripts))}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{tiles}; frame-ancestors 'none'")
    ancestors = " ".join(["'self'", *embed_origins])
    embed = common + f"script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors {ancestors}"
    return page, embed


def install(app: dash.Dash, embed_origins: Sequence[str], tile_url: str = "") -> None:
    """Set the security headers on every response of ``app``'s server (call after the callbacks
    are registered: Dash's inline scripts, its renderer's start among them, are allowed by hash)."""
    scripts = [*app._inline_scripts, app.renderer]  # what Dash's index page inlines
    page_csp, embed_csp = policies(embed_origins, scripts, tile_url)

    @app.server.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        if request.path.startswith(EMBED_PREFIX):
            headers["Content-Security-Policy"] = embed_csp
        else:
            headers["Content-Security-Policy"] = page_csp
            headers["X-Frame-Options"] = "DENY"
        return response

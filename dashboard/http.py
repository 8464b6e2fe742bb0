"""HTTP around the app: 404 for unknown paths, 414 for over-long URLs, compressed responses,
static files cached for a year when their URL is fingerprinted (revalidated otherwise).

JSON paths (``/api/…``, ``/healthz``) get ``{"error": ...}`` bodies; page paths get a small
HTML page. Dash's own routes (``/_dash-*``, ``/_reload-hash``, ``/_favicon.ico``,
``/assets/…``, ``/_dash-component-suites/…``) are left alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import dash
import redis
from dash.exceptions import DependencyException
from dash.fingerprint import check_fingerprint
from flask import Response, jsonify, request
from flask_compress import Compress
from werkzeug.exceptions import HTTPException, NotFound

from dashboard.pages import is_page, not_found_html
from dashboard.runtime import EXTENSION_KEY, Runtime
from layouts.i18n import normalize_lang

MAX_URL_BYTES = 4000
"""Longest path plus query string accepted; longer gets 414 (no legitimate query comes close).
Just under gunicorn's default request-line limit (4094 bytes), which answers a plain 414 beyond."""

JSON_PREFIXES = ("/api/", "/healthz", "/metrics")
"""Paths whose errors are JSON, not an HTML page."""


FINGERPRINTED = "public, max-age=31536000, immutable"
"""Cache-Control of a static file asked for by a fingerprinted URL (the URL changes with it)."""

REVALIDATE = "no-cache"
"""Cache-Control of a static file asked for without a fingerprint: kept, revalidated (ETag)."""

STATIC_FINGERPRINTS = (("/assets/", "m"), ("/embed/static/", "v"))
"""Static paths whose URL carries a fingerprint in a query parameter (Dash's ``?m=`` is the
file's modification time)."""

COMPONENT_SUITES = "/_dash-component-suites/"
"""Dash's component scripts: fingerprinted in the path (``dash_leaflet.v1_1_3m1700000000.js``)."""


def static_cache_control(path: str, args: Mapping[str, str]) -> str | None:
    """Cache-Control of a static file at ``path`` (None: not a static file)."""
    if path.startswith(COMPONENT_SUITES):
        return FINGERPRINTED if check_fingerprint(path)[1] else REVALIDATE
    for prefix, param in STATIC_FINGERPRINTS:
        if path.startswith(prefix):
            return FINGERPRINTED if args.get(param) else REVALIDATE
    return None


KEPT_COMPRESSED = 128
"""Compressed static files kept (Dash's scripts: ~15 files per algorithm)."""


class StaticCompressCache:
    """Flask-Compress's cache: keeps the compressed bytes of fingerprinted static files only.

    Flask-Compress asks every response's key here; anything else (API answers, pages, callbacks)
    is compressed afresh each time. Dash's scripts (2.7 MB) were compressed on every page load.
    """

    def __init__(self, size: int = KEPT_COMPRESSED) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        """The compressed bytes kept under ``key`` ("<algorithm>;<full path>"), or None."""
        with self._lock:
            return self._kept.get(key)

    def set(self, key: str, value: bytes) -> None:
        """Keep ``value`` when ``key`` names a fingerprinted static file (bounded, oldest out)."""
        path, _, query = key.partition(";")[2].partition("?")
        if static_cache_control(path, dict(parse_qsl(query))) != FINGERPRINTED:
            return
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def wants_json(path: str) -> bool:
    """True for API-like paths, whose errors are JSON."""
    return path == "/api" or path.startswith(JSON_PREFIXES)


def json_error(status: int, message: str) -> tuple[Response, int]:
    """``{"error": message}`` with ``status``."""
    return jsonify({"error": message}), status


def _url_bytes() -> int:
    # WSGI keeps PATH_INFO as latin-1 decoded bytes and QUERY_STRING raw: their lengths are bytes.
    env = request.environ
    return len(env.get("PATH_INFO", "")) + len(env.get("QUERY_STRING", ""))


def install(app: dash.Dash) -> None:
    """Add the 404/414 handling and response compression to ``app``'s Flask server."""
    server = app.server
    catch_all = app.config.routes_pathname_prefix + "<path:path>"

    def lang() -> str:
        runtime: Runtime | None = server.extensions.get(EXTENSION_KEY)
        return normalize_lang(request.args.get("lang"), runtime.config.lang if runtime else "zh")

    def page_404() -> tuple[str, int, dict[str, str]]:
        return not_found_html(request.path, lang()), 404, {"Content-Type": "text/html; charset=utf-8"}

    @server.before_request
    def _guard() -> Any:
        if _url_bytes() > MAX_URL_BYTES:
            message = f"URL too long: over {MAX_URL_BYTES} bytes of path and query; shorten the query"
            if wants_json(request.path):
                return json_error(414, message)
            return message + "\n", 414, {"Content-Type": "text/plain; charset=utf-8"}
        rule = request.url_rule
        # Dash's catch-all serves its index for any path: only the listed pages may use it.
        if rule is not None and rule.rule == catch_all and not is_page(request.path):
            raise NotFound()
        return None

    def _http_error(exc: HTTPException) -> Any:
        if wants_json(request.path):
            what = f"no such endpoint: {request.path}" if exc.code == 404 else exc.description
            return json_error(exc.code or 500, str(what))
        if exc.code == 404:
            return page_404()
        return exc.get_response()

    for code in (404, 405):
        server.register_error_handler(code, _http_error)

    @server.errorhandler(redis.ConnectionError)
    @server.errorhandler(redis.TimeoutError)
    def _redis_away(exc: Exception) -> Any:
        # a request that needs Redis (a rate limit, the citizen query, a health read) while it is
        # unreachable: say so and when to retry, not a 500 with a traceback
        message = f"Redis is unreachable ({type(exc).__name__}); retry shortly"
        if wants_json(request.path):
            response, status = json_error(503, message)
        else:
            response, status = Response(message + "\n", mimetype="text/plain"), 503
        response.headers["Retry-After"] = "5"
        return response, status

    @server.errorhandler(DependencyException)
    def _no_such_script(_exc: DependencyException) -> Any:
        # Dash answers a request for a script it does not ship with a 500 and a traceback
        return page_404()

    @server.after_request
    def _cache(response: Response) -> Response:
        if response.status_code in (200, 304):
            found = static_cache_control(request.path, request.args)
            if found is not None:
                response.headers["Cache-Control"] = found
        return response

    server.config.setdefault("COMPRESS_CACHE_BACKEND", StaticCompressCache)
    server.config.setdefault("COMPRESS_CACHE_KEY", lambda req: req.full_path)
    Compress(server)

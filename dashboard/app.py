"""The application factory: ``create_app(config)`` builds one Dash app with its runtime."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import dash
import redis
from dash import html
from flask import Response, has_request_context, jsonify, request
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import access, http, metrics, push_streams, security, wall_layers, wall_push
from dashboard.api import bp as api_blueprint
from dashboard.config import Config, load_config
from dashboard.export import bp as export_blueprint
from dashboard.index import GridDash
from dashboard.login import login_blueprint, login_page
from dashboard.pages import match
from dashboard.public import CACHE_KEY, public_blueprint
from dashboard.public_views import PublicCache
from dashboard.push_hub import Hub
from dashboard.ratelimit import build_limiter
from dashboard.reference import Reference, load_reference
from dashboard.runtime import EXTENSION_KEY, Runtime, build_runtime
from dashboard.wall_model import WallModel
from data_feed.connection import connect_url, start_embedded
from layouts.casefile import case_layout, dept_layout
from layouts.i18n import STRINGS, name_of, normalize_lang
from layouts.leaders import ReportSettings, leaders_layout
from layouts.router import PageLayout, forbidden, not_found, root_layout
from layouts.wall import WallSettings, fit_bounds, wall_layout

WALL_EXTENSION_KEY = "grid.wall"
"""Key of the wall's read model in ``flask_app.extensions``."""

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"


def open_redis(config: Config) -> redis.Redis:
    """Connect to GRID_REDIS_URL, or start the embedded server in GRID_DATA_DIR."""
    if config.redis_url:
        return connect_url(config.redis_url)
    return start_embedded(config.data_dir, config.embedded_port)


WALL_BOUNDARY_LEVELS = ("district", "street", "community")
"""Boundary levels the wall draws (served by wall_layers, not inlined in its layout)."""


def _wall_collections(reference: Reference) -> dict[str, Any]:
    return {level: reference.boundaries_geojson(level) for level in WALL_BOUNDARY_LEVELS}


def wall_boundaries(reference: Reference) -> wall_layers.Boundaries:
    """The wall's boundary layers, compressed once per app."""
    return wall_layers.Boundaries(_wall_collections(reference))


def wall_settings(config: Config, reference: Reference,
                  boundaries: wall_layers.Boundaries | None = None) -> WallSettings:
    """The plain settings the wall layout needs (computed once, not per page load): the
    boundaries go by fingerprinted URL, so the layout stays small at any scale."""
    boundaries = boundaries or wall_boundaries(reference)
    return WallSettings(
        lang=config.lang, tick_ms=config.tick_ms, stale_after_s=config.stale_after_s, tz=str(config.tz),
        tile_url=config.tile_url, tile_attribution=config.tile_attribution,
        district_view=reference.district_view,
        boundary_urls=boundaries.urls(),
        bounds=fit_bounds(_wall_collections(reference)),
        push_url=wall_push.STREAM_PATH if config.push == "sse" else "",
        names={kind: {lang: {key: name_of(obj, lang, key) for key, obj in mapping.items()} for lang in STRINGS}
               for kind, mapping in (("street", reference.streets), ("category", reference.categories))})


def report_settings(config: Config, reference: Reference) -> ReportSettings:
    """The plain settings the report pages (leaders, case files, departments) need."""
    return ReportSettings(
        lang=config.lang, tile_url=config.tile_url, tile_attribution=config.tile_attribution,
        district_view=reference.district_view,
        boundaries={level: reference.boundaries_geojson(level) for level in ("street", "community", "grid")},
        push_url=push_streams.LEADERS_STREAM_PATH)


def page_layouts(config: Config, reference: Reference, boundaries: wall_layers.Boundaries | None = None,
                 wall_base: Callable[[], Mapping[str, Any] | None] = lambda: None) -> dict[str, PageLayout]:
    """Each route's layout function (pure: pages fill themselves through their callbacks;
    ``wall_base()`` names the wall's current checkpoint layer, fetched beside the first tick)."""
    wall = wall_settings(config, reference, boundaries)
    report = report_settings(config, reference)
    return {"wall": lambda _id, _query: wall_layout(wall, wall_base()),
            "leaders": lambda _id, query: leaders_layout(report, query),
            "case": lambda case_id, query: case_layout(report, case_id, query),
            "dept": lambda dept_id, query: dept_layout(report, dept_id, query)}


def current_base_ref(wall: WallModel) -> dict[str, Any] | None:
    """The wall's current base layer as a page's layout names it (None before the history is read)."""
    from callbacks.wall import base_ref

    # only for the layout a browser asks for: Dash also renders the layout once at the first
    # request whatever it is (a /healthz probe must not build the wall's snapshot, nor wait on Redis)
    wanted = has_request_context() and request.path.endswith("/_dash-layout")
    base = wall.current_base() if wanted else None
    return {**base_ref(base), "cluster": base.cluster} if base is not None else None


def render_page(pages: Mapping[str, PageLayout], path: str, query: Mapping[str, str],
                default_lang: str) -> Any:
    """The layout of the page at ``path``, or an in-app 404 (403 when the caller may not open it)."""
    found = match(path)
    if found is None or found[0] not in pages:
        return not_found(path, normalize_lang(query.get("lang"), default_lang))
    if has_request_context() and not access.may_open_path(path):
        return forbidden(path, normalize_lang(query.get("lang"), default_lang))
    return pages[found[0]](found[1], query)


def serve_layout(pages: Mapping[str, PageLayout], default_lang: str) -> Any:
    """The layout function Dash calls for each page load: the root with the page rendered.

    The browser asks for the layout from the page itself, so the request's referrer is the
    page's URL (path and query); without one (a tool fetching the layout) the wall is served.
    """

    def layout() -> html.Div:
        path, query = "/", {}
        if has_request_context() and request.referrer:
            url = urlsplit(request.referrer)
            path, query = url.path or "/", dict(parse_qsl(url.query))
        return root_layout(path, render_page(pages, path, query, default_lang))

    return layout


def _too_many(cfg: Config) -> Any:
    """The answer when a rate limit is hit: JSON for the API, the log-in page for log-ins."""

    def handler(exc: TooManyRequests) -> Any:
        if request.path == "/login":
            lang = normalize_lang(request.args.get("lang"), cfg.lang)
            text = "Too many failed log-ins; try again later" if lang == "en" else "登录失败次数过多，请稍后再试"
            return Response(login_page(lang, "", text), 429, content_type="text/html; charset=utf-8")
        if http.wants_json(request.path):
            response = jsonify({"error": "too many requests; try again later"})
            response.status_code = 429
            return response
        return Response("too many requests; try again later\n", 429, content_type="text/plain; charset=utf-8")

    return handler


def create_app(config: Mapping[str, Any] | None = None, *,
               connection: redis.Redis | None = None) -> dash.Dash:
    """Build the dashboard: config, Redis, reference data, state, consumer, API and pages."""
    cfg = load_config(config)
    reference = load_reference(cfg.reference_dir)
    conn = connection if connection is not None else open_redis(cfg)
    runtime = build_runtime(cfg, conn, reference)

    app = GridDash(
        __name__,
        assets_folder=str(ASSETS),
        serve_locally=True,
        title="网格指挥中心 · Grid Command Center",
        update_title=None,  # type: ignore[arg-type]  # None disables "Updating..." (documented)
        suppress_callback_exceptions=False,  # a callback naming an id the layout lacks fails loudly
    )
    server = app.server
    wall = WallModel(runtime)
    server.extensions[EXTENSION_KEY] = runtime
    server.extensions[WALL_EXTENSION_KEY] = wall
    if cfg.proxy_hops:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=cfg.proxy_hops, x_proto=cfg.proxy_hops,  # type: ignore[method-assign]
                                   x_host=cfg.proxy_hops)
    directory = access.load_directory(cfg) if cfg.auth else access.Directory()
    limiter = build_limiter(server, conn, cfg.redis_url)
    server.extensions[CACHE_KEY] = PublicCache()
    server.extensions[push_streams.HUB_EXTENSION_KEY] = Hub(runtime.changes, max_streams=cfg.push_max_streams)
    server.register_blueprint(api_blueprint)
    server.register_blueprint(export_blueprint)
    server.register_blueprint(public_blueprint(cfg, limiter))
    server.register_blueprint(push_streams.leaders_blueprint())
    server.register_blueprint(login_blueprint(cfg, directory, limiter))
    http.install(app)
    boundaries = wall_boundaries(reference)
    pages = page_layouts(cfg, reference, boundaries, lambda: current_base_ref(wall))
    access.install(app, cfg, directory, access.Access(
        cfg, directory, reference.subscribed_categories, runtime.state.case_category,
        root_ids=access.component_ids(root_layout("/", None)),
        page_ids={name: access.component_ids(fn("", {})) for name, fn in pages.items()}))
    server.register_error_handler(429, _too_many(cfg))
    metrics.install(app, runtime)
    wall_push.install(server, wall)
    wall_layers.install(server, wall.base_payload, boundaries)

    from callbacks import register as register_callbacks

    app.layout = serve_layout(pages, cfg.lang)
    # every page's components, so callbacks of pages not on screen still validate
    app.validation_layout = html.Div(  # type: ignore[assignment]  # Dash types it as None
        [root_layout("/", None), *(fn("", {}) for fn in pages.values())])
    register_callbacks(app, runtime, wall, lambda path, query: render_page(pages, path, query, cfg.lang))
    security.install(app, cfg.embed_origins, cfg.tile_url)

    if cfg.start_consumer:
        runtime.start()
    return app


def runtime_of(app: dash.Dash) -> Runtime:
    """The runtime the factory attached to ``app``."""
    return app.server.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def wall_model_of(app: dash.Dash) -> WallModel:
    """The wall read model the factory attached to ``app``."""
    return app.server.extensions[WALL_EXTENSION_KEY]  # type: ignore[no-any-return]

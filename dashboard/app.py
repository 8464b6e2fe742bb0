"""The application factory: ``create_app(config)`` builds one Dash app with its runtime."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dash
import redis

from dashboard import http, metrics
from dashboard.api import bp as api_blueprint
from dashboard.config import Config, load_config
from dashboard.reference import Reference, load_reference
from dashboard.runtime import EXTENSION_KEY, Runtime, build_runtime
from dashboard.wall_model import WallModel
from data_feed.connection import connect_url, start_embedded
from layouts.wall import WallSettings

WALL_EXTENSION_KEY = "grid.wall"
"""Key of the wall's read model in ``flask_app.extensions``."""

log = logging.getLogger(__name__)

ASSETS = Path(__file__).parent / "assets"


def open_redis(config: Config) -> redis.Redis:
    """Connect to GRID_REDIS_URL, or start the embedded server in GRID_DATA_DIR."""
    if config.redis_url:
        return connect_url(config.redis_url)
    return start_embedded(config.data_dir, config.embedded_port)


def wall_settings(config: Config, reference: Reference) -> WallSettings:
    """The plain settings the wall layout needs (boundaries are computed once, not per page load)."""
    return WallSettings(
        lang=config.lang, tick_ms=config.tick_ms, stale_after_s=config.stale_after_s, tz=str(config.tz),
        tile_url=config.tile_url, tile_attribution=config.tile_attribution,
        district_view=reference.district_view,
        boundaries={level: reference.boundaries_geojson(level) for level in ("district", "street", "community")})


def create_app(config: Mapping[str, Any] | None = None, *,
               connection: redis.Redis | None = None) -> dash.Dash:
    """Build the dashboard: config, Redis, reference data, state, consumer, API and pages."""
    cfg = load_config(config)
    reference = load_reference(cfg.reference_dir)
    conn = connection if connection is not None else open_redis(cfg)
    runtime = build_runtime(cfg, conn, reference)

    app = dash.Dash(
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
    server.register_blueprint(api_blueprint)
    http.install(app)
    metrics.install(app, runtime)

    from callbacks import register as register_callbacks
    from layouts.wall import serve_layout

    app.layout = serve_layout(wall_settings(cfg, reference))
    register_callbacks(app, wall)

    if cfg.start_consumer:
        runtime.start()
    return app


def runtime_of(app: dash.Dash) -> Runtime:
    """The runtime the factory attached to ``app``."""
    return app.server.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def wall_model_of(app: dash.Dash) -> WallModel:
    """The wall read model the factory attached to ``app``."""
    return app.server.extensions[WALL_EXTENSION_KEY]  # type: ignore[no-any-return]

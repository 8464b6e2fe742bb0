"""The command-center wall screen at ``/``: map, district KPIs, street table, alerts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dash import dcc, html

from layouts import ids
from layouts.i18n import STRINGS, t
from layouts.map import legend, wall_map

if TYPE_CHECKING:
    from dashboard.runtime import Runtime

def _label(key: str, lang: str, tag: Callable[..., Any] = html.Span, **kwargs: Any) -> Any:
    return tag(t(key, lang), id={"type": ids.I18N, "key": key}, **kwargs)


def _bounds(geojson: dict[str, Any] | None) -> list[list[float]] | None:
    """South-west / north-east corners of a FeatureCollection's coordinates, or None."""
    lats: list[float] = []
    lons: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        else:
            for c in coords or ():
                walk(c)

    for feature in (geojson or {}).get("features", []):
        walk((feature.get("geometry") or {}).get("coordinates"))
    if not lats:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def wall_layout(runtime: Runtime) -> html.Div:
    """Build the wall page for ``runtime`` (language and kiosk are applied in the browser)."""
    cfg = runtime.config
    lang = cfg.lang if cfg.lang in STRINGS else "zh"
    ref = runtime.reference
    boundaries = {level: ref.boundaries_geojson(level) for level in ("district", "street", "community")}
    the_map = wall_map(ref.district_view, boundaries, cfg.tile_url, cluster=False)
    bounds = _bounds(boundaries.get("street")) or _bounds(boundaries.get("community"))
    wall_config = {
        "stale_after_s": float(cfg.stale_after_s),
        "lost_after_s": 4.0,
        "tz": str(cfg.tz),
        "default_lang": lang,
        "strings": STRINGS,
        "bounds": bounds,
    }
    header = html.Header([
        html.Div([_label("title", lang, html.H1), _label("subtitle", lang, html.Div, className="subtitle")],
                 className="brand"),
        html.Div(id=ids.ROUND_LABEL, className="round-label"),
        html.Div([
            html.Div(id=ids.CLOCK, className="clock"),
            html.Div(t("last_update.never", lang), id=ids.LAST_UPDATE, className="last-update"),
        ], className="status"),
        html.Nav([
            html.A(t("lang_switch", lang), id=ids.LANG_LINK, href="?lang=en", className="control"),
            html.A(t("kiosk_on", lang), id=ids.KIOSK_LINK, href="?kiosk=1", className="control"),
        ], id=ids.CONTROLS, className="controls"),
    ], className="wall-header")
    map_panel = html.Section([
        the_map,
        html.Div([_label("legend", lang, html.Div, className="legend-title"), legend(lang)],
                 className="legend-box"),
    ], className="panel map-panel")
    side = html.Section([
        html.Div([_label("kpi.title", lang, html.H2),
                  html.Div(id=ids.KPI_DISTRICT, className="tiles")], className="panel kpi-panel"),
        html.Div([_label("streets.title", lang, html.H2),
                  html.Div(id=ids.STREET_TABLE, className="street-table")], className="panel streets-panel"),
        html.Div([_label("alerts.title", lang, html.H2),
                  html.Div(id=ids.ALERTS, className="alerts")], className="panel alerts-panel"),
    ], className="side")
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Interval(id=ids.TICK, interval=cfg.tick_ms, n_intervals=0),
        dcc.Store(id=ids.TICK_REQUEST),
        dcc.Store(id=ids.VIEW),
        dcc.Store(id=ids.HAVE),
        dcc.Store(id=ids.HEARTBEAT),
        dcc.Store(id=ids.HEARTBEAT_SINK),
        dcc.Store(id=ids.ALERT_GEO),
        dcc.Store(id=ids.BASE_ROWS),
        dcc.Store(id=ids.CHANGE_ROWS),
        dcc.Store(id=ids.WARDEN_ROWS),
        dcc.Store(id=ids.WALL_CONFIG, data=wall_config),
        html.Div(id=ids.CONN_BANNER, className="conn-banner hidden"),
        header,
        html.Main([map_panel, side], className="wall-main"),
    ], id=ids.WALL, className=f"wall lang-{lang}")


def serve_layout(runtime: Runtime) -> Callable[[], html.Div]:
    """Return the layout function Dash calls on every page load."""

    def layout() -> html.Div:
        return wall_layout(runtime)

    return layout

"""The command-center wall screen at ``/``: map, district KPIs, street table, alerts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dash import dcc, html

from dashboard.status import STATUS_ORDER
from layouts import ids
from layouts.i18n import STRINGS, WALL_STRINGS, t
from layouts.map import legend, wall_map
from layouts.panels import STREET_ROWS, TILES


def _label(key: str, lang: str, tag: Callable[..., Any] = html.Span, **kwargs: Any) -> Any:
    return tag(t(key, lang), id={"type": ids.I18N, "key": key}, **kwargs)


def _bounds(geojson: Mapping[str, Any] | None) -> list[list[float]] | None:
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


def fit_bounds(boundaries: Mapping[str, Mapping[str, Any] | None]) -> list[list[float]] | None:
    """The corners the wall's map fits to: the streets', else the communities'."""
    return _bounds(boundaries.get("street")) or _bounds(boundaries.get("community"))


@dataclass(frozen=True)
class WallSettings:
    """What the wall page needs, as plain data: built once by the app factory from config and reference."""

    lang: str = "zh"
    tick_ms: int = 500
    stale_after_s: float = 30.0
    tz: str = "Asia/Shanghai"
    tile_url: str = ""
    tile_attribution: str = ""
    district_view: tuple[float, float, int] = (41.12, 122.07, 13)
    boundaries: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    """Boundary layers inlined in the page (small tests); the app serves them by URL instead."""
    boundary_urls: Mapping[str, str] = field(default_factory=dict)
    """Each boundary level's fingerprinted URL (dashboard/wall_layers.py): fetched, not in the layout."""
    bounds: list[list[float]] | None = None
    """South-west / north-east corners the map fits to (else taken from ``boundaries``)."""
    push_url: str = ""
    """The server's push stream (GRID_PUSH=sse); empty: the page polls on ``tick_ms``."""
    names: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    """``{"street"|"category": {lang: {id: name}}}``: the pushed rows carry ids, the page names them."""


PUSH_TARGETS = {
    "base": ids.BASE_ROWS, "cluster": ids.CHECKPOINTS, "overlay": ids.CHANGE_ROWS, "wardens": ids.WARDEN_ROWS,
    "map": ids.MAP, "tiles": ids.KPI_DISTRICT, "table": ids.STREET_TABLE, "round": ids.ROUND_LABEL,
    "alerts": ids.ALERTS, "alert_item": ids.ALERT_ITEM, "clock": ids.CLOCK, "badge": ids.LAST_UPDATE,
    "banner": ids.CONN_BANNER, "catchup": ids.CATCHUP, "catchup_text": ids.CATCHUP_TEXT,
    "catchup_bar": ids.CATCHUP_BAR,
}
"""Where wall.js puts what it is pushed (the component ids, from layouts/ids.py)."""


def wall_layout(settings: WallSettings, base: Mapping[str, Any] | None = None) -> html.Div:
    """Build the wall page (language and kiosk are applied in the browser).

    ``base`` names the checkpoint base layer current when the page is served (``{"id", "url",
    "n", "cluster"}``): the browser fetches it at once, beside its first tick, which then sends
    only the overlay relative to it. None (history still being read): the first tick names one.
    """
    lang = settings.lang if settings.lang in STRINGS else "zh"
    boundaries = settings.boundaries
    the_map = wall_map(settings.district_view, boundaries, settings.tile_url, cluster=bool(base and base["cluster"]),
                       tile_attribution=settings.tile_attribution, boundary_urls=settings.boundary_urls)
    bounds = settings.bounds or fit_bounds(boundaries)
    wall_config = {
        "stale_after_s": float(settings.stale_after_s),
        "lost_after_s": 4.0,
        "tz": settings.tz,
        "default_lang": lang,
        "strings": WALL_STRINGS,
        "bounds": bounds,
        "statuses": [s.value for s in STATUS_ORDER],  # the browser's copy of the ranks
        "push_url": settings.push_url,  # wall.js opens it (GRID_PUSH=sse); empty: the page polls
        "base": dict(base) if base else None,  # wall.js fetches and draws it at once (no tick awaited)
    }
    if settings.push_url:  # pushed events carry figures and ids: what the page needs to render them
        wall_config.update(tiles=[list(spec) for spec in TILES], names=settings.names,
                           street_rows=STREET_ROWS, ids=PUSH_TARGETS)
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
    catchup = html.Div([
        _label("catchup.title", lang, html.Div, className="catchup-title"),
        html.Div(html.Div(id=ids.CATCHUP_BAR, className="catchup-bar-fill"), className="catchup-bar"),
        html.Div(id=ids.CATCHUP_TEXT, className="catchup-text"),
        _label("catchup.note", lang, html.Div, className="catchup-note"),
    ], id=ids.CATCHUP, className="catchup hidden")
    map_panel = html.Section([
        html.Div([
            the_map,
            catchup,
            # inside the map area, under the header: it never covers a heading or a figure's label
            html.Div(id=ids.CONN_BANNER, className="conn-banner hidden"),
        ], className="map-area"),
        # beside the map, not over it: the legend never hides a marker
        html.Div([_label("legend", lang, html.Span, className="legend-title"), legend(lang)],
                 className="legend-box"),
    ], className="panel map-panel")
    kpi_panel = html.Div([_label("kpi.title", lang, html.H2),
                          html.Div(id=ids.KPI_DISTRICT, className="tiles")], className="panel kpi-panel")
    side = html.Section([
        html.Div([_label("streets.title", lang, html.H2),
                  html.Div(id=ids.STREET_TABLE, className="street-table")], className="panel streets-panel"),
        html.Div([_label("alerts.title", lang, html.H2),
                  html.Div(id=ids.ALERTS, className="alerts")], className="panel alerts-panel"),
    ], className="side")
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        # with a push no interval runs: wall.js paints the clock and badge from its own timer
        dcc.Interval(id=ids.TICK, interval=settings.tick_ms, n_intervals=0, disabled=bool(settings.push_url)),
        dcc.Store(id=ids.TICK_REQUEST),
        dcc.Store(id=ids.VIEW),
        dcc.Store(id=ids.HAVE, data={"base": base["id"]} if base else None),
        dcc.Store(id=ids.HEARTBEAT),
        dcc.Store(id=ids.HEARTBEAT_SINK),
        dcc.Store(id=ids.ALERT_GEO),
        dcc.Store(id=ids.BASE_ROWS),
        dcc.Store(id=ids.CHANGE_ROWS),
        dcc.Store(id=ids.WARDEN_ROWS),
        dcc.Store(id=ids.WALL_CONFIG, data=wall_config),
        header,
        html.Main([html.Section([kpi_panel, map_panel], className="left"), side], className="wall-main"),
    ], id=ids.WALL, className=f"wall lang-{lang}")


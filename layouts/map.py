"""The wall map: boundary vector layers, static checkpoint base layer, change overlay, wardens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
from dash import html
from dash_extensions.javascript import Namespace

from dashboard.status import STATUS_ORDER, STATUS_RANK, CheckpointStatus
from layouts import ids
from layouts.i18n import t

STATUS_COLORS = {
    CheckpointStatus.OK: "#2ecc71",
    CheckpointStatus.PENDING: "#8a949e",
    CheckpointStatus.OPEN: "#f5c518",
    CheckpointStatus.OVERDUE: "#ff3b30",
    CheckpointStatus.HAZARD: "#ff00d4",
}
"""Marker colours per status (overdue is also drawn larger with a halo, hazard as a pulsing triangle)."""

WARDEN_COLORS = {"active": "#33b5ff", "silent": "#59636e"}
"""Warden marker colours: live, and silent for more than 5 minutes."""

PANE_BOUNDARIES = "boundaries"
PANE_CHANGES = "changes"
PANE_WARDENS = "wardens"

_ns = Namespace("dashExtensions", "wall")


def marker_hideout(pane: str, cluster: bool = False) -> dict[str, Any]:
    """Options the browser's pointToLayer reads: colours, ranks, pane and cluster mode."""
    return {
        "colors": [STATUS_COLORS[s] for s in STATUS_ORDER],
        "ranks": dict(STATUS_RANK),
        "pane": pane,
        "cluster": cluster,
    }


def legend(lang: str) -> html.Div:
    """Map legend: one swatch per checkpoint status, then the warden symbols."""
    rows = []
    for status in reversed(STATUS_ORDER):  # worst first, as the alerts are listed
        key = f"status.{status.value}"
        rows.append(html.Div([
            html.Span(className=f"swatch swatch-{status.value}",
                      style={"backgroundColor": STATUS_COLORS[status]}),
            html.Span(t(key, lang), id={"type": ids.I18N, "key": key}),
        ], className="legend-row"))
    for kind in ("active", "silent"):
        rows.append(html.Div([
            html.Span(className=f"swatch swatch-warden swatch-warden-{kind}",
                      style={"backgroundColor": WARDEN_COLORS[kind]}),
            html.Span(t(f"warden.{kind}", lang), id={"type": ids.I18N, "key": f"warden.{kind}"}),
        ], className="legend-row"))
    return html.Div(rows, id=ids.LEGEND, className="legend")


def wall_map(view: tuple[float, float, int], boundaries: Mapping[str, Mapping[str, Any] | None],
             tile_url: str, cluster: bool, tile_attribution: str = "",
             boundary_urls: Mapping[str, str] | None = None) -> dl.MapContainer:
    """The map: optional tiles (with their attribution), boundary layers, checkpoint layers, wardens.

    A boundary level with a URL in ``boundary_urls`` is fetched by the browser (cached), not
    carried in the page's layout; else its data from ``boundaries`` is inlined.
    """
    lat, lon, zoom = view
    children: list[Any] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, maxZoom=19, attribution=tile_attribution or None))
    boundary_layers = []
    urls = boundary_urls or {}
    for level in ("community", "street", "district"):
        data = boundaries.get(level)
        source: dict[str, Any]
        if level in urls:
            source = {"url": urls[level]}
        elif data and data.get("features"):
            source = {"data": dict(data)}
        else:
            continue
        boundary_layers.append(dl.GeoJSON(
            id=f"{ids.BOUNDARY_PREFIX}{level}", interactive=False,
            style=_ns("boundaryStyle"), hideout={"level": level}, **source))
    children.append(dl.Pane(boundary_layers, name=PANE_BOUNDARIES, style={"zIndex": 350}))
    children.append(dl.GeoJSON(
        id=ids.CHECKPOINTS, data=None, cluster=cluster, pointToLayer=_ns("checkpointPoint"),
        clusterToLayer=_ns("checkpointCluster"), zoomToBoundsOnClick=True,
        superClusterOptions={"radius": 60, "maxZoom": 16},
        hideout=marker_hideout("overlayPane", cluster)))
    children.append(dl.Pane(dl.GeoJSON(
        id=ids.CHANGES, data=None, pointToLayer=_ns("checkpointPoint"),
        hideout=marker_hideout(PANE_CHANGES)), name=PANE_CHANGES, style={"zIndex": 450}))
    children.append(dl.Pane(dl.GeoJSON(
        id=ids.WARDENS, data=None, pointToLayer=_ns("wardenPoint"),
        hideout={"pane": PANE_WARDENS, "colors": [WARDEN_COLORS["active"], WARDEN_COLORS["silent"]]}),
        name=PANE_WARDENS, style={"zIndex": 460}))
    return dl.MapContainer(
        children, id=ids.MAP, center=[lat, lon], zoom=zoom, preferCanvas=True,
        attributionControl=bool(tile_url), zoomSnap=0.25, className="wall-map",
        style={"width": "100%", "height": "100%", "background": "#0b1620"})

"""The wall map: boundary vector layers, static checkpoint base layer, change overlay, wardens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_leaflet as dl
from dash import html
from dash_extensions.javascript import Namespace

from layouts import ids
from layouts.i18n import t

STATUS_ORDER = ("ok", "pending", "open", "overdue", "hazard")
"""Checkpoint statuses from best to worst; the index is the rank sent to the browser."""

STATUS_RANK = {name: rank for rank, name in enumerate(STATUS_ORDER)}
"""Status name → rank (a cluster shows its highest rank)."""

STATUS_COLORS = {
    "ok": "#2ecc71",
    "pending": "#8a949e",
    "open": "#f5c518",
    "overdue": "#ff3b30",
    "hazard": "#ff00d4",
}
"""Marker colours per status (hazard is also drawn as a pulsing triangle)."""

WARDEN_COLORS = {"active": "#33b5ff", "silent": "#59636e"}
"""Warden marker colours: live, and silent for more than 5 minutes."""

CLUSTER_THRESHOLD = 20_000
"""Above this many checkpoints the base layer is clustered (colour = worst status inside)."""

PANE_BOUNDARIES = "boundaries"
PANE_CHANGES = "changes"
PANE_WARDENS = "wardens"

_ns = Namespace("dashExtensions", "wall")


def marker_hideout(pane: str, cluster: bool = False) -> dict[str, Any]:
    """Options the browser's pointToLayer reads: colours, ranks, pane and cluster mode."""
    return {
        "colors": [STATUS_COLORS[s] for s in STATUS_ORDER],
        "pane": pane,
        "cluster": cluster,
        "hazard": STATUS_RANK["hazard"],
    }


def checkpoint_rows(points: Iterable[tuple[str, float, float, int]],
                    with_ids: bool = True) -> list[list[Any]]:
    """Compact wire form ``[lon, lat, rank(, id)]`` of checkpoints (GeoJSON is built in the browser)."""
    return [[round(lon, 5), round(lat, 5), rank, cid] if with_ids else [round(lon, 5), round(lat, 5), rank]
            for cid, lat, lon, rank in points]


def warden_rows(wardens: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """Compact wire form ``[lon, lat, silent]`` of warden positions."""
    return [[round(float(w["lon"]), 5), round(float(w["lat"]), 5), 1 if w.get("silent") else 0]
            for w in wardens]


def legend(lang: str) -> html.Div:
    """Map legend: one swatch per checkpoint status, then the warden symbols."""
    rows = []
    for status in STATUS_ORDER:
        rows.append(html.Div([
            html.Span(className=f"swatch swatch-{status}",
                      style={"backgroundColor": STATUS_COLORS[status]}),
            html.Span(t(f"status.{status}", lang), id={"type": ids.I18N, "key": f"status.{status}"}),
        ], className="legend-row"))
    for kind in ("active", "silent"):
        rows.append(html.Div([
            html.Span(className=f"swatch swatch-warden swatch-warden-{kind}",
                      style={"backgroundColor": WARDEN_COLORS[kind]}),
            html.Span(t(f"warden.{kind}", lang), id={"type": ids.I18N, "key": f"warden.{kind}"}),
        ], className="legend-row"))
    return html.Div(rows, id=ids.LEGEND, className="legend")


def wall_map(view: tuple[float, float, int], boundaries: Mapping[str, Mapping[str, Any] | None],
             tile_url: str, cluster: bool) -> dl.MapContainer:
    """The map: optional tiles, boundary layers, base/overlay checkpoint layers, wardens."""
    lat, lon, zoom = view
    children: list[Any] = []
    if tile_url:
        children.append(dl.TileLayer(url=tile_url, maxZoom=19))
    boundary_layers = []
    for level in ("community", "street", "district"):
        data = boundaries.get(level)
        if data and data.get("features"):
            boundary_layers.append(dl.GeoJSON(
                id=f"{ids.BOUNDARY_PREFIX}{level}", data=dict(data), interactive=False,
                style=_ns("boundaryStyle"), hideout={"level": level}))
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

"""The wall's big, rarely changing layers, served as cached GETs instead of inside the page.

Two kinds, both internal (the wall's roles, see :mod:`dashboard.access`), gzip-compressed once
and kept, each answered with an ETag (``304`` on ``If-None-Match``):

- the **checkpoint base layer** at ``/api/v1/wall/base/<base_id>``: the statuses the wall's
  overlay is diffed against, in a compact columnar form (:func:`encode_base`): ids, coordinates
  quantized to 1e-5 degrees (about 1 m) and delta-encoded, status ranks as one digit each. A base
  id never changes meaning, so the answer is cacheable for a year. The tick (or push event)
  names the base id; ``wall.js`` fetches it and draws it as soon as it arrives.
- the **boundaries** at ``/api/v1/wall/boundaries/<level>?v=<digest>``: GeoJSON with
  coordinates rounded to 1e-5 degrees; with the current digest in ``v`` it is immutable, without
  it the browser revalidates. At 100k checkpoints these were 2.8 MB of the page's layout.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import flask
import numpy as np

BASE_PATH = "/api/v1/wall/base/"
"""Where a checkpoint base layer is served (followed by its base id)."""

BOUNDARY_PATH = "/api/v1/wall/boundaries/"
"""Where the wall's boundary layers are served (followed by the level)."""

BASE_FORMAT = "grid-wall-base/1"
"""Name and version of the compact base layer format (``wall.js`` checks it)."""

SCALE = 100_000
"""Coordinates are sent as integers of 1e-5 degrees (about 1 m on the ground)."""

KEPT_PAYLOADS = 8
"""Compressed base layers kept per process (the current one and a few a browser may still hold)."""

IMMUTABLE = "private, max-age=31536000, immutable"
"""Cache-Control of an answer that never changes for its URL (internal data: no shared caches)."""

REVALIDATE = "private, no-cache"
"""Cache-Control of an answer the browser may keep but must revalidate (ETag) before use."""

GZIP_LEVEL = 5
"""Compression level of the kept payloads (built once per base: 9 saves a few % at 3x the time)."""


def base_url(base_id: str) -> str:
    """The URL of base layer ``base_id``."""
    return BASE_PATH + base_id


def _deltas(values: Iterable[float]) -> list[int]:
    # numpy rounds half to even like round(); 100k coordinates in a few ms instead of ~100
    q = np.rint(np.fromiter(values, dtype=np.float64) * SCALE).astype(np.int64)
    return np.diff(q, prepend=np.int64(0)).tolist()  # type: ignore[no-any-return]


def _undelta(deltas: Iterable[int]) -> list[float]:
    out: list[float] = []
    acc = 0
    for d in deltas:
        acc += d
        out.append(acc / SCALE)
    return out


def encode_base(base_id: str, points: Mapping[str, tuple[float, float]], ranks: Mapping[str, int],
                default_rank: int, cluster: bool, with_ids: bool = True) -> dict[str, Any]:
    """The compact columnar form of a base layer (``points``: id -> (lat, lon)).

    Ordered by rank, worst last (drawn on top of the green dots around it), then by id (nearby
    checkpoints have nearby ids, so the coordinate deltas stay small: at 100k, 0.9 MB instead of
    1.4 MB in registration order). Ranks must be 0..9.
    """
    buckets: dict[int, list[str]] = {}
    for cid in points:
        buckets.setdefault(ranks.get(cid, default_rank), []).append(cid)
    order = [cid for rank in sorted(buckets) for cid in sorted(buckets[rank])]
    rank_text = "".join(str(rank) * len(buckets[rank]) for rank in sorted(buckets))
    return {
        "format": BASE_FORMAT, "id": base_id, "cluster": cluster, "n": len(order), "scale": SCALE,
        "lon": _deltas(points[cid][1] for cid in order),
        "lat": _deltas(points[cid][0] for cid in order),
        "s": rank_text,
        "ids": order if with_ids else None,
    }


def decode_base(doc: Mapping[str, Any]) -> list[list[Any]]:
    """Rows ``[lon, lat, rank(, id)]`` of a compact base layer (what ``wall.js`` rebuilds)."""
    if doc.get("format") != BASE_FORMAT:
        raise ValueError(f"not a wall base layer: format {doc.get('format')!r}, expected {BASE_FORMAT!r}")
    scale = int(doc["scale"])
    lons = [v * SCALE / scale for v in _undelta(doc["lon"])]
    lats = [v * SCALE / scale for v in _undelta(doc["lat"])]
    ranks = [int(c) for c in doc["s"]]
    ids = doc.get("ids")
    if not len(lons) == len(lats) == len(ranks) == int(doc["n"]) or (ids is not None and len(ids) != len(ranks)):
        raise ValueError("wall base layer columns differ in length")
    if ids is None:
        return [[lon, lat, s] for lon, lat, s in zip(lons, lats, ranks, strict=True)]
    return [[lon, lat, s, cid] for lon, lat, s, cid in zip(lons, lats, ranks, ids, strict=True)]


@dataclass(frozen=True)
class Payload:
    """A JSON answer kept compressed: its gzip bytes, its raw size and its ETag."""

    gz: bytes
    raw_size: int
    etag: str

    @classmethod
    def of(cls, doc: Any, etag: str | None = None) -> Payload:
        """Serialise and compress ``doc`` (ETag: ``etag``, else a hash of the JSON)."""
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(gzip.compress(raw, GZIP_LEVEL, mtime=0), len(raw),
                   etag or hashlib.blake2b(raw, digest_size=10).hexdigest())


def send(payload: Payload, cache_control: str) -> flask.Response:
    """Answer with ``payload``: 304 when the browser holds it, gzip bytes when it accepts them."""
    request = flask.request
    if payload.etag in request.if_none_match:
        response = flask.Response(status=304)
    elif "gzip" in request.accept_encodings:
        response = flask.Response(payload.gz, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"  # Flask-Compress leaves encoded answers alone
    else:
        response = flask.Response(gzip.decompress(payload.gz), mimetype="application/json")
    response.set_etag(payload.etag)
    response.headers["Cache-Control"] = cache_control
    response.vary.add("Accept-Encoding")
    return response


class PayloadCache:
    """The last few compressed payloads by key, each built once even when asked concurrently."""

    def __init__(self, size: int = KEPT_PAYLOADS) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._build = threading.Lock()
        self._kept: OrderedDict[str, Payload] = OrderedDict()

    def get(self, key: str) -> Payload | None:
        """The payload kept under ``key``, or None."""
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: str, payload: Payload) -> Payload:
        """Keep ``payload`` under ``key`` (the oldest goes beyond ``size``)."""
        with self._lock:
            self._kept[key] = payload
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return payload

    def build_lock(self) -> threading.Lock:
        """Held while building: a second viewer asking for the same new base waits for the first."""
        return self._build


def round_coordinates(coords: Any, digits: int = 5) -> Any:
    """A GeoJSON coordinate array with every number rounded (1e-5 degrees: about 1 m)."""
    if isinstance(coords, (int, float)):
        return round(float(coords), digits)
    return [round_coordinates(c, digits) for c in coords]


def compact_geojson(collection: Mapping[str, Any] | None) -> dict[str, Any]:
    """A FeatureCollection with rounded coordinates and only the properties the wall reads (none)."""
    features = []
    for feature in (collection or {}).get("features", []):
        geometry = feature.get("geometry")
        if not geometry:
            continue
        features.append({"type": "Feature", "properties": {},
                         "geometry": {"type": geometry["type"],
                                      "coordinates": round_coordinates(geometry["coordinates"])}})
    return {"type": "FeatureCollection", "features": features}


class Boundaries:
    """The wall's boundary layers, compressed once (reference data: fixed for the process)."""

    def __init__(self, collections: Mapping[str, Mapping[str, Any] | None]) -> None:
        self.payloads = {level: Payload.of(compact_geojson(doc)) for level, doc in collections.items()
                         if doc and doc.get("features")}

    def urls(self) -> dict[str, str]:
        """Each level's fingerprinted URL (``?v=`` the content's digest: immutable)."""
        return {level: f"{BOUNDARY_PATH}{level}?v={p.etag}" for level, p in self.payloads.items()}

    def answer(self, level: str) -> flask.Response:
        """The boundary layer ``level`` (immutable when asked for by its current digest)."""
        payload = self.payloads.get(level)
        if payload is None:
            flask.abort(404)
        fingerprinted = flask.request.args.get("v") == payload.etag
        return send(payload, IMMUTABLE if fingerprinted else REVALIDATE)


def install(server: flask.Flask, base_payload: Callable[[str], Payload | None],
            boundaries: Boundaries) -> None:
    """Serve the base layers (``base_payload(base_id)``) and the boundaries on ``server``."""

    def wall_base(base_id: str) -> flask.Response:
        payload = base_payload(base_id)
        if payload is None:  # expired, or never made: the next tick names a current one
            response = flask.jsonify({"error": f"no wall base layer {base_id[:40]!r}; it may have expired"})
            response.status_code = 404
            response.headers["Cache-Control"] = "no-store"
            return response
        return send(payload, IMMUTABLE)

    def wall_boundaries(level: str) -> flask.Response:
        return boundaries.answer(level)

    server.add_url_rule(BASE_PATH + "<base_id>", "wall_base", wall_base, methods=["GET"])
    server.add_url_rule(BOUNDARY_PATH + "<level>", "wall_boundaries", wall_boundaries, methods=["GET"])

"""The wall's per-tick snapshot: built once per (state version, second), shared by all viewers.

Everything cached here lives in ``runtime.cache`` (never in module globals): the snapshot,
the checkpoint base layer the overlay is diffed against, and when each alert first showed.
Each base layer's statuses are also written to Redis, so that another process (another
gunicorn worker) answering the same browser can diff against the base the browser holds
instead of re-sending the whole layer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import redis

from dashboard import views
from dashboard.runtime import Runtime
from data_feed.keys import DEFAULT_WALL_BASE_TTL_S, WALL_BASE_PREFIX
from layouts.map import CLUSTER_THRESHOLD, STATUS_RANK, checkpoint_rows, warden_rows

SNAPSHOT_KEY = "wall.snapshot"
BASE_KEY = "wall.base"
POINTS_KEY = "wall.points"
FIRST_SEEN_KEY = "wall.alert_first_seen"
INSTANCE_KEY = "wall.instance"
LOCK_KEY = "wall.lock"
BASES_KEY = "wall.bases"
RANKS_KEY = "wall.ranks"

KNOWN_BASES = 8
"""Base layers (this process's and other processes') whose statuses are kept for diffing."""

log = logging.getLogger(__name__)

ALERT_LIMIT = 7
"""Alert rows rendered on the wall (the rest are counted as "N more")."""

NEW_ALERT_S = 5.0
"""How long a newly listed alert flashes."""

REBASE_MIN = 200
"""The overlay may always hold this many changed checkpoints before a rebase."""

REBASE_MAX = 2000
"""Above this many changed checkpoints the base layer is rebuilt and re-sent."""


def rebase_limit(checkpoints: int) -> int:
    """How many checkpoints may differ from a base layer before it is rebuilt (10 %, bounded)."""
    return min(REBASE_MAX, max(REBASE_MIN, checkpoints // 10))


def digest(value: Any) -> str:
    """Short stable hash of a JSON-serialisable value."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass
class Base:
    """The checkpoint layer as last sent in full: id, per-checkpoint rank, compact rows."""

    base_id: str
    ranks: dict[str, int]
    rows: list[list[Any]]
    cluster: bool


@dataclass
class WallSnapshot:
    """Everything the wall shows at one (version, second), with a digest per part."""

    key: tuple[int, int]
    now: float
    redis_ok: bool
    data_age: float | None
    version: int
    base: Base
    overlay: list[list[Any]]
    wardens: list[list[Any]]
    kpis: dict[str, Any]
    coverage: dict[str, Any]
    alert_rows: list[dict[str, Any]]
    alert_more: int
    alert_geo: dict[str, list[float]]
    digests: dict[str, str]
    ranks: dict[str, int] = field(default_factory=dict)
    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    rendered: dict[tuple[str, str], Any] = field(default_factory=dict)
    overlays: dict[str, tuple[list[list[Any]], str] | None] = field(default_factory=dict)


@dataclass
class Ranks:
    """Every checkpoint's status rank, kept up to date incrementally between rounds."""

    round_key: tuple[Any, str]
    registry: int
    seq: int
    ranks: dict[str, int]
    changed: set[str] = field(default_factory=set)  # differ from ``base_id``'s ranks
    base_id: str | None = None


def _ranks(runtime: Runtime, now: float) -> tuple[Ranks, bool]:
    """Status ranks now, and whether they were updated incrementally.

    Only checkpoints touched since the last call (inspections, cases opened or closed) and
    those with an open case (which turn overdue with time) are re-evaluated; a new round, a
    new registration or a reader too far behind the state's log recomputes everything.
    """
    state = runtime.state
    rnd = state.rounds.round_at(now)
    pending = STATUS_RANK["pending"]
    cached: Ranks | None = runtime.cache.get(RANKS_KEY)
    with state.lock:
        seq = state.touch_seq
        if cached is not None and cached.round_key == rnd.key and cached.registry == state.registry_version:
            touched = state.touched_since(cached.seq)
            if touched is not None:
                for cid in touched | state.open_case_checkpoints():
                    cp = state.checkpoints.get(cid)
                    if cp is not None and cp.registered:
                        cached.ranks[cid] = STATUS_RANK.get(state.checkpoint_status(cp, now, rnd.start), pending)
                        cached.changed.add(cid)  # candidates: checked against the base below
                cached.seq = seq
                return cached, True
        ranks = {cid: STATUS_RANK.get(s, pending) for cid, s in views.checkpoint_statuses(runtime, now).items()}
        fresh = Ranks(rnd.key, state.registry_version, seq, ranks)
    runtime.cache[RANKS_KEY] = fresh
    return fresh, False


def _points(runtime: Runtime) -> dict[str, tuple[float, float]]:
    # Keyed on the registry version: checkpoints register rarely, everything else changes often.
    version = runtime.state.registry_version
    cached = runtime.cache.get(POINTS_KEY)
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[no-any-return]
    points = {cid: (lat, lon) for cid, lat, lon, *_ in views.checkpoint_points(runtime)}
    runtime.cache[POINTS_KEY] = (version, points)
    return points


def _rebase(runtime: Runtime, ranks: dict[str, int], points: dict[str, tuple[float, float]],
            version: int, now: float) -> Base:
    instance = runtime.cache.setdefault(INSTANCE_KEY, secrets.token_hex(4))
    cluster = len(points) > CLUSTER_THRESHOLD
    rows = checkpoint_rows(
        ((cid, lat, lon, ranks.get(cid, STATUS_RANK["pending"])) for cid, (lat, lon) in points.items()),
        with_ids=not cluster)
    base = Base(f"{instance}-{version}-{int(now)}", dict(ranks), rows, cluster)
    runtime.cache[BASE_KEY] = base
    _remember(runtime, base.base_id, base.ranks, cluster)
    try:  # share it: another worker may answer this browser's next tick
        runtime.redis.set(WALL_BASE_PREFIX + base.base_id, json.dumps({"ranks": base.ranks, "cluster": cluster}),
                          ex=DEFAULT_WALL_BASE_TTL_S)
    except (redis.RedisError, OSError) as exc:  # Redis away: other workers will just resend a base
        log.debug("could not share wall base %s: %s", base.base_id, exc)
    return base


def _remember(runtime: Runtime, base_id: str, ranks: dict[str, int], cluster: bool) -> None:
    known: dict[str, tuple[dict[str, int], bool]] = runtime.cache.setdefault(BASES_KEY, {})
    known[base_id] = (ranks, cluster)
    while len(known) > KNOWN_BASES:
        known.pop(next(iter(known)))


def _known_base(runtime: Runtime, base_id: str) -> tuple[dict[str, int], bool] | None:
    known: dict[str, tuple[dict[str, int], bool]] = runtime.cache.setdefault(BASES_KEY, {})
    if base_id in known:
        return known[base_id]
    try:
        raw = runtime.redis.get(WALL_BASE_PREFIX + base_id)
    except (redis.RedisError, OSError):
        return None
    if not raw:
        return None
    doc = json.loads(raw)
    _remember(runtime, base_id, doc["ranks"], bool(doc["cluster"]))
    return known[base_id]


def overlay_for(runtime: Runtime, snap: WallSnapshot, base_id: str) -> tuple[list[list[Any]], str] | None:
    """Overlay rows and digest relative to a base the browser holds, or None to resend a base.

    The browser's base may come from another process; it is found in Redis. None when it is
    unknown, expired, or too different from the current statuses.
    """
    if base_id == snap.base.base_id:
        return snap.overlay, snap.digests["overlay"]
    if base_id in snap.overlays:
        return snap.overlays[base_id]
    known = _known_base(runtime, base_id)
    result = None
    if known is not None:
        ranks, cluster = known
        changed = [cid for cid in snap.points if snap.ranks.get(cid, 1) != ranks.get(cid)]
        fits = len(changed) <= rebase_limit(len(snap.points)) and len(ranks) <= len(snap.points)
        if fits and cluster == snap.base.cluster:
            rows = checkpoint_rows((cid, *snap.points[cid], snap.ranks.get(cid, 1)) for cid in sorted(changed))
            result = (rows, digest(rows))
    snap.overlays[base_id] = result
    return result


def _alerts(runtime: Runtime, now: float, first_build: bool) -> tuple[list[dict[str, Any]], int,
                                                                      dict[str, list[float]]]:
    items = views.alerts(runtime, now)
    seen: dict[str, float] = runtime.cache.setdefault(FIRST_SEEN_KEY, {})
    current = {a["case_id"] for a in items}
    for stale in [cid for cid in seen if cid not in current]:
        del seen[stale]
    rows = []
    geo = {}
    for a in items[:ALERT_LIMIT]:
        first = seen.setdefault(a["case_id"], now - 3600 if first_build else now)
        rows.append({
            "case_id": a["case_id"], "street_id": a.get("street_id"), "category": a["category"],
            "hazard": a.get("priority") == "hazard", "colour": a["colour"],
            # minute granularity: the list re-renders once a minute, not every second
            "age_seconds": (int(a["age_seconds"]) // 60) * 60,
            "overdue_seconds": (int(a["overdue_seconds"]) // 60) * 60,
            "new": now - first < NEW_ALERT_S,
        })
        if a.get("lat") is not None and a.get("lon") is not None:
            geo[a["case_id"]] = [float(a["lat"]), float(a["lon"])]
    for a in items[ALERT_LIMIT:]:
        seen.setdefault(a["case_id"], now)
    return rows, max(0, len(items) - ALERT_LIMIT), geo


def build(runtime: Runtime, now: float) -> WallSnapshot:
    """Build the snapshot for ``now`` (callers go through :func:`get`)."""
    version = int(runtime.state.version)
    first_build = runtime.cache.get(SNAPSHOT_KEY) is None
    points = _points(runtime)
    state_ranks, incremental = _ranks(runtime, now)
    ranks = state_ranks.ranks
    base: Base | None = runtime.cache.get(BASE_KEY)
    changed: list[str] = []
    if base is not None and len(base.ranks) <= len(points):
        if incremental and state_ranks.base_id == base.base_id:
            # only the candidates can differ from the base: O(changes), not O(checkpoints)
            state_ranks.changed = {cid for cid in state_ranks.changed if ranks.get(cid, 1) != base.ranks.get(cid)}
        else:
            state_ranks.changed = {cid for cid in points if ranks.get(cid, 1) != base.ranks.get(cid)}
            state_ranks.base_id = base.base_id
        changed = list(state_ranks.changed)
        if len(changed) > rebase_limit(len(points)) or (len(points) > CLUSTER_THRESHOLD) != base.cluster:
            base = None
    else:
        base = None
    if base is None:
        base = _rebase(runtime, ranks, points, version, now)
        changed = []
        state_ranks.changed, state_ranks.base_id = set(), base.base_id
    overlay = checkpoint_rows((cid, *points[cid], ranks.get(cid, 1)) for cid in sorted(changed))
    wardens = warden_rows(views.warden_positions(runtime, now))
    kpis = views.wall_kpis(runtime, now)
    coverage = views.patrol_coverage(runtime, now)
    rows, more, geo = _alerts(runtime, now, first_build)
    digests = {
        "base": base.base_id,
        "overlay": digest(overlay),
        "wardens": digest(wardens),
        "kpi": digest([kpis, coverage]),
        "alerts": digest([rows, more]),
    }
    return WallSnapshot(
        key=(version, int(now)), now=now, redis_ok=views.redis_ok(runtime),
        data_age=views.data_age(runtime, now), version=version, base=base, overlay=overlay,
        wardens=wardens, kpis=kpis, coverage=coverage, alert_rows=rows, alert_more=more,
        alert_geo=geo, digests=digests, ranks=ranks, points=points)


def get(runtime: Runtime, now: float) -> WallSnapshot:
    """The snapshot for this (version, second): built by the first caller, reused by the rest."""
    key = (int(runtime.state.version), int(now))
    snap: WallSnapshot | None = runtime.cache.get(SNAPSHOT_KEY)
    if snap is not None and snap.key == key:
        return snap
    with runtime.cache.setdefault(LOCK_KEY, threading.Lock()):
        snap = runtime.cache.get(SNAPSHOT_KEY)
        if snap is None or snap.key != key:
            snap = build(runtime, now)
            runtime.cache[SNAPSHOT_KEY] = snap
    return snap

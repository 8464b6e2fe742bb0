"""The wall screen's read model: one immutable snapshot per (state version, second), shared by viewers.

A :class:`WallModel` is built per app (per runtime) and owns a :class:`WallCache`: the last
snapshot, the checkpoint base layer the overlay is diffed against, the incrementally kept
status ranks, and when each alert first showed. The cache is only touched under its own lock;
request threads read snapshots, which are never changed once built (their per-language
renderings and per-base overlays are memoised under the snapshot's own lock).

Each base layer's ranks are also written to Redis, so that another process (another gunicorn
worker) answering the same browser can diff against the base the browser holds instead of
re-sending the whole layer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

import redis

from dashboard import views
from dashboard.runtime import Runtime
from dashboard.status import STATUS_RANK, CheckpointStatus, rank_of
from dashboard.wall_layers import Payload, PayloadCache, encode_base
from data_feed.keys import DEFAULT_WALL_BASE_TTL_S, WALL_BASE_PREFIX

log = logging.getLogger(__name__)

T = TypeVar("T")

KNOWN_BASES = 8
"""Base layers (this process's and other processes') whose ranks are kept for diffing."""

ALERT_LIMIT = 7
"""Alert rows rendered on the wall (the rest are counted as "N more")."""

NEW_ALERT_S = 5.0
"""How long a newly listed alert flashes."""

WALL_KPI_REFRESH_S = 5
"""Without case changes, the wall's KPIs are recomputed this often (overdue moves with time)."""

REBASE_MIN = 200
"""The overlay may always hold this many changed checkpoints before a rebase."""

REBASE_MAX = 2000
"""Above this many changed checkpoints the base layer is rebuilt and re-sent."""

CLUSTER_THRESHOLD = 20_000
"""Above this many checkpoints the base layer is clustered (colour = worst status inside)."""

PENDING = STATUS_RANK[CheckpointStatus.PENDING.value]


def checkpoint_rows(points: Iterable[tuple[str, float, float, int]],
                    with_ids: bool = True) -> list[list[Any]]:
    """Compact wire form ``[lon, lat, rank(, id)]`` of checkpoints (GeoJSON is built in the browser)."""
    return [[round(lon, 5), round(lat, 5), rank, cid] if with_ids else [round(lon, 5), round(lat, 5), rank]
            for cid, lat, lon, rank in points]


def warden_rows(wardens: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """Compact wire form ``[lon, lat, silent]`` of warden positions."""
    return [[round(float(w["lon"]), 5), round(float(w["lat"]), 5), 1 if w.get("silent") else 0]
            for w in wardens]


def rebase_limit(checkpoints: int) -> int:
    """How many checkpoints may differ from a base layer before it is rebuilt (10 %, bounded)."""
    return min(REBASE_MAX, max(REBASE_MIN, checkpoints // 10))


def digest(value: Any) -> str:
    """Short stable hash of a JSON-serialisable value."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Base:
    """The checkpoint layer as last sent in full: id, per-checkpoint rank (read-only), cluster mode.

    The browser fetches it by id (:meth:`WallModel.base_payload`, compact and compressed).
    """

    base_id: str
    ranks: Mapping[str, int]
    cluster: bool


@dataclass(frozen=True)
class WallSnapshot:
    """Everything the wall shows at one (version, second), with a digest per part; never changed."""

    key: tuple[int, int]
    now: float
    redis_ok: bool
    data_age: float | None
    version: int
    base: Base
    overlay: list[list[Any]]
    wardens: list[list[Any]]
    kpis: Mapping[str, Any]
    coverage: Mapping[str, Any]
    alert_rows: tuple[Mapping[str, Any], ...]
    alert_more: int
    alert_geo: Mapping[str, list[float]]
    digests: Mapping[str, str]
    ranks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    warden_ids: tuple[str, ...] = ()
    """The warden of each row of ``wardens`` (the push sends only the positions that moved)."""
    points: Mapping[str, tuple[float, float]] = field(default_factory=lambda: MappingProxyType({}))
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        """``make()`` once per key for this snapshot (renderings, overlays), shared by every viewer."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = make()
            return self._memo[key]  # type: ignore[no-any-return]


@dataclass
class Ranks:
    """Every checkpoint's status rank, kept up to date incrementally between rounds."""

    round_key: tuple[Any, str]
    registry: int
    seq: int
    ranks: dict[str, int]  # replaced, never mutated once built: snapshots and bases share it
    changed: set[str] = field(default_factory=set)  # differ from ``base_id``'s ranks
    base_id: str | None = None


@dataclass
class WallCache:
    """What the wall model keeps between ticks; every field is read and written under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    instance: str = field(default_factory=lambda: secrets.token_hex(4))
    snapshot: WallSnapshot | None = None
    base: Base | None = None
    ranks: Ranks | None = None
    points: tuple[int, dict[str, tuple[float, float]]] | None = None
    kpis: tuple[tuple[int, int], dict[str, Any]] | None = None
    first_seen: dict[str, float] = field(default_factory=dict)
    alerts_baselined: bool = False  # set by the first snapshot built once the history is read
    bases: OrderedDict[str, tuple[Mapping[str, int], bool]] = field(default_factory=OrderedDict)


class WallModel:
    """The wall's read model over one runtime (one per app: nothing here is global)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.cache = WallCache()
        self.payloads = PayloadCache()

    def live(self) -> bool:
        """True once the consumer has read the history: before that, figures are partial."""
        return bool(self.runtime.consumer.status.caught_up)

    def progress(self) -> float | None:
        """Share of the history read (0..1) while catching up, None when the consumer cannot tell."""
        value = getattr(self.runtime.consumer.status, "progress", None)
        if value is None:
            return None
        try:
            return min(1.0, max(0.0, float(value)))
        except (TypeError, ValueError):
            return None

    def snapshot(self, now: float) -> WallSnapshot:
        """The snapshot for this (version, second): built by the first caller, reused by the rest."""
        key = (int(self.runtime.state.version), int(now))
        with self.cache.lock:
            snap = self.cache.snapshot
            if snap is None or snap.key != key:
                snap = self._build(now)
                self.cache.snapshot = snap
        return snap

    def current_base(self) -> Base | None:
        """The base layer a page loaded now starts from (None until the history is read)."""
        if not self.live():
            return None
        return self.snapshot(self.runtime.now()).base

    def overlay_for(self, snap: WallSnapshot, base_id: str) -> tuple[list[list[Any]], str] | None:
        """Overlay rows and digest relative to a base the browser holds, or None to resend a base.

        The browser's base may come from another process; it is found in Redis. None when it is
        unknown, expired, or too different from the current statuses.
        """
        if base_id == snap.base.base_id:
            return snap.overlay, snap.digests["overlay"]
        return snap.memo(("overlay", base_id), lambda: self._relative_overlay(snap, base_id))

    def base_payload(self, base_id: str) -> Payload | None:
        """The compact, compressed base layer ``base_id`` (None when unknown or expired).

        Built once per base id and kept; a base made by another process is found in Redis
        (its ranks) and drawn at this process's checkpoint positions.
        """
        found = self.payloads.get(base_id)
        if found is not None:
            return found
        with self.payloads.build_lock():
            found = self.payloads.get(base_id)
            if found is not None:
                return found
            known = self._known_base(base_id)
            if known is None:
                return None
            ranks, cluster = known
            with self.cache.lock:
                points = self._points()
            doc = encode_base(base_id, points, ranks, PENDING, cluster, with_ids=not cluster)
            return self.payloads.put(base_id, Payload.of(doc, etag=base_id))

    # -- building (always under self.cache.lock) ------------------------------------------------

    def _ranks(self, now: float) -> tuple[Ranks, bool]:
        """Status ranks now, and whether they were updated incrementally.

        Only checkpoints touched since the last call (inspections, cases opened or closed) and
        those with an open case (which turn overdue with time) are re-evaluated; a new round, a
        new registration or a reader too far behind the state's log recomputes everything.
        """
        state = self.runtime.state
        rnd = state.rounds.round_at(now)
        cached = self.cache.ranks
        with state.lock:
            seq = state.touch_seq
            if cached is not None and cached.round_key == rnd.key and cached.registry == state.registry_version:
                touched = state.touched_since(cached.seq)
                if touched is not None:
                    updates: dict[str, int] = {}
                    old, rank_get, status = cached.ranks, STATUS_RANK.get, state.checkpoint_status
                    for cid in touched | state.open_case_checkpoints():
                        cp = state.checkpoints.get(cid)
                        if cp is not None and cp.registered:
                            rank = rank_get(status(cp, now, rnd.start), PENDING)
                            if old.get(cid) != rank:
                                updates[cid] = rank
                            cached.changed.add(cid)  # candidates: checked against the base later
                    if updates:  # a new dict: the previous snapshot keeps the old one intact
                        ranks = dict(old)
                        ranks.update(updates)
                        cached.ranks = ranks
                    cached.seq = seq
                    return cached, True
            ranks = {cid: rank_of(s) for cid, s in views.checkpoint_statuses(self.runtime, now).items()}
        fresh = Ranks(rnd.key, state.registry_version, seq, ranks)
        self.cache.ranks = fresh
        return fresh, False

    def _points(self) -> dict[str, tuple[float, float]]:
        # Keyed on the registry version: checkpoints register rarely, everything else changes often.
        version = self.runtime.state.registry_version
        cached = self.cache.points
        if cached is not None and cached[0] == version:
            return cached[1]
        points = {cid: (lat, lon) for cid, lat, lon, *_ in views.checkpoint_points(self.runtime)}
        self.cache.points = (version, points)
        return points

    def _rebase(self, ranks: Mapping[str, int], points: Mapping[str, tuple[float, float]],
                version: int, now: float) -> Base:
        cluster = len(points) > CLUSTER_THRESHOLD
        # ``ranks`` is read-only and replaced (never changed) on updates: the base may share it;
        # its compact form is built beside the tick (base_payload), for the browsers to fetch
        base = Base(f"{self.cache.instance}-{version}-{int(now)}", MappingProxyType(ranks), cluster)
        self.cache.base = base
        self._remember(base.base_id, base.ranks, cluster)
        # its compact form is wanted by every page right after this tick: build it now, beside it
        threading.Thread(target=self.base_payload, args=(base.base_id,), name="wall-base", daemon=True).start()
        try:  # share it: another worker may answer this browser's next tick
            self.runtime.redis.set(WALL_BASE_PREFIX + base.base_id,
                                   json.dumps({"ranks": dict(base.ranks), "cluster": cluster}),
                                   ex=DEFAULT_WALL_BASE_TTL_S)
        except (redis.RedisError, OSError) as exc:  # Redis away: other workers will just resend a base
            log.debug("could not share wall base %s: %s", base.base_id, exc)
        return base

    def _remember(self, base_id: str, ranks: Mapping[str, int], cluster: bool) -> None:
        known = self.cache.bases
        known[base_id] = (ranks, cluster)
        while len(known) > KNOWN_BASES:
            known.popitem(last=False)

    def _known_base(self, base_id: str) -> tuple[Mapping[str, int], bool] | None:
        with self.cache.lock:
            found = self.cache.bases.get(base_id)
        if found is not None:
            return found
        try:  # outside the cache lock: a slow Redis must not hold up other viewers' snapshots
            raw = self.runtime.redis.get(WALL_BASE_PREFIX + base_id)
        except (redis.RedisError, OSError):
            return None
        if not raw:
            return None
        doc = json.loads(raw)
        entry: tuple[Mapping[str, int], bool] = (MappingProxyType(dict(doc["ranks"])), bool(doc["cluster"]))
        with self.cache.lock:
            self._remember(base_id, *entry)
        return entry

    def _relative_overlay(self, snap: WallSnapshot, base_id: str) -> tuple[list[list[Any]], str] | None:
        known = self._known_base(base_id)
        if known is None:
            return None
        ranks, cluster = known
        changed = [cid for cid in snap.points if snap.ranks.get(cid, PENDING) != ranks.get(cid)]
        fits = len(changed) <= rebase_limit(len(snap.points)) and len(ranks) <= len(snap.points)
        if not fits or cluster != snap.base.cluster:
            return None
        rows = _overlay_rows(changed, snap.points, snap.ranks)
        return rows, digest(rows)

    def _alerts(self, now: float) -> tuple[tuple[dict[str, Any], ...], int, dict[str, list[float]]]:
        # Only the rows shown are read (an outage's backlog can hold 200k alerts): one page.
        page = views.alert_page(self.runtime, now, ALERT_LIMIT)
        items = page["alerts"]
        seen = self.cache.first_seen
        # Alerts listed by the first snapshot after the history is read are history, not news:
        # they never flash. Later, a row flashes when it is new to the list: first shown now and
        # put in the alert list just now, so an old alert that moves up when another one closes
        # does not flash.
        baseline = not self.cache.alerts_baselined
        if self.live():
            self.cache.alerts_baselined = True
        current = {a["case_id"] for a in items}
        for stale in [cid for cid in seen if cid not in current]:
            del seen[stale]
        for a in items:
            listed_at = a.get("listed_at")
            fresh = not baseline and listed_at is not None and time.time() - listed_at < NEW_ALERT_S + 60
            seen.setdefault(a["case_id"], now if fresh else now - 3600)
        rows = []
        geo = {}
        for a in items[:ALERT_LIMIT]:
            rows.append({
                "case_id": a["case_id"], "street_id": a.get("street_id"), "category": a["category"],
                "hazard": a.get("priority") == CheckpointStatus.HAZARD.value, "colour": a["colour"],
                # minute granularity: the list re-renders once a minute, not every second
                "age_seconds": (int(a["age_seconds"]) // 60) * 60,
                "overdue_seconds": (int(a["overdue_seconds"]) // 60) * 60,
                "new": now - seen[a["case_id"]] < NEW_ALERT_S,
                # exact times (app clock) for the push: the browser ticks the countdowns itself
                "reported_ts": _timestamp(a.get("reported_at")),
                "deadline_ts": _timestamp(a.get("deadline")),
                "new_until": round(seen[a["case_id"]] + NEW_ALERT_S, 1),
            })
            if a.get("lat") is not None and a.get("lon") is not None:
                geo[a["case_id"]] = [float(a["lat"]), float(a["lon"])]
        return tuple(rows), max(0, page["total"] - len(items)), geo

    def _build(self, now: float) -> WallSnapshot:
        runtime = self.runtime
        version = int(runtime.state.version)
        points = self._points()
        state_ranks, incremental = self._ranks(now)
        ranks = state_ranks.ranks
        base = self.cache.base
        changed: list[str] = []
        if base is not None and len(base.ranks) <= len(points):
            if incremental and state_ranks.base_id == base.base_id:
                # only the candidates can differ from the base: O(changes), not O(checkpoints)
                state_ranks.changed = {cid for cid in state_ranks.changed
                                       if ranks.get(cid, PENDING) != base.ranks.get(cid)}
            else:
                state_ranks.changed = {cid for cid in points if ranks.get(cid, PENDING) != base.ranks.get(cid)}
                state_ranks.base_id = base.base_id
            changed = list(state_ranks.changed)
            if len(changed) > rebase_limit(len(points)) or (len(points) > CLUSTER_THRESHOLD) != base.cluster:
                base = None
        else:
            base = None
        if base is None:
            base = self._rebase(ranks, points, version, now)
            changed = []
            state_ranks.changed, state_ranks.base_id = set(), base.base_id
        overlay = _overlay_rows(changed, points, ranks)
        positions = views.warden_positions(runtime, now)
        wardens = warden_rows(positions)
        key = (runtime.state.case_version, int(now // WALL_KPI_REFRESH_S))
        if self.cache.kpis is None or self.cache.kpis[0] != key:
            self.cache.kpis = (key, views.wall_kpis(runtime, now))
        kpis = self.cache.kpis[1]
        coverage = views.patrol_coverage(runtime, now)
        rows, more, geo = self._alerts(now)
        digests = {
            "base": base.base_id,
            "overlay": digest(overlay),
            "wardens": digest(wardens),
            "kpi": digest([kpis, coverage]),
            "alerts": digest([rows, more]),
        }
        return WallSnapshot(
            key=(version, int(now)), now=now, redis_ok=views.redis_ok(runtime),
            data_age=views.data_age(runtime), version=version, base=base, overlay=overlay,
            wardens=wardens, warden_ids=tuple(str(w["warden_id"]) for w in positions),
            kpis=MappingProxyType(kpis), coverage=MappingProxyType(coverage),
            alert_rows=rows, alert_more=more, alert_geo=MappingProxyType(geo),
            # read-only views of dicts the cache replaces but never changes
            digests=MappingProxyType(digests), ranks=MappingProxyType(ranks), points=MappingProxyType(points))


def _timestamp(iso: Any) -> float | None:
    """Seconds of an ISO time from the views (None when absent or unreadable)."""
    try:
        return round(datetime.fromisoformat(str(iso)).timestamp(), 3) if iso else None
    except ValueError:
        return None


def _overlay_rows(changed: list[str], points: Mapping[str, tuple[float, float]],
                  ranks: Mapping[str, int]) -> list[list[Any]]:
    """Rows of the changed checkpoints, worst last (drawn on top), then by id (a stable digest)."""
    order = sorted(changed, key=lambda cid: (ranks.get(cid, PENDING), cid))
    return checkpoint_rows((cid, *points[cid], ranks.get(cid, PENDING)) for cid in order)

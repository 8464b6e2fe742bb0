"""The wall's pushed data: compact, language-free figures the browser renders (``GRID_PUSH=sse``).

A pushed event carries data, not Dash components: KPI tile figures, street rows and alert rows
(with their deadlines as timestamps, so the browser ticks the countdowns itself), and warden
positions as changes against the set the viewer holds. Labels (zh/en) and street/category names
go once, in the page's config (:func:`page_config`); :mod:`dashboard.assets.wall` renders.

Each part has its own digest: an event carries only the parts whose digest differs from what the
viewer holds, and the warden layer only the positions that moved (see :class:`WardenLog`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from dashboard.wall_model import WallSnapshot, digest
from layouts.panels import STREET_ROWS, rate_figure, street_rows, tile_figures

WARDEN_LOG = 16
"""Warden sets remembered (by digest) to send a viewer only what moved since the one it holds."""

WARDEN_DELTA_SHARE = 0.5
"""Above this share of wardens changed, the whole layer goes instead of a delta."""


def street_data(kpis: Mapping[str, Any], coverage: Mapping[str, Any], street_ids: Sequence[str],
                limit: int = STREET_ROWS) -> dict[str, Any]:
    """The top ``limit`` streets as rows (id, rank, figures) and how many more there are."""
    rows = street_rows(kpis, coverage, {sid: sid for sid in street_ids})
    out = []
    for row in rows[:limit]:
        m, d, c = row["month"], row["today"], row["coverage"]
        accepted = int(m.get("accepted") or 0)
        out.append([row["street_id"], row["rank"], int(d.get("accepted") or 0), accepted,
                    rate_figure(m.get("closure_rate")), int(m.get("closed") or 0),
                    rate_figure(m.get("on_time_closure_rate")), int(m.get("on_time_closed") or 0),
                    rate_figure(m.get("satisfaction_rate")), int(m.get("satisfied") or 0), int(m.get("rated") or 0),
                    int(d.get("overdue") or m.get("overdue") or 0),
                    rate_figure(c.get("rate")), int(c.get("covered") or 0), int(c.get("registered") or 0)])
    return {"rows": out, "more": max(0, len(rows) - limit)}


def round_data(coverage: Mapping[str, Any]) -> list[str]:
    """``[name, "HH:MM", "HH:MM"]`` of the round in progress (the browser labels it)."""
    rnd = coverage.get("round") or {}
    start, end = rnd.get("start"), rnd.get("end")
    span = [str(start)[11:16], str(end)[11:16]] if start and end else ["", ""]
    return [str(rnd.get("name") or "am"), *span]


def alert_data(rows: Sequence[Mapping[str, Any]], more: int) -> dict[str, Any]:
    """Alert rows ``[case, street, category, hazard, colour, reported_ts, deadline_ts, flash_until]``.

    Timestamps (app time, seconds): the browser ticks the age and overdue countdowns from them,
    so the rows change only when the list (its members, order, colours) does.
    """
    return {"rows": [[r["case_id"], r["street_id"], r["category"], 1 if r["hazard"] else 0, r["colour"],
                      r.get("reported_ts"), r.get("deadline_ts"), r.get("new_until")] for r in rows],
            "more": more}


def snapshot_parts(snap: WallSnapshot, street_ids: Sequence[str]) -> dict[str, Any]:
    """The language-free data parts of a snapshot (memoised on it: built once for every viewer)."""
    def make() -> dict[str, Any]:
        return {"tiles": tile_figures(snap.kpis, snap.coverage),
                "table": street_data(snap.kpis, snap.coverage, street_ids),
                "round": round_data(snap.coverage),
                "alerts": alert_data(snap.alert_rows, snap.alert_more),
                "geo": dict(snap.alert_geo)}
    return snap.memo(("data",), make)


DATA_PARTS = ("tiles", "table", "round", "alerts")
"""Parts sent whole when their digest differs from the viewer's (``geo`` rides with ``alerts``)."""


def part_digests(parts: Mapping[str, Any]) -> dict[str, str]:
    """A digest per data part."""
    return {key: digest(parts[key]) for key in DATA_PARTS}


class WardenLog:
    """Recent warden sets by digest, to send a viewer only the positions that moved (thread-safe)."""

    def __init__(self, size: int = WARDEN_LOG) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._sets: OrderedDict[str, dict[str, list[Any]]] = OrderedDict()

    def remember(self, key: str, wardens: Mapping[str, list[Any]]) -> None:
        """Keep the set ``key`` (the snapshot's warden digest)."""
        with self._lock:
            if key not in self._sets:
                self._sets[key] = dict(wardens)
                while len(self._sets) > self.size:
                    self._sets.popitem(last=False)

    def get(self, key: str) -> dict[str, list[Any]] | None:
        """The set remembered as ``key``, or None."""
        with self._lock:
            return self._sets.get(key)


def warden_map(snap: WallSnapshot) -> dict[str, list[Any]]:
    """``{warden_id: [lon, lat, silent]}`` of a snapshot (memoised on it)."""
    return snap.memo(("warden-map",),
                     lambda: dict(zip(snap.warden_ids, snap.wardens, strict=True)))


def warden_change(now: Mapping[str, list[Any]], held: Mapping[str, list[Any]] | None) -> dict[str, Any]:
    """What a viewer holding ``held`` needs: ``{"all": {...}}`` or ``{"set": {...}, "del": [...]}``."""
    if held is None:
        return {"all": dict(now)}
    changed = {wid: row for wid, row in now.items() if held.get(wid) != row}
    gone = [wid for wid in held if wid not in now]
    if len(changed) + len(gone) > WARDEN_DELTA_SHARE * max(1, len(now)):
        return {"all": dict(now)}
    return {"set": changed, "del": gone}

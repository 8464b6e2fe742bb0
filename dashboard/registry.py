"""The checkpoint registry, patrol coverage, warden positions and the touch log.

Coverage is kept as one small bit array per district day (bit 1: covered in the morning round,
bit 2: in the afternoon round, one byte per checkpoint) plus covered counts per round and
street: no per-round set of ids, so a year costs a few kilobytes a day, and days beyond the
history window are dropped. Everything here runs under the state's lock.
"""

from __future__ import annotations

import sys
from collections import defaultdict, deque
from datetime import date
from typing import Any

from dashboard.periods import Round, RoundClock
from dashboard.reference import Reference
from dashboard.tracks import TrackStore

TOUCH_LOG = 50_000
"""Checkpoint changes remembered for incremental readers; one further behind recomputes all."""

ROUND_BITS = {"am": 1, "pm": 2}
"""Bit of each round in a day's coverage byte."""

_UNCOUNTED = object()  # "not registered before": nothing to move away from

RoundKey = tuple[date, str]


def _street_counts() -> defaultdict[str | None, int]:
    """Counts per street (a named factory, so a snapshot can pickle the registry)."""
    return defaultdict(int)


class Checkpoint:
    """One registered checkpoint and its latest inspection."""

    __slots__ = ("checkpoint_id", "index", "category", "lat", "lon", "name", "street_id",
                 "community_id", "grid_id", "warden_id", "department_id", "last_inspected_at",
                 "last_result", "open_cases", "registered")

    def __init__(self, checkpoint_id: str, index: int) -> None:
        self.checkpoint_id = checkpoint_id
        self.index = index  # position in each day's coverage bytes
        self.category = ""
        self.lat: float | None = None
        self.lon: float | None = None
        self.name: str | None = None
        self.street_id: str | None = None
        self.community_id: str | None = None
        self.grid_id: str | None = None
        self.warden_id: str | None = None
        self.department_id: str | None = None
        self.last_inspected_at: float | None = None
        self.last_result: str | None = None
        self.open_cases: set[str] = set()
        self.registered = False


class Registry:
    """Checkpoints with coverage by day and round, warden positions, and what changed."""

    def __init__(self, reference: Reference, rounds: RoundClock, tracks: TrackStore | None = None) -> None:
        self.reference = reference
        self.rounds = rounds
        self.checkpoints: dict[str, Checkpoint] = {}
        self.wardens: dict[str, tuple[float, float, float]] = {}
        self.tracks = tracks if tracks is not None else TrackStore(rounds.tz)  # recent days, downsampled
        self.version = 0  # bumped when a checkpoint is registered or moves
        self.coverage: dict[date, bytearray] = {}
        self.registered_by_street: dict[str | None, int] = defaultdict(int)
        self.covered_by_street: dict[RoundKey, dict[str | None, int]] = defaultdict(_street_counts)
        self.with_open_cases: set[str] = set()  # checkpoints whose status moves with time
        self.unregistered_inspections = 0
        self.touch_seq = 0
        self.touched: deque[tuple[int, str]] = deque(maxlen=TOUCH_LOG)
        self._round: Round | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a snapshot without the reference data (the loader puts it back)."""
        kept = dict(self.__dict__)
        kept.pop("reference", None)
        return kept

    # ------------------------------------------------------------------ writes
    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """The checkpoint with this id, created (unregistered) when new."""
        cp = self.checkpoints.get(checkpoint_id)
        if cp is None:
            cp = self.checkpoints[checkpoint_id] = Checkpoint(checkpoint_id, len(self.checkpoints))
        return cp

    def register(self, d: dict[str, Any]) -> Checkpoint:
        """Register (or move) a checkpoint from a validated ``checkpoint.registered``."""
        street, community, grid = d.get("street_id"), d.get("community_id"), d.get("grid_id")
        if street is None or community is None:
            # locate before changing anything: a failure here leaves the checkpoint as it was
            found = self.reference.locate(d["lat"], d["lon"])
            street, community, grid = street or found[0], community or found[1], grid or found[2]
        cp = self.checkpoint(d["checkpoint_id"])
        old_street = cp.street_id if cp.registered else _UNCOUNTED
        cp.category = sys.intern(d["category"])
        cp.lat, cp.lon = d["lat"], d["lon"]
        cp.registered = True
        for name in ("name", "warden_id", "department_id"):
            if name in d:
                setattr(cp, name, d[name])
        cp.street_id = sys.intern(street) if street else None
        cp.community_id = sys.intern(community) if community else None
        cp.grid_id = sys.intern(grid) if grid else None
        self.version += 1
        if old_street != cp.street_id:
            self._recount(cp, old_street)
        return cp

    def _recount(self, cp: Checkpoint, old_street: str | None | object) -> None:
        """Move a checkpoint's registered and covered counts to its (new) street."""
        if old_street is not _UNCOUNTED:
            self.registered_by_street[old_street] -= 1  # type: ignore[index]
        self.registered_by_street[cp.street_id] += 1
        if cp.last_inspected_at is None:
            return  # never inspected: in no round's coverage (the usual case for a new checkpoint)
        for day, bits in self.coverage.items():
            mark = bits[cp.index] if cp.index < len(bits) else 0
            for name, bit in ROUND_BITS.items():
                if mark & bit:
                    counts = self.covered_by_street[(day, name)]
                    if old_street is not _UNCOUNTED:
                        counts[old_street] -= 1  # type: ignore[index]
                    counts[cp.street_id] += 1

    def inspect(self, d: dict[str, Any], ts: float) -> Checkpoint:
        """Record a validated ``inspection.completed`` at ``ts``."""
        cp = self.checkpoint(d["checkpoint_id"])
        if not cp.registered:
            self.unregistered_inspections += 1
        if cp.last_inspected_at is None or ts >= cp.last_inspected_at:
            cp.last_inspected_at = ts
            cp.last_result = d["result"]
            self.touch(cp.checkpoint_id)
        rnd = self._round
        if rnd is None or not (rnd.start <= ts < rnd.end):
            rnd = self._round = self.rounds.round_at(ts)  # rounds change rarely: cache
        bits = self.coverage.get(rnd.day)
        if bits is None:
            bits = self.coverage[rnd.day] = bytearray(len(self.checkpoints))
        if cp.index >= len(bits):
            bits.extend(bytes(len(self.checkpoints) - len(bits)))
        bit = ROUND_BITS[rnd.name]
        if not bits[cp.index] & bit:
            bits[cp.index] |= bit
            if cp.registered:  # unregistered ones are counted when they register
                self.covered_by_street[rnd.key][cp.street_id] += 1
        return cp

    def position(self, warden_id: str, lat: float, lon: float, ts: float) -> None:
        """Keep the newest position of a warden (an older, late upload does not move it back)
        and add it to the warden's track of the day (downsampled)."""
        old = self.wardens.get(warden_id)
        if old is None or ts >= old[2]:
            self.wardens[warden_id] = (lat, lon, ts)
        self.tracks.add(warden_id, lat, lon, ts)

    def touch(self, checkpoint_id: str) -> None:
        """Note that a checkpoint's status inputs changed."""
        self.touch_seq += 1
        self.touched.append((self.touch_seq, checkpoint_id))

    def prune(self, before: date, tracks_before: date | None = None) -> None:
        """Forget coverage of the days before ``before`` (beyond the history window) and warden
        tracks of the days before ``tracks_before`` (beyond the track window)."""
        for day in [d for d in self.coverage if d < before]:
            del self.coverage[day]
        for key in [k for k in self.covered_by_street if k[0] < before]:
            del self.covered_by_street[key]
        if tracks_before is not None:
            self.tracks.prune(tracks_before)

    # ------------------------------------------------------------------ reads
    def touched_since(self, seq: int) -> set[str] | None:
        """Checkpoints whose status inputs changed after ``seq``; None when the log no longer
        reaches back that far (recompute everything)."""
        if seq == self.touch_seq:
            return set()
        if not self.touched or self.touched[0][0] > seq + 1:
            return None
        out: set[str] = set()
        for s, checkpoint_id in reversed(self.touched):
            if s <= seq:
                break
            out.add(checkpoint_id)
        return out

    def rounds_done(self, day: date, checkpoint_id: str) -> int:
        """Rounds (0, 1 or 2) in which a checkpoint was inspected on a district day."""
        cp = self.checkpoints.get(checkpoint_id)
        bits = self.coverage.get(day)
        if cp is None or bits is None or cp.index >= len(bits):
            return 0
        return bin(bits[cp.index]).count("1")

"""Warden tracks: each warden's positions of the last few district days, downsampled.

Bounded by construction: a track keeps at most one point per ``interval_s`` (a day holds at
most ``86400 / interval_s + 1`` points per warden), only the newest ``days`` district days are
kept (a position for a newer day drops the oldest at once), and a point costs 12 bytes in three
``array('i')`` columns (seconds since the day's start, micro-degrees of latitude and longitude),
never a Python object per point. At the seed's scale (599 wardens, 3 days, a 10-hour
patrol day) that is about 13 MB at one point a minute; the worst case (every warden reporting
all day) about 31 MB.

The positions stream is capped at about a day and a process replays only the last
``GRID_POSITION_LOOKBACK_S`` of it at start: after a restart, a track holds what was replayed
and what arrived since. Everything here runs under the state's lock.
"""

from __future__ import annotations

from array import array
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TRACK_DAYS = 3
"""District days of tracks kept (today and the days before it)."""

DEFAULT_INTERVAL_S = 60.0
"""At most one point per this many seconds in a track."""

_SCALE = 1_000_000  # micro-degrees: 0.11 m of latitude, enough for a walking track


class Track:
    """One warden's points of one district day (offsets from the day's start, micro-degrees)."""

    __slots__ = ("day_start", "t", "lat", "lon")

    def __init__(self, day_start: int) -> None:
        self.day_start = day_start
        self.t = array("i")
        self.lat = array("i")
        self.lon = array("i")

    def __len__(self) -> int:
        return len(self.t)

    def points(self) -> list[tuple[float, float, float]]:
        """(epoch seconds, lat, lon) of every point, oldest first."""
        start = self.day_start
        return [(start + t, la / _SCALE, lo / _SCALE) for t, la, lo in zip(self.t, self.lat, self.lon, strict=True)]

    @property
    def nbytes(self) -> int:
        """Bytes held by the point columns."""
        return sum(a.itemsize * len(a) for a in (self.t, self.lat, self.lon))


class TrackStore:
    """Tracks per district day and warden, fed by every applied ``warden.position``."""

    def __init__(self, tz: ZoneInfo, days: int = DEFAULT_TRACK_DAYS,
                 interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if days < 1 or interval_s <= 0:
            raise ValueError("a track store keeps at least one day, with a positive interval")
        self.tz = tz
        self.days = days
        self.interval_s = interval_s
        self.tracks: dict[date, dict[str, Track]] = {}
        self.newest: date | None = None
        # bounds of the day of the last position seen: most positions fall on it (no tz maths)
        self._day: date | None = None
        self._lo = 0.0
        self._hi = -1.0

    def _locate(self, ts: float) -> date:
        if not (self._lo <= ts < self._hi):
            day = datetime.fromtimestamp(ts, self.tz).date()
            self._day = day
            self._lo = datetime.combine(day, time(0, 0), self.tz).timestamp()
            self._hi = datetime.combine(day + timedelta(days=1), time(0, 0), self.tz).timestamp()
        assert self._day is not None
        return self._day

    def add(self, warden_id: str, lat: float, lon: float, ts: float) -> bool:
        """Keep a position if it is at least ``interval_s`` after the track's last point and its
        day is inside the window; return whether it was kept."""
        day = self._locate(ts)
        if self.newest is None or day > self.newest:
            self.newest = day
            self.prune(day - timedelta(days=self.days - 1))
        elif day <= self.newest - timedelta(days=self.days):
            return False  # older than the window
        by_warden = self.tracks.get(day)
        if by_warden is None:
            by_warden = self.tracks[day] = {}
        track = by_warden.get(warden_id)
        if track is None:
            track = by_warden[warden_id] = Track(int(self._lo))
        offset = int(ts - track.day_start)
        if track.t and offset < track.t[-1] + self.interval_s:
            return False  # too soon after the last point, or an older (late) upload
        track.t.append(offset)
        track.lat.append(round(lat * _SCALE))
        track.lon.append(round(lon * _SCALE))
        return True

    def prune(self, before: date) -> None:
        """Forget the tracks of the days before ``before``."""
        for day in [d for d in self.tracks if d < before]:
            del self.tracks[day]

    # ------------------------------------------------------------------ reads
    def track(self, warden_id: str, day: date) -> list[tuple[float, float, float]]:
        """(epoch seconds, lat, lon) of a warden's track on ``day`` (empty when none is kept)."""
        found = self.tracks.get(day, {}).get(warden_id)
        return found.points() if found is not None else []

    def kept_days(self) -> list[date]:
        """The days with at least one track, newest first."""
        return sorted(self.tracks, reverse=True)

    def wardens_on(self, day: date) -> set[str]:
        """Wardens with a track on ``day``."""
        return set(self.tracks.get(day, {}))

    def size(self) -> tuple[int, int]:
        """(points, bytes) held, for health checks and the bounds test."""
        points = nbytes = 0
        for by_warden in self.tracks.values():
            for track in by_warden.values():
                points += len(track)
                nbytes += track.nbytes
        return points, nbytes

"""District time: epoch seconds ↔ ISO 8601 with the +08:00 offset (Asia/Shanghai, no DST)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

UTC_OFFSET_S = 8 * 3600
"""Asia/Shanghai is UTC+08:00 all year (no daylight saving since 1991)."""

DISTRICT_TZ = timezone(timedelta(seconds=UTC_OFFSET_S))
"""The district's fixed offset as a tzinfo."""

DAY_S = 86400
"""Seconds per day."""


def day_start(day: date) -> int:
    """Epoch seconds of 00:00 district time on ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=DISTRICT_TZ).timestamp())


def day_of(ts: float) -> date:
    """District calendar date of an epoch time."""
    return (datetime.fromtimestamp(int(ts), DISTRICT_TZ)).date()


class IsoFormatter:
    """Fast epoch → ``YYYY-MM-DDTHH:MM:SS+08:00`` formatting with a per-day cache."""

    __slots__ = ("_dates",)

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}

    def __call__(self, ts: float) -> str:
        """Format ``ts`` (whole seconds) in district time."""
        local = int(ts) + UTC_OFFSET_S
        d, s = divmod(local, DAY_S)
        prefix = self._dates.get(d)
        if prefix is None:
            prefix = (date(1970, 1, 1) + timedelta(days=d)).isoformat()
            self._dates[d] = prefix
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        return f"{prefix}T{h:02d}:{m:02d}:{sec:02d}+08:00"

"""Time in the district: days, patrol rounds and KPI periods (all in the configured zone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from data_feed.errors import ConfigError

PERIODS = ("today", "7d", "30d", "month", "last_month", "all")
"""Named periods accepted by ``period=``."""


class PeriodError(ValueError):
    """A period query parameter is invalid; the message says which and why."""


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str) -> date:
    """A ``YYYY-MM-DD`` date in ASCII digits (not the other ISO forms ``date.fromisoformat`` takes)."""
    if not _DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not YYYY-MM-DD")
    return date.fromisoformat(value)


@dataclass(frozen=True)
class Period:
    """Inclusive range of district days; ``start``/``end`` None means unbounded ('all')."""

    start: date | None
    end: date | None
    label: str

    def as_dict(self) -> dict[str, str | None]:
        """JSON form for API responses."""
        return {"label": self.label,
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}


def district_day(ts: float, tz: ZoneInfo) -> date:
    """The calendar day in the district of an epoch timestamp."""
    return datetime.fromtimestamp(ts, tz).date()


def parse_period(period: str | None, from_: str | None, to: str | None, now: float,
                 tz: ZoneInfo) -> Period:
    """Resolve ``period=`` or ``from=``/``to=`` (inclusive YYYY-MM-DD) into a :class:`Period`."""
    today = district_day(now, tz)
    if from_ or to:
        if period:
            raise PeriodError("give either period= or from=/to=, not both")
        try:
            start = parse_date(from_) if from_ else None
            end = parse_date(to) if to else None
        except ValueError:
            raise PeriodError(f"from={from_!r}/to={to!r} must be dates YYYY-MM-DD") from None
        if start and end and start > end:
            raise PeriodError(f"from={from_} is after to={to}")
        return Period(start, end, "custom")
    name = period or "today"
    if name == "today":
        return Period(today, today, name)
    if name == "7d":
        return Period(today - timedelta(days=6), today, name)
    if name == "30d":
        return Period(today - timedelta(days=29), today, name)
    if name == "month":
        return Period(today.replace(day=1), today, name)
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last, name)
    if name == "all":
        return Period(None, None, name)
    raise PeriodError(f"period={name!r} is not one of {', '.join(PERIODS)} (or use from=/to=)")


def previous(period: Period) -> Period | None:
    """The period just before ``period`` (环比): the previous month for a month (to the same
    day for this month so far), else the same number of days just before; None when unbounded."""
    if period.start is None or period.end is None:
        return None
    if period.label in ("month", "last_month"):
        last_of_previous = period.start - timedelta(days=1)
        start = last_of_previous.replace(day=1)
        return Period(start, min(start + (period.end - period.start), last_of_previous), "previous")
    length = period.end - period.start + timedelta(days=1)
    return Period(period.start - length, period.end - length, "previous")


def year_before(period: Period) -> Period | None:
    """The same dates a year earlier (同比; 29 February maps to the 28th); None when unbounded."""
    if period.start is None or period.end is None:
        return None

    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:  # 29 February
            return d.replace(year=d.year - 1, day=28)

    return Period(back(period.start), back(period.end), "year_before")


def month_to_date(now: float, tz: ZoneInfo) -> Period:
    """From the first of the current month to today."""
    today = district_day(now, tz)
    return Period(today.replace(day=1), today, "month")


@dataclass(frozen=True)
class Round:
    """One patrol round: ``am`` (day start to split) or ``pm`` (split to midnight)."""

    day: date
    name: str
    start: float
    end: float

    @property
    def key(self) -> tuple[date, str]:
        """Hashable (day, name) key."""
        return (self.day, self.name)


class RoundClock:
    """Maps timestamps to patrol rounds for a split time (default 12:00) in one zone."""

    def __init__(self, tz: ZoneInfo, split: time) -> None:
        if split == time(0, 0):
            raise ConfigError("GRID_ROUND_SPLIT=00:00 leaves no morning round; use e.g. 12:00")
        self.tz = tz
        self.split = split

    def round_at(self, ts: float) -> Round:
        """The round in progress at ``ts``."""
        local = datetime.fromtimestamp(ts, self.tz)
        day = local.date()
        midnight = datetime.combine(day, time(0, 0), self.tz)
        split = datetime.combine(day, self.split, self.tz)
        nxt = datetime.combine(day + timedelta(days=1), time(0, 0), self.tz)
        if local < split:
            return Round(day, "am", midnight.timestamp(), split.timestamp())
        return Round(day, "pm", split.timestamp(), nxt.timestamp())

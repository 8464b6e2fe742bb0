"""Upstream event contract v1: event types, enums and validation of raw stream entries.

``parse_entry`` turns the flat string map of one stream entry into an :class:`Event` or
raises :class:`MalformedEvent` with a precise reason. Reasons quote offending values, except
for the personal fields (``description``, ``reporter_phone``), which never appear in a reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from data_feed.errors import MalformedEvent

CONTRACT_VERSION = "1"

PERSONAL_FIELDS = frozenset({"description", "reporter_phone"})
"""Fields that are personal data: never in a public view, API response or log line."""


class EventType(str, Enum):
    """Every event type of contract v1."""

    POSITION = "warden.position"
    CHECKPOINT_REGISTERED = "checkpoint.registered"
    INSPECTION_COMPLETED = "inspection.completed"
    CASE_REPORTED = "case.reported"
    CASE_RESOLVED_ON_SITE = "case.resolved_on_site"
    CASE_ESCALATED = "case.escalated"
    CASE_DISPATCHED = "case.dispatched"
    CASE_PROCESSED = "case.processed"
    CASE_RETURNED = "case.returned"
    CASE_CLOSED = "case.closed"
    CASE_RATED = "case.rated"
    CASE_VOIDED = "case.voided"


class Channel(str, Enum):
    """Where a case came from."""

    PATROL = "patrol"
    HOTLINE = "hotline"
    WECHAT = "wechat"
    WEB = "web"
    DEPARTMENT = "department"


CITIZEN_CHANNELS = frozenset({Channel.HOTLINE.value, Channel.WECHAT.value, Channel.WEB.value})


class Priority(str, Enum):
    """Case priority; urgent and hazard cases have shorter time limits."""

    NORMAL = "normal"
    URGENT = "urgent"
    HAZARD = "hazard"


class UnitType(str, Enum):
    """Kind of unit a case is dispatched to."""

    STREET_TEAM = "street_team"
    MOBILE_TEAM = "mobile_team"
    DEPARTMENT = "department"


class EscalationLevel(str, Enum):
    """Level a case is escalated to."""

    STREET = "street"
    DISTRICT = "district"


class InspectionResult(str, Enum):
    """Outcome of one checkpoint inspection."""

    OK = "ok"
    PROBLEM = "problem"


CASE_TYPES = frozenset(t.value for t in EventType if t.value.startswith("case.")) - {
    EventType.CASE_REPORTED.value
}
"""Case events that need an earlier ``case.reported`` (they are held when they come first)."""


class Event:
    """One validated event: its type, time (epoch seconds), optional id and typed fields."""

    __slots__ = ("type", "ts", "event_id", "data")

    def __init__(self, type: str, ts: float, event_id: str | None, data: dict[str, Any]) -> None:
        self.type = type
        self.ts = ts
        self.event_id = event_id
        self.data = data

    def __repr__(self) -> str:
        public = {k: v for k, v in self.data.items() if k not in PERSONAL_FIELDS}
        return f"Event({self.type!r}, ts={self.ts}, event_id={self.event_id!r}, {public})"


_DIGITS = "0123456789"
_LEADS = "+-.0123456789"


def _is_plain_number(raw: str) -> bool:
    """True if ``raw`` reads as a plain ASCII decimal number (e.g. ``41.12``, ``-3``, ``1e-05``).

    ``float()`` also takes full-width and other Unicode digits ("４１.１"), underscores
    ("4_1.1"), surrounding whitespace (" 41.1"), "nan" and "inf". Whatever ``float()`` takes
    that is ASCII, free of underscores, starts with a sign, a digit or a point and ends with a
    digit is plain. (Character tests, not a regex: this runs for every number of every position.)
    """
    return raw.isascii() and raw[-1] in _DIGITS and raw[0] in _LEADS and "_" not in raw

_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?").fullmatch
"""ISO 8601 extended date and time (RFC 3339 style); group 1 is the offset. ``fromisoformat``
alone also takes week and ordinal dates, basic formats and any separator character."""

TS_MIN = datetime(1, 1, 3, tzinfo=UTC).timestamp()
TS_MAX = datetime(9999, 12, 29, tzinfo=UTC).timestamp()
"""Accepted range of instants: the district's day (and the day after) exists in every zone."""


def parse_ts(value: str, field: str = "ts") -> float:
    """Parse an ISO 8601 timestamp that carries an offset into epoch seconds."""
    shape = _TIMESTAMP(value) if isinstance(value, str) else None
    try:
        if shape is None:
            raise ValueError
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedEvent(f"{field}={value!r} is not an ISO 8601 timestamp") from None
    if dt.tzinfo is None:
        raise MalformedEvent(f"{field}={value!r} has no UTC offset (e.g. +08:00)")
    ts = dt.timestamp()  # aware: plain arithmetic, never overflows
    if not TS_MIN <= ts < TS_MAX:
        raise MalformedEvent(f"{field}={value!r} is out of range (years 0001 to 9999 in every time zone)")
    return ts


def _fast_ts(value: str) -> float | None:
    """Epoch seconds of a plainly valid timestamp, else None (then :func:`parse_ts` says why)."""
    if _TIMESTAMP(value) is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    ts = dt.timestamp()
    return ts if TS_MIN <= ts < TS_MAX else None


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise MalformedEvent(f"missing required field {name!r}")
    return value


def _float(fields: Mapping[str, str], name: str, lo: float, hi: float, required: bool) -> float | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        if required:
            raise MalformedEvent(f"missing required field {name!r}")
        return None
    try:
        if not _is_plain_number(raw):
            raise ValueError
        value = float(raw)
    except ValueError:
        raise MalformedEvent(f"{name}={raw!r} is not a number") from None
    if not (lo <= value <= hi):  # a huge exponent gives inf: out of range too
        raise MalformedEvent(f"{name}={raw!r} is out of range [{lo}, {hi}]")
    return value


def _enum(fields: Mapping[str, str], name: str, allowed: frozenset[str], default: str | None,
          required: bool = False) -> str | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        if required:
            raise MalformedEvent(f"missing required field {name!r}")
        return default
    if raw not in allowed:
        raise MalformedEvent(f"{name}={raw!r} is not one of {sorted(allowed)}")
    return raw


def _optional(fields: Mapping[str, str], data: dict[str, Any], *names: str) -> None:
    for name in names:
        value = fields.get(name)
        if value:
            data[name] = value


def _lat_lon(fields: Mapping[str, str], data: dict[str, Any]) -> None:
    data["lat"] = _float(fields, "lat", -90.0, 90.0, True)
    data["lon"] = _float(fields, "lon", -180.0, 180.0, True)


_CHANNELS = frozenset(c.value for c in Channel)
_PRIORITIES = frozenset(p.value for p in Priority)
_UNIT_TYPES = frozenset(u.value for u in UnitType)
_LEVELS = frozenset(x.value for x in EscalationLevel)
_RESULTS = frozenset(r.value for r in InspectionResult)
_BOOLS = frozenset({"true", "false"})


_POSITION_OPTIONAL = (("accuracy_m", 0.0, 1e6), ("speed_mps", 0.0, 1e3), ("battery", 0.0, 100.0))


def _plain_float(raw: str | None, lo: float, hi: float) -> float | None:
    """``raw`` as a float when it is a plain number within [lo, hi], else None."""
    if not raw or not _is_plain_number(raw):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if lo <= value <= hi else None


def _position(f: Mapping[str, str]) -> dict[str, Any]:
    # The hot path (most entries are positions): a fast common case, precise errors otherwise.
    lat = _plain_float(f.get("lat"), -90.0, 90.0)
    lon = _plain_float(f.get("lon"), -180.0, 180.0)
    warden = f.get("warden_id")
    if lat is None or lon is None or not warden:
        return _position_full(f)
    data: dict[str, Any] = {"warden_id": warden, "lat": lat, "lon": lon}
    for name, lo, hi in _POSITION_OPTIONAL:
        if name in f and f[name]:
            data[name] = _float(f, name, lo, hi, False)
    return data


def _position_full(f: Mapping[str, str]) -> dict[str, Any]:
    """The position parser without shortcuts (the fast branch must agree with it)."""
    data: dict[str, Any] = {"warden_id": _required(f, "warden_id")}
    _lat_lon(f, data)
    for name, lo, hi in _POSITION_OPTIONAL:
        if name in f and f[name]:
            data[name] = _float(f, name, lo, hi, False)
    return data


def _checkpoint(f: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"checkpoint_id": _required(f, "checkpoint_id"),
                            "category": _required(f, "category")}
    _lat_lon(f, data)
    _optional(f, data, "name", "street_id", "community_id", "grid_id", "warden_id", "department_id")
    return data


def _inspection(f: Mapping[str, str]) -> dict[str, Any]:
    # The most frequent event type: plainly valid entries take the short path.
    cp, warden, result = f.get("checkpoint_id"), f.get("warden_id"), f.get("result")
    if cp and warden and result in _RESULTS:
        case_id = f.get("case_id")
        if case_id:
            return {"checkpoint_id": cp, "warden_id": warden, "result": result, "case_id": case_id}
        return {"checkpoint_id": cp, "warden_id": warden, "result": result}
    return _inspection_full(f)


def _inspection_full(f: Mapping[str, str]) -> dict[str, Any]:
    """The inspection parser without the short path (which must agree with it)."""
    data: dict[str, Any] = {"checkpoint_id": _required(f, "checkpoint_id"),
                            "warden_id": _required(f, "warden_id"),
                            "result": _enum(f, "result", _RESULTS, None, required=True)}
    _optional(f, data, "case_id")
    return data


def _reported(f: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"case_id": _required(f, "case_id"),
                            "channel": _enum(f, "channel", _CHANNELS, None, required=True),
                            "category": _required(f, "category")}
    _lat_lon(f, data)
    data["priority"] = _enum(f, "priority", _PRIORITIES, Priority.NORMAL.value)
    _optional(f, data, "checkpoint_id", "street_id", "community_id", "grid_id", "query_code",
              "description", "reporter_phone")
    return data


def _case_only(*optional: str) -> Callable[[Mapping[str, str]], dict[str, Any]]:
    def parse(f: Mapping[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = {"case_id": _required(f, "case_id")}
        _optional(f, data, *optional)
        return data

    return parse


def _escalated(f: Mapping[str, str]) -> dict[str, Any]:
    return {"case_id": _required(f, "case_id"),
            "level": _enum(f, "level", _LEVELS, EscalationLevel.STREET.value)}


def _dispatched(f: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"case_id": _required(f, "case_id"),
                            "unit_id": _required(f, "unit_id"),
                            "unit_type": _enum(f, "unit_type", _UNIT_TYPES, None, required=True)}
    if f.get("deadline"):
        data["deadline"] = parse_ts(f["deadline"], "deadline")
    return data


def _rated(f: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"case_id": _required(f, "case_id"),
                            "satisfied": _enum(f, "satisfied", _BOOLS, None, required=True) == "true"}
    raw = f.get("score")
    if raw:
        if raw not in ("1", "2", "3", "4", "5"):
            raise MalformedEvent(f"score={raw!r} is not an integer from 1 to 5")
        data["score"] = int(raw)
    return data


_PARSERS: dict[str, Callable[[Mapping[str, str]], dict[str, Any]]] = {
    EventType.POSITION.value: _position,
    EventType.CHECKPOINT_REGISTERED.value: _checkpoint,
    EventType.INSPECTION_COMPLETED.value: _inspection,
    EventType.CASE_REPORTED.value: _reported,
    EventType.CASE_RESOLVED_ON_SITE.value: _case_only("warden_id"),
    EventType.CASE_ESCALATED.value: _escalated,
    EventType.CASE_DISPATCHED.value: _dispatched,
    EventType.CASE_PROCESSED.value: _case_only("unit_id"),
    EventType.CASE_RETURNED.value: _case_only("reason"),
    EventType.CASE_CLOSED.value: _case_only("verified_by"),
    EventType.CASE_RATED.value: _rated,
    EventType.CASE_VOIDED.value: _case_only("reason"),
}

EVENT_TYPES = frozenset(_PARSERS)

_POSITION = EventType.POSITION.value  # plain str: enum attribute access is slow on the hot path


def fast_position(fields: Mapping[str, str]) -> tuple[str, float, float, float] | None:
    """(warden_id, lat, lon, ts) of a plainly valid position entry, else None.

    The common case of the highest-volume stream, without building an :class:`Event`. None
    means "not plainly valid": call :func:`parse_entry` for the precise reason.
    """
    get = fields.get
    if get("type") != _POSITION or get("v", "1") != "1":
        return None
    warden, ts_raw, lat_raw, lon_raw = get("warden_id"), get("ts"), get("lat"), get("lon")
    if not (warden and ts_raw and lat_raw and lon_raw and _is_plain_number(lat_raw)
            and _is_plain_number(lon_raw)):
        return None
    ts = _position_ts(ts_raw)
    if ts is None:
        return None
    try:
        lat, lon = float(lat_raw), float(lon_raw)
    except ValueError:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    for name, lo, hi in _POSITION_OPTIONAL:
        raw = get(name)
        if raw:
            if not _is_plain_number(raw):
                return None
            try:
                value = float(raw)
            except ValueError:
                return None
            if not lo <= value <= hi:
                return None
    return warden, lat, lon, ts


_position_ts = functools.lru_cache(maxsize=4096)(_fast_ts)
""":func:`_fast_ts`, memoised for positions: at the seed's rate some sixty positions a second
share one timestamp string."""


def parse_entry(fields: Mapping[str, str], stream_kind: str | None = None) -> Event:
    """Validate one stream entry against contract v1 and return the typed event.

    ``stream_kind`` is ``"positions"`` or ``"events"`` when known: positions belong on the
    positions stream only and every other type on the events stream.
    """
    etype = fields.get("type")
    if not etype:
        raise MalformedEvent("missing required field 'type'")
    parser = _PARSERS.get(etype)
    if parser is None:
        raise MalformedEvent(f"type={etype!r} is not a contract v1 event type")
    version = fields.get("v")
    if version and version != CONTRACT_VERSION:
        raise MalformedEvent(f"v={version!r} is not a supported contract version (expected '1')")
    if stream_kind == "positions" and etype != _POSITION:
        raise MalformedEvent(f"type={etype!r} does not belong on the positions stream")
    if stream_kind == "events" and etype == _POSITION:
        raise MalformedEvent("type='warden.position' belongs on the positions stream")
    ts_raw = fields.get("ts")
    if not ts_raw:
        raise MalformedEvent("missing required field 'ts'")
    ts = _fast_ts(ts_raw)
    if ts is None:
        ts = parse_ts(ts_raw)  # raises with the precise reason
    return Event(etype, ts, fields.get("event_id") or None, parser(fields))

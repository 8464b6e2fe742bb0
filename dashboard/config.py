"""Configuration: defaults, then ``GRID_*`` environment variables, then the caller's mapping.

Bad values fail at start with a :class:`ConfigError` naming the variable and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from data_feed import keys
from data_feed.connection import parse_redis_url
from data_feed.errors import ConfigError

ENV_PREFIX = "GRID_"

DEFAULTS: dict[str, Any] = {
    "REDIS_URL": "",
    "DATA_DIR": "./var",
    "REFERENCE_DIR": "",
    "TZ": "Asia/Shanghai",
    "TILE_URL": "",
    "TILE_ATTRIBUTION": "",
    "LANG": "zh",
    "STREAM_POSITIONS": keys.POSITIONS_STREAM,
    "STREAM_EVENTS": keys.EVENTS_STREAM,
    "STREAM_DEADLETTER": keys.DEADLETTER_STREAM,
    "STREAM_SHARDS": "",
    "LATE_WINDOW_S": keys.DEFAULT_LATE_WINDOW_S,
    "DEDUPE_WINDOW_S": keys.DEFAULT_DEDUPE_WINDOW_S,
    "POSITION_LOOKBACK_S": keys.DEFAULT_POSITION_LOOKBACK_S,
    "READ_COUNT": keys.DEFAULT_READ_COUNT,
    "BLOCK_MS": keys.DEFAULT_BLOCK_MS,
    "ROUND_SPLIT": "12:00",
    "DEFAULT_LIMIT_HOURS": "72,24,4",
    "NEAR_DEADLINE_FRACTION": 0.8,
    "STALE_AFTER_S": 30,
    "TICK_MS": 500,
    "WARDEN_SILENT_S": 300,
    "START_CONSUMER": True,
    "EMBEDDED_PORT": 0,
    "CLOCK": "wall",
    "PUSH": "sse",
    "MAX_FUTURE_S": 300,
    "MAX_AGE_DAYS": 731,
    "CASE_RETENTION_DAYS": 30,
    "HISTORY_DAYS": 400,
    "AUTH": "on",
    "SECRET_KEY": "",
    "USERS_FILE": "",
    "WALL_TOKEN": "",
    "EMBED_ORIGINS": "",
    "COOKIE_SECURE": False,
    "SESSION_HOURS": 12,
    "PROXY_HOPS": 0,
    "LOGIN_RATE_LIMIT": "5/minute;30/hour",
    "QUERY_RATE_LIMIT": "10/minute;100/day",
    "QUERY_CODE_RATE_LIMIT": "5/hour",
    "BOARD_DAYS": 7,
    "TRACK_DAYS": 3,
    "TRACK_INTERVAL_S": 60,
    "SNAPSHOT_INTERVAL_S": 300,
    "PUSH_MAX_STREAMS": 1500,
    "PUSH_OPEN_RATE_LIMIT": "60/minute",
}
"""Every setting with its default; ``GRID_<NAME>`` in the environment overrides it."""


@dataclass(frozen=True)
class Config:
    """Validated settings of one dashboard process."""

    redis_url: str | None
    data_dir: Path
    reference_dir: Path | None
    tz: ZoneInfo
    tile_url: str
    tile_attribution: str
    lang: str
    positions_stream: str
    events_stream: str
    deadletter_stream: str
    late_window_s: float
    dedupe_window_s: float
    position_lookback_s: float
    read_count: int
    block_ms: int
    round_split: time
    default_limit_hours: dict[str, float]
    near_deadline_fraction: float
    stale_after_s: float
    tick_ms: int
    warden_silent_s: float
    start_consumer: bool
    embedded_port: int
    clock: str
    max_future_s: float
    max_age_days: float
    case_retention_days: float
    history_days: int
    auth: bool
    secret_key: str
    users_file: Path | None
    wall_token: str
    embed_origins: tuple[str, ...]
    cookie_secure: bool
    session_hours: float
    proxy_hops: int
    login_rate_limit: str
    query_rate_limit: str
    query_code_rate_limit: str
    board_days: int
    track_days: int = 3
    """District days of warden tracks kept in memory (today and the days before it)."""
    track_interval_s: float = 60.0
    """A warden's track keeps at most one position per this many seconds."""
    push: str = "sse"
    """How the wall gets live data: ``sse`` (the server pushes each change, the default) or ``poll``
    (a server tick per interval: the fallback, and the benchmarks' baseline)."""
    snapshot_interval_s: float = 0.0
    """Seconds between snapshots of the state to ``data_dir/snapshots`` once caught up (0: none)."""
    stream_shards: str = ""
    """``""``: one positions and one events stream; ``street``: also one of each per street
    (``grid:{<street_id>}:events``), e.g. to spread a city over Redis Cluster shards."""
    push_max_streams: int = 1500
    """Push streams (public embeds, leaders page) one process holds at once; more get 503."""
    push_open_rate_limit: str = "60/minute"
    """How often one client address may open a public push stream (an open stream is never cut)."""


def _number(raw: Mapping[str, Any], name: str, kind: type, lo: float, hi: float | None = None) -> Any:
    value = raw[name]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}{name}={value!r} is not a {kind.__name__}") from None
    if number < lo or (hi is not None and number > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(f"{ENV_PREFIX}{name}={value!r} must be {bound}")
    return number


def _bool(raw: Mapping[str, Any], name: str) -> bool:
    value = raw[name]
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{ENV_PREFIX}{name}={value!r} is not a boolean: use 1/0, true/false")


def _limits(raw: Mapping[str, Any]) -> dict[str, float]:
    value = raw["DEFAULT_LIMIT_HOURS"]
    parts = [p.strip() for p in str(value).split(",")] if not isinstance(value, Mapping) else None
    try:
        if isinstance(value, Mapping):
            limits = {k: float(value[k]) for k in ("normal", "urgent", "hazard")}
        else:
            assert parts is not None and len(parts) == 3
            limits = dict(zip(("normal", "urgent", "hazard"), map(float, parts), strict=True))
    except (AssertionError, KeyError, ValueError):
        raise ConfigError(
            f"{ENV_PREFIX}DEFAULT_LIMIT_HOURS={value!r} must be three hours 'normal,urgent,hazard', e.g. 72,24,4"
        ) from None
    if any(v <= 0 for v in limits.values()):
        raise ConfigError(f"{ENV_PREFIX}DEFAULT_LIMIT_HOURS={value!r}: every limit must be > 0")
    return limits


_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?")
"""An origin as CSP ``frame-ancestors`` takes it: scheme, host (optionally ``*.``), port."""

MIN_SECRET_KEY = 32
"""Shortest GRID_SECRET_KEY accepted (characters; e.g. ``python -c 'import secrets; print(secrets.token_hex(32))'``)."""

MIN_TOKEN = 24
"""Shortest GRID_WALL_TOKEN accepted: a token is a password that never expires."""


def _origins(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw["EMBED_ORIGINS"]
    items = value if isinstance(value, (list, tuple)) else str(value or "").replace(",", " ").split()
    origins = []
    for item in items:
        origin = str(item).strip().rstrip("/")
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(f"{ENV_PREFIX}EMBED_ORIGINS: {item!r} is not an origin; list origins such as "
                              "https://portal.example.gov.cn or http://127.0.0.1:8080, separated by spaces")
        origins.append(origin)
    return tuple(origins)


def _rate(raw: Mapping[str, Any], name: str) -> str:
    from limits import parse_many

    value = str(raw[name]).strip()
    try:
        if not parse_many(value):
            raise ValueError(value)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name}={value!r} is not a rate limit; write e.g. 5/minute;30/hour") from None
    return value


def _auth(raw: Mapping[str, Any]) -> tuple[bool, str, Path | None, str]:
    """(auth on, secret key, users file, wall token), checked together: auth on needs all it uses."""
    mode = str(raw["AUTH"]).strip().lower()
    if mode not in ("on", "off"):
        raise ConfigError(f"{ENV_PREFIX}AUTH={raw['AUTH']!r} must be 'on' (log-in and tokens required) "
                          "or 'off' (every page open: only on a closed network)")
    secret = str(raw["SECRET_KEY"] or "")
    users = str(raw["USERS_FILE"] or "")
    users_file = Path(users) if users else None
    token = str(raw["WALL_TOKEN"] or "").strip()
    if users_file is not None and not users_file.is_file():
        raise ConfigError(f"{ENV_PREFIX}USERS_FILE={users!r} is not a file; see README 'Access control' "
                          "for its format, or unset it")
    if token and len(token) < MIN_TOKEN:
        raise ConfigError(f"{ENV_PREFIX}WALL_TOKEN is shorter than {MIN_TOKEN} characters; make one with "
                          "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if mode == "off":
        return False, secret, users_file, token
    if users_file is None and not token:
        raise ConfigError(f"no users or tokens are configured: set {ENV_PREFIX}USERS_FILE and/or "
                          f"{ENV_PREFIX}WALL_TOKEN (README 'Access control'), or {ENV_PREFIX}AUTH=off "
                          "to serve every page without a log-in (only on a closed network)")
    if len(secret) < MIN_SECRET_KEY:
        raise ConfigError(f"{ENV_PREFIX}SECRET_KEY must be at least {MIN_SECRET_KEY} characters (it signs the "
                          "log-in sessions); make one with python -c 'import secrets; print(secrets.token_hex(32))'")
    return True, secret, users_file, token


def _snapshot_interval(raw: Mapping[str, Any]) -> float:
    value = _number(raw, "SNAPSHOT_INTERVAL_S", float, 0, 7 * 86400)
    if 0 < value < 10:
        raise ConfigError(f"{ENV_PREFIX}SNAPSHOT_INTERVAL_S={raw['SNAPSHOT_INTERVAL_S']!r} must be 0 (no "
                          "snapshots) or at least 10 seconds (a snapshot pauses ingestion while it is taken)")
    return float(value)


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from defaults, ``GRID_*`` variables and ``overrides``."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = dict(DEFAULTS)
    for name in DEFAULTS:
        if ENV_PREFIX + name in env:
            raw[name] = env[ENV_PREFIX + name]
    for name, value in (overrides or {}).items():
        if name not in DEFAULTS:
            raise ConfigError(f"unknown setting {name!r}; known settings: {', '.join(sorted(DEFAULTS))}")
        raw[name] = value
    try:
        tz = ZoneInfo(str(raw["TZ"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}TZ={raw['TZ']!r} is not an IANA time zone, e.g. Asia/Shanghai") from None
    try:
        hh, mm = str(raw["ROUND_SPLIT"]).split(":")
        split = time(int(hh), int(mm))
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}ROUND_SPLIT={raw['ROUND_SPLIT']!r} must be HH:MM, e.g. 12:00") from None
    lang = str(raw["LANG"]).lower()
    if lang not in ("zh", "en"):
        raise ConfigError(f"{ENV_PREFIX}LANG={raw['LANG']!r} must be 'zh' or 'en'")
    ref = str(raw["REFERENCE_DIR"] or "")
    reference_dir = Path(ref) if ref else None
    if reference_dir is not None and not reference_dir.is_dir():
        raise ConfigError(
            f"{ENV_PREFIX}REFERENCE_DIR={ref!r} is not a folder; create it (e.g. with "
            "`python -m dashboard simulate --backfill 0`) or unset it"
        )
    tile_url = str(raw["TILE_URL"] or "")
    if tile_url and not all(k in tile_url for k in ("{z}", "{x}", "{y}")):
        raise ConfigError(f"{ENV_PREFIX}TILE_URL={tile_url!r} needs {{z}}, {{x}} and {{y}} placeholders")
    push = str(raw["PUSH"]).strip().lower()
    if push not in ("poll", "sse"):
        raise ConfigError(f"{ENV_PREFIX}PUSH={raw['PUSH']!r} must be 'poll' (the wall asks every tick) "
                          "or 'sse' (the server pushes each change)")
    clock = str(raw["CLOCK"]).strip().lower()
    if clock not in ("wall", "stream"):
        raise ConfigError(f"{ENV_PREFIX}CLOCK={raw['CLOCK']!r} must be 'wall' (production) or 'stream' "
                          "(simulations faster than real time)")
    for name in ("STREAM_POSITIONS", "STREAM_EVENTS", "STREAM_DEADLETTER"):
        if not str(raw[name]).strip():
            raise ConfigError(f"{ENV_PREFIX}{name} must not be empty")
    shards = str(raw["STREAM_SHARDS"] or "").strip().lower()
    if shards not in ("", keys.SHARD_BY_STREET):
        raise ConfigError(f"{ENV_PREFIX}STREAM_SHARDS={raw['STREAM_SHARDS']!r} must be empty (one positions "
                          f"and one events stream) or '{keys.SHARD_BY_STREET}' (also one of each per street, "
                          "see docs/contract.md)")
    redis_url = str(raw["REDIS_URL"] or "")
    if redis_url:
        parse_redis_url(redis_url)  # a malformed URL fails here, before anything connects
    auth, secret, users_file, token = _auth(raw)
    return Config(
        redis_url=redis_url or None,
        data_dir=Path(str(raw["DATA_DIR"])),
        reference_dir=reference_dir,
        tz=tz,
        tile_url=tile_url,
        tile_attribution=str(raw["TILE_ATTRIBUTION"] or ""),
        lang=lang,
        positions_stream=str(raw["STREAM_POSITIONS"]),
        events_stream=str(raw["STREAM_EVENTS"]),
        deadletter_stream=str(raw["STREAM_DEADLETTER"]),
        late_window_s=_number(raw, "LATE_WINDOW_S", float, 0),
        dedupe_window_s=_number(raw, "DEDUPE_WINDOW_S", float, 0),
        position_lookback_s=_number(raw, "POSITION_LOOKBACK_S", float, 0),
        read_count=_number(raw, "READ_COUNT", int, 1),
        block_ms=_number(raw, "BLOCK_MS", int, 1, 60000),
        round_split=split,
        default_limit_hours=_limits(raw),
        near_deadline_fraction=_number(raw, "NEAR_DEADLINE_FRACTION", float, 0.0, 1.0),
        stale_after_s=_number(raw, "STALE_AFTER_S", float, 1),
        tick_ms=_number(raw, "TICK_MS", int, 200, 10000),
        warden_silent_s=_number(raw, "WARDEN_SILENT_S", float, 1),
        start_consumer=_bool(raw, "START_CONSUMER"),
        embedded_port=_number(raw, "EMBEDDED_PORT", int, 0, 65535),
        clock=clock,
        push=push,
        # a simulation clock runs ahead of the wall: the future-skew rule would reject it all
        max_future_s=0.0 if clock == "stream" else _number(raw, "MAX_FUTURE_S", float, 1),
        max_age_days=_number(raw, "MAX_AGE_DAYS", float, 1),
        case_retention_days=_number(raw, "CASE_RETENTION_DAYS", float, 1),
        history_days=_number(raw, "HISTORY_DAYS", int, 31),
        auth=auth, secret_key=secret, users_file=users_file, wall_token=token,
        embed_origins=_origins(raw),
        cookie_secure=_bool(raw, "COOKIE_SECURE"),
        session_hours=_number(raw, "SESSION_HOURS", float, 0.1, 24 * 366),
        proxy_hops=_number(raw, "PROXY_HOPS", int, 0, 5),
        login_rate_limit=_rate(raw, "LOGIN_RATE_LIMIT"),
        query_rate_limit=_rate(raw, "QUERY_RATE_LIMIT"),
        query_code_rate_limit=_rate(raw, "QUERY_CODE_RATE_LIMIT"),
        board_days=_number(raw, "BOARD_DAYS", int, 1, 30),
        track_days=_number(raw, "TRACK_DAYS", int, 1, 31),
        track_interval_s=_number(raw, "TRACK_INTERVAL_S", float, 1, 3600),
        snapshot_interval_s=_snapshot_interval(raw),
        stream_shards=shards,
        push_max_streams=_number(raw, "PUSH_MAX_STREAMS", int, 1, 100000),
        push_open_rate_limit=_rate(raw, "PUSH_OPEN_RATE_LIMIT"),
    )

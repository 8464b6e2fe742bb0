"""Test helpers: build a runtime on a real Redis and drain the streams into it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from dashboard.config import load_config
from dashboard.reference import Reference, load_reference
from dashboard.runtime import Runtime, build_runtime
from data_feed.publish import publish_many


def make_runtime(connection: redis.Redis, reference: Reference | None = None,
                 **settings: Any) -> Runtime:
    """A runtime (state + consumer) on ``connection``; the consumer thread is not started."""
    config = load_config({"START_CONSUMER": False, **settings}, environ={})
    return build_runtime(config, connection, reference or load_reference(None))


def drain(runtime: Runtime, max_polls: int = 10_000) -> int:
    """Poll until a read returns nothing; return the entries read."""
    total = 0
    for _ in range(max_polls):
        n = runtime.consumer.poll()
        total += n
        if n == 0:
            return total
    raise AssertionError("streams never drained")


def feed(connection: redis.Redis, runtime: Runtime, events: Iterable[Mapping[str, str]]) -> int:
    """Publish events with plain XADD and apply them; return the entries read."""
    publish_many(connection, events)
    return drain(runtime)

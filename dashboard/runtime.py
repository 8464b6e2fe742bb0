"""The per-process runtime: config, Redis client, reference data, state and consumer.

Built by the app factory and kept on ``server.extensions["grid"]``; nothing here is global.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from dashboard.config import Config
from dashboard.reference import Reference
from dashboard.state import State
from data_feed.consumer import Consumer

EXTENSION_KEY = "grid"
"""Key of the runtime in ``flask_app.extensions``."""


@dataclass
class Runtime:
    """Everything one dashboard process needs, passed explicitly to views and callbacks."""

    config: Config
    redis: redis.Redis
    reference: Reference
    state: State
    consumer: Consumer

    def start(self) -> None:
        """Start tailing the streams in the background."""
        self.consumer.start()

    def stop(self) -> None:
        """Stop the consumer thread."""
        self.consumer.stop()


def build_runtime(config: Config, connection: redis.Redis, reference: Reference) -> Runtime:
    """Wire a state and a consumer on ``connection`` (nothing starts yet)."""
    state = State(config, reference)
    consumer = Consumer(
        connection, state,
        positions_stream=config.positions_stream,
        events_stream=config.events_stream,
        deadletter_stream=config.deadletter_stream,
        count=config.read_count,
        block_ms=config.block_ms,
        position_lookback_s=config.position_lookback_s,
    )
    return Runtime(config=config, redis=connection, reference=reference, state=state,
                   consumer=consumer)

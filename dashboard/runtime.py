"""The per-process runtime: config, Redis client, reference data, state and consumer.

Built by the app factory and kept on ``server.extensions["grid"]``; nothing here is global.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import partial

import redis
from redis import Redis

from dashboard.clock import Clock, StreamClock, WallClock
from dashboard.config import Config
from dashboard.reference import Reference
from dashboard.snapshot import Periodic, Snapshots
from dashboard.state import State
from data_feed.changes import ChangeSignal
from data_feed.connection import probe_client
from data_feed.consumer import Consumer
from data_feed.errors import ConfigError
from data_feed.keys import PHONE_SALT_KEY

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
    clock: Clock = field(default_factory=WallClock)
    changes: ChangeSignal = field(default_factory=ChangeSignal)
    snapshots: Periodic | None = None
    probe: Redis | None = None
    """A client of the same Redis with a short timeout, for health checks (None: use ``redis``)."""

    def now(self) -> float:
        """The app's "now": the wall clock, or simulated time with GRID_CLOCK=stream."""
        return self.clock.now()

    def start(self) -> None:
        """Start tailing the streams in the background."""
        self.changes.reopen()
        self.consumer.start()

    def stop(self) -> None:
        """Stop the consumer thread and end every push stream (they wait on ``changes``); once
        caught up, save a last snapshot (the next start reads only what comes after it)."""
        self.changes.close()
        self.consumer.stop()
        if self.snapshots is not None and self.consumer.status.caught_up and not self.consumer.running:
            self.snapshots.save(self.consumer.status.last_ids)


def build_runtime(config: Config, connection: redis.Redis, reference: Reference) -> Runtime:
    """Wire a state and a consumer on ``connection`` (nothing starts yet)."""
    if config.stream_shards and not reference.stream_shards(config.stream_shards):
        raise ConfigError(f"GRID_STREAM_SHARDS={config.stream_shards} needs streets in the reference data "
                          "(GRID_REFERENCE_DIR with streets.geojson); these have none")
    changes = ChangeSignal()
    salt = phone_salt(connection)
    state = State(config, reference, salt)
    periodic: Periodic | None = None
    if config.snapshot_interval_s > 0:
        store = Snapshots(config.data_dir / "snapshots", config, state, salt)
        periodic = Periodic(store, state, config.snapshot_interval_s)
    consumer = Consumer(
        connection, state,
        positions_stream=config.positions_stream,
        events_stream=config.events_stream,
        deadletter_stream=config.deadletter_stream,
        count=config.read_count,
        block_ms=config.block_ms,
        position_lookback_s=config.position_lookback_s,
        resume=partial(store.resume, state, connection) if periodic is not None else None,
        after_read=periodic,
        changes=changes,
        shards=reference.stream_shards(config.stream_shards),
    )
    clock: Clock = StreamClock(state) if config.clock == "stream" else WallClock()
    return Runtime(config=config, redis=connection, reference=reference, state=state,
                   consumer=consumer, clock=clock, snapshots=periodic, changes=changes,
                   probe=probe_client(connection))


def phone_salt(connection: redis.Redis) -> bytes:
    """The salt of phone digests: made once in Redis, so every process and restart shares it."""
    connection.set(PHONE_SALT_KEY, secrets.token_hex(32), nx=True)
    value = connection.get(PHONE_SALT_KEY)
    return str(value).encode() if not isinstance(value, bytes) else value

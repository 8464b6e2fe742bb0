"""Stream consumer: plain XREAD BLOCK on the positions and events streams, from the last id.

Every dashboard process reads every entry (no consumer groups): each one builds the same
state from the same history. One background thread per process; a lost connection is
caught at the loop boundary and retried with capped exponential backoff, resuming from the
last applied id, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from data_feed import keys
from data_feed.connection import redact_url
from data_feed.deadletter import DeadLetter

log = logging.getLogger(__name__)

Entry = tuple[str, str, Mapping[str, str]]
"""(stream name, entry id, fields) of one stream entry."""

Rejection = tuple[str, str, Mapping[str, str], str]
"""(stream name, entry id, fields, reason) of an entry to dead-letter."""


class Sink(Protocol):
    """What the consumer feeds: validates and applies a batch, returns the rejects."""

    def apply_batch(self, positions: list[Entry], events: list[Entry],
                    clock_ms: int | None = None) -> list[Rejection]:
        """Apply entries in stream order; return the ones to dead-letter."""


@dataclass
class ConsumerStatus:
    """What the consumer thread last saw; read by /healthz and the wall screen."""

    connected: bool = False
    caught_up: bool = False
    last_ok_at: float | None = None
    last_error: str | None = None
    last_ids: dict[str, str] = field(default_factory=dict)
    reads: int = 0
    entries: int = 0
    reconnects: int = 0
    deadlettered: int = 0


class Consumer:
    """Tails the positions and events streams into a :class:`Sink`."""

    def __init__(self, connection: redis.Redis, sink: Sink, *,
                 positions_stream: str = keys.POSITIONS_STREAM,
                 events_stream: str = keys.EVENTS_STREAM,
                 deadletter_stream: str = keys.DEADLETTER_STREAM,
                 count: int = keys.DEFAULT_READ_COUNT,
                 block_ms: int = keys.DEFAULT_BLOCK_MS,
                 position_lookback_s: float = keys.DEFAULT_POSITION_LOOKBACK_S,
                 backoff_initial_s: float = keys.DEFAULT_BACKOFF_INITIAL_S,
                 backoff_max_s: float = keys.DEFAULT_BACKOFF_MAX_S) -> None:
        self.connection = connection
        self.sink = sink
        self.positions_stream = positions_stream
        self.events_stream = events_stream
        self.deadletter = DeadLetter(connection, deadletter_stream)
        self.count = count
        self.block_ms = block_ms
        self.position_lookback_s = position_lookback_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.status = ConsumerStatus()
        self._ids: dict[str, str] = {}
        self._unwritten: list[Rejection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up_event = threading.Event()

    @property
    def address(self) -> str:
        """Printable address of the Redis being read (password redacted)."""
        kwargs = self.connection.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix://{kwargs['path']}"
        url = f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        return redact_url(url)

    def _redis_ms(self) -> int:
        """Redis server time in milliseconds (the clock stream ids are made from)."""
        server_s, server_us = self.connection.time()
        return int(server_s) * 1000 + int(server_us) // 1000

    def _initial_ids(self) -> dict[str, str]:
        since = max(0, self._redis_ms() - int(self.position_lookback_s * 1000))
        return {self.events_stream: "0-0", self.positions_stream: f"{since}-0"}

    def poll(self, block_ms: int | None = None) -> int:
        """One XREAD of both streams, applied; return the number of entries read."""
        self._flush_deadletters()  # rejects left over from a lost connection go first
        if not self._ids:
            self._ids = self._initial_ids()
        reply: Any = self.connection.xread(self._ids, count=self.count, block=block_ms)  # type: ignore[arg-type]
        positions: list[Entry] = []
        events: list[Entry] = []
        full = False
        for stream, entries in reply or []:
            target = positions if stream == self.positions_stream else events
            for entry_id, fields in entries:
                target.append((stream, entry_id, fields))
            if len(entries) >= self.count:
                full = True
        clock_ms = None if full else self._redis_ms()
        rejected = self.sink.apply_batch(positions, events, clock_ms)
        # The batch is applied: advance now so a failure below can never apply it twice.
        if positions:
            self._ids[self.positions_stream] = positions[-1][1]
        if events:
            self._ids[self.events_stream] = events[-1][1]
        self._unwritten.extend(rejected)
        self._flush_deadletters()
        n = len(positions) + len(events)
        self.status.reads += 1
        self.status.entries += n
        self.status.last_ok_at = time.time()
        self.status.last_ids = dict(self._ids)
        self.status.connected = True
        if not full and not self.status.caught_up:
            self.status.caught_up = True
            self.caught_up_event.set()
            log.info("caught up with %s after %d entries", self.address, self.status.entries)
        return n

    def _flush_deadletters(self) -> None:
        if self._unwritten:
            self.status.deadlettered += self.deadletter.write(self._unwritten)
            self._unwritten = []

    def run(self) -> None:
        """Loop until :meth:`stop`; reconnects with capped exponential backoff."""
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            try:
                self.poll(self.block_ms if self.status.caught_up else None)
                delay = self.backoff_initial_s
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self.status.connected = False
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                self.status.reconnects += 1
                log.warning("Redis at %s unreachable (%s); retrying in %.1f s",
                            self.address, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max_s)
            except Exception:  # a bug must not kill the wall screen: log, back off, go on
                self.status.last_error = "internal error (see log)"
                log.exception("consumer error; retrying in %.1f s", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max_s)

    def start(self) -> threading.Thread:
        """Start the background thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="grid-consumer", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Block until the history has been read once; True if it was."""
        return self.caught_up_event.wait(timeout)

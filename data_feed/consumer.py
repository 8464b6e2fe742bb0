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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from data_feed import keys
from data_feed.changes import ChangeSignal
from data_feed.connection import redact_url
from data_feed.deadletter import DeadLetter, reason_class

log = logging.getLogger(__name__)

Entry = tuple[str, str, Mapping[str, str]]
"""(stream name, entry id, fields) of one stream entry."""

Rejection = tuple[str, str, Mapping[Any, Any], str]
"""(stream name, entry id, fields, reason) of an entry to dead-letter."""


def raw_client(connection: redis.Redis) -> redis.Redis:
    """A client on the same server that returns bytes (for entries that are not UTF-8)."""
    pool = connection.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class Sink(Protocol):
    """What the consumer feeds: validates and applies a batch, returns the rejects."""

    def apply_batch(self, positions: list[Entry], events: list[Entry],
                    clock_ms: int | None = None) -> list[Rejection]:
        """Apply entries in stream order; return the ones to dead-letter."""


@dataclass
class ConsumerStatus:
    """What the consumer thread last saw; read by /healthz and the wall screen.

    The thread replaces ``last_ids`` rather than mutating it, so readers may take it as is.
    """

    connected: bool = False
    caught_up: bool = False
    last_ok_at: float | None = None
    last_applied_at: float | None = None  # when a read last applied at least one entry
    last_error: str | None = None
    last_ids: dict[str, str] = field(default_factory=dict)
    reads: int = 0
    entries: int = 0
    events_read: int = 0
    backlog_at_start: int | None = None  # length of the events stream when the history read began
    reconnects: int = 0
    deadlettered: int = 0
    deadletters_by_reason: dict[str, int] = field(default_factory=dict)
    undecodable: int = 0
    failing_since: float | None = None  # first failure of the batch that keeps failing
    consecutive_failures: int = 0
    resumed_from: dict[str, str] | None = None  # the snapshot's ids when the start skipped the history
    # after a snapshot: the ms of the events stream's ids at the snapshot, at its newest entry
    # then, and at the newest entry read since (the tail's progress, by the time its ids span)
    tail_ms: tuple[int, int] | None = None
    tail_read_ms: int = 0

    @property
    def progress(self) -> float | None:
        """Share of the history read (1.0 once caught up; None before the first read)."""
        if self.caught_up:
            return 1.0
        if self.tail_ms is not None:
            first, last = self.tail_ms
            return 0.999 if last <= first else max(0.0, min(0.999, (self.tail_read_ms - first) / (last - first)))
        if self.backlog_at_start is None:
            return None
        if self.backlog_at_start == 0:
            return 1.0
        return min(0.999, self.events_read / self.backlog_at_start)


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
                 backoff_max_s: float = keys.DEFAULT_BACKOFF_MAX_S,
                 resume: Callable[[], Mapping[str, str] | None] | None = None,
                 after_read: Callable[[Mapping[str, str]], None] | None = None,
                 changes: ChangeSignal | None = None) -> None:
        """``resume`` (called once, before the first read) may restore the sink from a snapshot
        and return the stream ids it covers: reading starts after them instead of at the start
        of the history. ``after_read`` is called with the applied ids after each read once caught
        up (in this thread, so the sink and the ids agree: periodic snapshots). ``changes`` is
        notified after each read that applied entries (the wall's push waits on it)."""
        self.connection = connection
        self.sink = sink
        self.positions_stream = positions_stream
        self.events_stream = events_stream
        self.deadletter = DeadLetter(connection, deadletter_stream)
        self.raw = raw_client(connection)
        self.count = count
        self.block_ms = block_ms
        self.position_lookback_s = position_lookback_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.resume = resume
        self.after_read = after_read
        self.status = ConsumerStatus()
        self._ids: dict[str, str] = {}
        self._unwritten: list[Rejection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up_event = threading.Event()
        self.changes = changes
        """Notified after each batch that read entries (the wall's push waits on it)."""

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
        resumed = self.resume() if self.resume is not None else None
        if resumed is not None:
            positions = resumed.get(self.positions_stream)
            if positions is None or _id(positions) < (since, 0):
                positions = f"{since}-0"
            self.status.resumed_from = dict(resumed)
            self.status.backlog_at_start = None
            newest = self.connection.xrevrange(self.events_stream, count=1)
            first = _id(resumed.get(self.events_stream, "0-0"))[0]
            newest_id = str(newest[0][0], "utf-8") if newest and isinstance(newest[0][0], bytes) else \
                (str(newest[0][0]) if newest else None)
            self.status.tail_ms = (first, _id(newest_id)[0] if newest_id else first)
            self.status.tail_read_ms = first
            return {self.events_stream: resumed.get(self.events_stream, "0-0"),
                    self.positions_stream: positions}
        self.status.backlog_at_start = int(self.connection.xlen(self.events_stream))
        return {self.events_stream: "0-0", self.positions_stream: f"{since}-0"}

    def _read(self, block_ms: int | None) -> tuple[Any, list[Rejection]]:
        """XREAD both streams; an entry that is not valid UTF-8 becomes a rejection, not a stall."""
        try:
            return self.connection.xread(self._ids, count=self.count, block=block_ms), []  # type: ignore[arg-type]
        except UnicodeDecodeError:
            pass  # one poison entry in the batch: read the same range as bytes, decode entry by entry
        reply: Any = self.raw.xread(self._ids, count=self.count)  # type: ignore[arg-type]
        decoded: list[tuple[str, list[tuple[str, dict[str, str] | None]]]] = []
        undecodable: list[Rejection] = []
        for raw_stream, entries in reply or []:
            stream = raw_stream.decode()
            kept: list[tuple[str, dict[str, str] | None]] = []
            for raw_id, raw_fields in entries:
                entry_id = raw_id.decode()
                try:
                    kept.append((entry_id, {k.decode(): v.decode() for k, v in raw_fields.items()}))
                except UnicodeDecodeError as exc:
                    bad = next((repr(k[:40]) for k, v in raw_fields.items() if not _utf8(k) or not _utf8(v)), "?")
                    reason = (f"field {bad} has a name or value that is not valid UTF-8 "
                              f"({exc.reason} at byte {exc.start})")
                    undecodable.append((stream, entry_id, raw_fields, reason))
                    kept.append((entry_id, None))  # keeps the batch's last id right
            decoded.append((stream, kept))
        self.status.undecodable += len(undecodable)
        return decoded, undecodable

    def poll(self, block_ms: int | None = None) -> int:
        """One XREAD of both streams, applied; return the number of entries read."""
        self._flush_deadletters()  # rejects left over from a lost connection go first
        if not self._ids:
            self._ids = self._initial_ids()
        reply, undecodable = self._read(block_ms)
        positions: list[Entry] = []
        events: list[Entry] = []
        last: dict[str, str] = {}
        full = False
        for stream, entries in reply or []:
            target = positions if stream == self.positions_stream else events
            for entry_id, fields in entries:
                if fields is not None:
                    target.append((stream, entry_id, fields))
            if entries:
                last[stream] = entries[-1][0]
            if len(entries) >= self.count:
                full = True
        clock_ms = None if full else self._redis_ms()
        rejected = undecodable + self.sink.apply_batch(positions, events, clock_ms)
        # The batch is applied: advance now so a failure below can never apply it twice.
        self._ids.update(last)
        if self.events_stream in last and self.status.tail_ms is not None:
            self.status.tail_read_ms = _id(last[self.events_stream])[0]
        self._unwritten.extend(rejected)
        self._flush_deadletters()
        n = sum(len(entries) for _, entries in reply or [])
        now = time.time()
        self.status.reads += 1
        self.status.entries += n
        self.status.events_read += sum(len(e) for s, e in reply or [] if s == self.events_stream)
        self.status.last_ok_at = now
        if n:
            self.status.last_applied_at = now
            if self.changes is not None:
                self.changes.notify()  # push streams send the change now, not at their next tick
        self.status.last_ids = dict(self._ids)
        self.status.connected = True
        if not full and not self.status.caught_up:
            self.status.caught_up = True
            self.caught_up_event.set()
            log.info("caught up with %s after %d entries", self.address, self.status.entries)
        return n

    def _flush_deadletters(self) -> None:
        if self._unwritten:
            new = self.deadletter.write(self._unwritten)
            self.status.deadlettered += len(new)
            by_reason = dict(self.status.deadletters_by_reason)  # replaced, never mutated: readers
            for reason in new:
                key = reason_class(reason)
                by_reason[key] = by_reason.get(key, 0) + 1
            self.status.deadletters_by_reason = by_reason
            self._unwritten = []

    def run(self) -> None:
        """Loop until :meth:`stop`; reconnects with capped exponential backoff."""
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            try:
                self.poll(self.block_ms if self.status.caught_up else None)
                delay = self.backoff_initial_s
                self.status.failing_since = None
                self.status.consecutive_failures = 0
                if self.after_read is not None and self.status.caught_up:
                    try:
                        self.after_read(dict(self._ids))
                    except Exception:  # a failed snapshot must not stop the reading
                        log.exception("after-read hook failed")
                continue
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
            self.status.consecutive_failures += 1
            if self.status.failing_since is None:
                self.status.failing_since = time.time()

    def start(self) -> threading.Thread:
        """Start the background thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="grid-consumer", daemon=True)
            self._thread.start()
        return self._thread

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def entries_behind(self, stream: str, cap: int = 1000) -> int:
        """Entries of ``stream`` after the last one applied, counted up to ``cap``."""
        mine = self.status.last_ids.get(stream)
        if mine is None:
            return min(cap, int(self.raw.xlen(stream)))
        return len(self.raw.xrange(stream, min=f"({mine}", max="+", count=cap) or [])

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Block until the history has been read once; True if it was."""
        return self.caught_up_event.wait(timeout)

"""Stream consumer: plain XREAD BLOCK on the positions and events streams, from the last id.

With ``shards`` (GRID_STREAM_SHARDS=street) it also reads one positions and one events stream
per street, and applies the events of all of them in one id order, as one stream would give them
(:mod:`data_feed.merge`); on a Redis Cluster, where one XREAD cannot cross slots, it reads each
street's pair (one slot, by its hash tag) with an XREAD of its own.

Every dashboard process reads every entry (no consumer groups): each one builds the same
state from the same history. One background thread per process; a lost connection is
caught at the loop boundary and retried with capped exponential backoff, resuming from the
last applied id, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
from redis.crc import key_slot

from data_feed import keys
from data_feed.changes import ChangeSignal
from data_feed.connection import bytes_client, describe, is_cluster
from data_feed.deadletter import DeadLetter, reason_class
from data_feed.merge import StreamMerge, entry_key

log = logging.getLogger(__name__)

Entry = tuple[str, str, Mapping[str, str]]
"""(stream name, entry id, fields) of one stream entry."""

Rejection = tuple[str, str, Mapping[Any, Any], str]
"""(stream name, entry id, fields, reason) of an entry to dead-letter."""


DEFAULT_CLUSTER_IDLE_MS = 50
"""On a Redis Cluster, how long the consumer waits after a read of every slot found nothing
(an XREAD BLOCK can wait on one slot only)."""


_id = entry_key


def _entry_key(entry: Entry) -> tuple[int, int]:
    return _id(entry[1])


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
                 changes: ChangeSignal | None = None,
                 shards: Sequence[str] = ()) -> None:
        """``resume`` (called once, before the first read) may restore the sink from a snapshot
        and return the stream ids it covers: reading starts after them instead of at the start
        of the history. ``after_read`` is called with the applied ids after each read once caught
        up (in this thread, so the sink and the ids agree: periodic snapshots). ``changes`` is
        notified after each read that applied entries (the wall's push waits on it). ``shards``
        (street ids) adds each street's streams (:func:`keys.shard_stream`) to the two base ones."""
        self.connection = connection
        self.sink = sink
        self.positions_stream = positions_stream
        self.events_stream = events_stream
        self.positions_streams = keys.streams_of(positions_stream, list(shards))
        self.events_streams = keys.streams_of(events_stream, list(shards))
        self._position_set = frozenset(self.positions_streams)
        self._events_set = frozenset(self.events_streams)
        self.cluster = is_cluster(connection)
        self._slots: list[list[str]] = self._slot_groups() if self.cluster else []
        self.deadletter = DeadLetter(connection, deadletter_stream)
        self._raw: redis.Redis | None = None
        self.count = count
        self.block_ms = block_ms
        self.position_lookback_s = position_lookback_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.resume = resume
        self.after_read = after_read
        self.status = ConsumerStatus()
        self._ids: dict[str, str] = {}  # the last id read of each stream
        # several events streams: applied in one id order; _merged_ids are the last applied of each
        self._merge = StreamMerge(self.events_streams) if len(self.events_streams) > 1 else None
        self._merged_ids: dict[str, str] = {}
        self._unwritten: list[Rejection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up_event = threading.Event()
        self.changes = changes
        """Notified after each batch that read entries (the wall's push waits on it)."""

    @property
    def address(self) -> str:
        """Printable address of the Redis being read (password redacted)."""
        return describe(self.connection)

    @property
    def raw(self) -> redis.Redis:
        """A client of the same Redis that returns bytes (for entries that are not UTF-8), opened once."""
        if self._raw is None:
            self._raw = bytes_client(self.connection)
        return self._raw

    @property
    def streams(self) -> tuple[str, ...]:
        """Every stream read: the events streams, then the positions streams."""
        return (*self.events_streams, *self.positions_streams)

    def _slot_groups(self) -> list[list[str]]:
        """The streams grouped by cluster slot (a street's two streams share one by their hash tag)."""
        groups: dict[int, list[str]] = {}
        for stream in self.streams:
            groups.setdefault(key_slot(stream.encode()), []).append(stream)
        return list(groups.values())

    def _redis_ms(self) -> int:
        """Redis server time in milliseconds (the clock stream ids are made from)."""
        server_s, server_us = self.connection.time()
        return int(server_s) * 1000 + int(server_us) // 1000

    def _initial_ids(self) -> dict[str, str]:
        since = max(0, self._redis_ms() - int(self.position_lookback_s * 1000))
        resumed = self.resume() if self.resume is not None else None
        if resumed is not None:
            self.status.resumed_from = dict(resumed)
            self.status.backlog_at_start = None
            ids = {stream: resumed.get(stream, "0-0") for stream in self.events_streams}
            for stream in self.positions_streams:
                mine = resumed.get(stream)
                ids[stream] = mine if mine is not None and _id(mine) >= (since, 0) else f"{since}-0"
            # the tail still to read, in event-stream milliseconds: /healthz reports progress through it
            first = min(_id(ids[stream])[0] for stream in self.events_streams)
            newest = first
            for stream in self.events_streams:
                top = self.connection.xrevrange(stream, count=1)
                if top:
                    raw_id = top[0][0]
                    newest = max(newest, _id(str(raw_id, "utf-8") if isinstance(raw_id, bytes) else str(raw_id))[0])
            self.status.tail_ms = (first, newest)
            self.status.tail_read_ms = first
            return ids
        self.status.backlog_at_start = sum(int(self.connection.xlen(s)) for s in self.events_streams)
        return {**dict.fromkeys(self.events_streams, "0-0"), **dict.fromkeys(self.positions_streams, f"{since}-0")}

    def _read(self, ids: Mapping[str, str], block_ms: int | None) -> tuple[Any, list[Rejection]]:
        """XREAD the streams of ``ids``; an entry that is not valid UTF-8 becomes a rejection, not a stall."""
        if self.cluster:
            return self._read_slots(ids, block_ms)
        try:
            return self.connection.xread(ids, count=self.count, block=block_ms), []  # type: ignore[arg-type]
        except UnicodeDecodeError:
            pass  # one poison entry in the batch: read the same range as bytes, decode entry by entry
        return self._read_bytes(ids)

    def _read_slots(self, wanted: Mapping[str, str], block_ms: int | None) -> tuple[Any, list[Rejection]]:
        """One XREAD per cluster slot (none may cross slots); nothing anywhere waits a short while."""
        reply: list[Any] = []
        undecodable: list[Rejection] = []
        for group in self._slots:
            ids = {stream: wanted[stream] for stream in group if stream in wanted}
            if not ids:
                continue
            try:
                part = self.connection.xread(ids, count=self.count)  # type: ignore[arg-type]
            except UnicodeDecodeError:
                part, bad = self._read_bytes(ids)
                undecodable.extend(bad)
            reply.extend(part or [])
        if not reply and block_ms:
            self._stop.wait(min(block_ms, DEFAULT_CLUSTER_IDLE_MS) / 1000.0)
        return reply, undecodable

    def _read_bytes(self, ids: Mapping[str, str]) -> tuple[Any, list[Rejection]]:
        """The same read as bytes, decoded entry by entry: the ones that are not UTF-8 are rejections."""
        reply: Any = self.raw.xread(ids, count=self.count)  # type: ignore[arg-type]
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

    def applied_ids(self) -> dict[str, str]:
        """The last id applied of each stream (what a snapshot covers)."""
        return {**self._ids, **self._merged_ids} if self._merge is not None else dict(self._ids)

    def poll(self, block_ms: int | None = None) -> int:
        """One XREAD of every stream, applied; return the number of entries applied."""
        self._flush_deadletters()  # rejects left over from a lost connection go first
        merge = self._merge
        if not self._ids:
            self._ids = self._initial_ids()
            self._merged_ids = {s: self._ids[s] for s in self.events_streams} if merge is not None else {}
        ids = self._ids if merge is None else {s: i for s, i in self._ids.items() if merge.wants(s)}
        reply, undecodable = self._read(ids, block_ms if merge is None or not merge.more else None)
        positions: list[Entry] = []
        events: list[Entry] = []
        last: dict[str, str] = {}
        full = False
        sources = [0, 0]  # streams that gave positions, events: merged ones are put in id order
        n = 0
        for stream, entries in reply or []:
            is_position = stream in self._position_set
            if merge is not None and not is_position:
                merge.add(stream, entries, self.count)
                if entries:
                    self._ids[stream] = entries[-1][0]  # read, held until the merge applies it
                continue
            target = positions if is_position else events
            for entry_id, fields in entries:
                if fields is not None:
                    target.append((stream, entry_id, fields))
            if entries:
                last[stream] = entries[-1][0]
                sources[0 if is_position else 1] += 1
                n += len(entries)
            if len(entries) >= self.count:
                full = True
        taken: dict[str, int] = {}
        if merge is not None:
            merge.read_empty(ids.keys() - {stream for stream, _ in reply or []})
            ready, taken = merge.ready(self._ids)
            events = [entry for entry in ready if entry[2] is not None]
            merged_last = {stream: entry_id for stream, entry_id, _ in ready}
            full = full or merge.more
            n += len(ready)
        if sources[0] > 1:
            positions.sort(key=_entry_key)
        if sources[1] > 1:
            events.sort(key=_entry_key)
        clock_ms = None if full else self._redis_ms()
        rejected = undecodable + self.sink.apply_batch(positions, events, clock_ms)
        # The batch is applied: advance now so a failure below can never apply it twice.
        self._ids.update(last)
        if merge is not None:
            merge.commit(taken)
            self._merged_ids.update(merged_last)
        if self.status.tail_ms is not None:
            read = [_id(last[stream])[0] for stream in self.events_streams if stream in last]
            if read:
                self.status.tail_read_ms = max(self.status.tail_read_ms, *read)
        self._unwritten.extend(rejected)
        self._flush_deadletters()
        now = time.time()
        self.status.reads += 1
        self.status.entries += n
        self.status.events_read += (sum(taken.values()) if merge is not None else
                                    sum(len(e) for s, e in reply or [] if s in self._events_set))
        self.status.last_ok_at = now
        if n:
            self.status.last_applied_at = now
            if self.changes is not None:
                self.changes.notify()  # push streams send the change now, not at their next tick
        self.status.last_ids = self.applied_ids()
        self.status.connected = True
        if not full and not self.status.caught_up:
            self.status.caught_up = True
            # The history just read lives as long as the process: take it out of the cyclic
            # collector's reach, whose full passes over it paused every push stream ~150 ms at
            # the district (docs/performance.md, "Wall push by default"). Garbage first.
            gc.collect()
            gc.freeze()
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
                        self.after_read(self.applied_ids())
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

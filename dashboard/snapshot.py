"""Snapshots of the state, so a start reads only the streams' tail instead of the whole history.

A snapshot is one file in ``GRID_DATA_DIR/snapshots/``: a header, a JSON description (format,
a hash of the code and of the settings it was built with, the stream ids it covers) and the
pickled parts of the :class:`~dashboard.state.State`, all signed with HMAC-SHA256 under a key
derived from the phone salt (kept in Redis, shared by every process of one deployment) and
``GRID_SECRET_KEY``. The signature is checked before anything is unpickled, so a tampered or
foreign file is never loaded; a file built by other code or other settings is refused too.
Whatever is refused, the caller replays the history in full (with a warning).

Writes are atomic (a temporary file, then a rename); the newest :data:`KEEP` files are kept.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from dashboard.config import Config
from dashboard.state import State
from data_feed import keys

log = logging.getLogger(__name__)

FORMAT = 2
"""Version of the file layout; bumped when it changes (2: the tallies and retired ids in compact arrays)."""

MAGIC = b"GRIDSNAP"
KEEP = 2
"""Snapshots kept in the folder (the newest)."""

SUFFIX = ".snap"

_CODE = ("state", "ingestion", "registry", "tracks", "lifecycle", "tallies", "deadlines", "cases",
         "periods", "status", "snapshot", "retired")
"""Modules whose source defines what a snapshot holds: any change to one refuses old snapshots."""

_PARTS = ("version", "last_event_at", "event_time", "history_time", "_pruned_day", "quality",
          "ingestion", "registry", "book", "rounds")
"""The state's attributes a snapshot holds (the lock, config and reference are the process's)."""


class SnapshotRefused(Exception):
    """A snapshot that must not be loaded; the message says why (no data in it)."""


@dataclass(frozen=True)
class Saved:
    """What one save cost."""

    path: Path
    size: int
    lock_s: float  # ingestion paused (the state's lock held) while pickling
    write_s: float


def _code_hash() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _CODE:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()[:32]


def _settings_hash(config: Config, state: State) -> str:
    """The settings and reference data the parts were built with."""
    fields = (config.tz.key, config.round_split.isoformat(), config.late_window_s, config.dedupe_window_s,
              config.max_future_s, config.max_age_days, config.case_retention_days, config.history_days,
              sorted(config.default_limit_hours.items()), config.near_deadline_fraction,
              config.track_days, config.track_interval_s, config.events_stream, config.positions_stream,
              config.stream_shards)
    ref = state.reference
    digest = hashlib.sha256(repr(fields).encode())
    digest.update(pickle.dumps((ref.geojson, sorted(ref.categories.items()), sorted(ref.units.items()),
                                sorted(ref.subscriptions.items())), protocol=5))
    return digest.hexdigest()[:32]


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _first_id(reply: Any) -> str | None:
    if not reply:
        return None
    entry_id = reply[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


class Snapshots:
    """The snapshot folder of one process, with its signing key and compatibility hashes."""

    def __init__(self, folder: Path, config: Config, state: State, salt: bytes) -> None:
        self.folder = folder
        self.config = config
        self.key = hashlib.sha256(b"grid-snapshot-v1\0" + salt + b"\0" + config.secret_key.encode()).digest()
        self.code = _code_hash()
        self.settings = _settings_hash(config, state)
        self.events_streams = keys.streams_of(config.events_stream, state.reference.stream_shards(config.stream_shards))

    # ------------------------------------------------------------------ save
    def save(self, state: State, ids: Mapping[str, str]) -> Saved:
        """Write a snapshot of ``state`` covering the stream ``ids`` (call from the thread that
        applies batches, so the ids and the state agree); keep the newest :data:`KEEP`."""
        started = time.perf_counter()
        with state.lock:
            meta = self._meta(state, ids)
            payload = pickle.dumps({name: getattr(state, name) for name in _PARTS}, protocol=5)
        locked = time.perf_counter() - started
        path, size = self._write(meta, payload)
        del payload
        saved = Saved(path, size, locked, time.perf_counter() - started - locked)
        log.info("snapshot %s: %.1f MB, ingestion paused %.0f ms, written in %.0f ms", path.name,
                 size / 1e6, saved.lock_s * 1000, saved.write_s * 1000)
        return saved

    def save_in_child(self, state: State, ids: Mapping[str, str]) -> tuple[int, float]:
        """Fork (under the lock, so the child's copy-on-write view of the state is consistent) a
        child that pickles and writes the snapshot, as Redis's BGSAVE does; return its pid and
        how long the lock was held. The caller reaps the child (:meth:`reap`)."""
        started = time.perf_counter()
        with state.lock:
            meta = self._meta(state, ids)
            pid = os.fork()
            if pid == 0:  # the child: no logging, no Redis, no locks; only pickle, write, exit
                code = 1
                try:
                    gc.disable()  # no finalizer of a shared object (a socket, say) runs in the child
                    self._write(meta, pickle.dumps({name: getattr(state, name) for name in _PARTS}, protocol=5))
                    code = 0
                finally:
                    os._exit(code)
        return pid, time.perf_counter() - started

    @staticmethod
    def reap(pid: int, started: float) -> bool:
        """Wait for a snapshot child; log and return whether it wrote its file."""
        _, status = os.waitpid(pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0
        if ok:
            log.info("snapshot written by child %d in %.0f ms", pid, (time.perf_counter() - started) * 1000)
        else:
            log.warning("snapshot child %d failed (exit status %d): no new snapshot", pid, status)
        return ok

    def _meta(self, state: State, ids: Mapping[str, str]) -> bytes:
        return json.dumps({"format": FORMAT, "code": self.code, "settings": self.settings,
                           "ids": dict(ids), "saved_at": time.time(),
                           "history_time": state.history_time}).encode()

    def _write(self, meta: bytes, payload: bytes) -> tuple[Path, int]:
        """Sign and write atomically (a temporary file, fsync, rename); drop all but the newest."""
        head = len(meta).to_bytes(4, "big")
        mac = hmac.new(self.key, head + meta, hashlib.sha256)
        mac.update(payload)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}{SUFFIX}"
        path = self.folder / name
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "wb") as out:
            out.write(MAGIC + mac.digest() + head + meta)
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        for old in self.files()[KEEP:]:
            old.unlink(missing_ok=True)
        return path, len(payload) + len(meta)

    def files(self) -> list[Path]:
        """Snapshot files, newest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(f"*{SUFFIX}"), reverse=True)

    # ------------------------------------------------------------------ load
    def read(self, path: Path) -> tuple[dict[str, Any], memoryview]:
        """The checked description and payload of one file; :class:`SnapshotRefused` if it is
        corrupt, foreign (signed with another key) or incompatible."""
        data = path.read_bytes()
        fixed = len(MAGIC) + 32 + 4
        if len(data) < fixed or not data.startswith(MAGIC):
            raise SnapshotRefused("not a snapshot file")
        mac = data[len(MAGIC):len(MAGIC) + 32]
        size = int.from_bytes(data[fixed - 4:fixed], "big")
        body = memoryview(data)[fixed - 4:]
        if not hmac.compare_digest(mac, hmac.new(self.key, body, hashlib.sha256).digest()):
            raise SnapshotRefused("bad signature (corrupt, or written by another deployment)")
        meta = json.loads(bytes(body[4:4 + size]))
        if meta.get("format") != FORMAT:
            raise SnapshotRefused(f"format {meta.get('format')} is not {FORMAT}")
        if meta.get("code") != self.code:
            raise SnapshotRefused("written by another version of the code")
        if meta.get("settings") != self.settings:
            raise SnapshotRefused("written with other settings or reference data")
        return meta, body[4 + size:]  # a view: the file's bytes are not copied again

    def check_streams(self, connection: redis.Redis, ids: Mapping[str, str]) -> None:
        """Refuse ids an events stream can no longer continue from (trimmed past them, or a new stream)."""
        if ids.get(self.config.events_stream) is None:
            raise SnapshotRefused("no id for the events stream")
        for stream in self.events_streams:
            self._check_stream(connection, stream, ids.get(stream, "0-0"))

    @staticmethod
    def _check_stream(connection: redis.Redis, stream: str, mine: str) -> None:
        if _id(mine) == (0, 0):
            return
        first = _first_id(connection.xrange(stream, count=1))
        if first is None:
            raise SnapshotRefused(f"{stream} is empty (a new or deleted stream)")
        if _id(mine) < _id(first):
            raise SnapshotRefused(f"{stream} was trimmed past the snapshot ({first} > {mine})")
        last = _first_id(connection.xrevrange(stream, count=1))
        if last is not None and _id(mine) > _id(last):
            raise SnapshotRefused(f"the snapshot is newer than {stream} (another stream)")

    def resume(self, state: State, connection: redis.Redis) -> dict[str, str] | None:
        """Load the newest valid snapshot into ``state`` and return the stream ids to read
        after; None (with a warning) to replay the history in full."""
        files = self.files()
        for path in files:
            started = time.perf_counter()
            try:
                meta, payload = self.read(path)
                ids = {str(k): str(v) for k, v in meta["ids"].items()}
                self.check_streams(connection, ids)
                enabled = gc.isenabled()
                gc.disable()  # loading makes millions of objects: no collection halfway
                try:
                    parts = pickle.loads(payload)
                    # and none after: the loaded state is long-lived; left in the young generation,
                    # the next collections would walk all of it (~1 s at 30 days, the tail's first
                    # allocations paying for it). Frozen, the cyclic collector skips it (refcounting
                    # still frees what the state drops).
                    gc.freeze()
                finally:
                    if enabled:
                        gc.enable()
                del payload
            except (redis.ConnectionError, redis.TimeoutError):
                raise  # the consumer retries the start (with this snapshot) once Redis answers
            except SnapshotRefused as exc:
                log.warning("snapshot %s refused: %s; trying an older one or reading the history in full",
                            path.name, exc)
                continue
            except Exception as exc:  # an unreadable file must never stop the start
                log.warning("snapshot %s unreadable (%s); trying an older one or reading the history "
                            "in full", path.name, type(exc).__name__)
                continue
            restore(state, parts)
            log.info("started from snapshot %s (%.0f ms); reading the streams after %s", path.name,
                     (time.perf_counter() - started) * 1000, ids)
            return ids
        if files:
            log.warning("no valid snapshot in %s: reading the history in full", self.folder)
        return None


def restore(state: State, parts: Mapping[str, Any]) -> None:
    """Put a snapshot's parts into ``state``, with this process's reference data and salt."""
    with state.lock:
        salt = state.book.salt
        for name in _PARTS:
            setattr(state, name, parts[name])
        state.registry.reference = state.reference
        state.book.reference = state.reference
        state.book.registry = state.registry
        state.book.salt = salt
        state.book._handlers = state.book.handlers()


class Periodic:
    """Saves a snapshot every ``interval_s`` once caught up; called by the consumer thread after
    each read (so the ids it is given are exactly those the state has applied)."""

    def __init__(self, snapshots: Snapshots, state: State, interval_s: float) -> None:
        self.snapshots = snapshots
        self.state = state
        self.interval_s = interval_s
        self.last_at: float | None = None  # the first save comes one interval after catching up
        self.last: Saved | None = None  # the last save made in this process's thread
        self.fork = hasattr(os, "fork")  # periodic saves fork a child that pickles and writes
        self.child: threading.Thread | None = None  # reaps the last child
        self.last_fork_s: float | None = None  # how long the last fork held the lock

    def __call__(self, ids: Mapping[str, str]) -> None:
        now = time.monotonic()
        if self.last_at is None:
            self.last_at = now
            return
        if now - self.last_at >= self.interval_s and not (self.child and self.child.is_alive()):
            self.last_at = now
            if self.fork:
                self.save_in_background(ids)
            else:
                self.save(ids)

    def save_in_background(self, ids: Mapping[str, str]) -> None:
        """Fork a child that writes the snapshot; a thread reaps it (the lock is held only for the fork)."""
        try:
            pid, self.last_fork_s = self.snapshots.save_in_child(self.state, ids)
        except OSError as exc:  # no memory to fork, say: save here instead
            log.warning("snapshot child not started (%s); saving in this thread", exc)
            self.save(ids)
            return
        self.child = threading.Thread(target=self.snapshots.reap, args=(pid, time.perf_counter()),
                                      name="grid-snapshot-reaper", daemon=True)
        self.child.start()

    def save(self, ids: Mapping[str, str]) -> Saved | None:
        """Save now, in this thread; a failure is logged (the process goes on without a fresh snapshot)."""
        try:
            self.last = self.snapshots.save(self.state, ids)
        except OSError as exc:
            log.warning("snapshot not written to %s: %s", self.snapshots.folder, exc)
            return None
        return self.last

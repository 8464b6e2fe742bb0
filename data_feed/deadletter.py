"""Dead-letter stream writer: every rejected entry is written exactly once.

A Lua script marks ``<stream>/<entry_id>`` in a hash (HSETNX) and XADDs only when the mark
is new, atomically: several dashboard processes, or one restarted process replaying its
history, all reject the same entry but only the first write lands. On a Redis Cluster the
hash is named into the stream's slot (:func:`keys.slot_safe_index`) and each script runs on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from data_feed.connection import is_cluster
from data_feed.keys import DEADLETTER_INDEX, DEADLETTER_STREAM, slot_safe_index

log = logging.getLogger(__name__)

RESERVED = ("error", "stream", "entry_id")
"""Dead-letter fields that describe the rejection; original fields with these names get an
``orig.`` prefix so nothing is lost."""

_RESERVED_BYTES = frozenset(name.encode() for name in RESERVED)

_SCRIPT = """
if redis.call('HSETNX', KEYS[2], ARGV[1], '1') == 1 then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
end
return false
"""


MAX_FIELDS = 3000
"""Original fields copied into one dead letter; the rest are counted in ``dl.omitted_fields``
(the script's XADD takes its arguments from a Lua stack of about 8,000 slots)."""

MAX_VALUE_BYTES = 16 * 1024
"""Longest original value copied whole; longer ones are cut and marked."""

MAX_ERROR_CHARS = 2000
"""Longest reason stored; reasons quote values, which can be huge."""

LOG_CHARS = 300
"""Longest reason written to the log."""

_MARK = "…[cut: {} bytes in all]"


def _cap(value: str | bytes) -> str | bytes:
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) <= MAX_VALUE_BYTES:
        return value
    head = raw[:MAX_VALUE_BYTES]
    mark = _MARK.format(len(raw)).encode()
    return head.decode(errors="ignore") + mark.decode() if isinstance(value, str) else head + mark


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + f"…[{len(text)} chars]"


def deadletter_fields(stream: str, entry_id: str, fields: Mapping[Any, Any],
                      error: str) -> dict[Any, Any]:
    """The flat map written to the dead-letter stream for one rejected entry (bounded in size)."""
    out: dict[Any, Any] = {"error": shorten(error, MAX_ERROR_CHARS), "stream": stream, "entry_id": entry_id}
    omitted = 0
    for key, value in fields.items():
        if len(out) - 3 >= MAX_FIELDS:
            omitted += 1
            continue
        name = key.decode(errors="replace") if isinstance(key, bytes) and key in _RESERVED_BYTES else key
        if name in RESERVED:
            key = f"orig.{name}"
        out[_cap(key)] = _cap(value)
    if omitted:
        out["dl.omitted_fields"] = str(omitted)
    return out


class DeadLetter:
    """Writes rejected entries to the dead-letter stream, once each."""

    def __init__(self, connection: redis.Redis, stream: str = DEADLETTER_STREAM,
                 index: str | None = None) -> None:
        self.connection = connection
        self.stream = stream
        self.cluster = is_cluster(connection)
        self.index = index or (slot_safe_index(stream) if self.cluster else DEADLETTER_INDEX)
        self._script = connection.register_script(_SCRIPT)

    def write(self, rejections: Iterable[tuple[str, str, Mapping[Any, Any], str]]) -> list[str]:
        """Dead-letter each (stream, entry_id, fields, error); return the reasons of the new ones.

        Each new dead letter is logged once, when it is written (a replay that meets the same
        entry again writes and logs nothing), with the reason cut short.
        """
        pipe = None if self.cluster else self.connection.pipeline(transaction=False)
        written = []
        results: list[Any] = []
        for stream, entry_id, fields, error in rejections:
            flat = deadletter_fields(stream, entry_id, fields, error)
            args: list[Any] = [f"{stream}/{entry_id}"]
            for key, value in flat.items():
                args.extend((key, value))
            # a cluster pipeline cannot load a missing script halfway: there, one call each (rare)
            results.append(self._script(keys=[self.stream, self.index], args=args, client=pipe))
            written.append((stream, entry_id, error))
        if not written:
            return []
        if pipe is not None:
            results = pipe.execute()
        new = []
        for (stream, entry_id, error), result in zip(written, results, strict=True):
            if result:
                new.append(error)
                # The reason never quotes personal fields, so it is safe to log.
                log.warning("dead-lettered %s %s: %s", stream, entry_id, shorten(error, LOG_CHARS))
        return new


REASON_CLASSES = (
    ("not valid UTF-8", "not_utf8"),
    ("missing required field", "missing_field"),
    ("is not a number", "not_a_number"),
    ("out of range", "out_of_range"),
    ("GRID_MAX_FUTURE_S", "future_time"),
    ("GRID_MAX_AGE_DAYS", "too_old"),
    ("timestamp", "bad_time"),
    ("has no UTC offset", "bad_time"),
    ("late window", "late"),
    ("already reported", "second_report"),
    ("no longer kept", "retired_case"),
    ("internal error", "internal_error"),
    ("is not one of", "bad_enum"),
    ("event type", "bad_type"),
    ("belongs on the", "wrong_stream"),
    ("does not belong on", "wrong_stream"),
    ("contract version", "bad_version"),
)
"""(text in a reason, class): a small fixed set of labels for metrics (reasons quote values)."""


def reason_class(reason: str) -> str:
    """The class of a dead-letter reason, for a metric label."""
    for text, name in REASON_CLASSES:
        if text in reason:
            return name
    return "other"

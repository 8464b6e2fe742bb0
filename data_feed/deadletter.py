"""Dead-letter stream writer: every rejected entry is written exactly once.

A Lua script marks ``<stream>/<entry_id>`` in a hash (HSETNX) and XADDs only when the mark
is new, atomically: several dashboard processes, or one restarted process replaying its
history, all reject the same entry but only the first write lands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import redis

from data_feed.keys import DEADLETTER_INDEX, DEADLETTER_STREAM

log = logging.getLogger(__name__)

RESERVED = ("error", "stream", "entry_id")
"""Dead-letter fields that describe the rejection; original fields with these names get an
``orig.`` prefix so nothing is lost."""

_SCRIPT = """
if redis.call('HSETNX', KEYS[2], ARGV[1], '1') == 1 then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
end
return false
"""


def deadletter_fields(stream: str, entry_id: str, fields: Mapping[str, str], error: str) -> dict[str, str]:
    """The flat map written to the dead-letter stream for one rejected entry."""
    out = {"error": error, "stream": stream, "entry_id": entry_id}
    for key, value in fields.items():
        out[f"orig.{key}" if key in RESERVED else key] = value
    return out


class DeadLetter:
    """Writes rejected entries to the dead-letter stream, once each."""

    def __init__(self, connection: redis.Redis, stream: str = DEADLETTER_STREAM,
                 index: str = DEADLETTER_INDEX) -> None:
        self.connection = connection
        self.stream = stream
        self.index = index
        self._script = connection.register_script(_SCRIPT)

    def write(self, rejections: Iterable[tuple[str, str, Mapping[str, str], str]]) -> int:
        """Dead-letter each (stream, entry_id, fields, error); return how many were new."""
        pipe = self.connection.pipeline(transaction=False)
        count = 0
        for stream, entry_id, fields, error in rejections:
            flat = deadletter_fields(stream, entry_id, fields, error)
            args: list[str] = [f"{stream}/{entry_id}"]
            for key, value in flat.items():
                args.extend((key, value))
            self._script(keys=[self.stream, self.index], args=args, client=pipe)
            count += 1
            # The reason never quotes personal fields, so it is safe to log.
            log.warning("rejected %s %s: %s", stream, entry_id, error)
        if not count:
            return 0
        results = pipe.execute()
        return sum(1 for r in results if r)

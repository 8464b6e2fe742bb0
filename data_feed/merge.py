"""Several streams of one kind read in a single id order across reads (a k-way merge).

With events split by street, one XREAD returns up to COUNT entries of each street's stream, and
their id ranges differ: a busy street's batch may end hours of ids before a quiet one's. Applying
each read as it comes would apply entries in a different order than one stream holding them all
would. :class:`StreamMerge` holds back what lies beyond the point every stream has been read to
(the lowest last id among the streams whose read came back full: they may have more before it),
so entries are applied in id order, the order of one stream, and reads only the streams whose
held entries are used up (memory stays at about COUNT entries a stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Held = tuple[str, Any]
"""(entry id, fields) of an entry read and not applied yet (fields None: undecodable, rejected)."""


def entry_key(entry_id: str) -> tuple[int, int]:
    """An entry id as a sortable (ms, seq) pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class StreamMerge:
    """The held entries, and which streams' last read came back full, of a set of streams."""

    def __init__(self, streams: Iterable[str]) -> None:
        self.held: dict[str, list[Held]] = {stream: [] for stream in streams}
        self.full: dict[str, bool] = dict.fromkeys(self.held, False)

    def wants(self, stream: str) -> bool:
        """Whether ``stream`` is to be read now (True for a stream not merged here)."""
        held = self.held.get(stream)
        return held is None or not held

    def add(self, stream: str, entries: list[Held], count: int) -> None:
        """Take one read's entries of ``stream`` (a read of ``count`` entries may have left more)."""
        self.held[stream].extend(entries)
        self.full[stream] = len(entries) >= count

    def read_empty(self, streams: Iterable[str]) -> None:
        """Streams read that gave nothing: they hold nothing back any more."""
        for stream in streams:
            if stream in self.full:
                self.full[stream] = False

    @property
    def more(self) -> bool:
        """Whether a stream may have entries not read yet (some read came back full)."""
        return any(self.full.values())

    def ready(self, frontier: Mapping[str, str]) -> tuple[list[tuple[str, str, Any]], dict[str, int]]:
        """Entries that can be applied now, in id order, and how many of each stream's held ones
        they are (for :meth:`commit`); ``frontier`` holds each stream's last id read."""
        cutoffs = [entry_key(frontier[stream]) for stream, full in self.full.items() if full]
        cutoff = min(cutoffs) if cutoffs else None
        out: list[tuple[str, str, Any]] = []
        taken: dict[str, int] = {}
        for stream, held in self.held.items():
            k = len(held)
            if cutoff is not None:
                while k and entry_key(held[k - 1][0]) > cutoff:
                    k -= 1
            if k:
                taken[stream] = k
                out.extend((stream, entry_id, fields) for entry_id, fields in held[:k])
        if len(taken) > 1:
            out.sort(key=lambda entry: entry_key(entry[1]))
        return out, taken

    def commit(self, taken: Mapping[str, int]) -> None:
        """Forget the entries :meth:`ready` gave, once they are applied."""
        for stream, k in taken.items():
            del self.held[stream][:k]

"""Ids of retired cases, kept compactly (64-bit hashes in sorted arrays) for the history window.

A retired case's record is gone (see :mod:`dashboard.lifecycle`); its id is kept only so that a
second report or a late event for it is rejected with a reason. A year holds ~330k of them: as
strings in a dict they took ~110 bytes each; here an id is its 64-bit BLAKE2b hash (8 bytes)
and the district day of its report (4 bytes). Two different ids share a hash with probability
~n²/2⁶⁵ (about 3·10⁻⁹ for a year of the district); that would make a new case look retired.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from datetime import date

MERGE_AT = 20_000
"""Ids retired since the last merge kept in a set; beyond that they join the sorted arrays."""


def _hash(case_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(case_id.encode(), digest_size=8).digest(), "big")


class RetiredIds:
    """A set of case ids, each with the day of its report (to forget it with the history)."""

    def __init__(self, merge_at: int = MERGE_AT) -> None:
        self.merge_at = merge_at
        self.hashes: array[int] = array("Q")  # sorted
        self.days: array[int] = array("I")  # ordinal of each hash's report day
        self.recent: dict[int, int] = {}  # hash -> day ordinal, not merged yet

    def add(self, case_id: str, day: date) -> None:
        """Remember ``case_id`` (reported on ``day``)."""
        self.recent[_hash(case_id)] = day.toordinal()
        if len(self.recent) >= self.merge_at:
            self._merge()

    def __contains__(self, case_id: object) -> bool:
        if not isinstance(case_id, str):
            return False
        h = _hash(case_id)
        if h in self.recent:
            return True
        j = bisect_left(self.hashes, h)
        return j < len(self.hashes) and self.hashes[j] == h

    def __len__(self) -> int:
        return len(self.hashes) + len(self.recent)

    def _merge(self) -> None:
        """Move the recent ids into the sorted arrays (slices copied at C speed, no big list)."""
        hashes, days = self.hashes, self.days
        out_h, out_d = array("Q"), array("I")
        prev = 0
        for h, d in sorted(self.recent.items()):
            j = bisect_left(hashes, h, prev)
            out_h.extend(hashes[prev:j])
            out_d.extend(days[prev:j])
            out_h.append(h)
            out_d.append(d)
            prev = j
        out_h.extend(hashes[prev:])
        out_d.extend(days[prev:])
        self.hashes, self.days, self.recent = out_h, out_d, {}

    def prune(self, before: date) -> None:
        """Forget the ids of cases reported before ``before``."""
        limit = before.toordinal()
        self.recent = {h: d for h, d in self.recent.items() if d >= limit}
        if self.days and min(self.days) < limit:
            kept = [(h, d) for h, d in zip(self.hashes, self.days, strict=True) if d >= limit]
            self.hashes = array("Q", (h for h, _ in kept))
            self.days = array("I", (d for _, d in kept))

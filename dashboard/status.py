"""Checkpoint status: the one list of names and ranks shared by state, views, layouts and browser."""

from __future__ import annotations

from enum import Enum


class CheckpointStatus(str, Enum):
    """What a checkpoint's marker says, declared from best to worst (the order is the rank)."""

    OK = "ok"
    """Inspected this round, no open case."""
    PENDING = "pending"
    """Not yet inspected this round, no open case."""
    OPEN = "open"
    """An open case within its time limit."""
    OVERDUE = "overdue"
    """An open case past its deadline."""
    HAZARD = "hazard"
    """An open hazard case (whatever its deadline)."""

    @property
    def rank(self) -> int:
        """0 for ok up to 4 for hazard: a cluster shows the highest rank inside it."""
        return STATUS_RANK[self.value]


STATUS_ORDER: tuple[CheckpointStatus, ...] = tuple(CheckpointStatus)
"""Statuses from best to worst; the index is the rank sent to the browser."""

STATUS_RANK: dict[str, int] = {status.value: rank for rank, status in enumerate(STATUS_ORDER)}
"""Status value → rank (plain strings and enum members both look up: a str enum hashes as its value)."""


def rank_of(status: str) -> int:
    """Rank of a status given as a member or its value (unknown → pending's rank)."""
    return STATUS_RANK.get(status, STATUS_RANK[CheckpointStatus.PENDING.value])

"""Producer-side routing of events to street shards (GRID_STREAM_SHARDS=street), as docs/contract.md says.

Every event of one street goes to that street's streams (``grid:{<street_id>}:events``, positions to
``grid:{<street_id>}:positions``), so a case's events stay in order in one stream. An event whose
street the producer cannot tell goes to the base stream, which the dashboard reads as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import redis

from data_feed.keys import DEFAULT_PUBLISH_BATCH, EVENTS_STREAM, POSITIONS_STREAM, shard_stream
from data_feed.publish import POSITION_TYPE, publish_many

Locate = Callable[[float, float], str | None]
"""(lat, lon) → street id from the district's boundaries (None outside them)."""


class StreetRouter:
    """Remembers which street each checkpoint, case and warden belongs to, and names each event's stream."""

    def __init__(self, positions_stream: str = POSITIONS_STREAM, events_stream: str = EVENTS_STREAM,
                 locate: Locate | None = None) -> None:
        self.positions_stream = positions_stream
        self.events_stream = events_stream
        self.locate = locate
        self.checkpoints: dict[str, str] = {}
        self.cases: dict[str, str] = {}
        self.wardens: dict[str, str] = {}

    def street_of(self, event: Mapping[str, str]) -> str | None:
        """The street of ``event`` (learning it from registrations and reports), or None."""
        kind = event.get("type", "")
        street = event.get("street_id") or self.checkpoints.get(event.get("checkpoint_id", ""))
        if not street and kind in ("checkpoint.registered", "case.reported") and self.locate is not None:
            try:
                street = self.locate(float(event["lat"]), float(event["lon"]))
            except (KeyError, ValueError):
                street = None
        if kind == "checkpoint.registered" and street:
            self.checkpoints[event["checkpoint_id"]] = street
            if event.get("warden_id"):
                self.wardens.setdefault(event["warden_id"], street)
        elif kind == "case.reported" and street:
            self.cases[event["case_id"]] = street
        elif kind.startswith("case.") and "case_id" in event:
            street = self.cases.get(event["case_id"])
        elif kind == POSITION_TYPE:
            street = self.wardens.get(event.get("warden_id", ""))
        return street or None

    def stream_for(self, event: Mapping[str, str]) -> str:
        """The stream ``event`` goes to: its street's, else the base one."""
        base = self.positions_stream if event.get("type") == POSITION_TYPE else self.events_stream
        street = self.street_of(event)
        return shard_stream(base, street) if street else base


def publish_routed(connection: redis.Redis, router: StreetRouter, events: Iterable[Mapping[str, str]],
                   batch: int = DEFAULT_PUBLISH_BATCH) -> dict[str, int]:
    """XADD events to their street's streams in pipelines (works on a Redis Cluster); return counts per stream."""
    counts: dict[str, int] = {}

    def route(event: Mapping[str, str]) -> str:
        stream = router.stream_for(event)
        counts[stream] = counts.get(stream, 0) + 1
        return stream

    publish_many(connection, events, batch=batch, route=route)
    return counts

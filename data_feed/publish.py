"""Publishing helper: write contract events with plain XADD, exactly as outside producers do."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import redis

from data_feed.keys import DEFAULT_PUBLISH_BATCH, EVENTS_STREAM, POSITIONS_STREAM

POSITION_TYPE = "warden.position"

Route = Callable[[Mapping[str, str]], str]
"""Names the stream of an event (e.g. its street's: :class:`data_feed.routing.StreetRouter`)."""


def stream_for(event: Mapping[str, str], positions_stream: str = POSITIONS_STREAM,
               events_stream: str = EVENTS_STREAM) -> str:
    """Return the stream an event belongs on: positions go to their own stream."""
    return positions_stream if event.get("type") == POSITION_TYPE else events_stream


def publish(connection: redis.Redis, event: Mapping[str, str], *,
            positions_stream: str = POSITIONS_STREAM, events_stream: str = EVENTS_STREAM) -> str:
    """XADD one event (a flat map of strings) to its stream and return the entry id."""
    stream = stream_for(event, positions_stream, events_stream)
    return str(connection.xadd(stream, dict(event)))  # type: ignore[arg-type]


def publish_many(connection: redis.Redis, events: Iterable[Mapping[str, str]], *,
                 positions_stream: str = POSITIONS_STREAM, events_stream: str = EVENTS_STREAM,
                 batch: int = DEFAULT_PUBLISH_BATCH,
                 positions_maxlen: int | None = None, route: Route | None = None) -> int:
    """XADD many events in pipelines of ``batch``; return how many were written.

    ``positions_maxlen`` caps the positions streams (``MAXLEN ~``) as the contract suggests;
    ``route`` names each event's stream instead of the two default ones.
    """
    written = 0
    pipe = connection.pipeline(transaction=False)
    pending = 0
    for event in events:
        stream = route(event) if route is not None else stream_for(event, positions_stream, events_stream)
        if positions_maxlen and event.get("type") == POSITION_TYPE:
            pipe.xadd(stream, dict(event), maxlen=positions_maxlen, approximate=True)  # type: ignore[arg-type]
        else:
            pipe.xadd(stream, dict(event))  # type: ignore[arg-type]
        pending += 1
        if pending >= batch:
            pipe.execute()
            written += pending
            pending = 0
    if pending:
        pipe.execute()
        written += pending
    return written

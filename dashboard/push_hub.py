"""Shared server-sent events: a channel builds its payload once per version and fans it out.

A :class:`Channel` is one view of the state (say the public KPIs of one street in one language).
One pump per channel wakes on the runtime's :class:`~data_feed.changes.ChangeSignal` (the consumer
bumps it when it applies a batch) and at least every ``tick_s`` (views that follow the clock),
asks the channel's ``version()`` (cheap) and only when it moved calls ``build()`` (the JSON, once),
then wakes the channel's subscribers, who all write the same encoded bytes. A batch that does not
change the view (warden positions, for the KPIs) wakes the pump, not the viewers.

Every event's ``id:`` is a digest of its data, so it means the same in every worker and after a
restart: a browser that reconnects with ``Last-Event-ID`` equal to the current id gets nothing but
heartbeats; any other id (or none) gets the current payload. Heartbeats (``event: hb``, data ``1``
when a payload is live, ``0`` while the history is still being read) go at least every
``heartbeat_s``, so a page can tell a quiet stream from a dead one.

:class:`Hub` holds the channels of one app and bounds the streams open at once (per process).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from data_feed.changes import ChangeSignal

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_S = 2.0
"""A stream writes at least this often (an event or a heartbeat)."""

DEFAULT_TICK_S = 1.0
"""A pump re-reads its channel's version at least this often (versions that follow the clock)."""

DEFAULT_RETRY_MS = 2000
"""How long a browser waits before reconnecting a dropped stream (SSE ``retry:``)."""

DEFAULT_MAX_STREAMS = 1500
"""Streams one process holds at once; one more is refused (503 with ``Retry-After``)."""

DEFAULT_MAX_CHANNELS = 256
"""Channels kept per hub (view × street × language); the least recently used idle one goes first."""

HEARTBEAT_LIVE = b"event: hb\ndata: 1\n\n"
"""The heartbeat while the channel has a live payload."""

HEARTBEAT_WAITING = b"event: hb\ndata: 0\n\n"
"""The heartbeat while there is nothing live to send (the history is still being read)."""


@dataclass(frozen=True)
class Frame:
    """One encoded event: its id (a digest of its data) and the SSE bytes every viewer is sent."""

    id: str
    body: bytes


def encode_frame(data: str, event: str | None = None) -> Frame:
    """The SSE event carrying ``data`` (one line: compact JSON), with its id."""
    if "\n" in data or "\r" in data:
        raise ValueError("an SSE data line must not contain a line break; send compact JSON")
    event_id = hashlib.blake2b(data.encode(), digest_size=9).hexdigest()
    head = f"event: {event}\n" if event else ""
    return Frame(event_id, f"id: {event_id}\n{head}data: {data}\n\n".encode())


class Channel:
    """One view's payload: rebuilt when ``version()`` moves (at most once per ``min_interval_s``),
    the same :class:`Frame` handed to every subscriber."""

    def __init__(self, source: ChangeSignal, version: Callable[[], Hashable],
                 build: Callable[[], str | None], *, event: str | None = None,
                 min_interval_s: float = 0.0, tick_s: float = DEFAULT_TICK_S) -> None:
        self.source = source
        self._version = version
        self._build = build
        self._event = event
        self.min_interval_s = min_interval_s
        self.tick_s = tick_s
        self.frames = ChangeSignal()
        """Moves each time :attr:`frame` changes, closed with the channel: streams wait on it."""
        self._closed = False
        self._lock = threading.Lock()
        self._built_version: Hashable = None
        self._built = False
        self._built_at = float("-inf")
        self._frame: Frame | None = None
        self._subscribers = 0
        self._pumping = False
        self.builds = 0
        """How many times ``build()`` ran (tests and the bench read it)."""

    @property
    def frame(self) -> Frame | None:
        """The current event (None: nothing live yet)."""
        return self._frame

    @property
    def closed(self) -> bool:
        """True once the source closed (the runtime stopped): every stream ends."""
        return self._closed

    @property
    def subscribers(self) -> int:
        """Streams reading this channel now."""
        return self._subscribers

    def refresh(self) -> bool:
        """Rebuild if the version moved and the throttle allows; True when the frame changed."""
        version = self._version()
        if self._built and version == self._built_version:
            return False
        now = time.monotonic()
        if self._built and now - self._built_at < self.min_interval_s:
            return False  # throttled: the pump looks again within tick_s
        data = self._build()
        self.builds += 1
        self._built, self._built_version, self._built_at = True, version, now
        frame = encode_frame(data, self._event) if data is not None else None
        if frame == self._frame:
            return False
        self._frame = frame
        self.frames.notify()
        return True

    def subscribe(self) -> None:
        """Count one more stream; start the pump if it is not running."""
        with self._lock:
            self._subscribers += 1
            if self._pumping:
                return
            self._pumping = True
            self._built, self._frame = False, None  # built while nobody watched: may be old
            self._closed = False
            self.frames.reopen()
        threading.Thread(target=self._pump, name="push-channel", daemon=True).start()

    def unsubscribe(self) -> None:
        """Count one stream less (the pump stops at its next wake when none is left)."""
        with self._lock:
            self._subscribers -= 1

    def _pump(self) -> None:
        while True:
            with self._lock:  # the decision to stop and a new subscriber's check cannot interleave
                if self._subscribers <= 0 or self.source.closed:
                    self._pumping = False
                    if self.source.closed:
                        self._closed = True
                        self.frames.close()
                    return
            seen = self.source.version
            try:
                self.refresh()
            except Exception:  # a view that fails to build must not end the channel: retry next tick
                log.exception("push channel: building the payload failed")
            self.source.wait(seen, self.tick_s)


class Hub:
    """The channels of one app and the streams open on them (bounded per process)."""

    def __init__(self, source: ChangeSignal, *, max_streams: int = DEFAULT_MAX_STREAMS,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S, retry_ms: int = DEFAULT_RETRY_MS,
                 max_channels: int = DEFAULT_MAX_CHANNELS) -> None:
        self.source = source
        self.max_streams = max_streams
        self.heartbeat_s = heartbeat_s
        self.retry_ms = retry_ms
        self.max_channels = max_channels
        self._lock = threading.Lock()
        self._channels: OrderedDict[Hashable, Channel] = OrderedDict()
        self.streams = 0
        """Streams open now, over every channel."""

    def channel(self, key: Hashable, make: Callable[[], Channel]) -> Channel:
        """The channel of ``key``, made by ``make()`` the first time."""
        with self._lock:
            found = self._channels.get(key)
            if found is None:
                found = self._channels[key] = make()
                idle = [k for k, c in self._channels.items() if not c.subscribers and k != key]
                for old in idle[: max(0, len(self._channels) - self.max_channels)]:
                    del self._channels[old]
            self._channels.move_to_end(key)
            return found

    def channels(self) -> list[Channel]:
        """The channels kept now (their current frames are everything the streams send)."""
        with self._lock:
            return list(self._channels.values())

    def full(self) -> bool:
        """True when this process holds ``max_streams`` streams (refuse the next one)."""
        return self.streams >= self.max_streams

    def stream(self, channel: Channel, last_id: str | None) -> Iterator[bytes]:
        """The SSE text of one viewer on ``channel``, until the source closes or the viewer leaves.

        The stream counts (and the channel's pump runs) from its first chunk to its close.
        """
        with self._lock:
            self.streams += 1
        channel.subscribe()
        try:
            yield f"retry: {self.retry_ms}\n\n".encode()
            sent = last_id or None
            wrote = time.monotonic()
            while not channel.closed and not self.source.closed:
                seen = channel.frames.version  # taken before the frame: a change after it wakes us
                frame = channel.frame
                if frame is not None and frame.id != sent:
                    yield frame.body  # the same bytes object for every viewer
                    sent, wrote = frame.id, time.monotonic()
                elif time.monotonic() - wrote >= self.heartbeat_s:
                    yield HEARTBEAT_LIVE if frame is not None else HEARTBEAT_WAITING
                    wrote = time.monotonic()
                channel.frames.wait(seen, max(0.05, self.heartbeat_s - (time.monotonic() - wrote)))
        finally:
            channel.unsubscribe()
            with self._lock:
                self.streams -= 1

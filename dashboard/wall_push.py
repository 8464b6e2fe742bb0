"""The wall's shared push: server-sent events at ``/api/v1/stream/wall`` (``GRID_PUSH=sse``).

Each event carries the changed parts of the wall as compact data (:mod:`dashboard.wall_data`;
the page renders them, with labels from its config). It is built once per (snapshot, what the
viewer holds) and shared: viewers in step hold the same digests, so one encoding serves them
all. A stream wakes the moment the consumer applies a batch (the runtime's
:class:`~data_feed.changes.ChangeSignal`) and at least once a second (the heartbeat that keeps
the page's freshness badge green).

Every event has an ``id:``; the ids of recent events and what a viewer holds after each are kept
in a bounded ring, so a browser that reconnects by itself (``Last-Event-ID``) gets only what
changed since; one too far behind (or from another worker) gets a full snapshot.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import flask

from dashboard.wall_data import DATA_PARTS, WardenLog, part_digests, snapshot_parts, warden_change, warden_map
from dashboard.wall_model import WallModel, WallSnapshot

STREAM_PATH = "/api/v1/stream/wall"
"""Where the wall's push is served (internal: the wall's roles, see :mod:`dashboard.access`)."""

PUSH_EXTENSION_KEY = "grid.wall_push"
"""Key of the :class:`WallPush` in ``flask_app.extensions``."""

RING_SIZE = 512
"""Recent events remembered for resuming (about 4 minutes of 1-second heartbeats per language)."""

HEARTBEAT_S = 1.0
"""A stream sends at least this often, even when nothing changed (the page's badge counts on it)."""

RETRY_MS = 1000
"""How long a browser waits before reconnecting a dropped stream (SSE ``retry:``)."""

def encode(payload: Mapping[str, Any]) -> str:
    """The JSON body of one event (compact: plain lists and numbers)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def build(model: WallModel, snap: WallSnapshot, have: Mapping[str, Any],
          wardens: WardenLog) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(event payload, digests held after it)`` for a viewer holding ``have``: changed parts only.

    Data, not components: ``tiles``, ``table``, ``round``, ``alerts`` (+ ``geo``) whole when their
    digest moved; ``wardens`` as the positions that moved since the set the viewer holds; the
    checkpoint layers (``base``: a reference to fetch, ``cluster``, ``overlay``) as the poll tick sends them.
    """
    from callbacks.wall import base_ref, heartbeat, layers

    parts = snapshot_parts(snap, tuple(model.runtime.reference.streets))
    want = dict(snap.memo(("data-digests",), lambda: part_digests(parts)))
    want["base"], want["overlay"], overlay_rows = layers(model, snap, have)
    want["wardens"] = snap.digests["wardens"]
    payload: dict[str, Any] = {"hb": heartbeat(model, snap, snap.now)}
    fresh = {key for key, value in want.items() if have.get(key) != value}
    if "base" in fresh:
        fresh.add("overlay")  # the overlay is relative to the base the browser holds
        payload["base"], payload["cluster"] = base_ref(snap.base), snap.base.cluster
    if "overlay" in fresh:
        payload["overlay"] = overlay_rows
    if "wardens" in fresh:
        now_set = warden_map(snap)
        wardens.remember(want["wardens"], now_set)
        held = have.get("wardens")
        payload["wardens"] = warden_change(now_set, wardens.get(held) if held else None)
    for key in DATA_PARTS:
        if key in fresh:
            payload[key] = parts[key]
    if "alerts" in fresh:
        payload["geo"] = parts["geo"]
    return payload, want


class WallPush:
    """Builds the wall's events once and remembers recent ones for resuming (one per app)."""

    def __init__(self, model: WallModel, ring_size: int = RING_SIZE,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.model = model
        self.ring_size = ring_size
        self.heartbeat_s = heartbeat_s
        self._instance = secrets.token_hex(3)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._ring: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._build_lock = threading.Lock()
        self._events_of: WallSnapshot | None = None  # the snapshot ``_events`` were built from
        self._events: dict[tuple[Any, ...], tuple[str, str, dict[str, Any]]] = {}
        self.wardens = WardenLog()
        self.clients = 0
        """Streams open now (read by the bench and metrics)."""
        self.sent = 0
        """Events written so far, over every stream."""

    def resume(self, last_id: str | None) -> dict[str, Any]:
        """What a viewer held after event ``last_id`` ({} when unknown: it gets everything)."""
        if not last_id:
            return {}
        with self._lock:
            found = self._ring.get(last_id)
        return dict(found) if found is not None else {}

    def _remember(self, want: Mapping[str, Any]) -> str:
        event_id = f"{self._instance}.{next(self._counter)}"
        with self._lock:
            self._ring[event_id] = dict(want)
            while len(self._ring) > self.ring_size:
                self._ring.popitem(last=False)
        return event_id

    def ring_length(self) -> int:
        """Events remembered now (never more than ``ring_size``)."""
        with self._lock:
            return len(self._ring)

    def event(self, have: Mapping[str, Any], now: float | None = None,
              after: str | None = None) -> tuple[str | None, str, dict[str, Any]]:
        """``(id, body, held after)`` for a viewer holding ``have`` (events are language-free).

        Shared: viewers holding the same digests of the same snapshot get the same id and body.
        ``after``: the id of the event that left the viewer holding ``have`` (a cheaper key than
        the digests, for the streams' many wake-ups). Before the history is read only the
        heartbeat goes (no id: nothing to resume from).
        """
        from callbacks.wall import heartbeat

        model = self.model
        now = model.runtime.now() if now is None else now
        if not model.live():
            return None, encode({"hb": heartbeat(model, None, now)}), dict(have)
        snap = model.snapshot(now)
        key: tuple[Any, ...] = ("after", after) if after else tuple(sorted(have.items()))
        # not snap.memo: building renders through snap.memo, whose lock is not re-entrant
        with self._build_lock:
            if self._events_of is not snap:
                self._events_of, self._events = snap, {}
            found = self._events.get(key)
            if found is None:
                payload, want = build(model, snap, have, self.wardens)
                found = (self._remember(want), encode(payload), want)
                self._events[key] = found
        return found

    def stream(self, last_id: str | None) -> Iterator[str]:
        """The SSE text of one viewer's stream, until the runtime stops or the viewer leaves."""
        changes = self.model.runtime.changes
        have = self.resume(last_id)
        with self._lock:
            self.clients += 1
        try:
            yield f"retry: {RETRY_MS}\n\n"
            last_sent = 0.0
            sent_id: str | None = None
            while not changes.closed:
                seen = changes.version
                event_id, body, held = self.event(have, after=sent_id)
                now = time.monotonic()
                if event_id is None:  # catching up: a heartbeat with the progress, twice a second
                    due = now - last_sent >= self.heartbeat_s / 2
                else:  # woken twice within one snapshot: its shared event goes once
                    due = event_id != sent_id
                if due:
                    head = f"id: {event_id}\n" if event_id else ""
                    yield f"{head}data: {body}\n\n"
                    self.sent += 1  # approximate under threads: a figure, not a count to rely on
                    last_sent, sent_id, have = now, event_id, held
                wait = max(0.05, self.heartbeat_s - (time.monotonic() - last_sent))
                changes.wait(seen, wait)
        finally:
            with self._lock:
                self.clients -= 1


def install(server: flask.Flask, model: WallModel) -> WallPush:
    """Serve the wall's push on ``server`` (access is checked by :mod:`dashboard.access`)."""
    push = WallPush(model)
    server.extensions[PUSH_EXTENSION_KEY] = push
    def wall_stream() -> flask.Response:
        last_id = flask.request.headers.get("Last-Event-ID") or flask.request.args.get("last_id")
        response = flask.Response(flask.stream_with_context(push.stream(last_id)),
                                  mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must not buffer the push
        return response

    server.add_url_rule(STREAM_PATH, "wall_stream", wall_stream, methods=["GET"])
    return push

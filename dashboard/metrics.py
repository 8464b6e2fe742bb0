"""``/metrics``: Prometheus text format from a registry of the app's own (never the global one).

Counters are read from the runtime when scraped (a custom collector), so the consumer's hot
path does no extra work. Nothing here carries personal data: only counts, ages and timings.
Each process (each gunicorn worker) exposes its own figures.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import dash
import redis
from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard import views
from dashboard.pages import is_page
from dashboard.runtime import Runtime

EXTENSION_KEY = "grid.metrics"
"""Key of the :class:`Metrics` in ``flask_app.extensions``."""

VIEWER_COOKIE = "grid_viewer"
"""Random id given to each browser that opens a page, to count distinct viewers."""

DEFAULT_VIEWER_WINDOW_S = 30.0
"""A viewer counts as connected while its last tick is this recent."""

DEFAULT_MAX_VIEWERS = 10_000
"""Viewers remembered at most (a flood of fresh ids cannot grow memory past this)."""

TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Histogram buckets (seconds) for tick and callback latency: the wall ticks every 0.5-1 s."""


class ViewerLog:
    """Last tick time of each viewer id, for counting those seen in the last ``window_s``."""

    def __init__(self, window_s: float = DEFAULT_VIEWER_WINDOW_S,
                 max_viewers: int = DEFAULT_MAX_VIEWERS) -> None:
        self.window_s = window_s
        self.max_viewers = max_viewers
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, viewer: str, now: float | None = None) -> None:
        """Record a tick from ``viewer``."""
        now = time.time() if now is None else now
        with self._lock:
            self._seen.pop(viewer, None)  # re-insert: the dict stays ordered by last tick
            self._seen[viewer] = now
            if len(self._seen) > self.max_viewers:
                self._prune(now)
                while len(self._seen) > self.max_viewers:
                    del self._seen[next(iter(self._seen))]  # the longest silent goes first

    def count(self, now: float | None = None) -> int:
        """Distinct viewers seen in the last ``window_s``."""
        now = time.time() if now is None else now
        with self._lock:
            self._prune(now)
            return len(self._seen)

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        while self._seen:
            oldest = next(iter(self._seen))
            if self._seen[oldest] >= horizon:
                return
            del self._seen[oldest]


class RuntimeCollector(Collector):
    """Reads the runtime's counters at scrape time."""

    def __init__(self, runtime: Runtime, viewers: ViewerLog) -> None:
        self.runtime = runtime
        self.viewers = viewers

    def collect(self) -> Iterator[Metric]:
        """One sample per figure, read now (plain int reads: no lock needed)."""
        rt, now = self.runtime, time.time()
        status, quality = rt.consumer.status, rt.state.quality
        yield CounterMetricFamily("grid_events_applied", "Stream entries applied to the state.",
                                  value=quality.applied)
        dead = CounterMetricFamily("grid_deadletters", "Rejected entries written to the dead-letter stream, "
                                   "by class of reason.", labels=["reason"])
        for reason, count in sorted(status.deadletters_by_reason.items()):
            dead.add_metric([reason], count)
        yield dead
        behind = GaugeMetricFamily("grid_lag_entries", "Entries of a stream not applied yet (counted up to "
                                   "1,000).", labels=["stream"])
        idle = GaugeMetricFamily("grid_seconds_since_last_applied",
                                 "Seconds since the consumer last applied an entry.")
        try:
            for stream in rt.consumer.streams:
                behind.add_metric([stream], rt.consumer.entries_behind(stream))
        except (redis.RedisError, OSError):
            pass  # Redis away: grid_redis_connected says so; no lag sample this scrape
        yield behind
        if status.last_applied_at is not None:
            idle.add_metric([], max(0.0, now - status.last_applied_at))
        yield idle
        yield CounterMetricFamily("grid_entries_read", "Entries read from the streams.", value=status.entries)
        yield CounterMetricFamily("grid_reconnects", "Times the consumer lost Redis and retried.",
                                  value=status.reconnects)
        kinds = CounterMetricFamily("grid_quality_events", "Data-quality counters (as in /healthz).",
                                    labels=["kind"])
        for kind, count in quality.as_dict().items():
            if kind != "applied":
                kinds.add_metric([kind], count)
        yield kinds
        gauge = GaugeMetricFamily("grid_last_event_age_seconds",
                                  "Seconds since the time (ts) of the newest event applied.")
        if rt.state.last_event_at is not None:
            gauge.add_metric([], max(0.0, now - rt.state.last_event_at))
        yield gauge
        gauge = GaugeMetricFamily("grid_data_age_seconds", "Seconds since the consumer's last successful read.")
        age = views.data_age(rt)
        if age is not None:
            gauge.add_metric([], age)
        yield gauge
        yield GaugeMetricFamily("grid_caught_up", "1 once the stream history has been read.",
                                value=int(status.caught_up))
        yield GaugeMetricFamily("grid_redis_connected", "1 while the consumer's last read succeeded.",
                                value=int(status.connected))
        yield GaugeMetricFamily("grid_viewers", f"Distinct browsers that ticked in the last "
                                f"{self.viewers.window_s:g} s.", value=self.viewers.count(now))


class Metrics:
    """One app's registry, its collector and the histograms request code observes."""

    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.viewers = ViewerLog()
        self.registry.register(RuntimeCollector(runtime, self.viewers))
        ProcessCollector(registry=self.registry)
        self.tick_seconds = Histogram(
            "grid_wall_tick_seconds", "Time the wall's server tick takes to answer.",
            buckets=TICK_BUCKETS, registry=self.registry)
        self.callback_seconds = Histogram(
            "grid_callback_seconds", "Time of a Dash callback request (the wall tick, with JSON and HTTP).",
            buckets=TICK_BUCKETS, registry=self.registry)
        self._salt = secrets.token_bytes(16)

    def observe_tick(self, seconds: float) -> None:
        """Record one wall tick's duration (call it from the tick)."""
        self.tick_seconds.observe(seconds)

    def viewer_id(self, cookie: str | None, address: str | None, agent: str | None) -> str:
        """The viewer cookie, else a salted hash of address and browser (never kept in clear)."""
        if cookie:
            return cookie[:64]
        digest = hashlib.blake2b(f"{address}|{agent}".encode(), key=self._salt, digest_size=12)
        return digest.hexdigest()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def metrics_of(app: dash.Dash) -> Metrics:
    """The metrics the factory attached to ``app``."""
    return app.server.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def install(app: dash.Dash, runtime: Runtime) -> Metrics:
    """Create the app's metrics, serve them on ``/metrics`` and time Dash's callback requests."""
    server = app.server
    metrics = Metrics(runtime)
    server.extensions[EXTENSION_KEY] = metrics
    callback_path = app.config.routes_pathname_prefix + "_dash-update-component"

    def serve_metrics() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    server.add_url_rule("/metrics", "metrics", serve_metrics, methods=["GET"])

    @server.before_request
    def _tick_started() -> None:
        if request.path == callback_path and request.method == "POST":
            g.grid_callback_t0 = time.perf_counter()
            metrics.viewers.seen(metrics.viewer_id(request.cookies.get(VIEWER_COOKIE),
                                                   request.remote_addr, request.headers.get("User-Agent")))

    @server.after_request
    def _tick_done(response: Response) -> Response:
        t0: Any = g.pop("grid_callback_t0", None)
        if t0 is not None:
            metrics.callback_seconds.observe(time.perf_counter() - t0)
        elif (request.method == "GET" and response.status_code == 200 and is_page(request.path)
              and VIEWER_COOKIE not in request.cookies):
            # a random id for this browser session: lets two walls behind one address count as two
            response.set_cookie(VIEWER_COOKIE, secrets.token_urlsafe(12), httponly=True, samesite="Lax")
        return response

    return metrics

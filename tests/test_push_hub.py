"""The shared push hub: one build per version for every subscriber, resume by id, heartbeats, closing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dashboard.push_hub import HEARTBEAT_LIVE, HEARTBEAT_WAITING, Channel, Hub, encode_frame
from data_feed.changes import ChangeSignal


class View:
    """A view whose version the test moves by hand; it counts its builds."""

    def __init__(self) -> None:
        self.version = 0
        self.live = True
        self.builds = 0
        self.lock = threading.Lock()

    def build(self) -> str | None:
        with self.lock:
            self.builds += 1
        return f'{{"n":{self.version}}}' if self.live else None


def _hub(view: View, **kwargs: float) -> tuple[Hub, Channel, ChangeSignal]:
    signal = ChangeSignal()
    hub = Hub(signal, heartbeat_s=kwargs.pop("heartbeat_s", 0.2), **kwargs)  # type: ignore[arg-type]
    channel = hub.channel("v", lambda: Channel(signal, lambda: (view.live, view.version), view.build,
                                               tick_s=0.1))
    return hub, channel, signal


def _data(chunk: bytes) -> str:
    return next(line[6:] for line in chunk.decode().splitlines() if line.startswith("data: "))


def _reader(stream: Iterator[bytes], into: list[bytes]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.extend(stream), daemon=True)
    thread.start()
    return thread


def test_frame_id_is_a_digest_of_its_data_and_data_stays_on_one_line() -> None:
    a, b = encode_frame('{"x":1}'), encode_frame('{"x":1}', event="kpis")
    assert a.id == b.id and a.id != encode_frame('{"x":2}').id
    assert a.body == f'id: {a.id}\ndata: {{"x":1}}\n\n'.encode() and b"event: kpis\n" in b.body
    with pytest.raises(ValueError):
        encode_frame('{"x":\n1}')


def test_many_subscribers_share_one_build_per_version() -> None:
    view = View()
    hub, channel, signal = _hub(view, heartbeat_s=5)
    received: list[list[bytes]] = [[] for _ in range(50)]
    threads = [_reader(hub.stream(channel, None), got) for got in received]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(len(got) >= 2 for got in received):
        time.sleep(0.02)
    assert hub.streams == 50 and channel.subscribers == 50
    for version in (1, 2, 3):
        view.version = version
        signal.notify()
        while time.monotonic() < deadline + 5 and not all(len(got) >= 2 + version for got in received):
            time.sleep(0.02)
        for _ in range(5):  # batches that do not change the view: no build, no event
            signal.notify()
    time.sleep(0.3)
    assert view.builds == 4 == channel.builds  # the first picture and three changes, for 50 viewers
    for got in received:
        assert got[0].startswith(b"retry: ")
        assert [_data(c) for c in got[1:]] == ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}']
    signal.close()
    for thread in threads:
        thread.join(3)
        assert not thread.is_alive()  # closing the source ends every stream
    assert hub.streams == 0 and channel.subscribers == 0


def test_resume_by_id_sends_nothing_when_current_and_the_payload_otherwise() -> None:
    view = View()
    hub, channel, signal = _hub(view)
    first = hub.stream(channel, None)
    assert next(first).startswith(b"retry: ")
    event = next(first)
    current = event.decode().splitlines()[0][4:]
    assert event.startswith(b"id: ")
    # a browser that reconnects holding the latest event: heartbeats only (after heartbeat_s)
    again = hub.stream(channel, current)
    next(again)
    t0 = time.monotonic()
    assert next(again) == HEARTBEAT_LIVE and time.monotonic() - t0 >= 0.15
    # one holding an older (or unknown) id gets the current payload at once
    stale = hub.stream(channel, "0123456789abcdef")
    next(stale)
    assert next(stale) == event
    for stream in (first, again, stale):
        stream.close()
    assert hub.streams == 0
    signal.close()


def test_heartbeat_says_not_live_until_there_is_a_payload() -> None:
    view = View()
    view.live = False  # the history is still being read: nothing to send as live
    hub, channel, signal = _hub(view)
    stream = hub.stream(channel, None)
    next(stream)
    assert next(stream) == HEARTBEAT_WAITING and next(stream) == HEARTBEAT_WAITING
    view.live = True
    signal.notify()
    assert _data(next(stream)) == '{"n":0}'
    stream.close()
    signal.close()


def test_throttle_builds_at_most_once_per_interval_and_catches_up_after() -> None:
    view = View()
    signal = ChangeSignal()
    hub = Hub(signal, heartbeat_s=5)
    channel = hub.channel("t", lambda: Channel(signal, lambda: view.version, view.build, min_interval_s=0.5,
                                               tick_s=0.05))
    got: list[bytes] = []
    thread = _reader(hub.stream(channel, None), got)
    t0 = time.monotonic()
    while len(got) < 2 and time.monotonic() - t0 < 3:
        time.sleep(0.01)
    for version in range(1, 6):  # five changes in 0.25 s
        view.version = version
        signal.notify()
        time.sleep(0.05)
    while len(got) < 3 and time.monotonic() - t0 < 5:
        time.sleep(0.01)
    assert [_data(c) for c in got[1:]] == ['{"n":0}', '{"n":5}']  # the last state, after the interval
    assert view.builds == 2
    signal.close()
    thread.join(3)


def test_the_cap_counts_open_streams_and_the_pump_stops_without_viewers() -> None:
    view = View()
    hub, channel, signal = _hub(view, max_streams=2)
    a, b = hub.stream(channel, None), hub.stream(channel, None)
    next(a), next(b)
    assert hub.full()
    a.close()
    assert not hub.full() and hub.streams == 1
    b.close()
    time.sleep(0.3)  # the pump notices nobody is left at its next tick
    builds = view.builds
    view.version = 9
    signal.notify()
    time.sleep(0.3)
    assert view.builds == builds  # nobody watches: nothing is built
    c = hub.stream(channel, None)
    next(c)
    assert _data(next(c)) == '{"n":9}'  # a new viewer restarts the pump with a fresh build
    c.close()
    signal.close()


def test_channels_are_bounded_and_idle_ones_go_first() -> None:
    signal = ChangeSignal()
    hub = Hub(signal, max_channels=3)
    made = [hub.channel(i, lambda: Channel(signal, lambda: 0, lambda: "{}")) for i in range(5)]
    assert hub.channel(4, lambda: Channel(signal, lambda: 0, lambda: "{}")) is made[4]
    assert hub.channel(0, lambda: Channel(signal, lambda: 0, lambda: "{}")) is not made[0]


def test_a_build_that_fails_does_not_end_the_channel() -> None:
    view = View()
    calls = {"n": 0}

    def flaky() -> str | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a view failed to build")
        return view.build()

    signal = ChangeSignal()
    hub = Hub(signal, heartbeat_s=5)
    channel = hub.channel("f", lambda: Channel(signal, lambda: view.version, flaky, tick_s=0.05))
    stream = hub.stream(channel, None)
    next(stream)
    assert _data(next(stream)) == '{"n":0}'  # built again at the next tick
    stream.close()
    signal.close()

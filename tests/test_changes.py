"""The change signal: every waiter wakes on a change, none misses one, none waits past a close."""

from __future__ import annotations

import threading
import time

from data_feed.changes import ChangeSignal


def test_a_change_wakes_every_waiter_at_once() -> None:
    signal = ChangeSignal()
    seen = signal.version
    woke: list[float] = []
    lock = threading.Lock()

    def waiter() -> None:
        version = signal.wait(seen, 10.0)
        with lock:
            woke.append(time.monotonic() if version != seen else float("inf"))

    threads = [threading.Thread(target=waiter) for _ in range(200)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # all waiting now
    assert not woke
    at = time.monotonic()
    signal.notify()
    for thread in threads:
        thread.join(5.0)
    assert len(woke) == 200 and max(woke) - at < 2.0  # all woke on the change, none by the 10 s timeout


def test_a_change_before_the_wait_is_not_missed() -> None:
    signal = ChangeSignal()
    seen = signal.version
    signal.notify()  # between reading the version and waiting
    started = time.monotonic()
    assert signal.wait(seen, 5.0) == seen + 1
    assert time.monotonic() - started < 1.0


def test_wait_times_out_without_a_change_and_close_wakes_for_good() -> None:
    signal = ChangeSignal()
    started = time.monotonic()
    assert signal.wait(signal.version, 0.2) == 0
    assert 0.15 <= time.monotonic() - started < 2.0
    done = threading.Event()
    thread = threading.Thread(target=lambda: (signal.wait(signal.version, 10.0), done.set()))
    thread.start()
    time.sleep(0.1)
    signal.close()
    assert done.wait(2.0) and signal.closed
    started = time.monotonic()
    signal.wait(signal.version, 5.0)  # closed: returns at once
    assert time.monotonic() - started < 1.0
    signal.reopen()
    assert not signal.closed and signal.wait(signal.version, 0.05) == 0

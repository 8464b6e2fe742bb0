"""Bursts (issue 8): 100x the seed's rate for 10 s against a live consumer and a ticking wall.

The seed: 599 wardens reporting every 10 s (~60 positions/s) and ~1,200 cases a day; 100x is
~6,000 positions/s and ~1.4 case lifecycles/s, written by a separate producer process. The
two-minute run is ``python -m bench.burst`` (its last result is in docs/reliability.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from bench.burst import SEED_WARDENS, run_burst

BURST_S = 10.0


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    logging.disable(logging.WARNING)  # the default reference has no categories: warned once, on purpose
    yield
    logging.disable(logging.NOTSET)


def test_a_100x_burst_is_absorbed_lag_back_under_1s_memory_flat_and_the_wall_updating(
        redis_conn: redis.Redis, redis_url: str, quiet_logs: None) -> None:
    result = run_burst(redis_conn, redis_url, seconds=BURST_S, factor=100.0)
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(summary)
    # the burst really happened at (nearly) the rate asked for
    assert result["positions_per_s"] >= 0.8 * result["target_positions_per_s"], summary
    # lag: every entry applied within 1 s of the last XADD
    assert result["caught_up_after_s"] < 1.0 and result["entries_behind_at_end"] == 0, summary
    assert result["mean_lag_s"] < 1.0, summary
    # memory bounded: no growth after warm-up beyond noise (the state keeps one position per warden)
    assert result["rss_mb_max_after_warmup"] - result["rss_mb_warm"] < 30, summary
    # the state and the wall kept updating through the burst
    assert result["version_rose_every_sample"], summary
    assert result["wall_ticks"] >= BURST_S and not result["wall_errors"], summary
    assert result["wall_ticks_with_new_positions"] >= 0.8 * result["wall_ticks"], summary
    assert result["wardens_fresh_at_end"] == SEED_WARDENS, summary
    # and nothing of the case traffic was lost or rejected
    assert result["cases_in_state"] == result["closed_in_state"] == result["cases_produced"] > 0, summary
    assert result["deadletters"] == 0, summary

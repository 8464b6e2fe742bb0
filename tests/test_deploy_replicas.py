"""Two app replicas (two gunicorn masters, gevent workers) behind nginx on loopback, configured by
deploy/nginx.conf as docs/deploy.md shows it: both tail the same streams and agree, directly and
through the proxy (round robin); the wall's push passes through unbuffered; responses come
compressed; a log-in made on one replica works on the other, and a wall bounced between them
keeps its base layer (shared in Redis)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from data_feed.simulator import backfill
from tests.events import report
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
SECRET = "k" * 40
WALL_TOKEN = "wall-token-" + "x" * 30
AUTH = {"Authorization": f"Bearer {WALL_TOKEN}"}
CST = timezone(timedelta(hours=8))


def nginx_binary() -> str | None:
    """nginx from PATH or Debian's /usr/sbin."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


@dataclass
class Replica:
    """One gunicorn master serving the app."""

    port: int
    proc: subprocess.Popen[bytes]
    access_log: Path

    @property
    def url(self) -> str:
        """Base URL of this replica."""
        return f"http://127.0.0.1:{self.port}"

    def hits(self, marker: str) -> int:
        """Requests in its access log whose line contains ``marker``."""
        return self.access_log.read_text().count(marker) if self.access_log.exists() else 0


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _users_file(folder: Path) -> Path:
    from werkzeug.security import generate_password_hash

    path = folder / "users.json"
    path.write_text(json.dumps({"users": [{"username": "li.na", "role": "leader",
                                           "password_hash": generate_password_hash("pw-li-na-123")}]}))
    path.chmod(0o600)
    return path


def _start_replica(folder: Path, redis_url: str, ref: Path, users: Path, name: str) -> Replica:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    env.update(TMPDIR="/tmp", PYTHONPATH=str(ROOT), GRID_REDIS_URL=redis_url, GRID_REFERENCE_DIR=str(ref),
               GRID_DATA_DIR=str(folder / f"var-{name}"), GRID_PUSH="sse", GRID_AUTH="on", GRID_SECRET_KEY=SECRET,
               GRID_USERS_FILE=str(users), GRID_WALL_TOKEN=WALL_TOKEN, GRID_PROXY_HOPS="1", GRID_BLOCK_MS="100",
               GRID_SNAPSHOT_INTERVAL_S="0")
    log = folder / f"access-{name}.log"
    cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--graceful-timeout", "3",
           "-b", f"127.0.0.1:{port}", "--access-logfile", str(log), "dashboard.wsgi:server"]
    errors = open(folder / f"gunicorn-{name}.log", "wb")  # noqa: SIM115  # the process holds it
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    errors.close()
    return Replica(port, proc, log)


def nginx_config(folder: Path, upstreams: tuple[int, int], port: int) -> Path:
    """deploy/nginx.conf with the test's ports, inside a main config that keeps everything in ``folder``."""
    site = NGINX_CONF.read_text()
    for old, new in (("127.0.0.1:8050", f"127.0.0.1:{upstreams[0]}"), ("127.0.0.1:8051", f"127.0.0.1:{upstreams[1]}"),
                     ("listen 80;", f"listen 127.0.0.1:{port};")):
        assert site.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} once: update this test"
        site = site.replace(old, new)
    temp = folder / "temp"
    temp.mkdir(exist_ok=True)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    main = f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    {mime}
    access_log {folder}/nginx-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{site}
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main)
    return path


@dataclass
class Deployment:
    """Two replicas and the proxy in front of them."""

    a: Replica
    b: Replica
    proxy: str
    redis: redis.Redis


def _wait_healthy(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, "a server exited early (see its log in the test's folder)"
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy within {timeout:.0f} s")


@pytest.fixture
def deployment(tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> Iterator[Deployment]:
    nginx = nginx_binary()
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: .ci/run and scripts/test.sh install it (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx); CI always runs this test")
    ref = tmp_path / "ref"
    backfill(redis_conn, "tiny", 5, None, 1.0, ref)
    users = _users_file(tmp_path)
    a = _start_replica(tmp_path, redis_url, ref, users, "a")
    b = _start_replica(tmp_path, redis_url, ref, users, "b")
    port = free_port()
    conf = nginx_config(tmp_path, (a.port, b.port), port)
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "nginx-error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(a.url, [a.proc, b.proc, proxy])
        _wait_healthy(b.url, [a.proc, b.proc, proxy])
        _wait_healthy(f"http://127.0.0.1:{port}", [proxy])
        yield Deployment(a, b, f"http://127.0.0.1:{port}", redis_conn)
    finally:
        _stop(proxy, signal.SIGQUIT)  # nginx's graceful stop; its worker exits with it
        _stop(a.proc)
        _stop(b.proc)


def _now_iso() -> str:
    return datetime.now(CST).isoformat(timespec="seconds")


def _kpis(url: str, marker: str = "") -> Any:
    response = requests.get(f"{url}/api/v1/kpis?period=all{marker}", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _statuses(url: str) -> dict[str, str]:
    response = requests.get(f"{url}/api/v1/checkpoints", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return {f["properties"]["checkpoint_id"]: f["properties"]["status"] for f in response.json()["features"]}


def _until_agree(dep: Deployment, check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        a, b = check(dep.a.url), check(dep.b.url)
        if a == b:
            return
        assert time.monotonic() < deadline, "the replicas never agreed"
        time.sleep(0.1)


class EventStream:
    """The wall's push read in a thread: (arrival time, event data) pairs as they come."""

    def __init__(self, url: str, last_id: str = "") -> None:
        resume = f"&last_id={last_id}" if last_id else ""  # as the page reconnects (dashboard/assets/wall.js)
        self.response = requests.get(f"{url}/api/v1/stream/wall?lang=zh{resume}", headers=AUTH, stream=True,
                                     timeout=(5, 30))
        assert self.response.status_code == 200
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.last_id = ""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self.response.iter_content(chunk_size=None, decode_unicode=True):
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    for line in block.splitlines():
                        if line.startswith("id: "):
                            self.last_id = line[4:]
                        if line.startswith("data: "):
                            self.events.put((time.monotonic(), json.loads(line[6:])))
        except (requests.RequestException, ValueError, AttributeError):
            pass  # closed by the test

    def next_live(self, timeout: float = 20.0) -> dict[str, Any]:
        """The next event sent once the replica has read the history."""
        deadline = time.monotonic() + timeout
        while True:
            _, event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if event.get("hb", {}).get("live"):
                return event

    def close(self) -> None:
        """Drop the connection."""
        self.response.close()


def test_the_tested_nginx_config_is_the_documented_one() -> None:
    doc = DEPLOY_DOC.read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
    assert NGINX_CONF.read_text() in blocks, "docs/deploy.md must show deploy/nginx.conf as it is"


def test_replicas_behind_nginx_agree_and_push_through_it(deployment: Deployment) -> None:
    dep = deployment
    cid = sorted(_statuses(dep.a.url))[0]
    case_id = f"RPL{int(time.time())}"
    dep.redis.xadd("grid:events", report(case_id, _now_iso(), checkpoint=cid, street=None,  # type: ignore[arg-type]
                                         channel="hotline", priority="hazard"))
    _until_agree(dep, lambda url: (_kpis(url), _statuses(url)))
    kpis = _kpis(dep.a.url)
    assert kpis["district"]["accepted"] >= 1 and _statuses(dep.a.url)[cid] != "ok"

    # through the proxy: the same answers, from both replicas in turn
    marker = f"&via=proxy{case_id}"
    for _ in range(4):
        assert _kpis(dep.proxy, marker) == kpis
    deadline = time.monotonic() + 5  # a worker logs a request just after answering it
    while dep.a.hits(marker) + dep.b.hits(marker) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (dep.a.hits(marker), dep.b.hits(marker)) == (2, 2)
    assert _statuses(dep.proxy) == _statuses(dep.b.url)

    # compressed where the app compresses, whichever replica answers
    for _ in range(2):
        response = requests.get(f"{dep.proxy}/api/v1/checkpoints", headers={**AUTH, "Accept-Encoding": "gzip"},
                                timeout=10)
        assert response.headers.get("Content-Encoding") == "gzip" and response.json()["features"]

    # the push: an XADD's change arrives through the proxy at once, not when a buffer fills
    stream = EventStream(dep.proxy)
    try:
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert "Content-Encoding" not in stream.response.headers
        stream.next_live()
        time.sleep(0.3)
        while not stream.events.empty():
            stream.events.get()
        added = time.monotonic()
        dep.redis.xadd("grid:events", {"type": "case.closed", "ts": _now_iso(), "case_id": case_id})
        while True:
            arrived, event = stream.events.get(timeout=10)
            if "overlay" in event:
                break
        latency = arrived - added
        assert latency < 1.0, f"the change took {latency:.2f} s through the proxy (buffered?)"
        print(f"XADD -> SSE event through nginx: {latency * 1000:.0f} ms")
    finally:
        stream.close()


def test_a_session_and_a_wall_stream_move_between_replicas(deployment: Deployment) -> None:
    dep = deployment
    # a log-in on replica A is good on replica B (sessions are signed with the shared GRID_SECRET_KEY)
    session = requests.Session()
    login = session.post(f"{dep.a.url}/login", data={"username": "li.na", "password": "pw-li-na-123", "next": ""},
                         allow_redirects=False, timeout=10)
    assert login.status_code in (302, 303), login.text[:200]
    assert session.get(f"{dep.b.url}/api/v1/kpis?period=all", timeout=10).status_code == 200
    assert requests.get(f"{dep.b.url}/api/v1/kpis?period=all", timeout=10).status_code == 401

    # a wall whose stream reconnects to the other replica (the proxy's next pick) carries on: that
    # replica does not know the event id, so it sends everything again (base and overlay together);
    # the same replica resumes with only what changed
    first = EventStream(dep.a.url)
    try:
        held = first.next_live()
        time.sleep(0.2)
        last_id = first.last_id
    finally:
        first.close()
    assert "base" in held and "overlay" in held and last_id
    again = EventStream(dep.a.url, last_id)
    moved = EventStream(dep.b.url, last_id)
    try:
        resumed, elsewhere = again.next_live(), moved.next_live()
    finally:
        again.close()
        moved.close()
    assert "base" not in resumed
    assert "base" in elsewhere and "overlay" in elsewhere
    assert elsewhere["base"]["n"] == held["base"]["n"] > 0  # the same checkpoints, to fetch from that replica

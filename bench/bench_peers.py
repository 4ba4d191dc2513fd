"""rekor-py against the real peers, same workload, same machine, one run.

Installs (bench/peers/install.sh, cached under ~/.cache/rekor-py/peers/) and starts:

- rekor-v1:    rekor-server v1.5.4 + Trillian v1.7.3 (trillian_log_server,
               trillian_log_signer) on a private MariaDB (fsync on), which also holds
               Rekor's search index (--search_index.storage_provider=mysql);
- rekor-tiles: Rekor v2, rekor-tiles v2.3.0's POSIX server (Tessera, fsync'd files);
- rekor-py:    `rekor-py serve --workers N` on its embedded PostgreSQL (fsync on);

then drives each in turn with wrk (-t1, C connections, D seconds) posting the same
pre-signed entries (bench/workloads.py; converted to Rekor v2 request bodies for
rekor-tiles), and prints entries/s, p50/p99 latency, non-2xx answers and CPU per entry
(utime+stime of every process of the system: servers, signer, database) for each, with
the ratios to rekor-py. Every acknowledged (201) entry must be in the log: the tree
must have grown by at least the 201s, and by no more than the 201s plus the requests
still in flight when wrk stopped.

    python3 bench/bench_peers.py --workload fulcio --seconds 20 --concurrency 64 \\
        [--rounds 2] [--only rekor-v1,rekor-tiles,rekor-py] [--json FILE]

rekor-tiles answers only once a published checkpoint holds the entry (2-3 s), so it
gets --tiles-concurrency connections (4,000, under Tessera's pushback of 4,096).
bench/README.md ("Peers") has the settings, why, and figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_server import _ms, free_port, start_server  # noqa: E402
from bench.workloads import WORKLOADS, presign  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
CACHE = Path(os.environ.get("REKOR_PY_PEERS_CACHE", Path.home() / ".cache/rekor-py/peers"))
REKOR_VERSION, TRILLIAN_VERSION, TILES_VERSION = "v1.5.4", "v1.7.3", "v2.3.0"
SYSTEMS = ("rekor-py", "rekor-v1", "rekor-tiles")
V1_PATH, V2_PATH = "/api/v1/log/entries", "/api/v2/log/entries"


# ---- bodies ----------------------------------------------------------------------------


def bodies_for(workload: str, n: int, fresh: bool) -> list[bytes]:
    """`n` pre-signed v1 bodies, kept in the cache between runs (signing a Fulcio-shaped
    entry costs ~5 ms here). Reusing them across runs is sound: every run starts every
    log empty. The certificates are valid for 10 minutes from signing; no system here
    checks a hashedrekord certificate's validity against the clock (rekor-py checks the
    chain at the leaf's NotBefore; Rekor v1 and v2 not at all)."""
    path = CACHE / f"bodies-{workload}.jsonl"
    have: list[bytes] = []
    if path.exists() and not fresh:
        have = path.read_bytes().splitlines()
    if len(have) < n:
        t0 = time.perf_counter()
        more = presign(workload, n - len(have))
        print(f"signed {len(more)} {workload} entries in {time.perf_counter() - t0:.0f} s "
              f"(before the runs; kept in {path})", flush=True)
        have += more
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(have) + b"\n")
    return have[:n]


def to_v2(body: bytes) -> bytes:
    """A Rekor v1 hashedrekord 0.0.1 body -> the Rekor v2 CreateEntryRequest for the same
    signature (hashedRekordRequestV002: digest, signature, verifier as DER)."""
    entry = json.loads(body)
    if entry.get("kind") != "hashedrekord":
        raise ValueError(f"rekor-tiles takes hashedrekord only, not {entry.get('kind')}")
    spec = entry["spec"]
    digest = bytes.fromhex(spec["data"]["hash"]["value"])
    pem = base64.b64decode(spec["signature"]["publicKey"]["content"])
    if b"CERTIFICATE" in pem:
        der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        verifier: dict[str, Any] = {"x509Certificate": {"rawBytes": _b64(der)}}
    else:
        key = serialization.load_pem_public_key(pem)
        der = key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        verifier = {"publicKey": {"rawBytes": _b64(der)}}
    verifier["keyDetails"] = "PKIX_ECDSA_P256_SHA_256"
    return json.dumps({"hashedRekordRequestV002": {
        "digest": _b64(digest),
        "signature": {"content": spec["signature"]["content"], "verifier": verifier}}},
        separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- processes -------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> dict[str, float]:
    """utime+stime of these processes and all their descendants, plus what their
    children that have exited had used (so processes that come and go are counted),
    by process name."""
    total: dict[str, float] = {}
    seen = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            with suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                name = p.name()
                total[name] = total.get(name, 0.0) + (
                    t.user + t.system + t.children_user + t.children_system)
    return total


def machine_busy() -> float:
    t = psutil.cpu_times()  # guest time is inside user; steal is not this machine's
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


def wait_until(what: str, ok: Callable[[], bool], procs: list[subprocess.Popen[bytes]],
               timeout: float = 120, logs: Sequence[Path] = ()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: {p.args!r} exited with {p.returncode}\n"
                                   + "".join(_tail(log) for log in logs))
        with suppress(Exception):
            if ok():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s\n"
                       + "".join(_tail(log) for log in logs))


def _tail(log: Path, n: int = 3000) -> str:
    return f"--- {log}:\n{log.read_text(errors='replace')[-n:]}\n" if log.exists() else ""


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True


def http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return bytes(r.read())


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---- the systems -----------------------------------------------------------------------


@dataclass
class Running:
    url: str
    path: str                              # where entries are POSTed
    pids: Callable[[], list[int]]          # every process of the system (roots)
    tree_size: Callable[[], int]
    settle: float                          # how long the tree may take to show an entry
    settings: dict[str, Any] = field(default_factory=dict)


def binary(folder: str, name: str) -> str:
    return str(CACHE / folder / name)


def trillian_schema() -> Path:
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                              check=True).stdout.strip()
    return Path(modcache) / f"github.com/google/trillian@{TRILLIAN_VERSION}" / \
        "storage/mysql/schema/storage.sql"


@contextmanager
def rekor_v1(tmp: Path, args: argparse.Namespace) -> Iterator[Running]:
    procs: list[subprocess.Popen[bytes]] = []
    data, log = tmp / "mariadb", tmp / "mariadb.log"
    sock, db_port = tmp / "mariadb.sock", free_port()
    try:
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}",
                        "--user=root", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, capture_output=True)
        procs.append(spawn([
            "mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={sock}",
            f"--port={db_port}", "--bind-address=127.0.0.1", "--user=root",
            f"--pid-file={tmp / 'mariadb.pid'}", "--skip-name-resolve", "--skip-log-bin",
            # durable commits (the default, said out loud); a pool that holds the data
            "--innodb-flush-log-at-trx-commit=1", "--innodb-buffer-pool-size=1G",
            "--max-connections=2000"], log))
        wait_until("mariadbd", lambda: sock.exists() and port_open(db_port), procs, logs=[log])
        sql = ("CREATE DATABASE trillian; "
               "CREATE USER 'trillian'@'127.0.0.1' IDENTIFIED BY 'zaphod'; "
               "GRANT ALL ON trillian.* TO 'trillian'@'127.0.0.1';")
        mysql = ["mariadb", "--no-defaults", f"--socket={sock}", "-uroot"]
        subprocess.run([*mysql, "-e", sql], check=True)
        with trillian_schema().open("rb") as schema:
            subprocess.run([*mysql, "trillian"], stdin=schema, check=True)
        dsn = f"trillian:zaphod@tcp(127.0.0.1:{db_port})/trillian"
        rpc, http, srpc, shttp = (free_port() for _ in range(4))
        common = ["--storage_system=mysql", "--quota_system=noop",
                  f"--mysql_uri={dsn}?parseTime=true&interpolateParams=true"]
        tlog = tmp / "trillian_log_server.log"
        procs.append(spawn([binary(f"trillian@{TRILLIAN_VERSION}", "trillian_log_server"),
                            *common, f"--rpc_endpoint=127.0.0.1:{rpc}",
                            f"--http_endpoint=127.0.0.1:{http}"], tlog))
        slog = tmp / "trillian_log_signer.log"
        signer = [f"--sequencer_interval={args.v1_sequencer_interval}",
                  f"--batch_size={args.v1_batch_size}"]
        procs.append(spawn([binary(f"trillian@{TRILLIAN_VERSION}", "trillian_log_signer"),
                            *common, "--force_master", *signer,
                            f"--rpc_endpoint=127.0.0.1:{srpc}",
                            f"--http_endpoint=127.0.0.1:{shttp}"], slog))
        wait_until("trillian", lambda: port_open(rpc) and bool(
            http_get(f"http://127.0.0.1:{shttp}/healthz")), procs, logs=[tlog, slog])
        tree_id = subprocess.run(
            [binary(f"trillian@{TRILLIAN_VERSION}", "createtree"),
             f"--admin_server=127.0.0.1:{rpc}"],
            capture_output=True, text=True, check=True).stdout.strip()
        port, rlog = free_port(), tmp / "rekor-server.log"
        procs.append(spawn([
            binary(f"rekor@{REKOR_VERSION}", "rekor-server"), "serve",
            "--trillian_log_server.address=127.0.0.1", f"--trillian_log_server.port={rpc}",
            f"--trillian_log_server.tlog_id={tree_id}",
            "--rekor_server.address=127.0.0.1", f"--port={port}",
            "--rekor_server.signer=memory", "--log_type=prod",
            "--search_index.storage_provider=mysql",
            f"--search_index.mysql.dsn={dsn}?parseTime=true"], rlog))
        url = f"http://127.0.0.1:{port}"
        wait_until("rekor-server", lambda: bool(http_get(f"{url}/api/v1/log")), procs,
                   logs=[rlog])
        yield Running(url, V1_PATH, lambda: [p.pid for p in procs],
                      lambda: int(json.loads(http_get(f"{url}/api/v1/log"))["treeSize"]),
                      settle=2.0, settings={
                          "versions": {"rekor-server": REKOR_VERSION,
                                       "trillian": TRILLIAN_VERSION,
                                       "mariadb": _mariadb_version()},
                          "trillian_log_signer": signer,
                          "search_index": "mysql (same MariaDB)",
                          "rekor_server.signer": "memory",
                          "mariadb": "innodb_flush_log_at_trx_commit=1, "
                                     "innodb_buffer_pool_size=1G, no binlog"})
    finally:
        stop(procs)


def _mariadb_version() -> str:
    out = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"Ver (\S+)", out)
    return m.group(1) if m else out.strip()


@contextmanager
def rekor_tiles(tmp: Path, args: argparse.Namespace) -> Iterator[Running]:
    key = ed25519.Ed25519PrivateKey.generate()
    key_file = tmp / "tiles-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    storage = tmp / "tiles"
    port, log = free_port(), tmp / "rekor-tiles.log"
    proc = spawn([
        binary(f"rekor-tiles@{TILES_VERSION}", "posix"), "serve",
        f"--storage-dir={storage}", f"--signer-filepath={key_file}",
        "--hostname=rekor-tiles.bench.local", "--http-address=127.0.0.1",
        f"--http-port={port}", "--grpc-address=127.0.0.1", f"--grpc-port={free_port()}",
        f"--http-metrics-port={free_port()}", "--log-level=warn",
        f"--checkpoint-interval={args.tiles_checkpoint_interval}",
        f"--batch-max-size={args.tiles_batch_max_size}",
        f"--pushback-max-outstanding={args.tiles_pushback}"], log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until("rekor-tiles", lambda: b"SERVING" in http_get(f"{url}/healthz"), [proc],
                   logs=[log])

        def size() -> int:
            cp = storage / "checkpoint"
            return int(cp.read_text().splitlines()[1]) if cp.exists() else 0

        interval = _seconds(args.tiles_checkpoint_interval)
        yield Running(url, V2_PATH, lambda: [proc.pid], size, settle=2 * interval + 1,
                      settings={"versions": {"rekor-tiles": TILES_VERSION},
                                "checkpoint-interval": args.tiles_checkpoint_interval,
                                "batch-max-size": args.tiles_batch_max_size,
                                "pushback-max-outstanding": args.tiles_pushback,
                                "batch-max-age": "default (Tessera v1.0.2: 250 ms)",
                                "antispam": "in-memory (default)", "signer": "Ed25519 file"})
    finally:
        stop([proc])


def _seconds(duration: str) -> float:
    m = re.fullmatch(r"([\d.]+)(ms|s)", duration)
    if not m:
        raise SystemExit(f"duration like 1s or 500ms, not {duration}")
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


@contextmanager
def rekor_py(tmp: Path, args: argparse.Namespace) -> Iterator[Running]:
    data = tmp / "rekor-py"
    data.mkdir()
    os.chmod(tmp, 0o755)  # as root the embedded PostgreSQL runs as its own user
    port = free_port()
    proc = start_server(data, port, args.rekor_py_workers)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until("rekor-py", lambda: bool(http_get(f"{url}/api/v1/log")), [proc])

        def pids() -> list[int]:
            out = [proc.pid]
            for pidfile in data.rglob("postmaster.pid"):  # pg_ctl daemonises the postmaster
                with suppress(OSError, ValueError, IndexError):
                    out.append(int(pidfile.read_text().split()[0]))
            return out

        yield Running(url, V1_PATH, pids,
                      lambda: int(json.loads(http_get(f"{url}/api/v1/log"))["treeSize"]),
                      settle=1.0, settings={"workers": args.rekor_py_workers,
                                            "database": "embedded PostgreSQL, fsync on"})
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


STARTERS = {"rekor-py": rekor_py, "rekor-v1": rekor_v1, "rekor-tiles": rekor_tiles}


# ---- driving ---------------------------------------------------------------------------


def wrk(url: str, path: str, bodies_file: Path, connections: int, seconds: float
        ) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
           "--timeout", "120s", "-s", str(PEERS / "wrk_post.lua"), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "PEERS_PATH": path,
                              "PEERS_BODIES": str(bodies_file)}).stdout
    r: dict[str, Any] = {"wrk_output": out, "non_2xx": 0, "socket_errors": 0}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith(("50%", "90%", "99%")):
            r[f"p{parts[0].rstrip('%')}_ms"] = _ms(parts[1])
        elif re.match(r"\s*\d+ requests in", line):
            r["requests"] = int(parts[0])
            r["wrk_seconds"] = _ms(parts[3].rstrip(",")) / 1000
        elif "Non-2xx" in line:
            r["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors"):
            r["socket_errors"] = sum(int(n) for n in re.findall(r"\d+", line))
        elif line.startswith("PEERS "):
            kv = dict(p.split("=", 1) for p in parts[1:])
            r["sent"], r["bodies"] = int(kv["sent"]), int(kv["bodies"])
            r["codes"] = {int(c): int(n) for c, n in
                          (x.split(":") for x in kv.get("codes", "").split(",") if x)}
    r["created"] = r.get("codes", {}).get(201, 0)
    r["repeats"] = max(0, r.get("sent", 0) - r.get("bodies", 0))
    return r


def settled_size(run: Running) -> int:
    """The tree size once it has stopped growing (in-flight entries integrated)."""
    last, deadline = run.tree_size(), time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(run.settle)
        now = run.tree_size()
        if now == last:
            return now
        last = now
    return last


def measure(name: str, args: argparse.Namespace, warm_file: Path, main_file: Path,
            v2_warm: Path, v2_main: Path) -> dict[str, Any]:
    connections = args.tiles_concurrency if name == "rekor-tiles" else (
        args.v1_concurrency if name == "rekor-v1" else args.concurrency)
    with tempfile.TemporaryDirectory(prefix=f"bench-peers-{name}-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        with STARTERS[name](tmp, args) as run:
            started = time.perf_counter() - t0
            wf, mf = (v2_warm, v2_main) if run.path == V2_PATH else (warm_file, main_file)
            if args.warmup > 0:
                wrk(run.url, run.path, wf, connections, args.warmup)
            size0 = settled_size(run)
            cpu0, busy0 = cpu_seconds(run.pids()), machine_busy()
            kids0, self0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
            w0 = time.perf_counter()
            result = wrk(run.url, run.path, mf, connections, args.seconds)
            size1 = settled_size(run)
            wall = time.perf_counter() - w0
            cpu1 = cpu_seconds(run.pids())
            by_name = {k: round(v - cpu0.get(k, 0.0), 2) for k, v in cpu1.items()}
            cpu = sum(by_name.values())
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
            others = (machine_busy() - busy0 - cpu - wrk_cpu
                      - (time.process_time() - self0)) / wall
    grew, created = size1 - size0, result["created"]
    in_flight = connections + result["socket_errors"]
    result.update({
        "system": name, "connections": connections, "start_seconds": round(started, 1),
        "entries_per_s": created / result["wrk_seconds"],
        "tree_grew_by": grew,
        "all_acknowledged_in_log": created <= grew <= created + in_flight,
        "cpu_seconds": cpu, "cpu_seconds_by_process": by_name,
        "cpu_ms_per_entry": 1000 * cpu / max(grew, 1),
        "wrk_cpu_seconds": wrk_cpu, "others_cores": others, "window_seconds": wall,
        "settings": run.settings})
    return result


# ---- main ------------------------------------------------------------------------------


def install() -> None:
    t0 = time.perf_counter()
    subprocess.run(["bash", str(PEERS / "install.sh")], check=True)
    print(f"peers ready in {time.perf_counter() - t0:.0f} s", flush=True)


def table(results: list[dict[str, Any]], best: list[dict[str, Any]]) -> str:
    """One row per result; ratios to rekor-py's row in `best`."""
    base = next((r for r in best if r["system"] == "rekor-py" and "error" not in r), None)
    rows = [("system", "round", "conns", "entries/s", "p50 ms", "p99 ms", "non-2xx",
             "CPU ms/entry", "x rekor-py entries/s", "x rekor-py CPU/entry", "in log",
             "others' cores")]
    for r in results:
        if "error" in r:
            rows.append((r["system"], str(r.get("round", 1)), "-",
                         "failed: " + r["error"].splitlines()[0][:60], *("",) * 8))
            continue
        ratio = (f"{r['entries_per_s'] / base['entries_per_s']:.2f}",
                 f"{r['cpu_ms_per_entry'] / base['cpu_ms_per_entry']:.2f}") if base else ("", "")
        rows.append((r["system"], str(r["round"]), str(r["connections"]),
                     f"{r['entries_per_s']:,.0f}",
                     f"{r.get('p50_ms', math.nan):,.1f}", f"{r.get('p99_ms', math.nan):,.1f}",
                     str(r["non_2xx"] + r["socket_errors"]), f"{r['cpu_ms_per_entry']:.2f}",
                     *ratio, "yes" if r["all_acknowledged_in_log"] else "NO",
                     f"{r['others_cores']:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=WORKLOADS, default="fulcio")
    p.add_argument("--seconds", type=float, default=20, help="wrk run per system")
    p.add_argument("--warmup", type=float, default=3, help="wrk warm-up per system, seconds")
    p.add_argument("--concurrency", type=int, default=64,
                   help="connections for rekor-py (and Rekor v1 unless --v1-concurrency)")
    p.add_argument("--v1-concurrency", type=int, help="connections for Rekor v1")
    p.add_argument("--tiles-concurrency", type=int, default=4000,
                   help="connections for rekor-tiles, which answers only once a published "
                        "checkpoint holds the entry (2-3 s): its throughput is about "
                        "connections / latency until the server saturates; it pushes back "
                        "(503) past --tiles-pushback outstanding entries")
    p.add_argument("--only", default=",".join(SYSTEMS),
                   help=f"comma-separated, from {', '.join(SYSTEMS)}; run in this order")
    p.add_argument("--entries", type=int,
                   help="pre-signed entries (default 2,500/s x --seconds, + warm-up)")
    p.add_argument("--fresh-bodies", action="store_true",
                   help="sign new entries instead of reusing the cached ones")
    p.add_argument("--rekor-py-workers", type=int, default=2)
    p.add_argument("--v1-sequencer-interval", default="100ms",
                   help="trillian_log_signer --sequencer_interval (its default)")
    p.add_argument("--v1-batch-size", type=int, default=1000,
                   help="trillian_log_signer --batch_size (its default)")
    p.add_argument("--tiles-checkpoint-interval", default="1s",
                   help="rekor-tiles --checkpoint-interval (its default is Tessera's 10s)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the systems this many times, alternated (a b c a b c), and "
                        "report each one's best round: on a shared machine a burst of "
                        "load elsewhere then costs one round, not the comparison")
    p.add_argument("--tiles-batch-max-size", type=int, default=256,
                   help="rekor-tiles --batch-max-size (Tessera's default)")
    p.add_argument("--tiles-pushback", type=int, default=4096,
                   help="rekor-tiles --pushback-max-outstanding (Tessera's default)")
    p.add_argument("--no-install", action="store_true",
                   help="don't run bench/peers/install.sh (binaries already in the cache)")
    p.add_argument("--json", type=Path, help="write all figures here")
    args = p.parse_args()
    args.v1_concurrency = args.v1_concurrency or args.concurrency
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if bad := set(only) - set(SYSTEMS):
        raise SystemExit(f"unknown system(s) {bad}; choose from {SYSTEMS}")
    if "rekor-tiles" in only and args.workload == "mixed":
        print("rekor-tiles takes hashedrekord only: skipped for --workload mixed")
        only.remove("rekor-tiles")

    load_before, cores = os.getloadavg(), os.cpu_count()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"{cores} cores", flush=True)
    if not args.no_install and set(only) - {"rekor-py"}:
        install()
    n = args.entries or int(2500 * args.seconds) + 5000
    warm_n = min(5000, n // 5) if args.warmup > 0 else 0
    bodies = bodies_for(args.workload, n, args.fresh_bodies)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-bodies-") as tmp_name:
        tmp = Path(tmp_name)
        files = {"v1w": tmp / "v1-warm.jsonl", "v1m": tmp / "v1-main.jsonl",
                 "v2w": tmp / "v2-warm.jsonl", "v2m": tmp / "v2-main.jsonl"}
        files["v1w"].write_bytes(b"\n".join(bodies[:warm_n] or bodies[:1]) + b"\n")
        files["v1m"].write_bytes(b"\n".join(bodies[warm_n:]) + b"\n")
        if "rekor-tiles" in only:
            v2 = [to_v2(b) for b in bodies]
            files["v2w"].write_bytes(b"\n".join(v2[:warm_n] or v2[:1]) + b"\n")
            files["v2m"].write_bytes(b"\n".join(v2[warm_n:]) + b"\n")
        for rnd in range(1, args.rounds + 1):
            for name in only:
                print(f"\n== {name}" + (f", round {rnd}" if args.rounds > 1 else ""),
                      flush=True)
                try:
                    r = measure(name, args, files["v1w"], files["v1m"], files["v2w"],
                                files["v2m"])
                except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
                    detail = getattr(e, "stderr", None) or ""
                    print(f"{name} failed: {e}\n{detail}", flush=True)
                    results.append({"system": name, "round": rnd, "error": f"{e}\n{detail}"})
                    continue
                print(r.pop("wrk_output"), end="", flush=True)
                print(f"tree grew by {r['tree_grew_by']} for {r['created']} answers 201; "
                      f"CPU s by process: {r['cpu_seconds_by_process']}", flush=True)
                if r["repeats"]:
                    print(f"WARNING: ran out of fresh entries ({r['repeats']} repeats): "
                          "raise --entries", flush=True)
                r["round"] = rnd
                results.append(r)
    print(f"\nworkload {args.workload}, {args.seconds:g} s per system, wrk -t1; load average "
          f"before {' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {cores} cores")
    best = [max((r for r in results if r["system"] == name),
                key=lambda r: r.get("entries_per_s", -1.0)) for name in only]
    if args.rounds > 1:
        print("all rounds:")
        print(table(results, best))
        print(f"\nthe best of {args.rounds} rounds (highest entries/s) of each system:")
    print(table(best, best))
    print("CPU ms/entry: utime+stime of all the system's processes (server(s), Trillian, "
          "database) from the start of the run until the tree stopped growing, / entries "
          "added. others' cores: CPU used meanwhile by processes outside the benchmark: "
          "above ~0.2 the row is depressed by contention.")
    if args.json:
        args.json.write_text(json.dumps({
            "workload": args.workload, "seconds": args.seconds, "cores": cores,
            "load_before": load_before, "load_after": os.getloadavg(),
            "rounds": args.rounds, "results": results, "best": best}, indent=2, default=str))
    if any("error" in r or not r["all_acknowledged_in_log"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

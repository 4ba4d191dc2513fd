"""Load generator for the log server: entries/s and latency of POST /api/v1/log/entries
(and of POST /api/v2/log/entries, for the `-v2` workloads).

Signs N entries of a workload (bench/workloads.py) BEFORE the run, starts
`rekor-py serve` as its own process on the embedded PostgreSQL (fsync on, a
fresh data dir) unless --url is given, then uploads them from C concurrent
connections and reports entries/s and p50/p90/p99 latency.  Every answer must
be 201 and the tree must grow by exactly N.  Several comma-separated workloads
run one after the other on the same server (e.g. `--workload fulcio,fulcio-v2`:
Rekor v1 and v2 writes in one run), with their ratios to the first.

    python bench/bench_server.py [--workload pubkey|fulcio|mixed|fulcio-v2[,...]]
        [--entries 20000] [--concurrency 64] [--workers 1] [--wrk SECONDS] [--url URL]
        [--rounds N] [--server-dir CHECKOUT ...]

`--rounds N` repeats the whole run N times, each on a fresh server and log, with the
same pre-signed entries, and prints every round and the spread.  `--server-dir`
(repeatable) runs the server from another checkout (its own `rekor_py`), alternated
with the others in every round (A B A B), and prints the ratios to the first: a
before/after comparison in one command, on the same entries and the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.rounds import print_rounds  # noqa: E402
from bench.stages import Profile, format_table  # noqa: E402
from bench.workloads import WORKLOADS, presign  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CpuMeter:
    """CPU seconds of the server's process tree and of PostgreSQL, by class: 'server'
    (rekor-py serve processes), 'worker' (their verification workers), 'postgres'.
    PostgreSQL is found by its data directory, inside the server's data dir."""

    def __init__(self, server_pid: int, data_dir: Path) -> None:
        import psutil  # noqa: PLC0415 - bench extra

        self._psutil = psutil
        self._root = psutil.Process(server_pid)
        self.root_pid = server_pid
        self._data_dir = str(data_dir)

    def _classes(self) -> dict[int, str]:
        found = {self._root.pid: "server"}
        for child in self._root.children(recursive=True):
            try:
                cmd = " ".join(child.cmdline())
                if "postgres" in child.name():
                    found[child.pid] = "postgres"
                elif "spawn_main" in cmd and not child.children():
                    # A verification worker: spawned, and spawns nothing itself.
                    # (`serve --workers N` spawns its server processes too; they have
                    # verification workers of their own.)
                    found[child.pid] = "worker"
                else:
                    found[child.pid] = "server"
            except self._psutil.NoSuchProcess:
                continue
        for proc in self._psutil.process_iter(["name", "cmdline"]):
            if proc.info["name"] and proc.info["name"].startswith("postgres"):
                try:
                    if self._data_dir in " ".join(proc.info["cmdline"] or []) or \
                            self._data_dir in (proc.cwd() or ""):
                        found[proc.pid] = "postgres"
                except (self._psutil.AccessDenied, self._psutil.NoSuchProcess):
                    continue
        return found

    def sample(self) -> dict[int, tuple[str, float]]:
        out = {}
        for pid, role in self._classes().items():
            try:
                times = self._psutil.Process(pid).cpu_times()
            except self._psutil.NoSuchProcess:
                continue
            out[pid] = (role, times.user + times.system)
        return out

    @staticmethod
    def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
              ) -> dict[str, float]:
        """CPU seconds by class between two samples (a process that started in between
        counts from zero; one that ended in between is lost, and so not counted)."""
        total: dict[str, float] = {}
        for pid, (role, seconds) in after.items():
            total[role] = total.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
        return total


def connection_split(root_pid: int, port: int) -> list[int]:
    """How many established connections to `port` each process under `root_pid`
    holds, largest first: with `serve --workers 2`, how the load was shared out."""
    import psutil  # noqa: PLC0415 - bench extra

    counts = []
    for proc in psutil.Process(root_pid).children(recursive=True):
        try:
            held = sum(1 for c in proc.net_connections("tcp")
                       if c.laddr and c.laddr.port == port
                       and c.status == psutil.CONN_ESTABLISHED)
        except psutil.Error:
            continue
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


class SplitProbe:
    """connection_split, sampled once `after_s` into a load run (in a thread, while
    the run's own call blocks)."""

    def __init__(self, root_pid: int | None, port: int, after_s: float = 1.0) -> None:
        self.split: list[int] | None = None
        self._timer = threading.Timer(after_s, self._sample, args=(root_pid, port))
        if root_pid is not None:
            self._timer.start()

    def _sample(self, root_pid: int, port: int) -> None:
        self.split = connection_split(root_pid, port)

    def result(self) -> list[int] | None:
        if self._timer.is_alive():
            self._timer.join()
        return self.split


@dataclass
class Cost:
    """What one measured run cost: entries logged, CPU seconds by process class, and the
    py-spy profile if one was taken."""

    entries: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    profile: Path | None = None
    # Committed batches in the run and their summed entries and commit seconds,
    # from the server's /metrics (its sequencers' histograms).
    batches: dict[str, float] = field(default_factory=dict)

    def batch_figures(self) -> dict[str, float]:
        n = self.batches.get("count", 0.0)
        if not n:
            return {}
        return {"batches": round(n), "entries_per_batch": round(self.batches["entries"] / n, 1),
                "commit_ms_mean": round(1000 * self.batches["seconds"] / n, 2)}

    def per_entry(self) -> dict[str, float]:
        return {role: round(s * 1e6 / max(self.entries, 1)) for role, s in self.cpu_s.items()}

    def stages(self) -> list[tuple[str, str, float, float]]:
        if self.profile is None or not self.profile.exists():
            raise SystemExit("py-spy wrote no profile (is it installed? pip install py-spy)")
        return Profile.read(self.profile).table(self.cpu_s, self.entries)


@contextlib.contextmanager
def measured(meter: CpuMeter | None, url: str, folder: Path, profile: bool,
             api: int = 1) -> Iterator[Cost]:
    """Measures the CPU and tree growth of the run inside the block (and profiles it)."""
    cost = Cost()
    size_before = asyncio.run(_tree_size(url, api))
    batches_before = asyncio.run(_batch_totals(url))
    before = meter.sample() if meter else {}
    spy = None
    if profile and meter is not None:
        cost.profile = folder / "profile.txt"
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(meter.root_pid),
                                "--subprocesses", "--format", "raw", "--rate", "100",
                                "--output", str(cost.profile)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # let it attach
    yield cost
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait(60)
    if meter:
        cost.cpu_s = CpuMeter.spent(before, meter.sample())
    cost.entries = asyncio.run(_tree_size(url, api)) - size_before
    after = asyncio.run(_batch_totals(url))
    cost.batches = {k: after[k] - batches_before.get(k, 0.0) for k in after}


_METRIC = re.compile(r'^(rekor_batch_entries|rekor_batch_commit_seconds)_(sum|count)\{[^}]*\} (\S+)$',
                     re.M)


async def _batch_totals(url: str) -> dict[str, float]:
    """Summed over APIs: committed batches, their entries and their commit seconds."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
        text = await r.text() if r.status == 200 else ""
    totals = {"count": 0.0, "entries": 0.0, "seconds": 0.0}
    for name, part, value in _METRIC.findall(text):
        if part == "count" and name == "rekor_batch_entries":
            totals["count"] += float(value)
        elif part == "sum":
            totals["entries" if name == "rekor_batch_entries" else "seconds"] += float(value)
    return totals


async def _tree_size(url: str, api: int = 1) -> int:
    async with aiohttp.ClientSession() as session:
        return await tree_size(session, url, api)


def api_of(workload: str) -> int:
    """The Rekor API a workload's bodies are for."""
    return 2 if workload.endswith("-v2") else 1


def start_server(data_dir: Path, port: int, workers: int, *extra: str,
                 env: dict[str, str] | None = None,
                 checkout: Path | None = None) -> subprocess.Popen[bytes]:
    """`rekor-py serve` (more flags in `extra`, environment `env`; from `checkout`'s
    `rekor_py` if given), once its port answers.  Its log goes to data_dir/serve.log: a
    pipe nobody reads would fill up and stall it."""
    log = data_dir / "serve.log"
    if checkout is not None:
        env = {**(env or os.environ), "PYTHONPATH": str(checkout)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir),
             "--port", str(port), "--workers", str(workers), *extra],
            stdout=subprocess.DEVNULL, stderr=out, env=env, cwd=checkout)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("serve did not start")


async def tree_size(session: aiohttp.ClientSession, url: str, api: int = 1) -> int:
    if api == 2:  # the v2 tree's size: the second line of its checkpoint
        async with session.get(f"{url}/api/v2/checkpoint") as r:
            return int((await r.text()).split("\n")[1])
    async with session.get(f"{url}/api/v1/log") as r:
        return int((await r.json())["treeSize"])


async def run_load(url: str, bodies: list[bytes], concurrency: int,
                   api: int = 1) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        before = await tree_size(session, url, api)

        async def worker() -> None:
            for body in queue:
                t0 = time.perf_counter()
                async with session.post(f"{url}/api/v{api}/log/entries", data=body,
                                        headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - start
        grown = await tree_size(session, url, api) - before
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"entries": len(bodies), "concurrency": concurrency, "seconds": elapsed,
            "entries_per_s": len(bodies) / elapsed, "p50_ms": q[49] * 1000,
            "p90_ms": q[89] * 1000, "p99_ms": q[98] * 1000, "max_ms": latencies[-1] * 1000,
            "statuses": statuses, "tree_grew_by": grown}


def run_wrk(url: str, bodies: list[bytes], concurrency: int, seconds: int,
            api: int = 1) -> dict[str, Any]:
    """The same load from wrk (C, one thread, `concurrency` connections): the
    Python client costs ~0.3 core, which this 2-core machine takes from the server."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        f.write(b"\n".join(bodies) + b"\n")
    script = Path(__file__).with_name("wrk_entries.lua")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script),
         url], capture_output=True, text=True, check=True,
        env={**os.environ, "REKOR_PY_BENCH_BODIES": f.name,
             "REKOR_PY_BENCH_PATH": f"/api/v{api}/log/entries"}).stdout
    os.unlink(f.name)
    result: dict[str, Any] = {"wrk_output": out}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith(("50%", "90%", "99%")):
            result[f"p{parts[0].rstrip('%')}_ms"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            result["entries_per_s"] = float(parts[1])
        elif "Non-2xx" in line:
            result["non_2xx"] = int(parts[-1])
    return result


def _ms(text: str) -> float:
    for unit, scale in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def main() -> None:
    args = _parse_args()
    workloads = args.workload.split(",")
    print(f"machine: {os.cpu_count()} cores, load average before signing "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    # Signed once, for every round and checkout: each of those starts a fresh log.
    wrk_n = int(args.wrk * 2500) if args.wrk else 0
    bodies = {w: presign(w, args.entries + args.warmup + wrk_n) for w in workloads}
    print(f"signed {sum(map(len, bodies.values()))} entries in {time.perf_counter() - t0:.1f} s "
          f"(before the run)")
    checkouts: list[Path | None] = [d.resolve() for d in args.server_dir] or [None]
    runs: list[tuple[int, Path | None, dict[str, dict[str, Any]]]] = []
    ok = True
    for round_ in range(1, args.rounds + 1):
        for checkout in checkouts:
            if args.rounds > 1 or len(checkouts) > 1:
                print(f"\n=== round {round_}, server from {checkout or 'this checkout'}")
            results = _run_server(args, workloads, bodies, checkout)
            ok = _report(args, results) and ok
            runs.append((round_, checkout, results))
    if len(runs) > 1:
        print_rounds(runs, workloads)
    if args.json:
        first = runs[0][2]
        out: Any = first if len(first) > 1 else first[workloads[0]]
        if len(runs) > 1:
            out = [{"round": r, "server_dir": str(c or "."), "results": res}
                   for r, c, res in runs]
        args.json.write_text(json.dumps(out, indent=2))
    if not ok:
        raise SystemExit(1)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--workload", default="pubkey",
                        help=f"what the entries look like (bench/workloads.py): one of "
                             f"{', '.join(WORKLOADS)}, or several, comma-separated, run one "
                             f"after the other on the same server")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--workers", type=int, default=1, help="server processes to start")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--wrk", type=int, metavar="SECONDS",
                        help="also drive the server with wrk for this long (apt-get install wrk)")
    parser.add_argument("--profile", action="store_true",
                        help="profile the server with py-spy during the wrk run (or the client "
                             "run without --wrk) and print CPU per entry by stage")
    parser.add_argument("--profile-out", type=Path, metavar="FILE",
                        help="with --profile: keep py-spy's raw samples (collapsed stacks) "
                             "in FILE, for a closer look than the stage table")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the run this many times, each on a fresh server")
    parser.add_argument("--server-dir", type=Path, action="append", default=[],
                        metavar="CHECKOUT",
                        help="run the server from this checkout (repeatable: alternated)")
    args = parser.parse_args()
    if unknown := [w for w in args.workload.split(",") if w not in WORKLOADS]:
        parser.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    if args.url and (args.server_dir or args.rounds > 1):
        parser.error("--url measures a server that is already running: no --server-dir, "
                     "no --rounds")
    return args


def _run_server(args: argparse.Namespace, workloads: list[str], bodies: dict[str, list[bytes]],
                checkout: Path | None) -> dict[str, dict[str, Any]]:
    """Every workload against one server: `--url`'s, or a fresh one from `checkout`."""
    proc = None
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rekor-py-bench-") as tmp:
        # As root the embedded PostgreSQL runs as its own user: let it in.
        os.chmod(tmp, 0o755)
        url = args.url
        if url is None:
            port = free_port()
            proc = start_server(Path(tmp), port, args.workers, checkout=checkout)
            url = f"http://127.0.0.1:{port}"
        meter = CpuMeter(proc.pid, Path(tmp)) if proc is not None else None
        try:
            for workload in workloads:
                results[workload] = _measure(args, workload, bodies[workload], url, meter,
                                             Path(tmp))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(60)
    return results


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> bool:
    ok = True
    for workload, result in results.items():
        print(f"\n{workload}:")
        result["fsync"] = "on (embedded PostgreSQL default)" if args.url is None else "as configured"
        result["server_workers"] = args.workers if args.url is None else "as configured"
        for k, v in result.items():
            print(f"  {k:15} {v:.1f}" if isinstance(v, float) else f"  {k:15} {v}")
        good = result["statuses"] == {201: args.entries} and result["tree_grew_by"] == args.entries
        print("  all answers 201 and the tree grew by exactly N:", good)
        ok = ok and good
    if len(results) > 1:
        _print_ratios(results)
    return ok


def _measure(args: argparse.Namespace, workload: str, bodies: list[bytes], url: str,
             meter: CpuMeter | None, folder: Path) -> dict[str, Any]:
    """Warm up, then one client run (and a wrk run) of `workload` on the server at `url`."""
    api = api_of(workload)
    asyncio.run(run_load(url, bodies[: args.warmup], args.concurrency, api))
    timed = bodies[args.warmup: args.warmup + args.entries]
    fresh = bodies[args.warmup + args.entries:]
    load = os.getloadavg()[0]
    print(f"{workload}: load average before the run {load:.2f}")
    profiling = args.profile and not args.wrk
    with measured(meter, url, folder, profiling, api) as client_cost:
        result = asyncio.run(run_load(url, timed, args.concurrency, api))
    result["load_avg_before"] = round(load, 2)
    result["cpu_us_per_entry"] = client_cost.per_entry()
    result["batches"] = client_cost.batch_figures()
    if args.wrk:
        load = os.getloadavg()[0]
        with measured(meter, url, folder, args.profile, api) as wrk_cost:
            probe = SplitProbe(meter.root_pid if meter else None, urlsplit(url).port or 80)
            wrk = run_wrk(url, fresh, args.concurrency, args.wrk, api)
            wrk["connections_per_server_process"] = probe.result()
        print(wrk.pop("wrk_output"))
        wrk["load_avg_before"] = round(load, 2)
        wrk["cpu_us_per_entry"] = wrk_cost.per_entry()
        wrk["batches"] = wrk_cost.batch_figures()
        result["wrk"] = wrk
    if args.profile:
        cost = wrk_cost if args.wrk else client_cost
        print(f"\nCPU by stage ({cost.entries} entries, py-spy at 100 Hz):")
        print(format_table(cost.stages(), cost.cpu_s, cost.entries))
        if args.profile_out and cost.profile is not None:
            shutil.copyfile(cost.profile, args.profile_out)
    result["workload"] = workload
    return result


def _print_ratios(results: dict[str, dict[str, Any]]) -> None:
    first, base = next(iter(results.items()))
    print(f"\nratios to {first} (same server, same run):")
    for workload, result in results.items():
        print(f"  {workload:12} entries/s {result['entries_per_s'] / base['entries_per_s']:.2f}x"
              f"  p50 {result['p50_ms'] / base['p50_ms']:.2f}x"
              f"  p99 {result['p99_ms'] / base['p99_ms']:.2f}x")


if __name__ == "__main__":
    main()

"""What bounds the write rate on this machine: the floors of a write's parts, measured
in one run beside a real write run.

A write costs at least an HTTP request and its answer and the parsing and
verifying of its entry (floors, measured alone), plus the load generator's and
PostgreSQL's work (taken as the write run spent them: PostgreSQL's share depends on
the batches the run made).  All are measured on the same machine in the same few
minutes; their sum gives the most entries/s the machine could log if everything else
(the verification pool's IPC, the sequencer, SQL on the client side, proofs, SETs,
the answer's JSON) cost nothing:

1. a write run: `rekor-py serve --workers W` on a fresh embedded PostgreSQL (fsync
   on), wrk posting pre-signed entries of `--workload` (default `fulcio`, a fresh key
   and certificate each) for `--seconds`; entries/s and CPU per entry of the server
   processes, their verification workers, PostgreSQL and wrk itself;
2. the HTTP floor: wrk on `GET /ping` of that same server, as many connections, for
   as long; the server's CPU per request (the app's middlewares included: every
   request pays them) and wrk's;
3. the verification floor: `prepare_raw` (what a verification worker does: parse,
   verify, canonicalize, deflate) over fresh entries of the workload in this process,
   once the server is gone, each entry once (with `fulcio`, every key new, as in
   the server; `pubkey` and `mixed` reuse keys, whose parsed form is cached).

    python3 bench/bench_floor.py [--workload fulcio] [--seconds 10] [--workers 2]
        [--concurrency 64]

Each figure is measured, not estimated; the ceiling is the machine's cores over
their sum.  The HTTP floor is a GET answered many to a wake-up of the event loop, a
lower bound for a POST.  The floors move with the machine's speed like everything else, so
compare the ceiling with the write run of the same invocation only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_server import (  # noqa: E402
    CpuMeter,
    free_port,
    measured,
    run_load,
    run_wrk,
    start_server,
)
from bench.workloads import WORKLOADS, presign  # noqa: E402
from rekor_py.config import Settings  # noqa: E402
from rekor_py.log.prepare import prepare_raw  # noqa: E402

# What `rekor-py serve` passes by default.
_INSERTABLE: frozenset[str] = Settings.model_fields["insertable_kinds"].default
_MAX_ATTESTATION: int = Settings.model_fields["max_attestation_bytes"].default


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (wrk, once it has ended)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _answers(wrk_output: str) -> int:
    """The answers wrk counted ("N requests in ..." in its summary)."""
    return next(int(line.split()[0]) for line in wrk_output.splitlines()
                if "requests in" in line)


def write_run(url: str, bodies: list[bytes], args: argparse.Namespace, meter: CpuMeter,
              folder: Path) -> dict[str, Any]:
    """Entries/s and CPU µs per entry by process class (wrk included) of one wrk run."""
    wrk_before = _children_cpu()
    with measured(meter, url, folder, profile=False) as cost:
        result = run_wrk(url, bodies, args.concurrency, args.seconds)
    per_entry = cost.per_entry()
    per_entry["wrk"] = round((_children_cpu() - wrk_before) * 1e6 / max(cost.entries, 1))
    out = result["wrk_output"]
    if "Socket errors" in out or result.get("non_2xx", 0):
        raise SystemExit(f"the write run had errors (wrk out of fresh entries, or the "
                         f"server refusing them):\n{out}")
    requests = _answers(out)
    if abs(requests - cost.entries) > args.concurrency:
        raise SystemExit(f"wrk counted {requests} answers but the tree grew by {cost.entries}")
    # Entries logged per second (the tree's growth), not wrk's answer rate.
    return {"entries_per_s": cost.entries / args.seconds, "p99_ms": result.get("p99_ms"),
            "entries": cost.entries, "cpu_us_per_entry": per_entry}


def ping_run(url: str, args: argparse.Namespace, meter: CpuMeter) -> dict[str, Any]:
    """Requests/s and CPU µs per request (server processes, wrk) of GET /ping."""
    before = meter.sample()
    wrk_before = _children_cpu()
    out = subprocess.run(["wrk", "-t1", f"-c{args.concurrency}", f"-d{args.seconds}s",
                          f"{url}/ping"], capture_output=True, text=True, check=True).stdout
    spent = CpuMeter.spent(before, meter.sample())
    wrk_cpu = _children_cpu() - wrk_before
    requests = _answers(out)
    if "Non-2xx" in out:
        raise SystemExit(f"/ping answered errors:\n{out}")
    return {"req_per_s": requests / args.seconds,
            "server_us": round(spent.get("server", 0.0) * 1e6 / requests),
            "wrk_us": round(wrk_cpu * 1e6 / requests)}


def verify_floor(bodies: list[bytes]) -> float:
    """CPU µs per entry of prepare_raw over `bodies` in this process, each met once."""
    start = time.process_time()
    for body in bodies:
        prepare_raw(body, _INSERTABLE, _MAX_ATTESTATION)
    return (time.process_time() - start) / len(bodies) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="fulcio",
                        choices=[w for w in WORKLOADS if not w.endswith("-v2")])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--floor-entries", type=int, default=1500,
                        help="fresh entries for the verification floor")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"load average before signing: {os.getloadavg()[0]:.2f}; {cores} cores")
    # Enough that wrk never runs out: past its list it repeats the last entry, a
    # 409 that costs less than a write and would flatter the figures.
    sent = 3500 * args.seconds
    print(f"signing {args.warmup + sent + args.floor_entries:,} {args.workload} entries")
    bodies = presign(args.workload, args.warmup + sent + args.floor_entries)
    warmup, timed = bodies[:args.warmup], bodies[args.warmup:args.warmup + sent]
    floor_bodies = bodies[args.warmup + sent:]
    # This one includes the signing just done on every core.
    print(f"load average before the runs: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="rekor-py-floor-") as tmp:
        os.chmod(tmp, 0o755)  # as root the embedded PostgreSQL runs as its own user
        port = free_port()
        proc = start_server(Path(tmp), port, args.workers)
        url = f"http://127.0.0.1:{port}"
        try:
            meter = CpuMeter(proc.pid, Path(tmp))
            asyncio.run(run_load(url, warmup, args.concurrency))
            write = write_run(url, timed, args, meter, Path(tmp))
            ping = ping_run(url, args, meter)
        finally:
            proc.terminate()
            proc.wait(60)
    verify = verify_floor(floor_bodies)
    report(write, ping, verify, cores)


def report(write: dict[str, Any], ping: dict[str, Any], verify: float, cores: int) -> None:
    cpu = write["cpu_us_per_entry"]
    # The first two are floors; wrk and PostgreSQL are what the write run spent
    # (PostgreSQL's share depends on the batches the run made).
    floors = [
        ("floor: HTTP request and answer (server processes, GET /ping)", ping["server_us"]),
        ("floor: parse, verify, canonicalize, deflate (one process)", round(verify)),
        ("as spent: load generator (wrk, in the write run)", cpu["wrk"]),
        ("as spent: PostgreSQL (in the write run)", cpu.get("postgres", 0)),
    ]
    floor = sum(us for _, us in floors)
    spent = sum(cpu.values())
    print(f"\nwrite run: {write['entries_per_s']:,.0f} entries/s, p99 {write['p99_ms']} ms, "
          f"{write['entries']:,} entries; CPU µs per entry {cpu}, total {spent:,}")
    print(f"GET /ping: {ping['req_per_s']:,.0f} req/s; µs per request: server "
          f"{ping['server_us']}, wrk {ping['wrk_us']}")
    print("\nCPU µs per entry:")
    for name, us in floors:
        print(f"  {name:62} {us:6,}")
    print(f"  {'sum':62} {floor:6,}")
    print(f"\nceiling: {cores} cores / {floor:,} µs = {cores * 1e6 / floor:,.0f} entries/s "
          f"if nothing else cost anything (wrk and PostgreSQL as spent)")
    print(f"the write run spent {spent:,} µs per entry: {spent - floor:,} beyond these "
          f"({(spent - floor) / spent:.0%}); cores "
          f"{write['entries_per_s'] * spent / (cores * 1e6):.0%} busy")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

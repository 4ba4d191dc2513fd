"""What witnessing costs the log: write throughput with 0, 1 and 3 witnesses
(fail-open), and the time from an entry's acknowledgement to the first checkpoint
holding it that every witness cosigned.

The witnesses are real: litewitness (filippo.io/torchwood, built by
tests/interop/install-clients.sh), one process each with its own ssh-agent key,
on this machine.  Each configuration gets a fresh `rekor-py serve` (embedded
PostgreSQL, fsync on) whose policy names the witnesses with `quorum` all of
them, and the same pre-signed entries from the Python load client of
bench_server.py.  Configurations run in turn, `--rounds` times (0, 1, 3, 0, 1,
3, ...), so load from elsewhere hits them alike; the ratios to 0 witnesses are
the figures to read.  After each load, `--probes` single entries are posted
one at a time; for each, the time until <tiles>/checkpoint (polled every 5 ms)
holds it with every witness's cosignature.

    python bench/bench_witness.py [--entries 6000] [--concurrency 64] [--rounds 2]
        [--interval-ms 1000] [--probes 20] [--workload pubkey]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_server import run_load, start_server  # noqa: E402
from bench.workloads import presign  # noqa: E402
from rekor_py.log.c2sp import NoteVerifier, load_or_create_note_key  # noqa: E402
from rekor_py.log.checkpoint import parse_checkpoint  # noqa: E402
from tests.integration.logserver import free_port, signed_hashedrekord  # noqa: E402
from tests.interop.litewitness import Litewitness, start_litewitness  # noqa: E402

HOST = "witness.bench"
ORIGIN = f"{HOST}/tlog"
INSTALLER = Path(__file__).resolve().parent.parent / "tests" / "interop" / "install-clients.sh"


def tools() -> dict[str, Path]:
    out = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, check=True)
    return {k: Path(v) for k, _, v in (line.partition("=") for line in out.stdout.splitlines())}


def start_log(data_dir: Path, witnesses: list[Litewitness], interval_ms: float
              ) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "REKOR_PY_REKOR_V2": "false"}
    if witnesses:
        policy = data_dir / "policy"
        names = " ".join(f"w{i}" for i in range(len(witnesses)))
        policy.write_text("".join(f"witness w{i} {w.verifier.vkey} {w.url}\n"
                                  for i, w in enumerate(witnesses))
                          + f"group all-of-them all {names}\nquorum all-of-them\n")
        env.update(REKOR_PY_WITNESS_POLICY=str(policy),
                   REKOR_PY_WITNESS_INTERVAL_MS=str(interval_ms))
    port = free_port()
    proc = start_server(data_dir, port, 1, "--hostname", HOST, "--tile-prefix", "/tlog",
                        env=env)
    return proc, f"http://127.0.0.1:{port}"


async def ack_to_cosigned(url: str, witnesses: list[Litewitness], probes: int,
                          interval_s: float) -> list[float]:
    """Seconds from each probe entry's 201 to a checkpoint holding it with every
    witness's cosignature.  Probes start at random moments of the witnessing
    interval (otherwise each would start just after a round, and wait a whole one)."""
    out = []
    async with aiohttp.ClientSession() as session:
        for i in range(probes):
            async with session.post(f"{url}/api/v1/log/entries",
                                    json=signed_hashedrekord(b"probe %d %f" % (i, time.time()))
                                    ) as r:
                assert r.status == 201, await r.text()
                acked = time.perf_counter()
                index = next(iter((await r.json()).values()))["logIndex"]
            while True:
                async with session.get(f"{url}/tlog/checkpoint") as r:
                    text = await r.text()
                cp = parse_checkpoint(text).checkpoint
                if cp.size > index and all(w.verifier.find(text, cp.body()) for w in witnesses):
                    out.append(time.perf_counter() - acked)
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(random.uniform(0, interval_s))
    return out


def one(n: int, bodies: list[bytes], args: argparse.Namespace, found: dict[str, Path],
        tmp: Path) -> dict[str, Any]:
    data_dir = tmp / f"log-{n}-{time.monotonic_ns()}"
    data_dir.mkdir()
    note = load_or_create_note_key(data_dir / "note-key-ed25519.pem").public_key
    vkey = NoteVerifier.ed25519(ORIGIN, note).vkey
    witnesses = [start_litewitness(found, data_dir / f"w{i}", f"witness.bench/w{i}")
                 for i in range(n)]
    proc = None
    try:
        for w in witnesses:
            w.add_log(ORIGIN, vkey)
        proc, url = start_log(data_dir, witnesses, args.interval_ms)
        load = asyncio.run(run_load(url, bodies, args.concurrency))
        assert set(load["statuses"]) == {201}, load["statuses"]
        lags = (asyncio.run(ack_to_cosigned(url, witnesses, args.probes, args.interval_ms / 1000))
                if witnesses else [])
        return {"witnesses": n, "entries_per_s": load["entries_per_s"], "p50_ms": load["p50_ms"],
                "p99_ms": load["p99_ms"], "lags": lags}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
        for w in witnesses:
            w.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=6000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--interval-ms", type=float, default=1000.0,
                   help="REKOR_PY_WITNESS_INTERVAL_MS: how often a new head goes to witnesses")
    p.add_argument("--probes", type=int, default=20)
    p.add_argument("--workload", default="pubkey")
    args = p.parse_args()
    found = tools()
    print(f"load average before signing: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bodies = presign(args.workload, args.entries)
    results: dict[int, list[dict[str, Any]]] = {0: [], 1: [], 3: []}
    with tempfile.TemporaryDirectory(prefix="rekor-py-bench-witness-") as tmp:
        os.chmod(tmp, 0o755)  # the embedded PostgreSQL's user enters it
        for r in range(args.rounds):
            for n in (0, 1, 3):
                print(f"round {r + 1}, {n} witnesses: load average {os.getloadavg()[0]:.2f}",
                      flush=True)
                results[n].append(one(n, bodies, args, found, Path(tmp)))
    base = statistics.mean(x["entries_per_s"] for x in results[0])
    print(f"\n{args.entries} {args.workload} entries, {args.concurrency} connections, "
          f"witness interval {args.interval_ms:.0f} ms, fail-open, quorum = all witnesses")
    print("witnesses  entries/s (each round)        ratio   p50 ms  p99 ms   "
          "ack->cosigned p50 / p99 ms")
    for n, runs in results.items():
        rates = [x["entries_per_s"] for x in runs]
        lags = sorted(v for x in runs for v in x["lags"])
        lag = "      -"
        if lags:
            p99 = statistics.quantiles(lags, n=100)[98] if len(lags) > 1 else lags[0]
            lag = f"{statistics.median(lags) * 1000:7.0f} / {p99 * 1000:.0f}"
        p50 = statistics.mean(x["p50_ms"] for x in runs)
        p99_ms = statistics.mean(x["p99_ms"] for x in runs)
        each = " ".join(f"{x:8.0f}" for x in rates)
        print(f"{n:9d}  {each:28s}  {statistics.mean(rates) / base:5.2f}  "
              f"{p50:7.1f} {p99_ms:7.1f}   {lag}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

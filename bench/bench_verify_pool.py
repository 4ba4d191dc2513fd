"""The verification pools alone: server-process CPU and wall time per honest entry.

Verifies N presigned hashedrekord entries (64 in flight, as bench_server's
client sends them) four ways, alternated over --rounds:

* inline:   run_job on the event loop (how entries were verified before);
* thread:   ThreadVerifyPool (2 threads);
* executor: concurrent.futures.ProcessPoolExecutor (2 spawned workers, an
            initializer that sets the limits and imports the parsers);
* process:  ProcessVerifyPool (2 spawned workers; what the server uses).

"server CPU" is this process's CPU per entry (for the pools: the event loop's
share, which is what limits the server); the workers' CPU is not in it.

    python bench/bench_verify_pool.py [--entries 5000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_server import presign

from rekor_py import limits as limits_mod
from rekor_py.limits import Limits
from rekor_py.log.verify_pool import ProcessVerifyPool, ThreadVerifyPool, run_job

KINDS = frozenset({"hashedrekord"})


def _init(limits: Limits) -> None:
    limits_mod.configure(limits)
    import rekor_py.log.prepare  # noqa: F401


async def measure(mode: str, bodies: list[bytes], warmup: list[bytes]) -> tuple[float, float]:
    """(server CPU us per entry, wall s) for verifying `bodies` with 64 in flight."""
    loop = asyncio.get_running_loop()
    close: Callable[[], Awaitable[None]] | None = None
    ex: ProcessPoolExecutor | None = None
    pool: ProcessVerifyPool | ThreadVerifyPool | None = None
    if mode == "executor":
        ex = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init, initargs=(Limits(),))
    elif mode != "inline":
        pool = (ProcessVerifyPool if mode == "process" else ThreadVerifyPool)(2, Limits())
        await pool.start()
        close = pool.close

    async def call(b: bytes) -> Any:
        job = (b, KINDS, 0)
        if ex is not None:
            return await loop.run_in_executor(ex, run_job, job)
        if pool is not None:
            return await pool.verify(job)
        return run_job(job)

    gate = asyncio.Semaphore(64)

    async def one(body: bytes) -> None:
        async with gate:
            await call(body)

    await asyncio.gather(*[one(b) for b in warmup])
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[one(b) for b in bodies])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if close is not None:
        await close()
    if ex is not None:
        ex.shutdown()
    return cpu / len(bodies) * 1e6, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    warmup = presign(500)
    modes = ["inline", "thread", "executor", "process"]
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(asyncio.run(measure(mode, presign(args.entries), warmup)))
    print(f"{args.entries} entries, 64 in flight, median of {args.rounds} alternated rounds")
    print(f"{'pool':10} {'server CPU/entry':>18} {'wall':>8} {'entries/s':>10}")
    for mode in modes:
        cpu = statistics.median(c for c, _ in results[mode])
        wall = statistics.median(w for _, w in results[mode])
        print(f"{mode:10} {cpu:15.0f} us {wall:7.2f}s {args.entries / wall:10.0f}")


if __name__ == "__main__":
    main()

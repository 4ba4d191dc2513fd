"""What it costs this machine to wake another process: a pipe round trip between two
processes, on two CPUs and pinned to one.

The log server hands every entry across processes (server to verification worker and
back, server to PostgreSQL and back), so this is one of the machine's figures to record
beside a benchmark whose absolute figures are compared with another day's.  Run it on an
otherwise idle machine: what it shows is the cost of waking a CPU that went idle.  Where
that is costly (a virtual CPU halted until the host wakes it) the first row is many times
the pinned one; with the other CPU busy the two are alike.  (On one such day the write
benchmark pinned to one CPU still spent the same CPU per entry as on two: see
bench/README.md.)

    python3 bench/bench_wakeup.py [--round-trips 20000]
"""

from __future__ import annotations

import argparse
import os
import time


def round_trip(n: int, cpus: set[int] | None) -> tuple[float, float]:
    """Wall and parent CPU µs per round trip of one byte each way."""
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    pid = os.fork()
    if pid == 0:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        for _ in range(n):
            os.read(from_parent, 1)
            os.write(to_parent, b"x")
        os._exit(0)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        os.write(to_child, b"x")
        os.read(from_child, 1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    os.waitpid(pid, 0)
    for fd in (to_child, from_parent, from_child, to_parent):
        os.close(fd)
    return wall / n * 1e6, cpu / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=20000)
    n = parser.parse_args().round_trips
    first = min(os.sched_getaffinity(0))
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    for label, cpus in (("any CPU (the scheduler's choice)", None), (f"pinned to CPU {first}", {first})):
        wall, cpu = round_trip(n, cpus)
        print(f"{label}: {wall:.1f} µs wall, {cpu:.1f} µs of the parent's CPU per round trip")


if __name__ == "__main__":
    main()

"""fsck's throughput on the logs bench_reads.py builds, by number of SET workers.

Runs `rekor-py fsck --data-dir DIR --jobs J --json` on each size's cached log
(bench_reads.py builds them, with stored SETs), the job counts alternated round
by round so that a slower minute of the machine hits each alike, and prints
entries/s, wall time and the CPU of fsck with its workers (PostgreSQL's is not
counted), with the load average before each run.  The log must be built
already: `python bench/bench_reads.py --sizes N --build-only`.

    python bench/bench_fsck.py [--sizes 1000000] [--jobs 1,2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_DEFAULT_CACHE = Path("/var/tmp/rekor-py/bench-reads")


def _run_fsck(data_dir: Path, jobs: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rekor_py", "fsck", "--data-dir", str(data_dir),
                           "--jobs", str(jobs), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(done.stdout)
    if not report.get("ok"):
        raise SystemExit(f"fsck of {data_dir} did not pass: {done.stdout[:2000]} {done.stderr[-2000:]}")
    sets = sum(t["sets_verified"] for t in report["trees"])
    if sets < report["entries_checked"]:
        print(f"  note: only {sets:,} of {report['entries_checked']:,} entries store a SET")
    return {"jobs": jobs, "entries": report["entries_checked"], "sets": sets,
            "entries_per_s": report["entries_per_second"], "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated log sizes")
    parser.add_argument("--cache-dir", type=Path, default=_DEFAULT_CACHE,
                        help=f"bench_reads.py's --cache-dir (default {_DEFAULT_CACHE})")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()}")
    for size in (int(s) for s in args.sizes.split(",")):
        data_dir = args.cache_dir / str(size)
        if not (data_dir / "bench-reads-complete.json").exists():
            raise SystemExit(f"no complete log in {data_dir}: run bench/bench_reads.py "
                             f"--sizes {size} --build-only first")
        runs = []
        for round_no in range(1, args.rounds + 1):
            for j in jobs:
                r = _run_fsck(data_dir, j)
                runs.append(r)
                print(f"  {size:,} entries, round {round_no}, --jobs {j}: "
                      f"{r['entries_per_s']:,.0f} entries/s, {r['wall_s']:.1f} s wall, "
                      f"{r['cpu_s']:.1f} s CPU (fsck and workers), load {r['load']:.2f}",
                      flush=True)
        base = max(r["entries_per_s"] for r in runs if r["jobs"] == jobs[0])
        print(f"\n{size:,} entries ({runs[0]['sets']:,} stored SETs): best entries/s, "
              f"ratio to --jobs {jobs[0]}")
        for j in jobs:
            best = max(r["entries_per_s"] for r in runs if r["jobs"] == j)
            print(f"  --jobs {j}: {best:,.0f}  {best / base:.2f}x")


if __name__ == "__main__":
    main()

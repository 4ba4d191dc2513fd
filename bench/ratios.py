"""Each benchmark's time as a multiple of its group's baseline, from a saved run.

pytest-benchmark's own tables compare each benchmark with the fastest of its group;
this prints the ratio to the baseline measured in the same run (the benchmark whose
extra_info has "baseline": true: hashlib, pymerkle, rfc8785, hashedrekord).  A ratio
below 1 is faster than the baseline.  Ratios, not absolute times, compare across runs
and machines.

    python bench/ratios.py [RUN.json ...]   # default: the newest run under .benchmarks/
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def newest_run(storage: Path = Path(".benchmarks")) -> Path:
    runs = sorted(storage.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"no saved run under {storage}/: run with --benchmark-autosave first")
    return runs[-1]


def table(run: dict[str, Any], stat: str) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in run["benchmarks"]:
        groups[bench["group"] or "(no group)"].append(bench)
    lines = []
    for group, benches in sorted(groups.items()):
        baselines = [b for b in benches if b["extra_info"].get("baseline")]
        if len(baselines) != 1:
            raise SystemExit(f"group {group!r} has {len(baselines)} baselines, wants 1")
        base = baselines[0]["stats"][stat]
        lines.append(f"{group}")
        for b in sorted(benches, key=lambda b: b["stats"][stat]):
            mark = "  (baseline)" if b is baselines[0] else ""
            lines.append(f"  {b['name']:58} {b['stats'][stat] * 1e6:11.2f} µs "
                         f"{b['stats'][stat] / base:8.2f}x{mark}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="saved runs (JSON)")
    parser.add_argument("--stat", default="min", choices=["min", "median", "mean"],
                        help="statistic compared (default min: the least disturbed by load)")
    args = parser.parse_args()
    for path in args.runs or [newest_run()]:
        run = json.loads(path.read_text())
        print(f"== {path} ({run['datetime']}, {args.stat}, x = time / baseline's time)")
        print("\n".join(table(run, args.stat)))


if __name__ == "__main__":
    main()

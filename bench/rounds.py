"""The summary of `bench_server.py --rounds N [--server-dir A --server-dir B]`: per
workload and checkout, every round's figures, their spread, and the ratios of the
means to the first checkout's.

The CPU columns are µs per logged entry by process class (the event-loop server
processes, their verification workers, PostgreSQL), from the wrk runs when there
were any: CPU per entry moves less with the machine's load than entries/s does, so
it is the steadier figure for a before/after comparison on a shared machine.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

_CLASSES = ("server", "worker", "postgres")


def print_rounds(runs: list[tuple[int, Path | None, dict[str, dict[str, Any]]]],
                 workloads: list[str]) -> None:
    checkouts = list(dict.fromkeys(c for _, c, _ in runs))
    names = {c: chr(ord("A") + i) for i, c in enumerate(checkouts)}
    for c in checkouts:
        print(f"{names[c]} = {c or 'this checkout'}")
    for workload in workloads:
        print(f"\n{workload}: every round (load average before each run)")
        rows = []
        means: dict[Path | None, dict[str, float]] = {}
        for c in checkouts:
            results = [res[workload] for _, cc, res in runs if cc == c]
            client = [r["entries_per_s"] for r in results]
            wrk = [r["wrk"]["entries_per_s"] for r in results if "wrk" in r]
            cpu = [r.get("wrk", r)["cpu_us_per_entry"] for r in results]
            means[c] = {"client": statistics.mean(client),
                        **({"wrk": statistics.mean(wrk)} if wrk else {}),
                        **{k: statistics.mean(x.get(k, 0) for x in cpu) for k in _CLASSES},
                        "total": statistics.mean(sum(x.get(k, 0) for k in _CLASSES)
                                                 for x in cpu)}
            rows.append([
                names[c],
                _each(client, [r["load_avg_before"] for r in results]),
                _spread(client),
                _each([r["p99_ms"] for r in results]),
                _each(wrk, [r["wrk"]["load_avg_before"] for r in results if "wrk" in r])
                if wrk else "",
                _spread(wrk) if wrk else "",
                _each([r["wrk"]["p99_ms"] for r in results if "wrk" in r]) if wrk else "",
                " / ".join(f"{means[c][k]:.0f}" for k in _CLASSES),
            ])
        _table(["", "client entries/s", "spread", "client p99 ms", "wrk entries/s", "spread",
                "wrk p99 ms", "CPU µs/entry server / worker / postgres (mean)"], rows)
        if len(checkouts) > 1:
            base = means[checkouts[0]]
            print(f"\n{workload}: means, ratio to {names[checkouts[0]]}")
            for c in checkouts[1:]:
                m = means[c]
                parts = [f"client entries/s {m['client'] / base['client']:.2f}"]
                if "wrk" in m and "wrk" in base:
                    parts.append(f"wrk entries/s {m['wrk'] / base['wrk']:.2f}")
                parts += [f"{k} CPU {m[k] / base[k]:.2f}" for k in _CLASSES if base[k]]
                parts.append(f"all CPU {m['total'] / base['total']:.2f}")
                print(f"  {names[c]}: " + ", ".join(parts))


def _each(values: list[float], loads: list[float] | None = None) -> str:
    if loads:
        return ", ".join(f"{v:,.0f} ({load:.1f})" for v, load in zip(values, loads, strict=True))
    return ", ".join(f"{v:,.0f}" for v in values)


def _spread(values: list[float]) -> str:
    """Max over min, less one: how far apart the rounds were."""
    if len(values) < 2 or min(values) <= 0:
        return "-"
    return f"{max(values) / min(values) - 1:.0%}"


def _table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")

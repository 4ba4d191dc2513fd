"""The verification worker's step alone, in one process: `prepare_raw` (parse, verify,
canonicalize, deflate) over pre-signed upload bodies of a write workload.

No server, pipes or database: the CPU per entry of what a verification worker does for
each upload, to compare checkouts or library versions (run the same command from each, or
with another interpreter).  The first pass meets every key for the first time, as the
server does with `fulcio` entries; later passes hit the parsed-key caches.

    python3 bench/bench_prepare.py [--workload fulcio] [--entries 600] [--passes 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

from rekor_py.config import Settings  # noqa: E402
from rekor_py.log.prepare import prepare_raw  # noqa: E402

# What `rekor-py serve` accepts by default.
_INSERTABLE: frozenset[str] = Settings.model_fields["insertable_kinds"].default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="fulcio",
                        choices=[w for w in workloads.WORKLOADS if not w.endswith("-v2")])
    parser.add_argument("--entries", type=int, default=600)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    bodies = workloads.presign(args.workload, args.entries)
    import cryptography
    print(f"{args.workload}: {len(bodies)} entries, cryptography {cryptography.__version__}")
    for n in range(1, args.passes + 1):
        start = time.process_time()
        for body in bodies:
            prepare_raw(body, _INSERTABLE, 0)
        per_entry = (time.process_time() - start) / len(bodies) * 1e6
        print(f"pass {n}: {per_entry:.0f} µs of CPU per entry")


if __name__ == "__main__":
    main()

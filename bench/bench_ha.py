"""Write throughput and latency: one PostgreSQL vs a 3-node Patroni cluster with
synchronous replication, everything on this machine.

Starts each database in turn (fsync on in both), one `rekor-py serve` on it (the
cluster through its multi-host read-write DSN), and drives it with
bench/bench_server.py --url, whose figures (entries/s, p50/p90/p99) it prints side by
side.  Needs what tests/ha needs (etcd, tests/ha/install-patroni.sh; run as root).

    python bench/bench_ha.py [--entries 3000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rekor_py.storage.embedded import EmbeddedPostgres  # noqa: E402
from tests.ha.cluster import Cluster  # noqa: E402
from tests.integration.load import ServeProcess  # noqa: E402
from tests.integration.logserver import free_port  # noqa: E402

_HERE = Path(__file__).resolve().parent


def _bench(dsn: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    folder.mkdir(exist_ok=True)
    server = ServeProcess(dsn, folder, free_port(), hostname="bench.test")
    server.start()
    try:
        out = folder / "figures.json"
        subprocess.run([sys.executable, str(_HERE / "bench_server.py"), "--url", server.url,
                        "--entries", str(args.entries), "--concurrency", str(args.concurrency),
                        "--warmup", "300", "--json", str(out)], check=True)
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    folder = Path(tempfile.mkdtemp(prefix="rekor-py-bench-ha-"))
    os.chmod(folder, 0o755)
    try:
        single = EmbeddedPostgres(folder / "single", fsync=True)
        try:
            results["single node"] = _bench(single.start(), args, folder / "s")
        finally:
            single.stop()
        cluster = Cluster.create(synchronous=True, fsync=True)
        try:
            cluster.start()
            results["3 nodes, synchronous"] = _bench(cluster.dsn(), args, folder / "c")
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{'database':24} {'entries/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:24} {r['entries_per_s']:10.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}")


if __name__ == "__main__":
    main()

"""Monitor catch-up over entry bundles: entries/s on one connection.

Builds a log of N entries (default 1,000,000) fast, in-process, with synthetic
hashedrekord-shaped bodies written through the log's own storage functions
(tests/integration/synthetic_log.py), on an embedded PostgreSQL; then serves it
with `rekor-py serve` in its own process and times ONLY the monitor's first
pass from an empty state: checkpoint signatures, then every bundle and level-0
tile over one HTTP connection (gzip), each entry hashed and checked against its
tile, the right edge rebuilt to the signed root.  Also times a watched-key pass
(every body parsed as JSON) unless --no-watch.

    python bench/bench_monitor.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rekor_py.config import Settings  # noqa: E402
from rekor_py.log.c2sp import NoteVerifier  # noqa: E402
from rekor_py.log.signer import LogVerifier  # noqa: E402
from rekor_py.monitor import MonitorState, TileFetcher, Watchlist, check_log  # noqa: E402
from rekor_py.server import open_log  # noqa: E402
from rekor_py.storage.embedded import EmbeddedPostgres  # noqa: E402
from rekor_py.storage.migrate import migrate  # noqa: E402
from tests.integration.conftest import postgres_scratch_dir, scratch_database  # noqa: E402
from tests.integration.logserver import free_port, spawn_serve  # noqa: E402
from tests.integration.synthetic_log import (  # noqa: E402
    SYNTHETIC_KEY_PEM,
    append_synthetic,
    synthetic_body,
)


async def build_synthetic_log(dsn: str, data_dir: Path, port: int, n: int) -> None:
    """N synthetic entries in the log of `dsn`, keys in `data_dir` (fsync off while building)."""
    settings = Settings(port=port, data_dir=data_dir, database_url=dsn, fsync=False)
    runtime = await open_log(settings, writable=False)
    try:
        svc, batch = runtime.service, 50_000
        for at in range(0, n, batch):
            bodies = [synthetic_body(i) for i in range(at, min(at + batch, n))]
            await append_synthetic(runtime.pool, svc.tree_id, svc.signer,
                                   settings.checkpoint_name, bodies)
    finally:
        await runtime.close()


async def _catch_up(url: str, watch: Watchlist) -> tuple[float, int]:
    async with TileFetcher(url) as fetcher:
        text = await fetcher.checkpoint()
        origin = text.split("\n", 1)[0]
        verifiers = (NoteVerifier.ecdsa(origin, LogVerifier.from_pem(
            await fetcher.log_public_key())),
                     *[v for v in map(NoteVerifier.from_vkey, await fetcher.vkeys())
                       if v.sig_type == 1])
        t0 = time.perf_counter()
        result = await check_log(fetcher, MonitorState(origin, verifiers), watch)
        elapsed = time.perf_counter() - t0
    return elapsed, result.new_entries if not watch else len(result.matches)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--no-watch", action="store_true")
    args = parser.parse_args()
    pg_dir, data_dir = postgres_scratch_dir(), Path(tempfile.mkdtemp())
    server = EmbeddedPostgres(pg_dir, fsync=False)
    admin = await asyncio.to_thread(server.start)
    try:
        async with scratch_database(admin) as dsn:
            await migrate(dsn)
            port = free_port()
            t0 = time.perf_counter()
            await build_synthetic_log(dsn, data_dir, port, args.entries)
            print(f"built {args.entries:,} entries in {time.perf_counter() - t0:.1f} s")
            proc = spawn_serve(dsn, data_dir, port)
            try:
                url = f"http://127.0.0.1:{port}"
                elapsed, n = await _catch_up(url, Watchlist())
                print(f"catch-up: {n:,} entries in {elapsed:.2f} s = "
                      f"{n / elapsed:,.0f} entries/s (one connection, gzip)")
                if not args.no_watch:
                    watch = Watchlist(["nobody@example.com"], [SYNTHETIC_KEY_PEM])
                    elapsed, matched = await _catch_up(url, watch)
                    print(f"catch-up watching a key and an email: {args.entries:,} entries "
                          f"in {elapsed:.2f} s = {args.entries / elapsed:,.0f} entries/s "
                          f"({matched:,} matches)")
            finally:
                proc.terminate()
                proc.wait(30)
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

"""Explorer page loads on a large log and on a small one, in the same run.

Builds a log of N synthetic entries (default 1,000,000; bench_monitor's builder) and
one of 1,000 on the same embedded PostgreSQL, adds a few real uploads to each (so that
search has something to find), serves each with `rekor-py serve`, and loads every
explorer page in Debian's Chromium (Playwright): the log's state, an entry by index
(random indexes across the log) and by UUID, the latest entries (first page and a
deep one), and a search by artifact hash.  A load is timed from navigation start to
the moment the view has verified everything it shows (the page sets data-ready), as
`performance.now()`; each page is loaded --rounds times in a fresh browser profile
(first visit: keys pinned) and the median is printed, with the ratio big/small.

    python bench/bench_explorer.py [--entries 1000000] [--rounds 5]
    python bench/bench_explorer.py --url http://127.0.0.1:3000   # a log already served

With --url, nothing is built or uploaded: the pages are timed on that log alone, and
the UUID and search pages use entries sampled from it (synthetic entries have no
search keys, so a search may find nothing; it is timed all the same).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bench.bench_monitor import build_synthetic_log  # noqa: E402
from rekor_py.storage.embedded import EmbeddedPostgres  # noqa: E402
from rekor_py.storage.migrate import migrate  # noqa: E402
from tests.integration.conftest import postgres_scratch_dir, scratch_database  # noqa: E402
from tests.integration.explorer_browser import chromium  # noqa: E402
from tests.integration.logserver import free_port, post_entry, signed_hashedrekord, spawn_serve  # noqa: E402


async def _upload(url: str, n: int) -> list[tuple[str, str]]:
    """n real entries: (uuid, artifact hash)."""
    out = []
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            proposed = signed_hashedrekord(f"explorer bench {i} {time.time()}".encode())
            status, body, _ = await post_entry(s, url, proposed)
            assert status == 201, body
            out.append((next(iter(body)), proposed["spec"]["data"]["hash"]["value"]))
    return out


async def _sample(url: str, n: int) -> tuple[int, list[tuple[str, str]]]:
    """The log's size and n of its entries (uuid, artifact hash), at random."""
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/api/v1/log") as r:
            info = await r.json()
        size = info["treeSize"] + sum(t["treeSize"] for t in info.get("inactiveShards") or [])
        picked = []
        for index in random.Random(11).sample(range(size), n):
            async with s.get(f"{url}/api/v1/log/entries?logIndex={index}") as r:
                uuid, entry = next(iter((await r.json()).items()))
            body = json.loads(base64.b64decode(entry["body"]))
            picked.append((uuid, body["spec"]["data"]["hash"]["value"]))
    return size, picked


async def _time_pages(url: str, size: int, uploads: list[tuple[str, str]], rounds: int
                      ) -> dict[str, list[float]]:
    rng = random.Random(7)
    pages = {
        "log state": lambda: "",
        "entry by index": lambda: f"#/entry/{rng.randrange(size)}",
        "entry by UUID": lambda: f"#/entry/{rng.choice(uploads)[0]}",
        "latest, page 1": lambda: "#/latest",
        "latest, deep page": lambda: f"#/latest?page={size // 40}",
        "search by hash": lambda: f"#/search?hash={rng.choice(uploads)[1]}",
    }
    times: dict[str, list[float]] = {k: [] for k in pages}
    async with chromium() as browser:
        for _ in range(rounds):
            for name, route in pages.items():
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(f"{url}/{route()}")
                await page.wait_for_selector("#main[data-ready]", timeout=60_000)
                if name == "search by hash":
                    # The search view is ready at once; its results arrive after.
                    await page.wait_for_selector("#results h2", timeout=60_000)
                # Every verdict and every listed entry must have checked out.
                statuses = await page.locator(".verdict, tr[data-status]").evaluate_all(
                    "els => els.map(e => e.dataset.status)")
                found = bool(statuses) or name == "search by hash"  # a search may find nothing
                assert found and set(statuses) <= {"ok", "warn"}, (name, await page.inner_text("#main"))
                times[name].append(await page.evaluate("performance.now()"))
                await context.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="time the pages of a log already served there")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if args.url:
        size, picked = await _sample(args.url, 5)
        times = await _time_pages(args.url, size, picked, args.rounds)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print(f"median page load, ms, on {size:,} entries ({args.rounds} loads, fresh profile each)")
        for name, t in times.items():
            print(f"| {name} | {statistics.median(t):.0f} |")
        return
    pg_dir = postgres_scratch_dir()
    server = EmbeddedPostgres(pg_dir, fsync=True)
    admin = await asyncio.to_thread(server.start)
    dirs: list[Path] = []
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for n in (args.small, args.entries):
            async with scratch_database(admin) as dsn:
                await migrate(dsn)
                data_dir = Path(tempfile.mkdtemp())
                dirs.append(data_dir)
                port = free_port()
                t0 = time.perf_counter()
                await build_synthetic_log(dsn, data_dir, port, n)
                print(f"built {n:,} entries in {time.perf_counter() - t0:.1f} s")
                proc = spawn_serve(dsn, data_dir, port)
                try:
                    url = f"http://127.0.0.1:{port}"
                    uploads = await _upload(url, 5)
                    results[n] = await _time_pages(url, n + len(uploads), uploads, args.rounds)
                finally:
                    proc.terminate()
                    proc.wait(30)
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(pg_dir, ignore_errors=True)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    small, big = results[args.small], results[args.entries]
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print(f"median page load, ms (navigation start to everything verified; {args.rounds} loads, "
          "fresh profile each)")
    print(f"| page | {args.small:,} entries | {args.entries:,} entries | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in big:
        a, b = statistics.median(small[name]), statistics.median(big[name])
        print(f"| {name} | {a:.0f} | {b:.0f} | {b / a:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())

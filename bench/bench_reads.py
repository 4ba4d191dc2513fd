"""Reads at scale: req/s and latency of the read endpoints on logs of 1M and 10M entries.

For each size, builds a log of synthetic hashedrekord-shaped entries in-process
(tests/integration/synthetic_log.py, with the two search keys a real entry of
that shape gets) in the embedded PostgreSQL of a cached data dir, or reuses it
(building 10M entries takes a while: the dir is kept, and a build that was
interrupted resumes).  Then reads the log's database files once, so that the
page cache holds them (`--no-prewarm` skips it), serves the log with `rekor-py
serve --workers W` on that same data dir and drives each endpoint with wrk (-t1, a
Lua script picking a random index per request):

- entries: GET /api/v1/log/entries?logIndex=N (the entry, its inclusion proof,
  its SET), N uniform in [0, size);
- uuid:    GET /api/v1/log/entries/<UUID>, the same by 64-hex UUID, drawn from
  100,000 entries picked uniformly in [0, size);
- proof:   GET /api/v1/log/proof?firstSize=F&lastSize=size, F uniform in [1, size];
- tile:    GET <prefix>/tile/0/<N>, a full level-0 hash tile, N uniform.

`--connections C` (default 32) sets wrk's connections; an endpoint written
NAME@C uses C of them instead, so that `--endpoints entries@16,entries@24,entries`
prints throughput against latency in one run.

It prints req/s, p50/p99, non-2xx answers and server CPU per request for each
endpoint at each size, the ratio of the largest size to the smallest, the load
average with every figure, and the storage of each table and index in bytes per
entry against the canonical body.

    python bench/bench_reads.py [--sizes 1000000,10000000] [--seconds 10]
        [--cache-dir /var/tmp/rekor-py/bench-reads] [--server-dir OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_server import CpuMeter, SplitProbe, free_port  # noqa: E402
from rekor_py.config import Settings  # noqa: E402
from rekor_py.server import open_log  # noqa: E402
from rekor_py.storage.body_codec import decode_body  # noqa: E402
from tests.integration.synthetic_log import (  # noqa: E402
    SYNTHETIC_KEY_PEM,
    append_synthetic,
    synthetic_body,
)

ENDPOINTS = ("entries", "uuid", "proof", "tile")
_REPO = Path(__file__).resolve().parent.parent
_DONE = "bench-reads-complete.json"
_DEFAULT_CACHE = Path("/var/tmp/rekor-py/bench-reads")

# The wrk script: one request per call, its index uniform in [0, size); done() prints
# the figures as one JSON line (wrk's own text rounds latencies to 2 digits).
_LUA = r"""
local size = tonumber(os.getenv("BENCH_SIZE"))
local kind = os.getenv("BENCH_KIND")
local prefix = os.getenv("BENCH_TILE_PREFIX") or ""
math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1"))
local uuids = {}
if kind == "uuid" then
  for line in io.lines(os.getenv("BENCH_UUIDS")) do uuids[#uuids + 1] = line end
end

local function tile_index(n)
  local digits = tostring(n)
  while #digits % 3 ~= 0 do digits = "0" .. digits end
  local parts = {}
  for i = 1, #digits - 3, 3 do parts[#parts + 1] = "x" .. digits:sub(i, i + 2) end
  parts[#parts + 1] = digits:sub(#digits - 2)
  return table.concat(parts, "/")
end

request = function()
  local path
  if kind == "entries" then
    path = "/api/v1/log/entries?logIndex=" .. math.random(0, size - 1)
  elseif kind == "uuid" then
    path = "/api/v1/log/entries/" .. uuids[math.random(1, #uuids)]
  elseif kind == "proof" then
    path = "/api/v1/log/proof?firstSize=" .. math.random(1, size) .. "&lastSize=" .. size
  else
    path = prefix .. "/tile/0/" .. tile_index(math.random(0, math.floor(size / 256) - 1))
  end
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- building ------------------------------------------------------------------------


def index_keys_of(n: int, key_hash: str) -> tuple[str, str]:
    """The search keys hashedrekord gives synthetic_body(n) (types/base.signer_index_keys):
    its key's SHA-256 and "sha256:<artifact digest>"."""
    digest = hashlib.sha256(f"artifact {n}".encode()).hexdigest()
    return (key_hash, f"sha256:{digest}")


async def _grow(data_dir: Path, n: int, chunk: int) -> float:
    """Grow the log in data_dir to n entries (from whatever it holds); seconds spent."""
    settings = Settings(port=free_port(), data_dir=data_dir, fsync=False)
    runtime = await open_log(settings, writable=False)
    t0 = time.perf_counter()
    try:
        svc = runtime.service
        key_hash = hashlib.sha256(SYNTHETIC_KEY_PEM).hexdigest()
        at = (await svc.head()).size
        while at < n:
            end = min(at + chunk, n)
            bodies = [synthetic_body(i) for i in range(at, end)]
            await append_synthetic(runtime.pool, svc.tree_id, svc.signer,
                                   settings.checkpoint_name, bodies,
                                   search_keys=[index_keys_of(i, key_hash) for i in range(at, end)],
                                   sets=True)
            at = end
            if at % 1_000_000 < chunk:
                rate = at / max(time.perf_counter() - t0, 1e-9)
                print(f"  built {at:,} of {n:,} ({rate:,.0f} entries/s this run, "
                      f"load {loadavg()})", flush=True)
        # Hint bits and the visibility map, as a log that has been up for a while has
        # them: without VACUUM every first read of a page writes it back.
        async with runtime.pool.acquire() as conn:
            await conn.execute("VACUUM (ANALYZE) entries, tiles, trees")
    finally:
        await runtime.close()
    return time.perf_counter() - t0


def ensure_log(cache_dir: Path, n: int, chunk: int) -> tuple[Path, dict[str, Any]]:
    """The data dir of a log of n entries, built if need be; and its build record."""
    data_dir = cache_dir / str(n)
    done = data_dir / _DONE
    if done.exists():
        return data_dir, dict(json.loads(done.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    for d in (data_dir, *data_dir.parents):  # the embedded PostgreSQL's own user enters it
        if d == Path("/var/tmp") or d == d.parent:
            break
        os.chmod(d, 0o755)
    print(f"building {n:,} entries in {data_dir} (load {loadavg()})", flush=True)
    seconds = asyncio.run(_grow(data_dir, n, chunk))
    # stored_sets: every entry has its SET stored, as the sequencer stores it since
    # schema revision 0006 (a log built before has none, and reads sign them).
    record = {"entries": n, "build_seconds": round(seconds, 1), "built_at": time.time(),
              "stored_sets": True}
    done.write_text(json.dumps(record))
    print(f"built {n:,} entries in {seconds:,.0f} s", flush=True)
    return data_dir, record


# ---- storage -------------------------------------------------------------------------

_STORAGE_SQL = """
SELECT c.relname AS name, c.relkind::text AS kind, t.relname AS owner,
       pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS main,
       pg_indexes_size(c.oid) AS indexes
FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
WHERE s.nspname = 'public' AND c.relkind IN ('r', 'i')
ORDER BY c.relkind DESC, pg_total_relation_size(c.oid) DESC
"""


async def _storage(dsn: str) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        rows = [dict(r) for r in await conn.fetch(_STORAGE_SQL)]
        stats = dict(await conn.fetchrow(
            "SELECT count(*) AS n, sum(pg_column_size(body)) AS stored FROM entries"))
        # The canonical bodies' bytes: the stored form may be deflated (body_codec).
        stats["body"] = 0
        async with conn.transaction():
            async for r in conn.cursor("SELECT body FROM entries", prefetch=20_000):
                stats["body"] += len(decode_body(r["body"]))
        # Search keys: rows of index_keys up to revision 0004, hashes in the entry since.
        keys = await conn.fetchval(
            "SELECT count(*) FROM index_keys" if await conn.fetchval(
                "SELECT to_regclass('public.index_keys')") is not None
            else "SELECT coalesce(sum(cardinality(search_keys)), 0) FROM entries")
        setting = {k: await conn.fetchval(f"SHOW {k}")
                   for k in ("shared_buffers", "effective_cache_size", "work_mem")}
    finally:
        await conn.close()
    return {"relations": rows, "entries": stats["n"], "body_bytes": stats["body"],
            "body_stored_bytes": stats["stored"], "index_keys": keys, "settings": setting}


def print_storage(n: int, s: dict[str, Any]) -> None:
    count = max(s["entries"], 1)
    body = s["body_bytes"] / count
    print(f"\nstorage at {n:,} entries: canonical body {body:.0f} B/entry "
          f"(stored {s['body_stored_bytes'] / count:.0f} B after compression), "
          f"{s['index_keys'] / count:.1f} search keys/entry; PostgreSQL {s['settings']}")
    print(f"{'relation':<34} {'kind':<6} {'total MB':>10} {'B/entry':>9} {'of which idx B/entry':>21}")
    total = 0
    for r in s["relations"]:
        kind = "table" if r["kind"] == "r" else f"index ({r['owner']})"
        if r["kind"] == "r":
            total += r["total"]
        print(f"{r['name']:<34} {kind:<6} {r['total'] / 1e6:>10,.1f} {r['total'] / count:>9,.1f} "
              f"{(r['indexes'] / count if r['kind'] == 'r' else 0):>21,.1f}")
    print(f"{'all tables, indexes and TOAST':<41} {total / 1e6:>10,.1f} {total / count:>9,.1f}"
          f"   = body + {total / count - body:,.0f} B/entry (goal: body + 100)")


# ---- serving and driving -------------------------------------------------------------


def start_serve(data_dir: Path, port: int, workers: int, server_dir: Path,
                prefix: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(server_dir)}
    log_path = data_dir / "serve.log"
    log = open(log_path, "ab")  # noqa: SIM115 - the child holds it
    log_start = log.tell()
    flags = ["--tile-prefix", prefix] if prefix else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "rekor_py", "serve", "--data-dir", str(data_dir), "--port",
         str(port), "--workers", str(workers), *flags],
        stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=server_dir)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited; see {data_dir / 'serve.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/log", timeout=2) as r:
                if r.status == 200:
                    wait_warm(proc, log_path, log_start, workers, server_dir)
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("serve did not start")


def wait_warm(proc: subprocess.Popen[bytes], log_path: Path, log_start: int, workers: int,
              server_dir: Path) -> None:
    """Wait until each server process has warmed its tile cache (log/tile_warmup.py,
    which logs a line when done), so that the warm-up does not run during the timed
    runs; a checkout without the warm-up is not waited for."""
    if not (server_dir / "rekor_py" / "log" / "tile_warmup.py").exists():
        return
    started = time.monotonic()
    while time.monotonic() - started < 900:
        with open(log_path, "rb") as f:
            f.seek(log_start)
            done = f.read().count(b"tile cache warm:")
        if done >= workers:
            print(f"  (tile caches warm after {time.monotonic() - started:.1f} s)", flush=True)
            return
        if proc.poll() is not None:
            raise SystemExit(f"serve exited; see {log_path}")
        time.sleep(0.5)
    raise SystemExit("the tile caches did not warm within 900 s")


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_UUID_SAMPLE = 100_000


async def _write_uuid_sample(data_dir: Path, size: int, path: Path) -> None:
    settings = Settings(port=free_port(), data_dir=data_dir, fsync=False)
    runtime = await open_log(settings, writable=False)
    try:
        rng = random.Random(size)
        picks = [rng.randrange(size) for _ in range(min(_UUID_SAMPLE, size))]
        async with runtime.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT leaf_index, leaf_hash FROM entries WHERE tree_id = $1 "
                "AND leaf_index = ANY($2::bigint[])", runtime.service.tree_id, picks)
    finally:
        await runtime.close()
    by_index = {r["leaf_index"]: bytes(r["leaf_hash"]).hex() for r in rows}
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(by_index[n] + "\n" for n in picks))
    os.replace(tmp, path)


def uuid_sample(data_dir: Path, size: int) -> Path:
    """A file of the UUIDs of 100,000 entries drawn uniformly from the log of `size`
    entries in data_dir, for the `uuid` endpoint; read from the log once (the synthetic
    bodies' key is made anew by each process that builds) and kept in data_dir."""
    path = data_dir / f"uuid-sample-{size}.txt"
    if not path.exists():
        asyncio.run(_write_uuid_sample(data_dir, size, path))
    return path


def run_wrk(url: str, kind: str, size: int, seconds: float, connections: int, prefix: str,
            seed: int, uuids: Path | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "30s",
             "-s", f.name, url], capture_output=True, text=True, check=True,
            env={**os.environ, "BENCH_SIZE": str(size), "BENCH_KIND": kind,
                 "BENCH_TILE_PREFIX": prefix, "BENCH_SEED": str(seed),
                 "BENCH_UUIDS": str(uuids or "")}).stdout
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line[len("BENCH "):])
    result["req_per_s"] = result["requests"] / result["seconds"]
    return result


def check_answers(url: str, size: int, prefix: str, uuids: Path | None) -> None:
    """One answer of each kind is what it should be (a fast wrong answer is no figure)."""
    with urllib.request.urlopen(f"{url}/api/v1/log/entries?logIndex={size - 1}") as r:
        value = next(iter(json.loads(r.read()).values()))
        assert value["logIndex"] == size - 1, value
        assert value["verification"]["inclusionProof"]["treeSize"] == size
    if uuids is not None:
        uuid = uuids.read_text().split("\n", 1)[0]
        with urllib.request.urlopen(f"{url}/api/v1/log/entries/{uuid}") as r:
            (got, value), = json.loads(r.read()).items()
            assert got.endswith(uuid)
            assert value["verification"]["inclusionProof"]["treeSize"] == size
    with urllib.request.urlopen(f"{url}/api/v1/log/proof?firstSize=1&lastSize={size}") as r:
        assert json.loads(r.read())["hashes"]
    with urllib.request.urlopen(f"{url}{prefix}/tile/0/000") as r:
        assert len(r.read()) == 256 * 32


def endpoint_of(name: str, connections: int) -> tuple[str, int]:
    """(endpoint, wrk connections) of an --endpoints item: "entries" drives `entries`
    with `connections`, "entries@24" with 24.  Raises ValueError for anything else."""
    kind, at, given = name.partition("@")
    if kind not in ENDPOINTS or (at and not given.isdigit()):
        raise ValueError(name)
    return kind, int(given) if at else connections


def measure(url: str, meter: CpuMeter | None, kind: str, size: int, args: argparse.Namespace,
            seed: int, connections: int) -> dict[str, Any]:
    load = loadavg()
    before = meter.sample() if meter else {}
    probe = SplitProbe(meter.root_pid if meter else None, int(url.rsplit(":", 1)[1]))
    result = run_wrk(url, kind, size, args.seconds, connections, args.tile_prefix, seed,
                     args.uuid_files.get(size))
    result["split"] = probe.result()
    if meter is not None:
        spent = CpuMeter.spent(before, meter.sample())
        result["cpu_us_per_req"] = {k: round(v * 1e6 / max(result["requests"], 1))
                                    for k, v in spent.items()}
    result["load_before"] = load
    return result


def prewarm(data_dir: Path) -> None:
    """Read the log's database files once, so that the OS page cache holds them.

    At 10M entries the tables (~5.8 GB) are far larger than PostgreSQL's shared
    buffers, so a read by index is a copy from the page cache or, for what it lacks,
    a disk read: after a day of other runs only 1.5 GB of them were cached, and
    PostgreSQL's CPU per read doubled (perf on its backends: filemap_get_pages,
    io_schedule, pg_checksum_page)."""
    started, total = time.monotonic(), 0
    for path in sorted((data_dir / "postgres" / "pgdata" / "base").rglob("*")):
        if path.is_file():
            with open(path, "rb", buffering=0) as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
    print(f"  (read {total / 1e9:.2f} GB of the log's files into the page cache in "
          f"{time.monotonic() - started:.1f} s)", flush=True)


def bench_size(n: int, data_dir: Path, server_dir: Path, label: str,
               args: argparse.Namespace, round_no: int) -> dict[str, dict[str, Any]]:
    if not args.no_prewarm:
        prewarm(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_serve(data_dir, port, args.workers, server_dir, args.tile_prefix)
    results: dict[str, dict[str, Any]] = {}
    try:
        check_answers(url, n, args.tile_prefix, args.uuid_files.get(n))
        # PostgreSQL is told apart by its pgdata path: the data dir alone is a prefix of
        # another size's ("…/1000000" of "…/10000000").
        meter = CpuMeter(proc.pid, data_dir / "postgres" / "pgdata")
        for name in args.endpoints:
            kind, connections = endpoint_of(name, args.connections)
            # Warm-up: the first seconds fill the caches and PostgreSQL's buffers.
            run_wrk(url, kind, n, args.warmup, connections, args.tile_prefix, 7 + round_no,
                    args.uuid_files.get(n))
            r = measure(url, meter, kind, n, args, 1000 * round_no + 1, connections)
            results[name] = r
            print(f"  [{label}] {n:>11,} {name:<11} {r['req_per_s']:>8,.0f} req/s  "
                  f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
                  f"non-2xx {r['non_2xx'] + r['socket_errors']}  "
                  f"cpu us/req {r.get('cpu_us_per_req')}  connections {r['split']}  "
                  f"load {r['load_before']}", flush=True)
    finally:
        stop_serve(proc)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000",
                        help="comma-separated log sizes (default 1M and 10M)")
    # Not ~/.cache: as root that is under /root (0700), which the embedded PostgreSQL's
    # own user cannot enter.
    parser.add_argument("--cache-dir", type=Path, default=_DEFAULT_CACHE,
                        help=f"where the built logs are kept, one data dir per size "
                             f"(default {_DEFAULT_CACHE})")
    parser.add_argument("--seconds", type=float, default=10.0, help="each timed wrk run")
    # Long enough for the caches of a 10M log's level-0 tiles to fill (a random read
    # hits one of 39,000), as they are in a server that has been up a while.
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="untimed wrk run before each (default 10 s)")
    parser.add_argument("--connections", type=int, default=32,
                        help="wrk's connections (an endpoint may name its own: entries@24)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every size and server this many times, alternated")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help=f"comma-separated, of {', '.join(ENDPOINTS)}; NAME@C drives "
                             "NAME with C connections (entries@16,entries@24: a curve)")
    parser.add_argument("--tile-prefix", default="")
    parser.add_argument("--server-dir", type=Path, action="append",
                        help="serve from this checkout (repeat for an A/B, alternated); "
                             "default this one")
    parser.add_argument("--build-chunk", type=int, default=65_536)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--storage-only", action="store_true",
                        help="print the storage of each size's log, serve nothing")
    parser.add_argument("--no-storage", action="store_true")
    parser.add_argument("--no-prewarm", action="store_true",
                        help="do not read the log's files into the page cache before "
                             "serving it (what the figures before 2026-12-04's end had)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    for e in args.endpoints:
        try:
            endpoint_of(e, args.connections)
        except ValueError:
            parser.error(f"unknown endpoint {e!r}")
    if args.storage_only:
        args.endpoints = []
    sizes = [int(s) for s in args.sizes.split(",")]
    servers = [d.resolve() for d in (args.server_dir or [_REPO])]
    print(f"load average at start {loadavg()}; {os.cpu_count()} cores", flush=True)
    dirs = {}
    for n in sizes:
        dirs[n], record = ensure_log(args.cache_dir, n, args.build_chunk)
        sets = "stored" if record.get("stored_sets") else "NOT stored: built before 0006"
        print(f"{n:,} entries: {dirs[n]} (built in {record['build_seconds']:,} s; SETs {sets})")
    if args.build_only:
        return
    args.uuid_files = ({n: uuid_sample(dirs[n], n) for n in sizes}
                       if any(endpoint_of(e, 0)[0] == "uuid" for e in args.endpoints) else {})
    all_results: dict[str, Any] = {"sizes": sizes, "servers": [str(s) for s in servers],
                                   "rounds": []}
    for round_no in range(0 if args.storage_only else args.rounds):
        for n in sizes:
            for server in servers:
                label = server.name
                res = bench_size(n, dirs[n], server, label, args, round_no)
                all_results["rounds"].append({"round": round_no, "size": n,
                                              "server": str(server), "results": res})
    print(f"\n{'server':<16} {'endpoint':<8} " + " ".join(f"{n:>24,}" for n in sizes)
          + f" {'ratio':>7}")
    for server in servers:
        for kind in args.endpoints:
            cells, best = [], []
            for n in sizes:
                runs = [r["results"][kind] for r in all_results["rounds"]
                        if r["size"] == n and r["server"] == str(server)]
                rates = [x["req_per_s"] for x in runs]
                p99 = max(x["p99_ms"] for x in runs)
                best.append(max(rates))
                cells.append(f"{'/'.join(f'{x:,.0f}' for x in rates)} p99<={p99:.1f}")
            ratio = best[-1] / best[0] if best[0] else 0.0
            print(f"{server.name:<16} {kind:<11} " + " ".join(f"{c:>24}" for c in cells)
                  + f" {ratio:>7.2f}")
    print(f"(req/s of each round; ratio: the largest size's best over the smallest's; "
          f"load average now {loadavg()})")
    if len(servers) == 2:
        print(f"\n{servers[1].name} / {servers[0].name}, best req/s of each:")
        for kind in args.endpoints:
            cells = []
            for n in sizes:
                a, b = (max(r["results"][kind]["req_per_s"] for r in all_results["rounds"]
                            if r["size"] == n and r["server"] == str(server))
                        for server in servers)
                cells.append(f"{n:,}: {b / a:.2f}")
            print(f"  {kind:<11} " + "  ".join(cells))
    if not args.no_storage:
        all_results["storage"] = {}
        for n in sizes:
            s = asyncio.run(_storage_with_server(dirs[n]))
            all_results["storage"][n] = s
            print_storage(n, s)
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=1, default=str))


async def _storage_with_server(data_dir: Path) -> dict[str, Any]:
    from rekor_py.storage.embedded import EmbeddedPostgres

    pg = EmbeddedPostgres(data_dir / "postgres")
    dsn = await asyncio.to_thread(pg.start)
    try:
        return await _storage(dsn)
    finally:
        if pg.started:
            await asyncio.to_thread(pg.stop)


if __name__ == "__main__":
    main()

"""Bounded write load against running log servers, and the ledger that checks it.

The reliability tests (crash safety, concurrent writers, replicas) need three
things: server processes they can kill (`ServeProcess`), a load generator that
never runs unbounded (`run_load`: a fixed number of workers, a cap on requests
and a deadline), and a ledger of what the servers promised.  Every 201 is an acknowledgement: the ledger keeps
its entry UUID, leaf hash, index and checkpoint, and `verify_log` checks
afterwards, against the database and over HTTP, that each one is there with the
same leaf hash at the same index, that indexes run 0..N-1, that every
checkpoint any server served is signed by the log key and is a prefix of the
final tree, and that fsck finds nothing.  Errors and resets of in-flight
requests are counted, never treated as acknowledgements.

All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py import merkle
from rekor_py.audit import fsck
from rekor_py.errors import DatabaseUnavailable
from rekor_py.log.checkpoint import verify_checkpoint
from rekor_py.log.signer import LogVerifier

from .logserver import signed_hashedrekord

__all__ = ["Ack", "Ledger", "ServeProcess", "fetch_log_info", "run_load", "verify_log"]

# One signing key for every artifact: what makes entries distinct is the artifact.
_KEY = ec.generate_private_key(ec.SECP256R1())
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15)


# ---- server processes --------------------------------------------------------------------


@dataclass
class ServeProcess:
    """One `python -m rekor_py serve` process that a test may SIGKILL and restart.

    Every process of a test shares `data_dir` (one log key) and `hostname` (one
    checkpoint name: independent servers of one log must agree on it)."""

    database_url: str
    data_dir: Path
    port: int
    hostname: str = "reliability.test"
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Set once the port answers, cleared by kill/stop: load goes only where it can land.
    ready: bool = False
    start_seconds: list[float] = field(default_factory=list)  # how long each start took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"serve-{self.port}.log"

    def start(self, timeout: float = 60.0) -> None:
        """Spawn the server and wait until its port accepts connections."""
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rekor_py", "serve", "--database-url", self.database_url,
                 "--data-dir", str(self.data_dir), "--port", str(self.port),
                 "--hostname", self.hostname, *self.extra_args],
                stdout=log_file, stderr=subprocess.STDOUT,
                env={**os.environ, "REKOR_PY_BATCH_MAX_DELAY_MS": "2", **self.env})
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    self.ready = True
                    self.start_seconds.append(timeout - (deadline - time.monotonic()))
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"serve did not start within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        self.ready = False
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM and wait (graceful); SIGKILL if it does not exit in time."""
        self.ready = False
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def is_alive(self) -> bool:
        return self.ready and self.proc is not None and self.proc.poll() is None


# ---- the ledger ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """A 201: the server promised this entry is at `log_index` under `checkpoint`."""

    entry_uuid: str
    leaf_hash: bytes
    log_index: int
    tree_size: int
    root_hash: bytes
    checkpoint: str
    url: str
    at: float = field(default_factory=time.monotonic, compare=False)  # when it arrived


@dataclass
class Ledger:
    """What the load generator sent, what it was told, and every checkpoint it saw."""

    acks: list[Ack] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # "201", "500", "reset", ...
    checkpoints: set[tuple[int, bytes, str]] = field(default_factory=set)  # size, root, text
    requests: int = 0

    def record_checkpoint(self, size: int, root: bytes, text: str) -> None:
        self.checkpoints.add((size, root, text))

    def acknowledge(self, body: Any, url: str) -> Ack:
        """Record a 201's LogEntry body as a promise to check later."""
        ack = _parse_ack(body, url)
        self.acks.append(ack)
        self.record_checkpoint(ack.tree_size, ack.root_hash, ack.checkpoint)
        return ack

    def summary(self) -> str:
        return (f"{self.requests} requests, {len(self.acks)} acks, "
                f"statuses {dict(sorted(self.statuses.items()))}, "
                f"{len(self.checkpoints)} distinct checkpoints")


_counter = itertools.count()


def _new_entry(tag: str) -> dict[str, Any]:
    """A fresh hashedrekord (its leaf hash comes from the response: the canonical
    body is the server's to build)."""
    artifact = f"{tag}-{os.getpid()}-{next(_counter)}-{random.getrandbits(64)}".encode()
    return signed_hashedrekord(artifact, _KEY)


def _parse_ack(body: Any, url: str) -> Ack:
    ((entry_uuid, value),) = body.items()
    canonical = base64.b64decode(value["body"])
    proof = value["verification"]["inclusionProof"]
    return Ack(entry_uuid, merkle.leaf_hash(canonical), value["logIndex"], proof["treeSize"],
               bytes.fromhex(proof["rootHash"]), proof["checkpoint"], url)


async def _post_one(session: aiohttp.ClientSession, url: str, ledger: Ledger, tag: str) -> None:
    proposed = _new_entry(tag)
    ledger.requests += 1
    try:
        async with session.post(f"{url}/api/v1/log/entries", json=proposed,
                                timeout=_REQUEST_TIMEOUT) as r:
            status = r.status
            body = await r.json(content_type=None) if status == 201 else await r.read()
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        # A reset or a dead server: the entry may or may not be in the log.
        ledger.statuses["reset"] += 1
        await asyncio.sleep(0.01)  # no tight loop against a closed port
        return
    ledger.statuses[str(status)] += 1
    if status == 201:
        ledger.acknowledge(body, url)


async def fetch_log_info(session: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    """GET /api/v1/log, or None when the server cannot answer right now."""
    try:
        async with session.get(f"{url}/api/v1/log", timeout=_REQUEST_TIMEOUT) as r:
            if r.status != 200:
                return None
            info: dict[str, Any] = await r.json()
            return info
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return None


async def _poll_heads(session: aiohttp.ClientSession, urls: Callable[[], Sequence[str]],
                      ledger: Ledger, stop: asyncio.Event, interval: float) -> None:
    while not stop.is_set():
        for url in urls():
            info = await fetch_log_info(session, url)
            if info is not None:
                ledger.record_checkpoint(info["treeSize"], bytes.fromhex(info["rootHash"]),
                                         info["signedTreeHead"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def run_load(urls: Sequence[str] | Callable[[], Sequence[str]], ledger: Ledger, *,
                   seconds: float, max_requests: int, concurrency: int = 8,
                   tag: str = "load", poll_interval: float = 0.05,
                   until: asyncio.Event | None = None, rate: float | None = None) -> None:
    """POST fresh entries from `concurrency` workers, round-robin over `urls`, until
    `seconds` pass, `max_requests` were sent or `until` is set, polling every
    server's head meanwhile.  `rate` caps the requests per second of all workers.

    `urls` may be a callable returning the servers up right now (they come and go).
    """
    current = urls if callable(urls) else (lambda: list(urls))
    deadline = time.monotonic() + seconds
    budget = itertools.count()
    stop = asyncio.Event()
    done = until or asyncio.Event()

    interval = concurrency / rate if rate else 0.0  # per worker
    start = time.monotonic()

    async def worker(n: int, session: aiohttp.ClientSession) -> None:
        for k in itertools.count():
            if time.monotonic() >= deadline or done.is_set():
                return
            if (wait := start + k * interval - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            targets = current()
            if not targets:  # every server is down for a moment
                await asyncio.sleep(0.02)
                continue
            if next(budget) >= max_requests:
                return
            await _post_one(session, targets[(n + ledger.requests) % len(targets)], ledger, tag)

    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        poller = asyncio.create_task(_poll_heads(session, current, ledger, stop, poll_interval))
        try:
            await asyncio.gather(*[worker(n, session) for n in range(concurrency)])
        finally:
            stop.set()
            await poller


# ---- checking the log against the ledger --------------------------------------------------


@dataclass
class LogFacts:
    size: int
    leaves: list[bytes]  # leaf hash at each index, from the database
    # Entries committed whose 201 never arrived (the server died, or the database
    # went away during COMMIT): allowed, and worth reporting.
    unacknowledged: int = 0


async def stored_rows(database_url: str) -> tuple[int, list[int], list[bytes]]:
    """The v1 tree's size, and its entries' leaf indexes and leaf hashes in index order,
    read as one snapshot."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            tree = await conn.fetchrow("SELECT tree_id, size FROM trees "
                                       "WHERE state = 'active' AND api_major = 1")
            rows = await conn.fetch("SELECT leaf_index, leaf_hash FROM entries "
                                    "WHERE tree_id = $1 ORDER BY leaf_index", tree["tree_id"])
    finally:
        await conn.close()
    return int(tree["size"]), [r["leaf_index"] for r in rows], [bytes(r["leaf_hash"]) for r in rows]


async def stored_leaves(database_url: str) -> tuple[int, list[bytes]]:
    """The v1 tree's size and its leaf hashes by index, as one snapshot."""
    size, _, leaves = await stored_rows(database_url)
    return size, leaves


async def _stored_leaves(database_url: str) -> LogFacts:
    size, indexes, leaves = await stored_rows(database_url)
    # No gap, no extra: the entries hold exactly 0..size-1.
    assert indexes == list(range(size)), "entry indexes are not 0..size-1"
    assert len(set(leaves)) == len(leaves), "a leaf is stored twice"
    return LogFacts(size, leaves)


async def probe_until_writable(url: str, *, deadline_s: float, started: float | None = None,
                               timeout_s: float = 10.0, pause_s: float = 0.1,
                               ledger: Ledger | None = None) -> float:
    """POST fresh entries to `url` until one gets 201; every other answer must be a 503
    with Retry-After and Rekor's body (the database is away), never a 500 or a hang.
    Returns the seconds since `started` (default: now); fails past `deadline_s`.  With
    `ledger`, the acknowledged probe is recorded like any other entry."""
    started = time.monotonic() if started is None else started
    async with aiohttp.ClientSession() as session:
        for n in itertools.count():
            assert time.monotonic() - started < deadline_s, f"{url} did not recover"
            try:
                async with session.post(f"{url}/api/v1/log/entries",
                                        json=signed_hashedrekord(f"probe-{started}-{n}".encode()),
                                        timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                    if r.status == 201:
                        if ledger is not None:
                            ledger.acknowledge(await r.json(), url)
                        return time.monotonic() - started
                    assert r.status == 503, (r.status, await r.text())
                    assert r.headers.get("Retry-After") == "1"
                    assert await r.json() == {"code": 503, "message": DatabaseUnavailable.message}
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(pause_s)
    raise AssertionError("unreachable")


async def _retrieve(session: aiohttp.ClientSession, url: str, field_name: str,
                    values: Sequence[Any]) -> dict[str, Any]:
    """POST /api/v1/log/entries/retrieve in batches of 10 (the server's limit),
    a few batches in flight at once."""
    found: dict[str, Any] = {}
    gate = asyncio.Semaphore(4)

    async def batch(start: int) -> None:
        async with gate, session.post(f"{url}/api/v1/log/entries/retrieve",
                                      json={field_name: list(values[start:start + 10])}) as r:
            assert r.status == 200, await r.text()
            for item in await r.json():
                found.update(item)

    await asyncio.gather(*[batch(start) for start in range(0, len(values), 10)])
    return found


async def _check_acks_over_http(url: str, acks: Sequence[Ack]) -> None:
    """Every acknowledged entry, fetched by UUID and by index, is itself."""
    async with aiohttp.ClientSession() as session:
        by_uuid = await _retrieve(session, url, "entryUUIDs", [a.entry_uuid for a in acks])
        by_index = await _retrieve(session, url, "logIndexes", [a.log_index for a in acks])
        for ack in acks:
            assert ack.entry_uuid in by_uuid, f"acknowledged {ack.entry_uuid} not found"
            assert by_uuid[ack.entry_uuid]["logIndex"] == ack.log_index
            assert ack.entry_uuid in by_index, f"index {ack.log_index} holds another entry"
        # And through the single-entry endpoints, for a sample.
        for ack in random.sample(list(acks), min(25, len(acks))):
            async with session.get(f"{url}/api/v1/log/entries/{ack.entry_uuid}") as r:
                assert r.status == 200
                assert (await r.json())[ack.entry_uuid]["logIndex"] == ack.log_index
            async with session.get(f"{url}/api/v1/log/entries",
                                   params={"logIndex": str(ack.log_index)}) as r:
                assert r.status == 200 and ack.entry_uuid in await r.json()


async def _check_consistency_proofs(url: str, heads: Sequence[tuple[int, bytes]],
                                    final: tuple[int, bytes], samples: int) -> int:
    """Consistency proofs from the server between observed heads, verified locally."""
    ordered = sorted(set(heads)) + [final]
    pairs = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if 0 < a[0] < b[0]]
    pairs = random.sample(pairs, min(samples, len(pairs)))
    async with aiohttp.ClientSession() as session:
        for (size1, root1), (size2, root2) in pairs:
            async with session.get(f"{url}/api/v1/log/proof",
                                   params={"firstSize": str(size1), "lastSize": str(size2)}) as r:
                assert r.status == 200, await r.text()
                proof = [bytes.fromhex(h) for h in (await r.json())["hashes"]]
            merkle.verify_consistency(size1, size2, proof, root1, root2)
    return len(pairs)


async def verify_log(database_url: str, url: str, ledger: Ledger, verifier: LogVerifier, *,
                     proof_samples: int = 40) -> LogFacts:
    """Check everything the ledger was promised (see the module docstring); returns
    what the log holds.  Requires a quiet log (no writes while it runs)."""
    started = time.monotonic()
    facts = await _stored_leaves(database_url)
    position = {leaf: i for i, leaf in enumerate(facts.leaves)}
    for ack in ledger.acks:
        # Same leaf at the same index: the promise, exactly.
        assert position.get(ack.leaf_hash) == ack.log_index, f"ack lost or moved: {ack}"
        assert ack.entry_uuid.endswith(ack.leaf_hash.hex())
    assert len({a.log_index for a in ledger.acks}) == len(ledger.acks), "an index acked twice"
    facts.unacknowledged = facts.size - len(ledger.acks)
    # Every checkpoint ever served: signed by the log key, and a prefix of the final tree
    # (roots re-derived from the stored leaves), so all of them are mutually consistent.
    roots = _prefix_roots(facts.leaves, {size for size, _, _ in ledger.checkpoints})
    origins = set()
    for size, root, text in ledger.checkpoints:
        checkpoint = verify_checkpoint(text, verifier)
        assert (checkpoint.size, checkpoint.root_hash) == (size, root)
        assert size <= facts.size and roots[size] == root, f"checkpoint at {size} forks"
        origins.add(checkpoint.origin)
    # One log, one name: whichever process signed, the origin line is the tree's.
    assert len(origins) <= 1, f"checkpoints name the log differently: {sorted(origins)}"
    final = (facts.size, merkle.root_hash(facts.leaves))
    heads = [(size, root) for size, root, _ in ledger.checkpoints]
    await _check_consistency_proofs(url, heads, final, proof_samples)
    if ledger.acks:
        await _check_acks_over_http(url, ledger.acks)
    await check_fsck(database_url, verifier, facts.size)
    print(f"verified {facts.size} entries, {len(ledger.acks)} acks "
          f"({facts.unacknowledged} entries committed without a 201 arriving), "
          f"{len(ledger.checkpoints)} checkpoints in {time.monotonic() - started:.1f} s")
    return facts


def _prefix_roots(leaves: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The root of every prefix in `sizes`, in one pass over the leaves."""
    roots: dict[int, bytes] = {}
    edge, done = merkle.RightEdge.empty(), 0
    for size in sorted(s for s in sizes if s <= len(leaves)):
        if size == 0:
            roots[0] = merkle.EMPTY_ROOT
            continue
        if size > done:
            edge = merkle.append_leaves(edge, leaves[done:size]).edge
            done = size
        roots[size] = edge.root_hash()
    return roots


async def check_fsck(database_url: str, verifier: LogVerifier, size: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        report = await fsck(conn, verifier)
    finally:
        await conn.close()
    assert report.ok, report.problem
    (v1,) = [t for t in report.trees if t.api_major == 1]
    # The v2 tree (empty here) is checked too, its checkpoint unverified without its key.
    assert report.entries_checked == size and v1.size == size and v1.checkpoint_verified

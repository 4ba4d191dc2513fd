"""fsck: check that the stored log is consistent with itself, read-only.

This module owns the order and content of the checks.  For every tree row:

1. the entries table holds exactly the indexes 0..size-1 (no gap, nothing
   beyond the size), each stored body decodes (storage/body_codec.py), and each
   stored leaf_hash is SHA-256(0x00 || body) recomputed from the canonical body
   (RFC 6962 §2.1); in a v1 tree, when the log key was given, each stored SET
   verifies over the entry's body, time, log ID and virtual index (what clients
   will be served; rows without one get a SET signed when read);
2. every tile equals the one recomputed by appending those leaf hashes with
   merkle.append_leaves (full tiles, the partial right-edge tile of each level,
   and no tile row besides these: tiles.py);
3. no leaf hash appears twice in the tree;
4. the root recomputed at the stored size equals the trees row's root_hash;
5. the stored checkpoint parses, names the tree's origin, size and root, and
   its signature verifies under the log key (when a key was given): the v1
   log key for a Rekor v1 tree, the v2 log's Ed25519 key (a C2SP note line
   named by the tree's origin) for a Rekor v2 tree.

Then, across trees: entries and tiles belong to existing trees.  (Search keys
are stored in their entry's row, so none can point at a missing entry.)  Checks
stop at the first discrepancy, which the report names precisely.

Everything is read in ONE transaction, REPEATABLE READ READ ONLY: a server
appending meanwhile cannot make trees, entries and tiles disagree in what we
see, and fsck cannot write.  Entries stream in pages (keyset pagination on the
primary key), so memory does not grow with the log.  Finding the database and
the key is source.py's business; printing the report is the command's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, NoReturn, Protocol

from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py import merkle
from rekor_py.audit.report import Discrepancy, DiscrepancyFound, FsckReport, TreeSummary
from rekor_py.audit.set_check import BadSet, SetChecker, SetItem
from rekor_py.audit.tiles import TileChecker, expected_tile_counts
from rekor_py.errors import StorageError
from rekor_py.log.c2sp import NoteVerifier, verify_c2sp_checkpoint
from rekor_py.log.checkpoint import CheckpointError, parse_checkpoint, verify_checkpoint
from rekor_py.log.signer import LogVerifier
from rekor_py.storage import audit_queries as queries
from rekor_py.storage.body_codec import decode_body
from rekor_py.storage.db import Connection, Record

__all__ = ["DEFAULT_PAGE_SIZE", "Progress", "fsck"]

# Entries per query and per append: 64 full tiles, a few MB of bodies.
DEFAULT_PAGE_SIZE = 16384

Progress = Callable[[int, int, int], None]
"""Called as progress(tree_id, entries_checked, tree_size) after each page."""


class _Connection(Connection, Protocol):
    """An asyncpg connection: storage's Connection plus transaction()."""

    def transaction(self, *, isolation: str, readonly: bool) -> AbstractAsyncContextManager[Any]: ...


async def fsck(conn: _Connection, verifier: LogVerifier | None, *, progress: Progress | None = None,
               page_size: int = DEFAULT_PAGE_SIZE,
               v2_key: ed25519.Ed25519PublicKey | None = None,
               more_keys: Sequence[LogVerifier] = (), jobs: int = 1) -> FsckReport:
    """Check every tree in the database; the report's `problem` is the first discrepancy.

    Requires a connection outside any transaction and page_size >= 1.  With
    verifier None (v2_key None), the checkpoint signatures of v1 (v2) trees are
    not checked (the caller says so).  A v1 tree that records its key (a shard
    made by a rotation) is checked with that key, found among `verifier` and
    `more_keys`; a tree that records none, with `verifier`.  `jobs` > 1 verifies
    stored SETs in that many worker processes (set_check.py), the report unchanged.
    Raises asyncpg errors for a database without the rekor-py schema, WorkerLost.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    report = FsckReport(log_id=verifier.log_id_hex if verifier is not None else None)
    started = time.monotonic()
    sets = SetChecker(jobs)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            trees = await queries.list_trees(conn)
            _check_shards([r for r in trees if r["api_major"] == 1])
            keys = {k.log_id: k for k in (verifier, *more_keys) if k is not None}
            for row in trees:
                summary = _summary(row)
                report.trees.append(summary)
                key = (_tree_key(row, verifier, keys) if row["api_major"] == 1 else v2_key)
                await _check_tree(conn, row, summary, key, progress, page_size, sets)
            await _check_ownership(conn, [t.tree_id for t in report.trees])
    except DiscrepancyFound as e:
        report.problem = e.discrepancy
    finally:
        sets.close()
    report.elapsed_seconds = time.monotonic() - started
    return report


def _check_shards(trees: list[Record]) -> None:
    """The v1 trees tile the log's virtual index: each starts where the shards
    before it end (frozen ones in order, the active one last)."""
    ordered = sorted(trees, key=lambda r: (r["virtual_offset"], r["state"] == "active"))
    expected = 0
    for i, row in enumerate(ordered):
        if row["state"] == "active" and i != len(ordered) - 1:
            _fail("shard_order", row["tree_id"], "trees row",
                  f"tree {row['tree_id']} is active but shards start after it",
                  expected="the active tree last", found=f"position {i + 1} of {len(ordered)}")
        if row["virtual_offset"] != expected:
            _fail("shard_offset", row["tree_id"], "trees row",
                  f"tree {row['tree_id']}'s first log index is not where the shards "
                  f"before it end", expected=str(expected), found=str(row["virtual_offset"]))
        expected += row["size"]


def _tree_key(row: Record, verifier: LogVerifier | None,
              keys: dict[bytes, LogVerifier]) -> LogVerifier | None:
    """The key that checks a v1 tree's checkpoint (None: not checked)."""
    if row["log_id"] is None or not keys:
        return verifier
    key = keys.get(bytes(row["log_id"]))
    if key is None:
        _fail("checkpoint_key", row["tree_id"], "trees row",
              f"tree {row['tree_id']} is signed by key {bytes(row['log_id']).hex()}, "
              "which was not given", expected="its public key (--public-key)",
              found=", ".join(sorted(k.hex() for k in keys)))
    return key


def _summary(row: Record) -> TreeSummary:
    return TreeSummary(tree_id=row["tree_id"], origin=row["origin"], state=row["state"],
                       size=row["size"], api_major=row["api_major"])


async def _check_tree(conn: _Connection, row: Record, summary: TreeSummary,
                      verifier: LogVerifier | ed25519.Ed25519PublicKey | None,
                      progress: Progress | None, page_size: int, sets: SetChecker) -> None:
    tree_id, size = summary.tree_id, summary.size

    async def read(keys: Any) -> dict[tuple[int, int], bytes]:
        return await queries.read_tiles(conn, tree_id, keys)

    checker = TileChecker(tree_id, read)
    try:
        await _check_entries(conn, summary, checker, progress, page_size, sets,
                             (verifier, row["virtual_offset"])
                             if isinstance(verifier, LogVerifier) else None)
        root = await checker.finish()
    finally:
        summary.tiles_checked = checker.tiles_checked
    await _check_no_extra_tiles(conn, tree_id, size)
    await _check_unique_leaves(conn, tree_id)
    summary.root_hash = root.hex()
    stored_root = bytes(row["root_hash"])
    if stored_root != root:
        _fail("tree_root", tree_id, "trees row",
              f"tree {tree_id}: the trees row's root_hash does not match the root recomputed "
              f"from the {size} entries", expected=root.hex(), found=stored_root.hex())
    _check_checkpoint(row["checkpoint"], summary, root, verifier)
    summary.checkpoint_verified = verifier is not None


async def _check_entries(conn: _Connection, summary: TreeSummary, checker: TileChecker,
                         progress: Progress | None, page_size: int, sets: SetChecker,
                         set_key: tuple[LogVerifier, int] | None) -> None:
    """Stream the tree's entries: contiguous indexes below size, leaf hashes, tiles;
    with `set_key` (the v1 tree's key and first virtual index), stored SETs."""
    verified_before = sets.verified
    try:
        await _stream_entries(conn, summary, checker, progress, page_size, sets, set_key)
    except DiscrepancyFound as e:
        # A SET of an entry before this discrepancy, still being verified, comes
        # first.  (A bad SET itself comes from the oldest chunk: the pending ones
        # are of later entries.)
        if e.discrepancy.check != "entry_set":
            _fail_on(await sets.drain())
        raise
    finally:
        summary.sets_verified = sets.verified - verified_before
    _fail_on(await sets.drain())
    summary.sets_verified = sets.verified - verified_before
    if summary.entries_checked < summary.size:
        next_index, size, tree_id = summary.entries_checked, summary.size, summary.tree_id
        _fail("missing_entries", tree_id, f"entry {next_index}",
              f"tree {tree_id}: the trees row says size {size} but the entries stop before "
              f"index {next_index}: indexes {next_index}..{size - 1} are missing",
              expected=f"{size} entries", found=f"{next_index} entries")


async def _stream_entries(conn: _Connection, summary: TreeSummary, checker: TileChecker,
                          progress: Progress | None, page_size: int, sets: SetChecker,
                          set_key: tuple[LogVerifier, int] | None) -> None:
    """Each page of entries, in index order: its checks, its SETs handed to `sets`
    (after its leaf hashes, before its tiles, as a check in order would go)."""
    tree_id, size = summary.tree_id, summary.size
    next_index = 0
    while rows := await queries.entries_from(conn, tree_id, next_index, page_size):
        for offset, r in enumerate(rows):
            _check_index(tree_id, size, next_index + offset, r["leaf_index"])
        bodies = [_body(tree_id, next_index + offset, r["body"]) for offset, r in enumerate(rows)]
        recomputed = merkle.leaf_hashes_packed(bodies)
        stored = b"".join(r["leaf_hash"] for r in rows)
        if recomputed != stored:
            _leaf_mismatch(tree_id, next_index, recomputed, stored)
        if set_key is not None:
            verifier, virtual_offset = set_key
            _fail_on(await sets.submit(verifier, tree_id, virtual_offset,
                                       _set_items(rows, bodies)))
        await checker.append(recomputed)
        next_index += len(rows)
        summary.entries_checked = next_index
        if progress is not None:
            progress(tree_id, next_index, size)


def _set_items(rows: Sequence[Record], bodies: list[bytes]) -> list[SetItem]:
    """The rows that store a SET (rows logged before revision 0006 have none)."""
    return [(r["leaf_index"], bytes(stored), body, r["integrated_time"])
            for r, body in zip(rows, bodies, strict=True)
            if (stored := r["signed_entry_timestamp"]) is not None]


def _fail_on(bad: BadSet | None) -> None:
    if bad is None:
        return
    tree_id, index = bad.tree_id, bad.leaf_index
    _fail("entry_set", tree_id, f"entry {index}",
          f"tree {tree_id}: entry {index}: its stored signed entry timestamp does not "
          f"verify under key {bad.log_id_hex}: {bad.reason}",
          expected="a SET over its body, time, log ID and log index "
                   f"{bad.virtual_index}", found=bad.stored.hex())


def _body(tree_id: int, leaf_index: int, stored: bytes) -> bytes:
    try:
        return decode_body(stored)
    except StorageError as e:
        _fail("body_format", tree_id, f"entry {leaf_index}",
              f"tree {tree_id}: entry {leaf_index}: the stored body does not decode: {e}",
              expected="a canonical body or a known stored form", found=stored[:16].hex())


def _check_index(tree_id: int, size: int, expected: int, found: int) -> None:
    if found >= size:
        _fail("entry_beyond_size", tree_id, f"entry {found}",
              f"tree {tree_id}: entry {found} lies beyond the tree size {size} in the trees row",
              expected=f"indexes 0..{size - 1}", found=f"index {found}")
    if found != expected:
        _fail("index_gap", tree_id, f"entry {expected}",
              f"tree {tree_id}: entry {expected} is missing (the next stored index is {found})",
              expected=f"index {expected}", found=f"index {found}")


def _leaf_mismatch(tree_id: int, first: int, recomputed: bytes, stored: bytes) -> None:
    n = merkle.HASH_SIZE
    for i in range(len(recomputed) // n):
        want, got = recomputed[i * n:(i + 1) * n], stored[i * n:(i + 1) * n]
        if want != got:
            _fail("leaf_hash", tree_id, f"entry {first + i}",
                  f"tree {tree_id}: entry {first + i}: the leaf hash of its stored body differs "
                  f"from its stored leaf_hash (body or leaf_hash modified)",
                  expected=want.hex(), found=got.hex())


async def _check_no_extra_tiles(conn: _Connection, tree_id: int, size: int) -> None:
    extra = await queries.find_unexpected_tile(conn, tree_id, expected_tile_counts(size))
    if extra is not None:
        level, index = extra["level"], extra["tile_index"]
        _fail("extra_tile", tree_id, f"tile {level}/{index}",
              f"tree {tree_id}: tile {level}/{index} ({extra['bytes'] // merkle.HASH_SIZE} hashes) "
              f"is stored but a tree of size {size} has no such tile",
              expected="no row", found=f"{extra['bytes']} bytes")


async def _check_unique_leaves(conn: _Connection, tree_id: int) -> None:
    dup = await queries.find_duplicate_leaf(conn, tree_id)
    if dup is not None:
        _fail("duplicate_leaf", tree_id, f"entry {dup['second']}",
              f"tree {tree_id}: leaf hash {bytes(dup['leaf_hash']).hex()} is stored at entries "
              f"{dup['first']} and {dup['second']}",
              expected="unique leaf hashes", found=f"indexes {dup['first']}, {dup['second']}")


def _check_checkpoint(text: str, summary: TreeSummary, root: bytes,
                      verifier: LogVerifier | ed25519.Ed25519PublicKey | None) -> None:
    """The stored checkpoint parses and commits to the tree's origin, size and root."""
    tree_id, where = summary.tree_id, "checkpoint"
    try:
        cp = parse_checkpoint(text).checkpoint
    except CheckpointError as e:
        _fail("checkpoint_format", tree_id, where,
              f"tree {tree_id}: the stored checkpoint does not parse: {e}")
    if cp.origin != summary.origin:
        _fail("checkpoint_origin", tree_id, where,
              f"tree {tree_id}: the checkpoint's origin differs from the trees row's",
              expected=summary.origin, found=cp.origin)
    if cp.size != summary.size:
        _fail("checkpoint_size", tree_id, where,
              f"tree {tree_id}: the checkpoint's tree size differs from the trees row's",
              expected=str(summary.size), found=str(cp.size))
    if cp.root_hash != root:
        _fail("checkpoint_root", tree_id, where,
              f"tree {tree_id}: the checkpoint's root hash differs from the tree's root",
              expected=root.hex(), found=cp.root_hash.hex())
    if isinstance(verifier, LogVerifier):
        try:
            verify_checkpoint(text, verifier)
        except CheckpointError as e:
            _fail("checkpoint_signature", tree_id, where,
                  f"tree {tree_id}: the checkpoint signature does not verify: {e}",
                  expected=f"a valid signature by log key {verifier.log_id_hex}")
    elif verifier is not None:
        note_key = NoteVerifier.ed25519(cp.origin, verifier)
        try:
            verify_c2sp_checkpoint(text, [note_key])
        except CheckpointError as e:
            _fail("checkpoint_signature", tree_id, where,
                  f"tree {tree_id}: the checkpoint signature does not verify: {e}",
                  expected=f"a valid signature by the v2 log key {note_key.vkey}")


async def _check_ownership(conn: _Connection, tree_ids: list[int]) -> None:
    """Entries and tiles of no known tree."""
    known = set(tree_ids)
    for table in ("entries", "tiles"):
        for tree_id in await queries.tree_ids_in(conn, table):
            if tree_id not in known:
                _fail("unknown_tree", tree_id, table,
                      f"the {table} table has rows of tree {tree_id}, which has no trees row",
                      expected="no rows", found=f"{table} rows")


def _fail(check: str, tree_id: int | None, where: str, message: str, *,
          expected: str | None = None, found: str | None = None) -> NoReturn:
    raise DiscrepancyFound(Discrepancy(check, tree_id, where, message, expected, found))

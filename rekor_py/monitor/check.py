"""One monitor pass: verify the log's new checkpoint against the last verified one.

Steps, each of which either passes or raises LogInconsistent (with both
checkpoints, the evidence a user needs) or FetchError:

1. The checkpoint carries valid signatures by every pinned key, for the pinned
   origin.  A bad signature is reported, never skipped.
2. It extends the last verified one (rekor_py/log/tree_head.py, the rule the
   client's `loginfo` applies too): not smaller, the same root at the same size,
   and an RFC 6962 consistency proof folded from tiles fetched over HTTP.
3. Entries, one level-0 tile at a time: every new entry must hash to its hash in
   the tile, and the tile's leaves [start, end) must be proven part of the new
   tree (a subtree consistency proof folded from tiles, against the signed root).
   Only then are its entries scanned for watched keys and emails, so every match
   reported is of an entry in the signed tree.

Memory does not depend on the size a checkpoint claims (a hostile log can claim
2**63 entries): tiles are walked lazily, at most _LOOKAHEAD + 1 level-0 tiles
with their entry bundles are held at once (a bundle is capped by the fetcher at
256 entries of 64 KiB, so at most about 5 x 16 MiB in the worst case, a few
hundred KiB for ordinary entries), and the proof tiles of one plan (at most a
few dozen of 8 KiB).  A log that claims more than it can serve fails at the
first tile it cannot produce, before anything is saved or reported from it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rekor_py import merkle
from rekor_py.log.c2sp import verify_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from rekor_py.log.tile_path import TileID
from rekor_py.log.tree_head import NotExtending, check_consistency, check_growth, split_view_report
from rekor_py.monitor.fetch import TileFetcher, parse_entry_bundle
from rekor_py.monitor.state import MonitorState
from rekor_py.monitor.watch import Match, Watchlist
from rekor_py.monitor.witnesses import check_witnesses
from rekor_py.witness.policy import WitnessPolicy

__all__ = ["CheckResult", "LogInconsistent", "check_log"]

# Level-0 tiles (and their bundles) fetched ahead of the one being checked: requests
# still go one at a time over one connection; this hides our hashing behind the
# network wait.  It is also the bound on what a pass holds in memory.
_LOOKAHEAD = 4


class LogInconsistent(Exception):
    """The log contradicts what it signed before, or itself."""

    def __init__(self, reason: str, old_checkpoint: str | None, new_checkpoint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.old_checkpoint = old_checkpoint
        self.new_checkpoint = new_checkpoint

    def evidence(self) -> str:
        new = _parsed(self.new_checkpoint)
        old = _parsed(self.old_checkpoint) if self.old_checkpoint is not None else None
        if new is None:  # did not even parse: show the text as it came
            old_text = self.old_checkpoint or "(none: nothing was verified before)\n"
            return (f"INCONSISTENT LOG: {self.reason}\n"
                    f"--- last verified checkpoint ---\n{old_text}"
                    f"--- new checkpoint ---\n{self.new_checkpoint}")
        return split_view_report(self.reason, old, self.old_checkpoint, new,
                                 self.new_checkpoint)


def _parsed(text: str) -> Checkpoint | None:
    try:
        return parse_checkpoint(text).checkpoint
    except CheckpointError:
        return None


@dataclass
class CheckResult:
    old_size: int
    checkpoint: Checkpoint
    text: str
    matches: list[Match] = field(default_factory=list)
    witnesses: list[str] = field(default_factory=list)  # who cosigned, by policy name

    @property
    def new_entries(self) -> int:
        return self.checkpoint.size - self.old_size


Fail = Callable[[str], LogInconsistent]
Tiles = dict[tuple[int, int], bytes]


async def check_log(fetcher: TileFetcher, state: MonitorState, watch: Watchlist,
                    progress: Callable[[int, int], None] | None = None, *,
                    on_match: Callable[[Match], None] | None = None,
                    policy: WitnessPolicy | None = None) -> CheckResult:
    """Run steps 1-3 against the log's current checkpoint; the caller saves state.

    `progress(done, total)` is called as new entries are verified.  Each match is
    passed to `on_match` as soon as its entry is verified, or else collected in
    the result.  Raises LogInconsistent or FetchError."""
    text = await fetcher.checkpoint()
    old_text = state.checkpoint
    old = (parse_checkpoint(old_text).checkpoint if old_text is not None
           else Checkpoint(state.origin, 0, merkle.EMPTY_ROOT))

    def fail(reason: str) -> LogInconsistent:
        return LogInconsistent(reason, old_text, text)

    try:
        new = verify_c2sp_checkpoint(text, state.verifiers)
    except CheckpointError as e:
        raise fail(f"checkpoint does not verify: {e}") from e
    if new.origin != state.origin:
        raise fail(f"origin changed from {state.origin!r} to {new.origin!r}")
    result = CheckResult(old.size, new, text)
    if policy is not None:  # before anything else: an unwitnessed head is not accepted
        result.witnesses = check_witnesses(policy, text, new.body())
    try:
        needs_proof = check_growth(old, new)
        if needs_proof:
            plan = merkle.consistency_plan(old.size, new.size)
            tiles = await _fetch_tiles(fetcher, plan, {}, fail)
            check_consistency(old, new, _fold(plan, tiles, fail))
    except NotExtending as e:
        raise fail(str(e)) from e
    if new.size > old.size:
        await _walk_entries(fetcher, old, new, watch, fail, progress,
                            on_match or result.matches.append, state.first_index)
    return result


def _fold(plan: merkle.ProofPlan, tiles: Tiles, fail: Fail) -> list[bytes]:
    try:
        return merkle.fold_proof(plan, tiles)
    except ValueError as e:
        raise fail(f"the log's tiles do not give a proof: {e}") from e


async def _fetch_tiles(fetcher: TileFetcher, plan: merkle.ProofPlan, have: Tiles,
                       fail: Fail) -> Tiles:
    """The plan's tiles, reusing those in `have` that are wide enough."""
    found: Tiles = {}
    for tile in plan.tiles:
        key = (tile.level, tile.index)
        data = have.get(key)
        if data is None or len(data) < tile.width * merkle.HASH_SIZE:
            data = await fetcher.tile(tile)
            if len(data) % merkle.HASH_SIZE or len(data) < tile.width * merkle.HASH_SIZE:
                raise fail(f"{tile.path} is {len(data)} bytes, want {tile.width * 32}")
        found[key] = data
    return found


def _level0_tiles(old: Checkpoint, new: Checkpoint) -> Iterator[TileID]:
    """The level-0 tiles holding entries old.size..new.size-1, generated one by one."""
    n, last = old.size // merkle.TILE_WIDTH, (new.size - 1) // merkle.TILE_WIDTH
    while n <= last:
        yield merkle.tile_for(0, n, new.size)
        n += 1


async def _bundle(fetcher: TileFetcher, tile: TileID) -> tuple[bytes, bytes]:
    hashes, bundle = await asyncio.gather(fetcher.tile(tile), fetcher.entry_bundle(tile))
    return hashes, bundle


async def _walk_entries(fetcher: TileFetcher, old: Checkpoint, new: Checkpoint,
                        watch: Watchlist, fail: Fail,
                        progress: Callable[[int, int], None] | None,
                        report: Callable[[Match], None], first_index: int = 0) -> None:
    tiles = _level0_tiles(old, new)
    pending: deque[tuple[TileID, asyncio.Future[tuple[bytes, bytes]]]] = deque()

    def top_up() -> None:  # the tile being checked and _LOOKAHEAD more, no further
        while len(pending) <= _LOOKAHEAD:
            tile = next(tiles, None)
            if tile is None:
                return
            pending.append((tile, asyncio.ensure_future(_bundle(fetcher, tile))))

    proof_tiles: Tiles = {}
    try:
        top_up()
        while pending:
            tile, task = pending[0]
            hashes, bundle = await task
            entries, leaves, proof_tiles = await _check_tile(fetcher, tile, hashes, bundle, new,
                                                             fail, proof_tiles)
            start = tile.index * merkle.TILE_WIDTH
            skip = max(old.size - start, 0)
            for match in watch.scan(first_index + start + skip, entries[skip:],
                                    leaves[32 * skip:]):
                report(match)
            if progress is not None:
                progress(start + tile.width - old.size, new.size - old.size)
            pending.popleft()
            top_up()
    finally:
        for _, task in pending:
            if task.done() and not task.cancelled():
                task.exception()  # a read-ahead that failed after the pass did: not news
            else:
                task.cancel()


async def _check_tile(fetcher: TileFetcher, tile: TileID, hashes: bytes, bundle: bytes,
                      new: Checkpoint, fail: Fail, proof_tiles: Tiles
                      ) -> tuple[list[bytes], bytes, Tiles]:
    """The tile's entries hash to its hashes, and those leaves [start, end) are part
    of the new signed tree.  Returns the entries, their packed leaf hashes and the
    proof tiles (for the next tile to reuse)."""
    entries = _bundle_entries(bundle, tile, fail)
    leaves = merkle.leaf_hashes_packed(entries, parallel=False)
    start = tile.index * merkle.TILE_WIDTH
    if hashes[: len(leaves)] != leaves:
        bad = next(i for i in range(tile.width)
                   if hashes[32 * i:32 * i + 32] != leaves[32 * i:32 * i + 32])
        raise fail(f"entry {start + bad} does not hash to its leaf hash in "
                   f"{tile.path} (an entry was rewritten)")
    end = start + tile.width
    plan = merkle.subtree_consistency_plan(start, end, new.size)
    proof_tiles = await _fetch_tiles(fetcher, plan, proof_tiles, fail)
    try:
        merkle.verify_subtree_consistency(start, end, new.size, _fold(plan, proof_tiles, fail),
                                          merkle.root_hash(leaves), new.root_hash)
    except merkle.ProofError as e:
        raise fail(f"the entries of {tile.path} are not in the tree of size {new.size}: "
                   f"{e}") from e
    return entries, leaves, proof_tiles


def _bundle_entries(bundle: bytes, tile: TileID, fail: Fail) -> list[bytes]:
    try:
        entries = parse_entry_bundle(bundle)
    except ValueError as e:
        raise fail(f"entry bundle for {tile.path}: {e}") from e
    if len(entries) < tile.width:
        raise fail(f"entry bundle for {tile.path} has {len(entries)} entries, "
                   f"want {tile.width}")
    return entries[: tile.width]

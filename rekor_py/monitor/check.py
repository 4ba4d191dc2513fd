"""One monitor pass: verify the log's new checkpoint against the last verified one.

Steps, each of which either passes or raises LogInconsistent (with both
checkpoints, the evidence a user needs) or FetchError:

1. The checkpoint carries valid signatures by every pinned key, for the pinned
   origin.  A bad signature is reported, never skipped.
2-3. It extends the last verified one (rekor_py/log/tree_head.py, the rule the
   client's `loginfo` applies too): not smaller, the same root at the same size,
   and an RFC 6962 consistency proof folded from tiles fetched over HTTP.
4. Entries: the right edge at the old size is folded from tiles and must give
   the old root; then, bundle by bundle, every new entry must hash to the
   matching hash of its level-0 tile, and those hashes, appended to the edge,
   must give the new root.  So every entry reported is in the signed tree.
   Watched keys and emails are looked for on the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from rekor_py import merkle
from rekor_py.log.c2sp import verify_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from rekor_py.log.tree_head import NotExtending, check_consistency, check_growth
from rekor_py.monitor.fetch import TileFetcher, parse_entry_bundle
from rekor_py.monitor.state import MonitorState
from rekor_py.monitor.watch import Match, Watchlist

__all__ = ["CheckResult", "LogInconsistent", "check_log"]

# Bundles fetched ahead of the one being checked (requests still go one at a time
# over one connection; this hides our hashing behind the network wait).
_LOOKAHEAD = 4


class LogInconsistent(Exception):
    """The log contradicts what it signed before, or itself."""

    def __init__(self, reason: str, old_checkpoint: str | None, new_checkpoint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.old_checkpoint = old_checkpoint
        self.new_checkpoint = new_checkpoint

    def evidence(self) -> str:
        old = self.old_checkpoint or "(none: the monitor had not verified one yet)\n"
        return (f"INCONSISTENT LOG: {self.reason}\n"
                f"--- last verified checkpoint ---\n{old}"
                f"--- new checkpoint ---\n{self.new_checkpoint}")


@dataclass
class CheckResult:
    old_size: int
    checkpoint: Checkpoint
    text: str
    matches: list[Match] = field(default_factory=list)

    @property
    def new_entries(self) -> int:
        return self.checkpoint.size - self.old_size


async def check_log(fetcher: TileFetcher, state: MonitorState, watch: Watchlist,
                    progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """Run steps 1-4 against the log's current checkpoint; the caller saves state.

    `progress(done, total)` is called as new entries are verified.  Raises
    LogInconsistent or FetchError."""
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
    try:
        if check_growth(old, new):
            await _check_consistency(fetcher, old, new, fail)
    except NotExtending as e:
        raise fail(str(e)) from e
    if new.size == old.size:
        return CheckResult(old.size, new, text)
    matches = await _walk_entries(fetcher, old, new, watch, fail, progress)
    return CheckResult(old.size, new, text, matches)


Fail = Callable[[str], LogInconsistent]


async def _fetch_tiles(fetcher: TileFetcher, plan: merkle.ProofPlan, fail: Fail
                       ) -> dict[tuple[int, int], bytes]:
    found = {}
    for tile in plan.tiles:
        data = await fetcher.tile(tile)
        if len(data) % merkle.HASH_SIZE or len(data) < tile.width * merkle.HASH_SIZE:
            raise fail(f"{tile.path} is {len(data)} bytes, want {tile.width * 32}")
        found[(tile.level, tile.index)] = data
    return found


async def _check_consistency(fetcher: TileFetcher, old: Checkpoint, new: Checkpoint,
                             fail: Fail) -> None:
    plan = merkle.consistency_plan(old.size, new.size)
    tiles = await _fetch_tiles(fetcher, plan, fail)
    try:
        proof = merkle.fold_proof(plan, tiles)
    except ValueError as e:
        raise fail(f"no valid consistency proof from {old.size} to {new.size}: {e}") from e
    check_consistency(old, new, proof)


async def _old_edge(fetcher: TileFetcher, old: Checkpoint, new: Checkpoint,
                    fail: Fail) -> merkle.RightEdge:
    """The right edge at the old size, from tiles as of the new size, checked
    against the old root."""
    plan = merkle.edge_plan(old.size)
    widened = merkle.ProofPlan(plan.size, plan.nodes, plan.counts, tuple(
        merkle.tile_for(t.level, t.index, new.size) for t in plan.tiles))
    edge = merkle.fold_edge(plan, await _fetch_tiles(fetcher, widened, fail))
    if edge.root_hash() != old.root_hash:
        raise fail(f"the log's tiles do not give the root of size {old.size}")
    return edge


async def _bundle(fetcher: TileFetcher, tile: merkle.TileID) -> tuple[bytes, bytes]:
    hashes, bundle = await asyncio.gather(fetcher.tile(tile), fetcher.entry_bundle(tile))
    return hashes, bundle


async def _walk_entries(fetcher: TileFetcher, old: Checkpoint, new: Checkpoint,
                        watch: Watchlist, fail: Fail,
                        progress: Callable[[int, int], None] | None) -> list[Match]:
    edge = await _old_edge(fetcher, old, new, fail)
    first, last = old.size // merkle.TILE_WIDTH, (new.size - 1) // merkle.TILE_WIDTH
    tiles = [merkle.tile_for(0, n, new.size) for n in range(first, last + 1)]
    pending = [asyncio.ensure_future(_bundle(fetcher, t)) for t in tiles[:_LOOKAHEAD]]
    matches: list[Match] = []
    try:
        for k, tile in enumerate(tiles):
            if k + _LOOKAHEAD < len(tiles):
                pending.append(asyncio.ensure_future(_bundle(fetcher, tiles[k + _LOOKAHEAD])))
            hashes, bundle = await pending[k]
            start = tile.index * merkle.TILE_WIDTH
            entries = _bundle_entries(bundle, tile, fail)
            leaves = merkle.leaf_hashes_packed(entries, parallel=False)
            if hashes[: len(leaves)] != leaves:
                bad = next(i for i in range(tile.width)
                           if hashes[32 * i:32 * i + 32] != leaves[32 * i:32 * i + 32])
                raise fail(f"entry {start + bad} does not hash to its leaf hash in "
                           f"{tile.path} (an entry was rewritten)")
            skip = max(old.size - start, 0)
            edge = merkle.append_leaves(edge, leaves[32 * skip:]).edge
            matches += watch.scan(start + skip, entries[skip:], leaves[32 * skip:])
            pending[k] = None  # type: ignore[call-overload]
            if progress is not None:
                progress(start + tile.width - old.size, new.size - old.size)
    finally:
        for task in pending:
            if task is not None:
                task.cancel()
    if edge.root_hash() != new.root_hash:
        raise fail(f"the log's tiles do not give the root of size {new.size}")
    return matches


def _bundle_entries(bundle: bytes, tile: merkle.TileID, fail: Fail) -> list[bytes]:
    try:
        entries = parse_entry_bundle(bundle)
    except ValueError as e:
        raise fail(f"entry bundle for {tile.path}: {e}") from e
    if len(entries) < tile.width:
        raise fail(f"entry bundle for {tile.path} has {len(entries)} entries, "
                   f"want {tile.width}")
    return entries[: tile.width]

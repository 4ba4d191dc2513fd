"""The facade over the C Merkle engine (``rekor_py._merkle``, built from merkle_ext/).

It owns RFC 6962 hashing, in-memory trees, the compact-range appender and proofs
planned over and folded from C2SP tiles.  It checks every argument before the C
call, turns C status codes into Python exceptions and hands back only ``bytes``,
ints and tuples: no cdata leaves this package.  Storage, HTTP and signing are
other modules' business.  The API is documented in docs/merkle-api.md.

Modules: _engine (the only importer of the binding; constants, argument checks,
the status-to-error table), hashing, plans, folds, trees (in-memory builders),
verify, append.  Tile paths are C2SP wire syntax: rekor_py/log/tile_path.py.
"""

from __future__ import annotations

from rekor_py.log.tile_path import TileID
from rekor_py.merkle._engine import (
    EMPTY_ROOT,
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    LeafHashes,
    ProofError,
)
from rekor_py.merkle._engine import split as split_hashes
from rekor_py.merkle.append import AppendResult, RightEdge, TileWrite, append_leaves, fold_edge
from rekor_py.merkle.folds import ExpandedTile, TileData, fold_packed, fold_proof
from rekor_py.merkle.hashing import (
    leaf_hash,
    leaf_hashes,
    leaf_hashes_packed,
    node_hash,
    node_hashes,
    set_sha256_backend,
    sha256_backend,
    sha256_blocks,
)
from rekor_py.merkle.plans import (
    ProofPlan,
    consistency_plan,
    edge_plan,
    inclusion_plan,
    is_valid_subtree,
    subtree_consistency_plan,
    subtree_inclusion_plan,
    tile_for,
)
from rekor_py.merkle.trees import (
    consistency_proof,
    inclusion_proof,
    root_hash,
    subtree_consistency_proof,
    subtree_inclusion_proof,
)
from rekor_py.merkle.verify import (
    verify_consistency,
    verify_inclusion,
    verify_inclusion_packed,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "ExpandedTile",
    "HASH_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "AppendResult",
    "LeafHashes",
    "ProofError",
    "ProofPlan",
    "RightEdge",
    "TileData",
    "TileID",
    "TileWrite",
    "append_leaves",
    "consistency_plan",
    "consistency_proof",
    "edge_plan",
    "fold_edge",
    "fold_packed",
    "fold_proof",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "leaf_hashes_packed",
    "node_hash",
    "node_hashes",
    "root_hash",
    "set_sha256_backend",
    "sha256_backend",
    "sha256_blocks",
    "split_hashes",
    "tile_for",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusion_packed",
    # subtrees [start, end)
    "is_valid_subtree",
    "subtree_consistency_plan",
    "subtree_consistency_proof",
    "subtree_inclusion_plan",
    "subtree_inclusion_proof",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]

"""In-memory trees: the root and proofs over a list of leaf hashes (RFC 6962
MTH, PATH and PROOF, and the subtree proofs of the Merkle Tree Certificates draft)."""

from __future__ import annotations

from collections.abc import Sequence

from rekor_py.merkle._engine import HASH_SIZE, LeafHashes, check_u64, ffi, joined_hashes, lib
from rekor_py.merkle.folds import fold_leaves
from rekor_py.merkle.plans import (
    consistency_plan,
    inclusion_plan,
    subtree_consistency_plan,
    subtree_inclusion_plan,
)

__all__ = [
    "consistency_proof",
    "inclusion_proof",
    "root_hash",
    "subtree_consistency_proof",
    "subtree_inclusion_proof",
]


def root_hash(leaf_hashes: LeafHashes) -> bytes:
    """RFC 6962 MTH over the leaf hashes (a sequence or packed); EMPTY_ROOT for none."""
    joined = joined_hashes("leaf_hashes", leaf_hashes)
    out = ffi.new("uint8_t[32]")
    lib.merkle_root(joined, len(joined) // HASH_SIZE, out)
    return bytes(ffi.buffer(out))


def _within(name: str, size: int, available: int) -> None:
    if size > available:
        raise ValueError(f"{name} {size} is beyond the {available} leaf hashes given")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Audit path for leaf `index` in the tree of the first `size` leaves.

    Requires 0 <= index < size <= len(leaf_hashes); raises ValueError otherwise.
    """
    _within("size", check_u64("size", size), len(leaf_hashes))
    plan = inclusion_plan(index, size)
    return fold_leaves(plan, joined_hashes("leaf_hashes", leaf_hashes[:size]))


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """RFC 6962 proof that the first size1 leaves prefix the first size2.

    Requires 0 <= size1 <= size2 <= len(leaf_hashes); [] if size1 is 0 or size2.
    """
    _within("size2", check_u64("size2", size2), len(leaf_hashes))
    plan = consistency_plan(size1, size2)
    return fold_leaves(plan, joined_hashes("leaf_hashes", leaf_hashes[:size2]))


def subtree_inclusion_proof(leaf_hashes: Sequence[bytes], index: int, start: int,
                            end: int) -> list[bytes]:
    """Inclusion proof of leaf `index` in the subtree [start, end) of leaf_hashes.

    Requires a valid subtree, start <= index < end <= len(leaf_hashes).
    """
    _within("end", check_u64("end", end), len(leaf_hashes))
    plan = subtree_inclusion_plan(index, start, end)
    return fold_leaves(plan, joined_hashes("leaf_hashes", leaf_hashes[:end]))


def subtree_consistency_proof(leaf_hashes: Sequence[bytes], start: int, end: int,
                              size: int) -> list[bytes]:
    """Proof that the subtree [start, end) is part of the tree of the first `size` leaves.

    Requires a valid subtree and end <= size <= len(leaf_hashes).
    """
    _within("size", check_u64("size", size), len(leaf_hashes))
    plan = subtree_consistency_plan(start, end, size)
    return fold_leaves(plan, joined_hashes("leaf_hashes", leaf_hashes[:size]))

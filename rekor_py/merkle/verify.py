"""Proof verifiers: inclusion and consistency (RFC 9162, sections 2.1.3.2 and
2.1.4.2) and their subtree forms.  Each raises ProofError saying what did not
match; the wording comes from the status table in _engine.py."""

from __future__ import annotations

from collections.abc import Sequence

from rekor_py.merkle._engine import (
    HASH_SIZE,
    Failure,
    ProofError,
    check_u64,
    ffi,
    lib,
    proof_bytes,
    proof_hash,
    status_error,
)
from rekor_py.merkle.plans import (
    consistency_plan,
    inclusion_plan,
    subtree_consistency_plan,
    subtree_inclusion_plan,
)

__all__ = [
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]


def _raise_for(status: int, failure: Failure) -> None:
    error = status_error(status, failure)
    if error is not None:
        raise error


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that `leaf_hash` is at `index` in the tree of `size` with `root`.

    Raises ProofError saying what did not match.
    """
    verify_inclusion_packed(leaf_hash, index, size, proof_bytes(proof), root)


def verify_inclusion_packed(leaf_hash: bytes, index: int, size: int, packed: bytes,
                            root: bytes) -> None:
    """verify_inclusion for a proof as one bytes of 32-byte hashes (fold_packed's
    output): the server checks every path it serves, and splitting it into a
    list only to join it again cost more than the check."""
    if len(packed) % HASH_SIZE:
        raise ProofError(f"packed proof is {len(packed)} bytes, not a multiple of {HASH_SIZE}")
    proof_hash("leaf_hash", leaf_hash)
    proof_hash("root", root)
    check_u64("index", index)
    check_u64("size", size)
    n = len(packed) // HASH_SIZE
    calc = ffi.new("uint8_t[32]")
    status = lib.merkle_verify_inclusion(leaf_hash, index, size, packed, n, root, calc)
    _raise_for(status, Failure(
        "inclusion", index=index, size=size, proof_len=n,
        want=lambda: len(inclusion_plan(index, size).count_bytes), expected=(root,),
        calc=(calc,)))


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check that the tree (size1, root1) is a prefix of the tree (size2, root2).

    Raises ProofError saying what did not match.
    """
    proof_hash("root1", root1)
    proof_hash("root2", root2)
    joined = proof_bytes(proof)
    check_u64("size1", size1)
    check_u64("size2", size2)
    calc1, calc2 = ffi.new("uint8_t[32]"), ffi.new("uint8_t[32]")
    status = lib.merkle_verify_consistency(size1, size2, joined, len(proof), root1, root2,
                                           calc1, calc2)
    _raise_for(status, Failure(
        "consistency", size1=size1, size2=size2, proof_len=len(proof),
        want=lambda: 0 if size1 == size2 else len(consistency_plan(size1, size2).counts),
        expected=(root1, root2), calc=(calc1, calc2)))


def verify_subtree_inclusion(leaf_hash: bytes, index: int, start: int, end: int,
                             proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf_hash` is at `index` in the subtree [start, end) with hash `root`.

    Raises ProofError saying what did not match (including an invalid subtree or
    an index outside it).
    """
    proof_hash("leaf_hash", leaf_hash)
    proof_hash("root", root)
    joined = proof_bytes(proof)
    check_u64("index", index)
    check_u64("start", start)
    check_u64("end", end)
    calc = ffi.new("uint8_t[32]")
    status = lib.merkle_verify_subtree_inclusion(leaf_hash, index, start, end, joined,
                                                 len(proof), root, calc)
    _raise_for(status, Failure(
        "subtree inclusion", index=index, start=start, end=end, proof_len=len(proof),
        want=lambda: len(subtree_inclusion_plan(index, start, end).counts),
        expected=(root,), calc=(calc,)))


def verify_subtree_consistency(start: int, end: int, size: int, proof: Sequence[bytes],
                               root1: bytes, root2: bytes) -> None:
    """Check that the subtree [start, end) with hash root1 is part of the tree
    (size, root2).

    An empty subtree (start == end <= size) needs an empty proof and root1 ==
    EMPTY_ROOT, and proves nothing about root2, which is not examined.  Raises
    ProofError saying what did not match.
    """
    proof_hash("root1", root1)
    proof_hash("root2", root2)
    joined = proof_bytes(proof)
    check_u64("start", start)
    check_u64("end", end)
    check_u64("size", size)
    calc1, calc2 = ffi.new("uint8_t[32]"), ffi.new("uint8_t[32]")
    status = lib.merkle_verify_subtree_consistency(start, end, size, joined, len(proof), root1,
                                                   root2, calc1, calc2)
    _raise_for(status, Failure(
        "subtree consistency", start=start, end=end, size=size, proof_len=len(proof),
        want=lambda: len(subtree_consistency_plan(start, end, size).counts),
        expected=(root1, root2), calc=(calc1, calc2)))

"""Subtree proofs: rekor_py.merkle against the upstream vectors, the draft's test
vectors and a recursive oracle written from the draft's definitions.

Subtrees [start, end) and their inclusion and consistency proofs come from the
IETF Merkle Tree Certificates draft (draft-ietf-plants-merkle-tree-certs,
"Subtrees").  Three independent checks:
  - every JSON vector under tests/vectors/merkle/subtree{inclusion,consistency}/
    (transparency-dev/merkle testdata, see SOURCE.md; loaded by
    tests/reference/merkle_vectors.py) verifies or is rejected exactly as its
    wantErr says;
  - the rolling SHA-256 digests of the draft's "Subtree Test Vectors" appendix over
    every valid input on a 130-leaf tree, as transparency-dev/merkle
    testonly/vectors_test.go at 417fb0c314750d94e53942e9f92e79b6d35915db records them;
  - the oracle (tests/reference/rfc6962.py: plain recursion, hashlib only) on random
    trees: engine proofs equal it and verify, and mutated proofs fail.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rekor_py import merkle
from rekor_py.merkle import ProofError
from tests.reference import merkle_vectors as vectors
from tests.reference import rfc6962 as ref

H = merkle.HASH_SIZE
U64 = 1 << 64


# ---- the oracle (tests/reference/rfc6962.py) --------------------------------------------

Oracle = ref.Tree
valid_subtree = ref.valid_subtree


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def valid_subtrees(limit: int) -> list[tuple[int, int]]:
    return [(s, e) for e in range(limit + 1) for s in range(e + 1) if valid_subtree(s, e)]


@functools.cache
def random_leaves(seed: int, n: int) -> tuple[bytes, ...]:
    prefix = seed.to_bytes(8, "big")
    return tuple(_sha(prefix + i.to_bytes(8, "big")) for i in range(n))


# ---- the upstream JSON vectors ------------------------------------------------------------


INCLUSION = vectors.load("subtreeinclusion")
CONSISTENCY = vectors.load("subtreeconsistency")


def test_vector_counts() -> None:
    # Guard against a broken copy or glob silently shrinking the suite.
    assert len(INCLUSION) == 204
    assert len(CONSISTENCY) == 118


# Negative vectors whose point is the subtree or the index: the message must say so.
_REASONS = {
    "invalid-subtree": "not a valid subtree",
    "invalid-large-subtree": "not a valid subtree",
    "start-larger-than-end": "not a valid subtree",
    "oob-left": "is not in the subtree",
    "oob-right": "is not in the subtree",
    "oob-right-2": "is not in the subtree",
    "start-equals-end": "is not in the subtree",
}


def _reason(vector_id: str) -> str | None:
    stem = Path(vector_id).stem
    if stem.startswith("invalid-subtree"):
        return "not a valid subtree"
    return _REASONS.get(stem)


@pytest.mark.parametrize("v", INCLUSION)
def test_subtree_inclusion_vector(v: dict[str, Any], request: pytest.FixtureRequest) -> None:
    leaf, root, proof = vectors.b64(v["leafHash"]), vectors.b64(v["root"]), vectors.proof(v)
    args = (leaf, v["leafIdx"], v["start"], v["end"], proof, root)
    if not v["wantErr"]:
        # Every positive subtree inclusion vector uses real 32-byte hashes.
        assert all(len(h) == H for h in (leaf, root, *proof))
        merkle.verify_subtree_inclusion(*args)
        return
    with pytest.raises(ProofError) as excinfo:
        merkle.verify_subtree_inclusion(*args)
    reason = _reason(request.node.callspec.id)
    if reason:
        assert reason in str(excinfo.value)


# Positive consistency vectors whose roots are placeholders, not hashes.  The Go
# verifier accepts them (it compares root1 == root2 byte for byte when [start, end)
# is the whole tree, and never reads root2 for an empty subtree); rekor_py.merkle
# rejects any hash that is not 32 bytes, as test_merkle_vectors.py explains.
PLACEHOLDER_POSITIVES = {
    "sizes-are-equal-one-and-proof-is-empty",
    "subtree-is-empty-sizes-are-equal-one-subtree-root-valid-tree-root-random-proof-is-empty",
    "subtree-is-empty-sizes-are-equal-zero-subtree-root-valid-tree-root-random-proof-is-empty",
}


@pytest.mark.parametrize("v", CONSISTENCY)
def test_subtree_consistency_vector(v: dict[str, Any], request: pytest.FixtureRequest) -> None:
    root1, root2, proof = vectors.b64(v["root1"]), vectors.b64(v["root2"]), vectors.proof(v)
    args = (v["start"], v["end"], v["size"], proof, root1, root2)
    vid = request.node.callspec.id
    short = [h for h in (root1, root2, *proof) if len(h) != H]

    if v["wantErr"]:
        with pytest.raises(ProofError) as excinfo:
            merkle.verify_subtree_consistency(*args)
        reason = _reason(vid)
        if reason and not short:  # placeholder roots are refused before the subtree is read
            assert reason in str(excinfo.value)
        return

    if not short:
        merkle.verify_subtree_consistency(*args)
        return

    assert Path(vid).stem in PLACEHOLDER_POSITIVES and not proof, vid
    with pytest.raises(ProofError) as excinfo:
        merkle.verify_subtree_consistency(*args)
    message = str(excinfo.value)
    assert str(H) in message and str(len(short[0])) in message, message
    # The case the vector is about, with each placeholder hashed into a real hash
    # (equal placeholders stay equal; EMPTY_ROOT stays as it is).
    fixed = [h if len(h) == H else _sha(h) for h in (root1, root2)]
    merkle.verify_subtree_consistency(v["start"], v["end"], v["size"], proof, *fixed)


# ---- the draft's accumulated test vectors ------------------------------------------------

DRAFT_MAX = 130
# testonly/vectors_test.go at 417fb0c: TestSubtree{Hash,InclusionProof,ConsistencyProof}Vectors.
DRAFT_HASH_DIGEST = "b82806ad4265bb151c1119c0f4db437bb4d1a1f887b3a7fba1cd4ebf552e3e81"
DRAFT_INCLUSION_DIGEST = "ac2a8f989e44d99e399db448050ff5f19757df53cfb716aa81015d3955d8163f"
DRAFT_CONSISTENCY_DIGEST = "10fa99b37bf9bf9ffa26b412fbd98bd75363256d0b75d61bc4538b9c9c5a0a74"


@functools.cache
def draft_tree() -> tuple[tuple[bytes, ...], Oracle]:
    """The draft's tree D: d[i] is the single byte i."""
    leaves = tuple(merkle.leaf_hashes([bytes([i]) for i in range(DRAFT_MAX)]))
    return leaves, Oracle(leaves)


def _proof_line(prefix: str, proof: Sequence[bytes]) -> bytes:
    return (prefix + "".join(f" {h.hex()}" for h in proof) + "\n").encode()


def test_validity_rule_matches_the_draft() -> None:
    for end in range(DRAFT_MAX + 1):
        for start in range(end + 3):
            assert merkle.is_valid_subtree(start, end) is valid_subtree(start, end), (start, end)
    assert merkle.is_valid_subtree(1 << 63, U64 - 1)
    assert not merkle.is_valid_subtree(1, (1 << 63) + 2)  # BIT_CEIL would be 2**64
    assert not merkle.is_valid_subtree(0, U64)  # beyond 64 bits
    assert not merkle.is_valid_subtree(-1, 0)


def test_draft_subtree_hash_vector() -> None:
    leaves, oracle = draft_tree()
    digest = hashlib.sha256()
    for start, end in valid_subtrees(DRAFT_MAX):
        subtree_hash = merkle.root_hash(leaves[start:end])
        assert subtree_hash == oracle.mth(start, end)
        digest.update(f"[{start}, {end}) {subtree_hash.hex()}\n".encode())
    assert digest.hexdigest() == DRAFT_HASH_DIGEST


def test_draft_subtree_inclusion_vector() -> None:
    leaves, oracle = draft_tree()
    digest = hashlib.sha256()
    for start, end in valid_subtrees(DRAFT_MAX):
        root = oracle.mth(start, end)
        for index in range(start, end):
            proof = merkle.subtree_inclusion_proof(leaves, index, start, end)
            assert proof == oracle.subtree_inclusion(index, start, end), (index, start, end)
            merkle.verify_subtree_inclusion(leaves[index], index, start, end, proof, root)
            digest.update(_proof_line(f"{index} [{start}, {end})", proof))
    assert digest.hexdigest() == DRAFT_INCLUSION_DIGEST


def test_draft_subtree_consistency_vector() -> None:
    leaves, oracle = draft_tree()
    digest = hashlib.sha256()
    subtrees = valid_subtrees(DRAFT_MAX)
    for n in range(DRAFT_MAX + 1):
        root2 = oracle.mth(0, n)
        for start, end in subtrees:
            if end > n:
                continue  # subtrees are sorted by end
            proof = merkle.subtree_consistency_proof(leaves, start, end, n)
            assert proof == oracle.subtree_consistency(start, end, 0, n), (start, end, n)
            merkle.verify_subtree_consistency(start, end, n, proof, oracle.mth(start, end), root2)
            digest.update(_proof_line(f"[{start}, {end}) {n}", proof))
    assert digest.hexdigest() == DRAFT_CONSISTENCY_DIGEST


# ---- random trees: oracle equality, then mutations -----------------------------------------


def _flip(h: bytes, bit: int) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


def _mutations(proof: list[bytes], rng: random.Random) -> list[list[bytes]]:
    """Each element bit-flipped, one dropped, one added, and the ends swapped."""
    out = [proof[:i] + [_flip(p, rng.randrange(8 * H))] + proof[i + 1 :]
           for i, p in enumerate(proof)]
    out.append(proof + [_sha(b"extra")])
    out.append([_sha(b"extra")] + proof)
    if proof:
        out.append(proof[:-1])
        out.append(proof[1:])
    if len(proof) > 1 and proof[0] != proof[-1]:
        out.append([proof[-1]] + proof[1:-1] + [proof[0]])
    return out


def _triples(rng: random.Random, size: int, count: int) -> list[tuple[int, int, int]]:
    """Random valid (start, end, size') with end <= size' <= size, biased to edges."""
    subtrees = [(s, e) for s, e in valid_subtrees(size) if s < e]
    out = []
    for _ in range(count):
        start, end = rng.choice(subtrees)
        n = rng.choice([end, size, rng.randint(end, size)])
        out.append((start, end, n))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_random_subtree_consistency(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([300, 513, 1000])
    leaves = random_leaves(seed, size)
    oracle = Oracle(leaves)
    for start, end, n in _triples(rng, size, 150):
        root1, root2 = oracle.mth(start, end), oracle.mth(0, n)
        proof = merkle.subtree_consistency_proof(leaves, start, end, n)
        assert proof == oracle.subtree_consistency(start, end, 0, n), (start, end, n)
        merkle.verify_subtree_consistency(start, end, n, proof, root1, root2)
        for bad in _mutations(proof, rng):
            with pytest.raises(ProofError):
                merkle.verify_subtree_consistency(start, end, n, bad, root1, root2)
        with pytest.raises(ProofError, match="root1|root2"):
            merkle.verify_subtree_consistency(start, end, n, proof, _flip(root1, 0), root2)
        with pytest.raises(ProofError, match="root2"):
            merkle.verify_subtree_consistency(start, end, n, proof, root1, _flip(root2, 0))
        if root1 != root2:
            with pytest.raises(ProofError):
                merkle.verify_subtree_consistency(start, end, n, proof, root2, root1)


@pytest.mark.parametrize("seed", range(4))
def test_random_subtree_inclusion(seed: int) -> None:
    rng = random.Random(100 + seed)
    size = rng.choice([300, 513, 1000])
    leaves = random_leaves(100 + seed, size)
    oracle = Oracle(leaves)
    subtrees = [(s, e) for s, e in valid_subtrees(size) if s < e]
    for _ in range(150):
        start, end = rng.choice(subtrees)
        index = rng.choice([start, end - 1, rng.randrange(start, end)])
        root = oracle.mth(start, end)
        proof = merkle.subtree_inclusion_proof(leaves, index, start, end)
        assert proof == oracle.subtree_inclusion(index, start, end), (index, start, end)
        merkle.verify_subtree_inclusion(leaves[index], index, start, end, proof, root)
        for bad in _mutations(proof, rng):
            with pytest.raises(ProofError):
                merkle.verify_subtree_inclusion(leaves[index], index, start, end, bad, root)
        for other in (index - 1, index + 1):
            if start <= other < end:
                with pytest.raises(ProofError):
                    merkle.verify_subtree_inclusion(leaves[index], other, start, end, proof, root)
        with pytest.raises(ProofError, match="root"):
            merkle.verify_subtree_inclusion(_flip(leaves[index], 3), index, start, end, proof,
                                            root)


def test_small_trees_exhaustively() -> None:
    """Every valid (start, end, size) up to 40 leaves, with oracle and an invalid
    neighbour of each subtree rejected."""
    leaves = random_leaves(7, 40)
    oracle = Oracle(leaves)
    for n in range(41):
        for start, end in valid_subtrees(n):
            proof = merkle.subtree_consistency_proof(leaves, start, end, n)
            assert proof == oracle.subtree_consistency(start, end, 0, n)
            root1 = oracle.mth(start, end)
            merkle.verify_subtree_consistency(start, end, n, proof, root1, oracle.mth(0, n))
            if not valid_subtree(start + 1, end):
                with pytest.raises(ProofError, match="not a valid subtree"):
                    merkle.verify_subtree_consistency(start + 1, end, n, proof, root1,
                                                      oracle.mth(0, n))


def test_plans_fold_from_tiles() -> None:
    """The plans name nodes that tiles hold: folding them gives the leaf-built proofs."""
    rng = random.Random(5)
    size = 700  # past two full level-0 tiles
    leaves = random_leaves(5, size)
    tiles = ref.tiles_at(leaves, size)
    for start, end, n in _triples(rng, size, 60):
        plan = merkle.subtree_consistency_plan(start, end, n)
        assert plan.size == n
        want = merkle.subtree_consistency_proof(leaves, start, end, n)
        assert merkle.fold_proof(plan, tiles) == want
        index = rng.randrange(start, end)
        plan = merkle.subtree_inclusion_plan(index, start, end)
        assert plan.size == end
        assert merkle.fold_proof(plan, tiles) == merkle.subtree_inclusion_proof(
            leaves, index, start, end)


# ---- edges of the 64-bit range and error messages -----------------------------------------


@pytest.mark.parametrize(("start", "end", "size"), [
    (1 << 63, (1 << 63) + 1, U64 - 1),
    (1 << 63, U64 - 1, U64 - 1),
    (0, (1 << 63) + 5, U64 - 1),
    (U64 - 2, U64 - 1, U64 - 1),
    (1 << 62, (1 << 62) + 3, (1 << 63) + 7),
    (0, 1, U64 - 1),
])
def test_huge_sizes(start: int, end: int, size: int) -> None:
    # The verifier's expected length (two RFC 6962 proofs end to end) must agree with
    # the planner's (the draft's recursion): a proof of the planned length gets as
    # far as comparing roots.
    plan = merkle.subtree_consistency_plan(start, end, size)
    assert len(plan.counts) <= 65 and sum(plan.counts) == len(plan.nodes)
    fake = [_sha(bytes([i])) for i in range(len(plan.counts))]
    with pytest.raises(ProofError, match="root"):
        merkle.verify_subtree_consistency(start, end, size, fake, _sha(b"1"), _sha(b"2"))
    longer = [*fake, _sha(b"extra")]
    with pytest.raises(ProofError, match=f"has {len(longer)} hashes, want {len(fake)}"):
        merkle.verify_subtree_consistency(start, end, size, longer, _sha(b"1"), _sha(b"2"))


def test_messages() -> None:
    leaves = random_leaves(9, 8)
    oracle = Oracle(leaves)
    h = oracle.mth(0, 8)
    with pytest.raises(ProofError, match=r"^\[3, 5\) is not a valid subtree: start must be 0 "
                                         r"or a multiple of 2$"):
        merkle.verify_subtree_inclusion(leaves[3], 3, 3, 5, [], h)
    with pytest.raises(ProofError, match=r"\[5, 3\) is not a valid subtree: start is after end"):
        merkle.verify_subtree_consistency(5, 3, 8, [], h, h)
    with pytest.raises(ProofError, match=r"index 6 is not in the subtree \[4, 6\)"):
        merkle.verify_subtree_inclusion(leaves[6], 6, 4, 6, [], h)
    with pytest.raises(ProofError, match="subtree end 9 is beyond tree size 8"):
        merkle.verify_subtree_consistency(0, 9, 8, [], h, h)
    with pytest.raises(ProofError, match="subtree consistency proof has 0 hashes, want 2"):
        merkle.verify_subtree_consistency(4, 6, 8, [], oracle.mth(4, 6), h)
    with pytest.raises(ProofError, match="subtree inclusion proof has 0 hashes, want 1"):
        merkle.verify_subtree_inclusion(leaves[4], 4, 4, 6, [], oracle.mth(4, 6))
    with pytest.raises(ProofError, match="empty subtree \\[2, 2\\) must be EMPTY_ROOT"):
        merkle.verify_subtree_consistency(2, 2, 8, [], h, h)
    with pytest.raises(ProofError, match="proof\\[0\\] must be 32 bytes, got 3"):
        merkle.verify_subtree_consistency(4, 6, 8, [b"abc", h], h, h)
    # An empty subtree proves nothing about root2, which is therefore not examined.
    merkle.verify_subtree_consistency(8, 8, 8, [], merkle.EMPTY_ROOT, _sha(b"anything"))
    with pytest.raises(ValueError, match=r"\[3, 5\) is not a valid subtree"):
        merkle.subtree_consistency_plan(3, 5, 8)
    with pytest.raises(ValueError, match=r"index 2 is not in the subtree \[4, 6\)"):
        merkle.subtree_inclusion_plan(2, 4, 6)
    with pytest.raises(ValueError, match="subtree end 8 is beyond tree size 7"):
        merkle.subtree_consistency_plan(4, 8, 7)
    with pytest.raises(ValueError, match="size 9 is beyond the 8 leaf hashes"):
        merkle.subtree_consistency_proof(leaves, 4, 6, 9)
    assert merkle.subtree_consistency_plan(3, 3, 8).counts == ()
    assert merkle.subtree_consistency_plan(0, 8, 8).counts == ()

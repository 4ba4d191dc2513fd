"""Both SHA-256 backends give hashlib's answers.

The engine picks the SHA-extension backend at import when the CPU has it, so the
rest of the suite exercises only that one; here the portable C is forced too.
Each compressor counts the blocks it processes (merkle.sha256_blocks), so a
selection that reports "portable" while the SHA-extension code still runs fails
here instead of passing on hashlib-equal answers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pytest

from rekor_py import merkle
from tests.reference import rfc6962


@pytest.fixture(params=["portable", "auto"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    name = merkle.set_sha256_backend(request.param)
    yield name
    merkle.set_sha256_backend("auto")


def test_portable_backend_can_be_forced(backend: str) -> None:
    if backend != "sha-ni":
        assert merkle.sha256_backend() == "portable"


@pytest.mark.parametrize("hashing", [
    lambda: merkle.leaf_hash(b"x" * 200),
    lambda: merkle.leaf_hashes([b"y" * n for n in range(100)]),
    lambda: merkle.node_hash(b"\1" * 32, b"\2" * 32),
    lambda: merkle.node_hashes(b"\3" * 64 * 9),
    lambda: merkle.root_hash([b"\4" * 32] * 300),
], ids=["leaf_hash", "leaf_hashes", "node_hash", "node_hashes", "root_hash"])
def test_only_the_selected_compressor_runs(backend: str, hashing: object) -> None:
    # The counters are per thread: these calls are small enough to hash on this one.
    other = "sha-ni" if backend == "portable" else "portable"
    before = merkle.sha256_blocks(backend), merkle.sha256_blocks(other)
    assert callable(hashing)
    hashing()
    after = merkle.sha256_blocks(backend), merkle.sha256_blocks(other)
    assert after[0] > before[0], f"the {backend} compressor did not run"
    assert after[1] == before[1], f"the {other} compressor ran while {backend} was selected"


def test_leaf_hashes_match_hashlib_at_every_padding_boundary(backend: str) -> None:
    # Lengths 0-300 cross every tail/padding case (55, 56, 63, 64, 119, 120 ...),
    # and equal neighbours take the two-stream path.
    rng = random.Random(7)
    entries = [rng.randbytes(n) for n in range(301) for _ in range(2)]
    assert merkle.leaf_hashes(entries) == [hashlib.sha256(b"\0" + e).digest() for e in entries]
    assert [merkle.leaf_hash(e) for e in entries[:40]] == merkle.leaf_hashes(entries[:40])


def test_node_hashes_match_hashlib(backend: str) -> None:
    rng = random.Random(8)
    children = rng.randbytes(64 * 101)  # odd count: the single-stream tail too
    want = b"".join(hashlib.sha256(b"\1" + children[i : i + 64]).digest()
                    for i in range(0, len(children), 64))
    assert merkle.node_hashes(children) == want
    assert merkle.node_hash(children[:32], children[32:64]) == want[:32]


def test_roots_and_proofs_match_reference(backend: str) -> None:
    leaves = [rfc6962.leaf_hash(i.to_bytes(4, "big")) for i in range(700)]
    for size in (1, 2, 3, 255, 256, 257, 700):
        root = rfc6962.mth(leaves[:size])
        assert merkle.root_hash(leaves[:size]) == root
        assert merkle.append_leaves(merkle.RightEdge.empty(), leaves[:size]).root_hash == root
        index = size // 3
        proof = merkle.inclusion_proof(leaves, index, size)
        assert proof == rfc6962.path(index, leaves[:size])
        merkle.verify_inclusion(leaves[index], index, size, proof, root)


def test_unknown_backend_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown SHA-256 backend"):
        merkle.set_sha256_backend("fast")
    with pytest.raises(ValueError, match="unknown SHA-256 backend"):
        merkle.sha256_blocks("auto")

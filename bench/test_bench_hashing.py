"""RFC 6962 hashing: the C engine against hashlib.sha256 doing the same hashes in Python.

Groups (baseline first): one node hash; a level of 4,096 node hashes in one call;
1,000 leaf hashes of 600-byte entries in one call.
"""

from __future__ import annotations

import random
from hashlib import sha256

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from rekor_py import merkle

RNG = random.Random(9162)
LEFT, RIGHT = RNG.randbytes(32), RNG.randbytes(32)
CHILDREN = RNG.randbytes(64 * 4096)  # 4,096 (left, right) pairs
ENTRIES = [RNG.randbytes(600) for _ in range(1000)]


def _node_hash_hashlib(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _node_hashes_hashlib(children: bytes) -> bytes:
    return b"".join(sha256(b"\x01" + children[i:i + 64]).digest()
                    for i in range(0, len(children), 64))


def _leaf_hashes_hashlib(entries: list[bytes]) -> list[bytes]:
    return [sha256(b"\x00" + e).digest() for e in entries]


@pytest.mark.benchmark(group="node hash (one)")
def test_node_hash_hashlib(benchmark: BenchmarkFixture) -> None:
    benchmark.extra_info["baseline"] = True
    benchmark(_node_hash_hashlib, LEFT, RIGHT)


@pytest.mark.benchmark(group="node hash (one)")
def test_node_hash_engine(benchmark: BenchmarkFixture) -> None:
    assert benchmark(merkle.node_hash, LEFT, RIGHT) == _node_hash_hashlib(LEFT, RIGHT)


@pytest.mark.benchmark(group="node hashes (4,096 in one call)")
def test_node_hashes_hashlib(benchmark: BenchmarkFixture) -> None:
    benchmark.extra_info["baseline"] = True
    benchmark(_node_hashes_hashlib, CHILDREN)


@pytest.mark.benchmark(group="node hashes (4,096 in one call)")
def test_node_hashes_engine(benchmark: BenchmarkFixture) -> None:
    assert benchmark(merkle.node_hashes, CHILDREN) == _node_hashes_hashlib(CHILDREN)


@pytest.mark.benchmark(group="leaf hashes (1,000 x 600 B)")
def test_leaf_hashes_hashlib(benchmark: BenchmarkFixture) -> None:
    benchmark.extra_info["baseline"] = True
    benchmark(_leaf_hashes_hashlib, ENTRIES)


@pytest.mark.benchmark(group="leaf hashes (1,000 x 600 B)")
def test_leaf_hashes_engine(benchmark: BenchmarkFixture) -> None:
    assert benchmark(merkle.leaf_hashes, ENTRIES) == _leaf_hashes_hashlib(ENTRIES)


@pytest.mark.benchmark(group="leaf hashes (1,000 x 600 B)")
def test_leaf_hashes_packed_engine(benchmark: BenchmarkFixture) -> None:
    packed = benchmark(merkle.leaf_hashes_packed, ENTRIES)
    assert packed == b"".join(_leaf_hashes_hashlib(ENTRIES))

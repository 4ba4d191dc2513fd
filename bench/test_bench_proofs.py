"""Proofs in a tree of about 100,000 leaves: plans and folds of the C engine, against
pymerkle 7's InmemoryTree (every interior node kept as a Python object).

Each call proves another leaf (or size): the same 2,000 in every benchmark. Per group:
pymerkle (the baseline), our plan alone, our fold alone from the raw C2SP tiles, plan and
fold from raw tiles (what a server answers from storage), and plan and fold from
expanded tiles (a server's tile cache).
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from rekor_py import merkle

from microbench import Tree, cycling  # type: ignore[import-not-found]

INCLUSION = "inclusion proof (~100k leaves)"
CONSISTENCY = "consistency proof (~100k leaves)"


def _pymerkle_path(proof: object) -> list[bytes]:
    # pymerkle's inclusion path starts with the leaf's own hash; RFC 9162's does not.
    return [bytes.fromhex(h) for h in proof.serialize()["path"][1:]]  # type: ignore[attr-defined]


@pytest.mark.benchmark(group=INCLUSION)
def test_inclusion_pymerkle(benchmark: BenchmarkFixture, tree: Tree) -> None:
    benchmark.extra_info["baseline"] = True
    index = cycling(tree.indexes)
    benchmark(lambda: tree.pymerkle.prove_inclusion(index() + 1, tree.size))  # counts from 1
    i = tree.indexes[0]
    ours = merkle.fold_proof(merkle.inclusion_plan(i, tree.size), tree.tiles)
    assert _pymerkle_path(tree.pymerkle.prove_inclusion(i + 1, tree.size)) == ours


@pytest.mark.benchmark(group=INCLUSION)
def test_inclusion_plan(benchmark: BenchmarkFixture, tree: Tree) -> None:
    index = cycling(tree.indexes)
    benchmark(lambda: merkle.inclusion_plan(index(), tree.size))


@pytest.mark.benchmark(group=INCLUSION)
def test_inclusion_fold_raw_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    plan = cycling(merkle.inclusion_plan(i, tree.size) for i in tree.indexes)
    benchmark(lambda: merkle.fold_proof(plan(), tree.tiles))


@pytest.mark.benchmark(group=INCLUSION)
def test_inclusion_plan_and_fold_raw_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    index = cycling(tree.indexes)
    benchmark(lambda: merkle.fold_proof(merkle.inclusion_plan(index(), tree.size), tree.tiles))
    for i in tree.indexes[:50]:
        proof = merkle.fold_proof(merkle.inclusion_plan(i, tree.size), tree.tiles)
        merkle.verify_inclusion(tree.leaf_hashes[i], i, tree.size, proof, tree.root)


@pytest.mark.benchmark(group=INCLUSION)
def test_inclusion_plan_and_fold_expanded_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    index = cycling(tree.indexes)
    benchmark(lambda: merkle.fold_proof(merkle.inclusion_plan(index(), tree.size), tree.expanded))
    for i in tree.indexes[:50]:
        plan = merkle.inclusion_plan(i, tree.size)
        assert merkle.fold_proof(plan, tree.expanded) == merkle.fold_proof(plan, tree.tiles)


@pytest.mark.benchmark(group=CONSISTENCY)
def test_consistency_pymerkle(benchmark: BenchmarkFixture, tree: Tree) -> None:
    benchmark.extra_info["baseline"] = True
    size1 = cycling(tree.sizes1)
    benchmark(lambda: tree.pymerkle.prove_consistency(size1(), tree.size))


@pytest.mark.benchmark(group=CONSISTENCY)
def test_consistency_plan(benchmark: BenchmarkFixture, tree: Tree) -> None:
    size1 = cycling(tree.sizes1)
    benchmark(lambda: merkle.consistency_plan(size1(), tree.size))


@pytest.mark.benchmark(group=CONSISTENCY)
def test_consistency_fold_raw_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    plan = cycling(merkle.consistency_plan(s, tree.size) for s in tree.sizes1)
    benchmark(lambda: merkle.fold_proof(plan(), tree.tiles))


@pytest.mark.benchmark(group=CONSISTENCY)
def test_consistency_plan_and_fold_raw_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    size1 = cycling(tree.sizes1)
    benchmark(lambda: merkle.fold_proof(merkle.consistency_plan(size1(), tree.size), tree.tiles))
    for s in tree.sizes1[:50]:
        proof = merkle.fold_proof(merkle.consistency_plan(s, tree.size), tree.tiles)
        merkle.verify_consistency(s, tree.size, proof, merkle.root_hash(tree.leaf_hashes[:s]),
                                  tree.root)


@pytest.mark.benchmark(group=CONSISTENCY)
def test_consistency_plan_and_fold_expanded_tiles(benchmark: BenchmarkFixture, tree: Tree) -> None:
    size1 = cycling(tree.sizes1)
    benchmark(lambda: merkle.fold_proof(merkle.consistency_plan(size1(), tree.size), tree.expanded))
    for s in tree.sizes1[:50]:
        plan = merkle.consistency_plan(s, tree.size)
        assert merkle.fold_proof(plan, tree.expanded) == merkle.fold_proof(plan, tree.tiles)

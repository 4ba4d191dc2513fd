"""Helpers of the pytest-benchmark suite (test_bench_*.py here; see README.md).

Every benchmark belongs to a group holding one baseline, measured in the same
run: hashlib for hashing, pymerkle for proofs, the rfc8785 package for JCS,
hashedrekord for the entry types.  The baseline sets
`benchmark.extra_info["baseline"] = True`; `bench/ratios.py` divides by it.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import random
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pymerkle import InmemoryTree

from rekor_py import merkle
from tests.integration.test_entry_kinds import BUILDERS, Signed

T = TypeVar("T")

TREE_SIZE = 100_003  # not a power of two: the right edge has partial tiles
SAMPLES = 2_000  # distinct proofs each benchmark cycles through


def cycling(values: Iterable[T]) -> Callable[[], T]:
    """A zero-argument function returning the values in turn, forever: each call of a
    benchmarked function then works on another input, the same sequence on both sides."""
    return itertools.cycle(list(values)).__next__


@dataclass(frozen=True)
class Tree:
    size: int
    leaf_hashes: list[bytes]
    root: bytes
    tiles: dict[tuple[int, int], bytes]
    expanded: dict[tuple[int, int], merkle.ExpandedTile]
    pymerkle: Any  # pymerkle.InmemoryTree holding the same entries
    indexes: list[int]  # leaves whose inclusion is proved
    sizes1: list[int]  # sizes whose consistency with `size` is proved


def build_tree() -> Tree:
    """One tree of TREE_SIZE random 600-byte entries, held three ways: C2SP tiles as the
    appender wrote them, the same tiles expanded, and a pymerkle InmemoryTree."""
    rng = random.Random(6962)
    entries = [rng.randbytes(600) for _ in range(TREE_SIZE)]
    leaves = merkle.leaf_hashes(entries)
    result = merkle.append_leaves(merkle.RightEdge.empty(), leaves)
    tiles: dict[tuple[int, int], bytes] = {}
    for write in result.tiles:
        key = (write.level, write.index)
        tiles[key] = tiles.get(key, b"") + write.hashes
    expanded = {key: merkle.ExpandedTile.from_tile(data) for key, data in tiles.items()}
    reference = InmemoryTree(algorithm="sha256")  # RFC 6962 prefixes: same leaves, same root
    for entry in entries:
        reference.append_entry(entry)
    assert reference.get_root() == result.root_hash
    return Tree(
        size=TREE_SIZE, leaf_hashes=leaves, root=result.root_hash, tiles=tiles, expanded=expanded,
        pymerkle=reference, indexes=[rng.randrange(TREE_SIZE) for _ in range(SAMPLES)],
        sizes1=[rng.randrange(1, TREE_SIZE) for _ in range(SAMPLES)],
    )


@functools.cache
def entry_cases() -> list[Signed]:
    """One real signed entry per kind and signature format, from the builders the
    integration tests log (openssl, gpg, ssh-keygen, minisign, sigstore-python's DSSE
    signer); made once per run, in a folder removed at exit."""
    work = tempfile.TemporaryDirectory(prefix="rekor-py-bench-", ignore_cleanup_errors=True)
    atexit.register(work.cleanup)
    return [entry for build in BUILDERS for entry in build(Path(work.name))]


def entry_case(name: str) -> Signed:
    (case,) = [c for c in entry_cases() if c.name == name]
    return case


BASELINE_CASE = "hashedrekord-cert"  # hashedrekord 0.0.1, a P-256 certificate, sha256

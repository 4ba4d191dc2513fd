"""The GLIBC_TUNABLES a `serve --workers` parent gives its workers (rekor_py/runner.py)."""

from __future__ import annotations

import pytest

from rekor_py.runner import with_huge_heap


@pytest.mark.parametrize(("given", "expected"), [
    (None, "glibc.malloc.hugetlb=1"),
    ("", "glibc.malloc.hugetlb=1"),
    # The operator's other tunables are kept, in their order.
    ("glibc.malloc.arena_max=2", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"),
    # The operator's own choice about huge pages wins, either way.
    ("glibc.malloc.hugetlb=0", "glibc.malloc.hugetlb=0"),
    ("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2"),
])
def test_huge_heap_tunable(given: str | None, expected: str) -> None:
    assert with_huge_heap(given) == expected

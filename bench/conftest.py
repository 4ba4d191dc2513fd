"""Fixtures of the pytest-benchmark suite in this folder (see README.md)."""

from __future__ import annotations

import pytest

from microbench import Tree, build_tree  # type: ignore[import-not-found]


@pytest.fixture(scope="session")
def tree() -> Tree:
    return build_tree()

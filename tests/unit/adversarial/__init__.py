"""Hostile inputs to every parser: each is refused (a 400 naming its limit) or
handled in time linear in its size.  Timing checks compare an input with one
twice its size (best of three each), so that they hold on a loaded machine:
linear work roughly doubles, the quadratic work these tests pin quadruples."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from rekor_py import limits


def best_time(fn: Callable[[], Any], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def assert_linear(run: Callable[[int], Any], n: int) -> None:
    """`run(2n)` takes less than 3x `run(n)` (quadratic work would take 4x)."""
    small, large = best_time(lambda: run(n)), best_time(lambda: run(2 * n))
    assert large < 3 * small + 0.002, f"n={n}: {small:.4f}s, 2n: {large:.4f}s"


@contextmanager
def limits_set(**values: int) -> Iterator[None]:
    """Run with some limits changed, then restore the ones in force before."""
    before = limits.current()
    limits.configure(replace(before, **values))
    try:
        yield
    finally:
        limits.configure(before)

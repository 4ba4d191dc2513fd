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


def _elapsed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def assert_linear(run: Callable[[int], Any], n: int, attempts: int = 3) -> None:
    """`run(2n)` takes less than 3x `run(n)` (quadratic work would take 4x).

    Sizes are timed alternately, best of five each, so that load from other
    processes hits both alike; a measurement that still fails is repeated
    (up to `attempts` times), since quadratic work fails every time."""
    for _ in range(attempts):
        small = large = float("inf")
        for _ in range(5):
            small = min(small, _elapsed(lambda: run(n)))
            large = min(large, _elapsed(lambda: run(2 * n)))
        if large < 3 * small + 0.002:
            return
    raise AssertionError(f"n={n}: {small:.4f}s, 2n: {large:.4f}s")


@contextmanager
def limits_set(**values: int) -> Iterator[None]:
    """Run with some limits changed, then restore the ones in force before."""
    before = limits.current()
    limits.configure(replace(before, **values))
    try:
        yield
    finally:
        limits.configure(before)

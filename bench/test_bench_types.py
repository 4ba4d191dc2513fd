"""The write path's CPU step per entry kind and signature format: `parse_entry` (strict
parse, every signature verified) and `canonicalize`, what POST /api/v1/log/entries does
before the log is touched. One group; the baseline is hashedrekord 0.0.1 over a P-256
certificate, the kind most clients send. (`bench_types.py` times the same cases
alternately with the baseline, without pytest.)
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from rekor_py.types import parse_entry

from microbench import BASELINE_CASE, entry_case, entry_cases  # type: ignore[import-not-found]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_name" in metafunc.fixturenames:
        names = [c.name for c in entry_cases()]
        metafunc.parametrize("case_name", names, ids=names)


@pytest.mark.benchmark(group="entry types: parse + verify + canonicalize")
def test_parse_verify_canonicalize(benchmark: BenchmarkFixture, case_name: str) -> None:
    benchmark.extra_info["baseline"] = case_name == BASELINE_CASE
    case = entry_case(case_name)
    body = benchmark(lambda: parse_entry(case.proposed).canonicalize())
    # A fast wrong answer fails: the entry must name the artifact the case signed.
    entry = parse_entry(case.proposed)
    assert entry.canonicalize() == body
    assert case.artifact_hash.lower() in entry.index_keys(), entry.index_keys()

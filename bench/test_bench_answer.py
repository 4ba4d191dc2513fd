"""A LogEntry answer's JSON: `EntryAnswer.json()` (written directly) against building
the pydantic LogEntry and encoding it (`to_json_body(answer.model())`, the baseline,
which is how the server answered before), for an answer as a read at 10M entries sends:
a Fulcio-certificate hashedrekord body, 24 proof hashes, a Rekor checkpoint.
"""

from __future__ import annotations

import os

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from rekor_py.api.models import to_json_body
from rekor_py.log.entries import EntryAnswer
from rekor_py.types import parse_entry

from microbench import entry_case  # type: ignore[import-not-found]


def _answer() -> EntryAnswer:
    body = parse_entry(entry_case("hashedrekord-cert").proposed).canonicalize()
    checkpoint = ("rekor.example.org - 1193050959916656506\n10000000\n"
                  "3iVxb9kV7ZyZyTqaJEH5UyLYz8a1Qh4lPYuJcMI+Ams=\n\n"
                  "\u2014 rekor.example.org wNI9ajBFAiEA6vMV0Xo6PWmUw5zWYcELTAwuEHnK\n")
    return EntryAnswer(os.urandom(40).hex(), body, 1_767_225_600, os.urandom(32).hex(),
                       9_876_543, 9_876_543, 10_000_000, os.urandom(32), checkpoint,
                       [os.urandom(32) for _ in range(24)], os.urandom(71), None)


@pytest.mark.parametrize("implementation", ["pydantic model", "EntryAnswer.json"])
def test_log_entry_answer(benchmark: BenchmarkFixture, implementation: str) -> None:
    benchmark.group = "LogEntry answer: build + JSON"
    benchmark.extra_info["baseline"] = implementation == "pydantic model"
    answer = _answer()
    if implementation == "pydantic model":
        def write() -> bytes:
            return to_json_body(answer.model())
    else:
        def write() -> bytes:
            return answer.json() + b"\n"
    assert benchmark(write) == to_json_body(answer.model())

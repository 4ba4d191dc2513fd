"""RFC 8785 canonical JSON: `rekor_py.jcs.dumps` (Python's encoder where it is known to
give the same bytes, else `rfc8785`) against the `rfc8785` package alone (the baseline),
on what the server canonicalizes per entry: the canonical body of a hashedrekord and of
an intoto 0.0.2 entry (the largest kind here), and a SET payload.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import rfc8785
from pytest_benchmark.fixture import BenchmarkFixture

from rekor_py import jcs
from rekor_py.types import parse_entry

from microbench import entry_case  # type: ignore[import-not-found]


def _body(case: str) -> Any:
    return json.loads(parse_entry(entry_case(case).proposed).canonicalize())


def _set_payload() -> Any:
    body = parse_entry(entry_case("hashedrekord-cert").proposed).canonicalize()
    return {"body": base64.b64encode(body).decode(), "integratedTime": 1_767_225_600,
            "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
            "logIndex": 123_456_789}


DOCUMENTS = {"hashedrekord body": lambda: _body("hashedrekord-cert"),
             "intoto 0.0.2 body": lambda: _body("intoto-0.0.2"),
             "SET payload": _set_payload}


@pytest.mark.parametrize("implementation", ["rfc8785", "rekor_py.jcs"])
@pytest.mark.parametrize("document", list(DOCUMENTS))
def test_jcs(benchmark: BenchmarkFixture, document: str, implementation: str) -> None:
    benchmark.group = f"JCS: {document}"
    benchmark.extra_info["baseline"] = implementation == "rfc8785"
    value = DOCUMENTS[document]()
    dumps = rfc8785.dumps if implementation == "rfc8785" else jcs.dumps
    assert benchmark(dumps, value) == rfc8785.dumps(value)

"""schemathesis against a running server, driven by the document it serves itself.

Every operation of GET /api/v1/openapi.json is called with generated requests,
schema-valid and schema-violating, over real HTTP to `rekor-py serve` on a
real PostgreSQL.  Each response must not be a 5xx, and must match the status
codes, content types, headers and bodies the document declares.  Afterwards
the tree holds exactly the seeded entries plus the 201s the fuzzer saw:
nothing is written on a rejection.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.fuzz.conftest import FuzzServer, fuzz_examples
from tests.integration.logserver import signed_hashedrekord

# Per operation, per generation mode; 24 operations.  About 300 cases in CI.
CI_EXAMPLES = 12
SEEDED_ENTRIES = 3

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _tree_size(url: str) -> int:
    r = requests.get(f"{url}/api/v1/log", timeout=10)
    r.raise_for_status()
    size = r.json()["treeSize"]
    assert isinstance(size, int)
    return size


@pytest.fixture(scope="module")
def api_schema(fuzz_server: FuzzServer) -> Any:
    # Entries to find: GET by index 0..2 then answers 200 and its body is checked.
    for i in range(SEEDED_ENTRIES):
        r = requests.post(f"{fuzz_server.url}/api/v1/log/entries",
                          json=signed_hashedrekord(f"fuzz seed {i}".encode()), timeout=30)
        assert r.status_code == 201, r.text
    fuzz_server.seeded = SEEDED_ENTRIES
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/api/v1/openapi.json")
    # Our own document, so the server's address is the one it was fetched from.
    schema.config.update(base_url=fuzz_server.url)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=fuzz_examples(CI_EXAMPLES), deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case[Any], fuzz_server: FuzzServer) -> None:
    response = case.call(timeout=30)
    fuzz_server.saw(case.operation.label, response.status_code)
    case.validate_response(response, checks=_checks_for(response))


def _checks_for(response: schemathesis.Response) -> list[Any]:
    # A missing entry is a 404 with an empty body and no Content-Type, as Rekor
    # sends it (docs/rekor-compat.md#trap-404-409): there is no media type to conform to.
    if response.status_code == 404 and not response.content:
        return [c for c in CHECKS if c is not checks.content_type_conformance]
    return CHECKS


def test_nothing_written_on_rejection(fuzz_server: FuzzServer) -> None:
    """Runs after test_api (file order): the tree grew by exactly the 201s observed."""
    assert fuzz_server.count() > 0, "the fuzzer ran no case"
    print(f"\nschemathesis: {fuzz_server.count()} cases\n{fuzz_server.summary()}")
    assert _tree_size(fuzz_server.url) == fuzz_server.seeded + fuzz_server.count(201)

"""POST near-valid entries to a running server: a rejection never writes, an answer is never 5xx.

schemathesis rarely produces an entry that gets past the envelope; these
cases start from real signed hashedrekord entries and damage them (mutate.py:
fields replaced, dropped, retyped; base64 and PEM damaged inside), or damage the
JSON text itself.  After every request the tree has grown by exactly one if
the answer was 201 and not at all otherwise, and a 201's entry can be read back.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FuzzServer, fuzz_examples
from tests.fuzz.mutate import mutated_bytes, mutated_json
from tests.integration.logserver import signed_hashedrekord

CI_EXAMPLES = 150
_KEY = ec.generate_private_key(ec.SECP256R1())
_SEEDS = [signed_hashedrekord(b"mutation seed %d" % i, _KEY) for i in range(3)]
# Every status a POST may answer with besides 201 (all client faults; 409 is a repeat).
_REJECTIONS = {400, 409, 413, 415, 422}



@functools.cache
def _fresh_entry(n: int) -> dict[str, Any]:
    # Cached: ECDSA signatures are randomized, and Hypothesis must get the same body
    # when it replays a drawn `n` (or it reports a flaky strategy, hiding a failure).
    return signed_hashedrekord(b"fresh %d" % n, _KEY)


_fresh = st.integers(0, 10**9).map(_fresh_entry)


@st.composite
def _request_body(draw: st.DrawFn) -> bytes:
    """A body to POST: a fresh valid entry, a damaged one, or damaged JSON text."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return json.dumps(draw(_fresh)).encode()
    if choice <= 2:
        return draw(mutated_bytes([json.dumps(s).encode() for s in _SEEDS]))
    return json.dumps(draw(mutated_json(_SEEDS + [draw(_fresh)]))).encode()


@settings(max_examples=fuzz_examples(CI_EXAMPLES), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(body=_request_body())
def test_post_damaged_entries(fuzz_server: FuzzServer, body: bytes) -> None:
    with requests.Session() as session:
        before = fuzz_server.tree_size(session)
        r = session.post(f"{fuzz_server.url}/api/v1/log/entries", data=body,
                         headers={"Content-Type": "application/json"}, timeout=30)
        fuzz_server.saw("POST /api/v1/log/entries (damaged)", r.status_code)
        assert r.status_code == 201 or r.status_code in _REJECTIONS, (r.status_code, r.text)
        if r.status_code != 201:
            error: Any = r.json()
            assert error["code"] == r.status_code and isinstance(error["message"], str)
        after = fuzz_server.tree_size(session)
        assert after == before + (r.status_code == 201), (r.status_code, r.text)
        if r.status_code == 201:
            assert session.get(fuzz_server.url + r.headers["Location"], timeout=10).status_code == 200


def test_damaged_entries_ran(fuzz_server: FuzzServer) -> None:
    """Runs after the property test (file order): it ran, and some entries got in."""
    print(f"\ndamaged entries: {fuzz_server.count()} requests\n{fuzz_server.summary()}")
    assert fuzz_server.count() >= min(CI_EXAMPLES, fuzz_examples(CI_EXAMPLES)) // 2
    assert fuzz_server.count(201) > 0 and fuzz_server.count(400) > 0

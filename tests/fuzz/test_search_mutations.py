"""Search with damaged queries: POST /api/v1/log/entries/retrieve and /api/v1/index/retrieve.

schemathesis covers both operations from the document; these cases start from
real queries instead (a signed entry to look up, a key and a digest to search
by) and damage them (mutate.py), so the parsers and the verification pool see
near-valid input.  Every answer is a 200 or a client fault with Rekor's body,
never a 5xx, and a search never writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FuzzServer, fuzz_examples
from tests.fuzz.mutate import mutated_bytes, mutated_json
from tests.integration.logserver import signed_hashedrekord

CI_EXAMPLES = 60
_KEY = ec.generate_private_key(ec.SECP256R1())
_PEM = _KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
_ENTRIES = [signed_hashedrekord(b"search seed %d" % i, _KEY) for i in range(2)]
_ENTRY_QUERIES: list[Any] = [{"entries": [e]} for e in _ENTRIES] + [
    {"entries": _ENTRIES, "logIndexes": [0]}]
_INDEX_QUERIES: list[Any] = [
    {"hash": "sha256:" + hashlib.sha256(b"search seed 0").hexdigest()},
    {"publicKey": {"format": "x509", "content": base64.b64encode(_PEM).decode()}},
    {"email": "someone@example.com", "operator": "or",
     "hash": "sha256:" + hashlib.sha256(b"search seed 1").hexdigest()},
]
_OK = {200}
_REJECTIONS = {400, 413, 415, 422}


@st.composite
def _body(draw: st.DrawFn, seeds: list[Any]) -> bytes:
    """Damaged JSON text, or valid JSON with damaged values."""
    if draw(st.integers(0, 3)) == 0:
        return draw(mutated_bytes([json.dumps(s).encode() for s in seeds]))
    return json.dumps(draw(mutated_json(seeds))).encode()


def _post(fuzz_server: FuzzServer, path: str, body: bytes) -> None:
    with requests.Session() as session:
        if fuzz_server.seeded == 0:  # something to find
            for entry in _ENTRIES:
                r = session.post(f"{fuzz_server.url}/api/v1/log/entries", json=entry, timeout=30)
                assert r.status_code == 201, r.text
            fuzz_server.seeded = len(_ENTRIES)
        before = fuzz_server.tree_size(session)
        r = session.post(f"{fuzz_server.url}{path}", data=body,
                         headers={"Content-Type": "application/json"}, timeout=30)
        fuzz_server.saw(f"POST {path} (damaged)", r.status_code)
        assert r.status_code in _OK | _REJECTIONS, (r.status_code, r.text)
        if r.status_code != 200:
            error: Any = r.json()
            assert error["code"] == r.status_code and isinstance(error["message"], str)
        assert fuzz_server.tree_size(session) == before


@settings(max_examples=fuzz_examples(CI_EXAMPLES), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(body=_body(_ENTRY_QUERIES))
def test_retrieve_damaged_entries(fuzz_server: FuzzServer, body: bytes) -> None:
    _post(fuzz_server, "/api/v1/log/entries/retrieve", body)


@settings(max_examples=fuzz_examples(CI_EXAMPLES), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(body=_body(_INDEX_QUERIES))
def test_search_index_damaged(fuzz_server: FuzzServer, body: bytes) -> None:
    _post(fuzz_server, "/api/v1/index/retrieve", body)


def test_damaged_searches_ran(fuzz_server: FuzzServer) -> None:
    """Runs after the property tests (file order): both ran, and some queries passed."""
    print(f"\ndamaged searches: {fuzz_server.count()} requests\n{fuzz_server.summary()}")
    for path in ("/api/v1/log/entries/retrieve", "/api/v1/index/retrieve"):
        ran = sum(n for (op, _), n in fuzz_server.answers.items() if op == f"POST {path} (damaged)")
        assert ran > 0, path
    assert fuzz_server.count(200) > 0 and fuzz_server.count() > fuzz_server.count(200)

"""OpenPGP nesting, DSSE envelope limits, and the per-entry index key limit."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import InputLimitError, InvalidSignatureError
from rekor_py.pki.pgp import PGPPublicKey, PGPSignature
from rekor_py.pki.pgp_signature_packets import parse_signature
from rekor_py.pki.pgp_wire import Cursor, StructuralError, serialize_header
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types.dsse_envelope import parse_envelope, verify_with_key
from tests.unit.adversarial import limits_set
from tests.unit.types.dsse_helpers import (
    IN_TOTO,
    P256,
    STATEMENT,
    b64,
    dsse_entry,
    envelope_dict,
    envelope_text,
    error_of,
    intoto1_entry,
    intoto2_entry,
    pem_of,
    submit,
)

_NESTING = "(setting max_pgp_nesting, REKOR_PY_MAX_PGP_NESTING)"


def _subpacket(kind: int, body: bytes) -> bytes:
    n = len(body) + 1
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        length = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        length = b"\xff" + n.to_bytes(4, "big")
    return length + bytes([kind]) + body


def _signature_body(embedded: bytes | None, sig_type: int = 0x19) -> bytes:
    """A v4 Ed25519 signature packet body, optionally embedding another one (unhashed area)."""
    hashed = _subpacket(2, (1_600_000_000).to_bytes(4, "big"))
    unhashed = _subpacket(32, embedded) if embedded is not None else b""
    return (bytes([4, sig_type, 27, 8]) + len(hashed).to_bytes(2, "big") + hashed
            + len(unhashed).to_bytes(2, "big") + unhashed + b"\x00\x00" + b"\x01" * 64)


def _nested(depth: int) -> bytes:
    body = _signature_body(None)
    for _ in range(depth):
        body = _signature_body(body)
    return body


@pytest.mark.parametrize("depth", [5, 400, 700])  # a 16-bit area length caps it near 800
def test_nested_signatures_are_refused_naming_the_limit(depth: int) -> None:
    # 400 nested signatures were a RecursionError: a 500.
    with pytest.raises(StructuralError) as e:
        parse_signature(Cursor(_nested(depth)))
    assert str(e.value) == ("openpgp: invalid data: the nesting of embedded signatures is 5; the limit is 4 "
                            + _NESTING)
    packet = serialize_header(2, len(_nested(depth))) + _nested(depth)
    with pytest.raises(InvalidSignatureError, match=r"max_pgp_nesting"):
        PGPSignature.from_bytes(packet)


def test_nesting_within_the_limit_parses() -> None:
    sig = parse_signature(Cursor(_nested(4)))
    assert sig.embedded is not None
    with limits_set(max_pgp_nesting=1), pytest.raises(StructuralError, match="is 2; the limit is 1"):
        parse_signature(Cursor(_nested(2)))


_KEYS = [P256, *(ec.generate_private_key(ec.SECP256R1()) for _ in range(16))]


def test_pgp_inputs_over_the_size_limits_are_refused_before_parsing() -> None:
    with pytest.raises(InputLimitError) as k:
        PGPPublicKey.from_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n" + b"A" * 300_000)
    assert str(k.value) == ("unable to read PGP public key: the public key size in bytes is 300037; the limit is "
                            "262144 (setting max_key_bytes, REKOR_PY_MAX_KEY_BYTES)")
    with pytest.raises(InputLimitError) as s:
        PGPSignature.from_bytes(b"\x88" * 70_000)
    assert str(s.value) == ("unable to read PGP signature: the signature size in bytes is 70000; the limit is "
                            "65536 (setting max_signature_bytes, REKOR_PY_MAX_SIGNATURE_BYTES)")


def _entries(signatures: int, payload: bytes = b"{}") -> list[tuple[str, dict[str, object]]]:
    """The same envelope as dsse, intoto 0.0.1 and intoto 0.0.2 entries; a key per signature."""
    keys = _KEYS[:signatures]
    env = envelope_dict(payload, keys)
    text = json.dumps(env)
    pems = [pem_of(k) for k in keys]
    return [("dsse", dsse_entry(text, pems[:16])), ("intoto", intoto1_entry(text, pems[0])),
            ("intoto", intoto2_entry(env, pems))]


def test_too_many_signatures_are_refused_before_any_is_checked() -> None:
    # 4,000 one-byte signatures over a 2 MiB payload took 5.5 s.
    env = {"payloadType": IN_TOTO, "payload": b64(b"x" * 1024), "signatures": [{"sig": "AA=="}] * 4000}
    text = json.dumps(env)
    start = time.perf_counter()
    for kind, entry in [("dsse", dsse_entry(text, [pem_of(P256)])), ("intoto", intoto1_entry(text, pem_of(P256)))]:
        assert error_of(entry, kind) == (
            "error processing entry: the number of signatures in the envelope is 4000; the limit is 16 "
            "(setting max_envelope_signatures, REKOR_PY_MAX_ENVELOPE_SIGNATURES)")
    assert time.perf_counter() - start < 1.0
    for kind, entry in _entries(17):
        assert "max_envelope_signatures" in error_of(entry, kind)
    for kind, entry in _entries(16):
        assert submit(entry, kind).kind == kind


def test_a_payload_over_the_limit_is_refused_before_decoding() -> None:
    for kind, entry in _entries(1, payload=b"x" * (2 << 20)):
        assert error_of(entry, kind) == (
            "error processing entry: the decoded payload size in bytes is 2097152; the limit is 1048576 "
            "(setting max_payload_bytes, REKOR_PY_MAX_PAYLOAD_BYTES)")


def test_too_many_verifiers_are_refused() -> None:
    text = envelope_text(b"{}", [P256])
    entry = dsse_entry(text, [pem_of(P256)] * 17)
    assert error_of(entry, "dsse") == ("error processing entry: the number of verifiers is 17; the limit is 16 "
                                       "(setting max_verifiers, REKOR_PY_MAX_VERIFIERS)")


def test_the_payload_is_hashed_once_per_envelope() -> None:
    env = parse_envelope(envelope_text(b"p" * 100_000, [P256] * 16))
    key = X509PublicKey.from_bytes(pem_of(P256))
    real = hashlib.sha256
    sizes: list[int] = []

    def counting(data: bytes = b"") -> Any:
        sizes.append(len(data))
        return real(data)

    with mock.patch("hashlib.sha256", counting):
        for _ in range(3):  # three verifiers: one decode, one hash
            verify_with_key(env, key)
    assert sum(1 for n in sizes if n >= 100_000) == 1


def _statement_with(subjects: int) -> bytes:
    statement = dict(STATEMENT)
    statement["subject"] = [{"name": str(i), "digest": {"sha256": f"{i:064x}"}} for i in range(subjects)]
    return json.dumps(statement).encode()


def test_an_entry_with_too_many_index_keys_is_refused() -> None:
    # Rekor indexes every subject: one entry made 100,000 index keys.
    entry = dsse_entry(envelope_text(_statement_with(1_100), [P256]), [pem_of(P256)])
    with pytest.raises(InvalidEntry) as e:
        submit(entry, "dsse").index_keys()
    assert e.value.client_message == (
        "error processing entry: the number of search index keys of the entry is 1104; the limit is 1024 "
        "(setting max_index_keys, REKOR_PY_MAX_INDEX_KEYS)")
    assert len(submit(dsse_entry(envelope_text(_statement_with(1_000), [P256]), [pem_of(P256)]), "dsse")
               .index_keys()) == 1004  # key, payload, envelope, subjects, one material

"""Signed entry timestamps (docs/rekor-compat.md#set): exact payload bytes, signing, verification."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rekor_py import jcs
from rekor_py.log.set import (
    set_from_stored,
    set_payload,
    sign_batch_sets,
    sign_set,
    stored_set,
    verify_set,
)
from rekor_py.log.signer import LogSigner, LogVerifier, PrivateKey, SignatureError

# Real bundles and the logs' trusted roots, from sigstore-python (see SOURCE.md there).
ASSETS = Path(__file__).parents[2] / "vectors" / "sigstore-python"
LOG_ID = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"


def test_payload_exact_bytes() -> None:
    body = b'{"apiVersion":"0.0.1","kind":"hashedrekord"}'
    got = set_payload(body, 1700000000, LOG_ID, 123456)
    want = ('{"body":"' + base64.b64encode(body).decode() + '","integratedTime":1700000000,'
            f'"logID":"{LOG_ID}","logIndex":123456}}').encode()
    assert got == want


@pytest.mark.parametrize("body, integrated_time, log_index", [
    (b"", 0, 0), (b"\x00\xff" * 50, 1, (1 << 53) - 1), (bytes(range(256)), 1700000000, 42),
])
def test_payload_is_the_jcs_of_its_four_keys(body: bytes, integrated_time: int,
                                              log_index: int) -> None:
    want = jcs.dumps({"logIndex": log_index, "logID": LOG_ID, "integratedTime": integrated_time,
                      "body": base64.b64encode(body).decode()})
    assert set_payload(body, integrated_time, LOG_ID, log_index) == want


@pytest.mark.parametrize("args, match", [
    (("x", 1, LOG_ID, 1), "body"),
    ((b"x", -1, LOG_ID, 1), "integrated_time"),
    ((b"x", 1.0, LOG_ID, 1), "integrated_time"),
    ((b"x", True, LOG_ID, 1), "integrated_time"),
    ((b"x", 1, LOG_ID, 1 << 53), "log_index"),
    ((b"x", 1, LOG_ID.upper(), 1), "log_id_hex"),
    ((b"x", 1, LOG_ID[:-2], 1), "log_id_hex"),
])
def test_payload_rejects(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        set_payload(*args)  # type: ignore[arg-type]


def test_sign_and_verify_round_trip() -> None:
    signer = LogSigner.generate()
    args = (b"body", 1700000000, signer.log_id_hex, 7)
    sig = sign_set(signer, *args)
    verify_set(signer.verifier, sig, *args)
    signer.verifier.verify(sig, set_payload(*args))
    for changed in ((b"bodz", 1700000000, signer.log_id_hex, 7),
                    (b"body", 1700000001, signer.log_id_hex, 7),
                    (b"body", 1700000000, signer.log_id_hex, 8)):
        with pytest.raises(SignatureError, match="signed entry timestamp"):
            verify_set(signer.verifier, sig, *changed)
    with pytest.raises(SignatureError):
        verify_set(LogSigner.generate().verifier, sig, *args)


def test_sign_requires_the_shards_own_log_id() -> None:
    signer = LogSigner.generate()
    with pytest.raises(ValueError, match="signer's log ID"):
        sign_set(signer, b"body", 1, LogSigner.generate().log_id_hex, 0)


def test_production_set_verifies() -> None:
    bundle = json.loads((ASSETS / "bundle_v3_github.whl.sigstore").read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    root = json.loads((ASSETS / "trusted_root.production.json").read_text())
    verifier = LogVerifier.from_der(base64.b64decode(root["tlogs"][0]["publicKey"]["rawBytes"]))
    assert verifier.log_id_hex == LOG_ID
    sig = base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"])
    body = base64.b64decode(entry["canonicalizedBody"])
    # The SET signs the VIRTUAL logIndex (79605083), not the leaf index in the shard.
    verify_set(verifier, sig, body, int(entry["integratedTime"]), LOG_ID, int(entry["logIndex"]))
    with pytest.raises(SignatureError):
        verify_set(verifier, sig, body, int(entry["integratedTime"]), LOG_ID,
                   int(entry["inclusionProof"]["logIndex"]))


# ---- the stored form ------------------------------------------------------------------

_KEYS: dict[str, tuple[Callable[[], PrivateKey], int]] = {
    "p256": (lambda: ec.generate_private_key(ec.SECP256R1()), 64),
    "p384": (lambda: ec.generate_private_key(ec.SECP384R1()), 96),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, 64),
    "rsa2048": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), 256),
}


@pytest.mark.parametrize("name", sorted(_KEYS))
def test_stored_form_round_trips_exactly(name: str) -> None:
    """What a read serves from the stored form is, byte for byte, what the key signed;
    an ECDSA signature is stored as r || s at the curve's width, whatever its DER length
    (small r or s make DER shorter: 200 signatures cover those)."""
    make, width = _KEYS[name]
    signer = LogSigner(make())
    for n in range(200 if name.startswith("p") else 3):
        signature = sign_set(signer, b"body %d" % n, 1700000000 + n, signer.log_id_hex, n)
        stored = stored_set(signer.verifier, signature)
        assert len(stored) == width
        assert set_from_stored(signer.verifier, stored) == signature


def test_stored_ecdsa_set_of_the_wrong_length_is_refused() -> None:
    signer = LogSigner.generate()
    stored = stored_set(signer.verifier, sign_set(signer, b"b", 1, signer.log_id_hex, 0))
    for bad in (stored[:-1], stored + b"\x00", b""):
        with pytest.raises(ValueError, match="64 bytes"):
            set_from_stored(signer.verifier, bad)


def test_batch_sets_are_at_consecutive_virtual_indexes() -> None:
    signer = LogSigner.generate()
    bodies = [b"first", b"second", b"third"]
    stored = sign_batch_sets(signer, bodies, 1700000123, 5000)
    for i, (body, one) in enumerate(zip(bodies, stored, strict=True)):
        signature = set_from_stored(signer.verifier, one)
        verify_set(signer.verifier, signature, body, 1700000123, signer.log_id_hex, 5000 + i)
        with pytest.raises(SignatureError):  # not valid at any other index
            verify_set(signer.verifier, signature, body, 1700000123, signer.log_id_hex, 5001 + i)

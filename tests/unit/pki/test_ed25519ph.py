"""Ed25519ph verification: RFC 8032 vector, Rekor's client-algos vector, strictness."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.pki.ed25519ph import _L, _P, Ed25519phError, _sign_ed25519ph, verify_ed25519ph

VECTORS = Path(__file__).parents[2] / "vectors" / "types" / "hashedrekord" / "0.0.1" / "client-algos"

# RFC 8032 §7.3, "TEST abc" (Ed25519ph).
RFC_SECRET = bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
RFC_PUBLIC = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
RFC_SIGNATURE = bytes.fromhex(
    "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
    "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
)
RFC_DIGEST = hashlib.sha512(b"abc").digest()


def _rekor_public_key() -> bytes:
    key = serialization.load_pem_public_key((VECTORS / "ed25519_public.pem").read_bytes())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_rfc8032_test_abc_verifies() -> None:
    verify_ed25519ph(RFC_PUBLIC, RFC_SIGNATURE, RFC_DIGEST)


def test_rfc8032_test_abc_signer_reproduces_signature() -> None:
    assert _sign_ed25519ph(RFC_SECRET, RFC_DIGEST) == (RFC_PUBLIC, RFC_SIGNATURE)


def test_rekor_client_algos_vector_verifies() -> None:
    digest = hashlib.sha512((VECTORS / "file1").read_bytes()).digest()
    verify_ed25519ph(_rekor_public_key(), (VECTORS / "file1.ed25519ph.sig").read_bytes(), digest)


def test_pure_ed25519_signature_is_not_ed25519ph() -> None:
    # dom2 separates the two schemes: a pure signature over the same file must fail.
    digest = hashlib.sha512((VECTORS / "file1").read_bytes()).digest()
    with pytest.raises(Ed25519phError, match="ed25519: invalid signature"):
        verify_ed25519ph(_rekor_public_key(), (VECTORS / "file1.ed25519.sig").read_bytes(), digest)


def _with_s(sig: bytes, s: int) -> bytes:
    return sig[:32] + s.to_bytes(32, "little")


@pytest.mark.parametrize(
    ("name", "public_key", "signature", "digest", "message"),
    [
        ("s-plus-l", RFC_PUBLIC,
         _with_s(RFC_SIGNATURE, int.from_bytes(RFC_SIGNATURE[32:], "little") + _L), RFC_DIGEST,
         "invalid signature"),
        ("s-equals-l", RFC_PUBLIC, _with_s(RFC_SIGNATURE, _L), RFC_DIGEST, "invalid signature"),
        ("r-non-canonical", RFC_PUBLIC, (_P + 1).to_bytes(32, "little") + RFC_SIGNATURE[32:],
         RFC_DIGEST, "invalid signature"),
        ("a-non-canonical-y", (_P + 1).to_bytes(32, "little"), RFC_SIGNATURE, RFC_DIGEST, "invalid public key"),
        ("a-not-on-curve", (2).to_bytes(32, "little"), RFC_SIGNATURE, RFC_DIGEST, "invalid public key"),
        ("a-negative-zero", (1 | 1 << 255).to_bytes(32, "little"), RFC_SIGNATURE, RFC_DIGEST, "invalid public key"),
        ("digest-of-other-message", RFC_PUBLIC, RFC_SIGNATURE, hashlib.sha512(b"abd").digest(), "invalid signature"),
        ("digest-sha256-length", RFC_PUBLIC, RFC_SIGNATURE, hashlib.sha256(b"abc").digest(), "expected SHA-512"),
        ("signature-short", RFC_PUBLIC, RFC_SIGNATURE[:63], RFC_DIGEST, "invalid signature"),
        ("signature-long", RFC_PUBLIC, RFC_SIGNATURE + b"\0", RFC_DIGEST, "invalid signature"),
        ("public-key-short", RFC_PUBLIC[:31], RFC_SIGNATURE, RFC_DIGEST, "bad public key length"),
    ],
)
def test_rejects(name: str, public_key: bytes, signature: bytes, digest: bytes, message: str) -> None:
    with pytest.raises(Ed25519phError, match=message):
        verify_ed25519ph(public_key, signature, digest)


@settings(max_examples=25, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=64), bit=st.integers(0, 511))
def test_sign_verify_and_any_bit_flip_fails(seed: bytes, message: bytes, bit: int) -> None:
    digest = hashlib.sha512(message).digest()
    public_key, signature = _sign_ed25519ph(seed, digest)
    verify_ed25519ph(public_key, signature, digest)
    # The signer derives the same public key as the library does from the seed.
    library_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert library_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == public_key
    flipped = bytearray(signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(Ed25519phError):
        verify_ed25519ph(public_key, bytes(flipped), digest)

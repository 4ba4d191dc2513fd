"""x509 limits (RSA as Go's crypto/rsa allows it, chains) and the byte-bounded caches."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from rekor_py.lru import ENTRY_OVERHEAD, ByteLRU
from rekor_py.pki import x509 as x509_module
from rekor_py.pki.base import InputLimitError, InvalidKeyError, InvalidSignatureError
from rekor_py.pki.x509 import X509PublicKey
from tests.unit.adversarial import limits_set
from tests.unit.pki import cert_pem, make_chain, spki_pem

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _rsa_pem(e: int, n: int) -> bytes:
    return rsa.RSAPublicNumbers(e, n).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _odd(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def test_a_huge_public_exponent_is_refused_before_use() -> None:
    # Go refuses e > 2^31-1; such a key made each verification 90x slower.
    n = RSA_KEY.public_key().public_numbers().n
    with pytest.raises(InputLimitError) as e:
        X509PublicKey.from_bytes(_rsa_pem((1 << 64) + 1, n))
    assert str(e.value) == ("the RSA public exponent is 18446744073709551617; the limit is 2147483647 "
                            "(setting max_rsa_exponent, REKOR_PY_MAX_RSA_EXPONENT)")
    assert X509PublicKey.from_bytes(_rsa_pem((1 << 31) - 1, n)).public_key.public_numbers().e == (1 << 31) - 1


def test_a_modulus_over_the_limit_is_refused() -> None:
    with pytest.raises(InputLimitError) as e:
        X509PublicKey.from_bytes(_rsa_pem(65537, _odd(16400)))
    assert str(e.value) == ("the RSA modulus size in bits is 16400; the limit is 16384 "
                            "(setting max_rsa_bits, REKOR_PY_MAX_RSA_BITS)")


def test_verification_refuses_keys_go_refuses() -> None:
    digest = hashlib.sha256(b"x").digest()
    small = X509PublicKey.from_bytes(_rsa_pem(65537, _odd(768)))
    with pytest.raises(InvalidSignatureError, match=r"^crypto/rsa: 768-bit keys are insecure"):
        small.verify_digest(b"\x01" * 96, digest, "sha256")
    # The 2048-bit keys the other tests use verify as before.
    key = X509PublicKey.from_bytes(spki_pem(RSA_KEY))
    key.verify_digest(RSA_KEY.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())), digest, "sha256")


def test_a_signature_over_the_limit_is_refused_before_verification() -> None:
    key = X509PublicKey.from_bytes(spki_pem(RSA_KEY))
    with pytest.raises(InputLimitError) as e:
        key.verify_digest(b"\x01" * 70_000, hashlib.sha256(b"x").digest(), "sha256")
    assert str(e.value) == ("the signature size in bytes is 70000; the limit is 65536 "
                            "(setting max_signature_bytes, REKOR_PY_MAX_SIGNATURE_BYTES)")


def test_chain_limits_name_themselves() -> None:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    chain = make_chain(leaf_key)
    with pytest.raises(InvalidKeyError) as e:
        X509PublicKey.from_bytes(cert_pem(*chain, *chain, *chain, *chain))
    assert str(e.value) == ("too many certificates specified in PEM block; the number of certificates is 11; "
                            "the limit is 10 (setting max_chain_certificates, REKOR_PY_MAX_CHAIN_CERTIFICATES)")
    digest = hashlib.sha256(b"x").digest()
    sig = leaf_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    key = X509PublicKey.from_bytes(cert_pem(*chain))
    key.verify_digest(sig, digest, "sha256")
    with limits_set(max_chain_signature_checks=1), pytest.raises(InvalidSignatureError) as c:
        key.verify_digest(sig, digest, "sha256")
    assert str(c.value).endswith("the number of signature checks is 2; the limit is 1 "
                                 "(setting max_chain_signature_checks, REKOR_PY_MAX_CHAIN_SIGNATURE_CHECKS)")


def test_the_key_cache_keeps_only_verified_keys_by_canonical_bytes() -> None:
    x509_module._KEY_CACHE.clear()
    key = ec.generate_private_key(ec.SECP256R1())
    pem = spki_pem(key)
    # Parsing alone (a search, a failed upload) keeps nothing.
    for junk in (b"", b"junk\n", b"more junk\n" * 10):
        X509PublicKey.from_bytes(junk + pem)
    assert len(x509_module._KEY_CACHE) == 0
    digest = hashlib.sha256(b"x").digest()
    sig = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    parsed = X509PublicKey.from_bytes(b"junk\n" + pem)
    parsed.verify_digest(sig, digest, "sha256")
    assert len(x509_module._KEY_CACHE) == 1
    # Text around the PEM does not make a new entry; the cached key is reused.
    assert X509PublicKey.from_bytes(b"other junk\n" + pem + b"\n") is parsed
    assert X509PublicKey.from_bytes(pem) is parsed
    assert len(x509_module._KEY_CACHE) == 1
    # Text after the block is still refused, cached or not.
    with pytest.raises(InvalidKeyError):
        X509PublicKey.from_bytes(pem + b"trailing")


def test_byte_lru_is_bounded_by_bytes() -> None:
    cache: ByteLRU[str, bytes] = ByteLRU(10 * (1000 + ENTRY_OVERHEAD), lambda _, v: len(v))
    for i in range(100):
        cache.put(str(i), b"x" * 1000)
    assert len(cache) == 10 and cache.bytes_used <= cache.max_bytes
    assert cache.get("99") is not None and cache.get("0") is None
    cache.get("90")  # now the most recent
    cache.put("new", b"y" * 1000)
    assert cache.get("90") is not None and cache.get("91") is None
    cache.put("huge", b"z" * 100_000)  # heavier than the whole budget: not kept
    assert cache.get("huge") is None and len(cache) == 10
    cache.put("new", b"")  # replacing an entry re-weighs it
    assert cache.bytes_used == 9 * (1000 + ENTRY_OVERHEAD) + ENTRY_OVERHEAD
    cache.pop("new")
    cache.clear()
    assert len(cache) == 0 and cache.bytes_used == 0

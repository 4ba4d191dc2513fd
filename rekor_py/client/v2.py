"""The client side of Rekor v2: build a hashedRekordRequestV002, check the answer.

A v2 request names its verifier by DER (a certificate or a SubjectPublicKeyInfo)
and its algorithm by `keyDetails`, which the client picks from its key and the
digest's algorithm, as sigstore-python's and sigstore-go's clients do.  Before
sending, the request goes through the server's own parser (types/hashedrekord_v2),
so a request the log would refuse is refused here, and the canonical body the log
must store is known in advance: the answer's `canonicalizedBody` must be exactly
it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rekor_py.client.proposals import InputError
from rekor_py.errors import RekorError

__all__ = ["V2Proposal", "key_details", "v2_proposal"]

# (curve, digest algorithm) -> keyDetails, for the ECDSA keys Rekor v2 takes.
_ECDSA = {("secp256r1", "sha256"): "PKIX_ECDSA_P256_SHA_256",
          ("secp384r1", "sha384"): "PKIX_ECDSA_P384_SHA_384",
          ("secp521r1", "sha512"): "PKIX_ECDSA_P521_SHA_512"}


def key_details(key: Any, digest_algorithm: str) -> str:
    """The PublicKeyDetails name for `key` signing a `digest_algorithm` digest;
    InputError for a pair Rekor v2 does not take."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        found = _ECDSA.get((key.curve.name, digest_algorithm))
        if found is not None:
            return found
    elif isinstance(key, rsa.RSAPublicKey):
        if digest_algorithm == "sha256" and key.key_size in (2048, 3072, 4096):
            return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256"
    elif isinstance(key, ed25519.Ed25519PublicKey) and digest_algorithm == "sha512":
        return "PKIX_ED25519_PH"  # Rekor v2 takes Ed25519 only prehashed
    raise InputError(f"Rekor v2 does not take a {type(key).__name__.lstrip('_')} signing "
                     f"a {digest_algorithm} digest (ECDSA P-256/SHA-256, P-384/SHA-384, "
                     f"P-521/SHA-512, RSA 2048-4096/SHA-256, Ed25519ph/SHA-512)")


@dataclass(frozen=True)
class V2Proposal:
    request: dict[str, Any]
    canonical_body: bytes


def _verifier(pem: bytes) -> tuple[dict[str, Any], Any]:
    """(the request's verifier without keyDetails, the public key) from a PEM
    certificate (its first, if a chain) or public key."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            cert = x509.load_pem_x509_certificates(pem)[0]
            der = cert.public_bytes(serialization.Encoding.DER)
            return {"x509Certificate": {"rawBytes": base64.b64encode(der).decode()}}, \
                cert.public_key()
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise InputError(f"the public key is not a PEM certificate or public key: {e}") from None
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"publicKey": {"rawBytes": base64.b64encode(der).decode()}}, key


def v2_proposal(digest: tuple[str, str], signature: bytes, verifier_pem: bytes) -> V2Proposal:
    """The CreateEntryRequest for a (algorithm, hex) digest, its raw signature and
    the signer's PEM key or certificate, checked by the server's own parser.
    Raises InputError."""
    from rekor_py.types.hashedrekord_v2 import prepare_v2_request

    algorithm, hex_digest = digest
    verifier, key = _verifier(verifier_pem)
    verifier["keyDetails"] = key_details(key, algorithm)
    request = {"hashedRekordRequestV002": {
        "digest": base64.b64encode(bytes.fromhex(hex_digest)).decode(),
        "signature": {"content": base64.b64encode(signature).decode(), "verifier": verifier},
    }}
    try:
        body = prepare_v2_request(request).body
    except RekorError as e:
        raise InputError(e.client_message) from e
    return V2Proposal(request, body)

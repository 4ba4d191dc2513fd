"""hashedrekord 0.0.2: the one entry of Rekor v2, from a CreateEntryRequest to its leaf.

The request (protobuf JSON, read as protojson does: types/protojson.py):

    {"hashedRekordRequestV002": {
        "digest": b64,                               the artifact's digest
        "signature": {"content": b64,                signature over the digest (prehashed)
                      "verifier": {"publicKey": {"rawBytes": b64 DER SPKI}}
                                  or {"x509Certificate": {"rawBytes": b64 DER}},
                                  "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}

Checked in rekor-tiles' order (pkg/types/hashedrekord): the fields are present,
the verifier parses, `keyDetails` names an algorithm this log takes and fits
the key, the digest has that algorithm's length, and the signature verifies
over it.  The algorithms are rekor-tiles' default registry: RSA PKCS#1 v1.5
2048/3072/4096 with SHA-256, ECDSA P-256/SHA-256, P-384/SHA-384,
P-521/SHA-512, and Ed25519ph (SHA-512); pure Ed25519 signs no digest and is
refused.  Where we are stricter: `keyDetails` must name the key's own type
(and an RSA key's size); rekor-tiles checks only that the key and the digest
algorithm form an allowed pair, so it stores a P-256 key labelled as RSA.
Certificates are not checked for validity or a chain (as in rekor-tiles:
clients check the certificate against their trusted root).

The leaf is the RFC 8785 form of the protobuf JSON of the Entry rekor-tiles
builds (`data` = the digest and its algorithm, `signature` as sent), byte for
byte, so a rekor-tiles log of the same entries holds the same tiles.  Search
keys are the v1 hashedrekord's: the key's fingerprint, the certificate's
identities, "<alg>:<hex digest>".
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rekor_py import jcs, merkle
from rekor_py.errors import InvalidRequest
from rekor_py.log.prepared import PreparedEntry
from rekor_py.pki.base import HashName, PKIError
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types.base import signer_index_keys
from rekor_py.types.protojson import b64_bytes, enum, message

__all__ = ["ALGORITHMS", "KIND", "VERSION", "V2RequestError", "prepare_v2_request"]

KIND = "hashedrekord"
VERSION = "0.0.2"


@dataclass(frozen=True)
class Algorithm:
    """What a keyDetails value means: the key it needs and the digest it signs."""

    key_type: type
    key_size: int | str  # RSA modulus bits, an EC curve name, or 0 (Ed25519)
    hash_name: HashName

    @property
    def proto_hash(self) -> str:
        """dev.sigstore.common.v1.HashAlgorithm of the digest."""
        return {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}[self.hash_name]

    def fits(self, key: Any) -> bool:
        if not isinstance(key, self.key_type):
            return False
        if isinstance(key, rsa.RSAPublicKey):
            return key.key_size == self.key_size
        if isinstance(key, ec.EllipticCurvePublicKey):
            return key.curve.name == self.key_size
        return True


# rekor-tiles' AllowedClientSigningAlgorithms (internal/algorithmregistry).
ALGORITHMS: dict[str, Algorithm] = {
    "PKIX_RSA_PKCS1V15_2048_SHA256": Algorithm(rsa.RSAPublicKey, 2048, "sha256"),
    "PKIX_RSA_PKCS1V15_3072_SHA256": Algorithm(rsa.RSAPublicKey, 3072, "sha256"),
    "PKIX_RSA_PKCS1V15_4096_SHA256": Algorithm(rsa.RSAPublicKey, 4096, "sha256"),
    "PKIX_ECDSA_P256_SHA_256": Algorithm(ec.EllipticCurvePublicKey, "secp256r1", "sha256"),
    "PKIX_ECDSA_P384_SHA_384": Algorithm(ec.EllipticCurvePublicKey, "secp384r1", "sha384"),
    "PKIX_ECDSA_P521_SHA_512": Algorithm(ec.EllipticCurvePublicKey, "secp521r1", "sha512"),
    "PKIX_ED25519_PH": Algorithm(ed25519.Ed25519PublicKey, 0, "sha512"),
}
# Every name of dev.sigstore.common.v1.PublicKeyDetails: others than ALGORITHMS
# parse (protojson knows them) and are then refused as algorithms this log does not take.
_KEY_DETAILS_NAMES = frozenset(ALGORITHMS) | {
    "PUBLIC_KEY_DETAILS_UNSPECIFIED", "PKCS1_RSA_PKCS1V5", "PKCS1_RSA_PSS", "PKIX_RSA_PKCS1V5",
    "PKIX_RSA_PSS", "PKIX_RSA_PSS_2048_SHA256", "PKIX_RSA_PSS_3072_SHA256",
    "PKIX_RSA_PSS_4096_SHA256", "PKIX_ECDSA_P256_HMAC_SHA_256", "PKIX_ED25519",
    "PKIX_ECDSA_P384_SHA_256", "PKIX_ECDSA_P521_SHA_256", "LMS_SHA256", "LMOTS_SHA256",
    "ML_DSA_65", "ML_DSA_87",
}
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


class V2RequestError(InvalidRequest):
    """A CreateEntryRequest this log refuses (400), said the way rekor-tiles starts
    its answer, with what is wrong after it (rekor-tiles keeps that in its own log)."""

    message = "invalid hashedrekord request"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.message}: {detail}")


def prepare_v2_request(proposed: Any) -> PreparedEntry:
    """Parse and verify a CreateEntryRequest (decoded JSON) into what the log stores;
    raises a 400 (V2RequestError, or ProtoJSONError for what is not the message)."""
    top = message(proposed, ("hashedRekordRequestV002", "dsseRequestV002"), "request")
    if "hashedRekordRequestV002" not in top:
        # rekor-tiles' answer to a dsse request (dropped in v2.3) or to none at all.
        raise InvalidRequest("invalid type, must be hashedrekord")
    if len(top) > 1:
        raise InvalidRequest("request: more than one entry type is set")
    request = message(top["hashedRekordRequestV002"], ("digest", "signature"),
                      "hashedRekordRequestV002")
    signature = message(request.get("signature"), ("content", "verifier"), "signature")
    verifier = message(signature.get("verifier"),
                       ("publicKey", "x509Certificate", "keyDetails"), "signature.verifier")
    content = b64_bytes(signature["content"], "signature.content") \
        if "content" in signature else b""
    digest = b64_bytes(request["digest"], "digest") if "digest" in request else b""
    if not content:
        raise V2RequestError("missing signature")
    if not verifier:
        raise V2RequestError("missing verifier")
    if not digest:
        raise V2RequestError("missing digest")
    key, stored_verifier = _verifier(verifier)
    details, algorithm = _algorithm(verifier, key)
    stored_verifier["keyDetails"] = details
    if len(digest) != _DIGEST_SIZES[algorithm.hash_name]:
        raise V2RequestError(f"digest length ({len(digest)}) does not match expected size "
                             f"({_DIGEST_SIZES[algorithm.hash_name]}) for algorithm "
                             f"{algorithm.hash_name}")
    try:
        key.verify_digest(content, digest, algorithm.hash_name)
    except PKIError as e:
        raise V2RequestError(f"verifying signature: {e}") from e
    body = canonical_body(digest, algorithm.proto_hash, content, stored_verifier)
    from rekor_py.log.prepare import MAX_CANONICAL_BODY, storable_index_keys

    if len(body) > MAX_CANONICAL_BODY:
        raise V2RequestError(f"the entry is {len(body)} bytes; the limit is "
                             f"{MAX_CANONICAL_BODY} (C2SP entry bundles)")
    keys = storable_index_keys(signer_index_keys(key, f"{algorithm.hash_name}:{digest.hex()}"))
    return PreparedEntry(body=body, leaf_hash=merkle.leaf_hash(body), kind=KIND,
                         api_version=VERSION, index_keys=keys)


def _verifier(fields: dict[str, Any]) -> tuple[X509PublicKey, dict[str, Any]]:
    """The parsed key, and the verifier as stored (the DER bytes as sent)."""
    public_key = message(fields.get("publicKey"), ("rawBytes",), "verifier.publicKey")
    certificate = message(fields.get("x509Certificate"), ("rawBytes",),
                          "verifier.x509Certificate")
    if "publicKey" in fields and "x509Certificate" in fields:
        raise V2RequestError("a verifier is a public key or an X.509 certificate, not both")
    if "publicKey" in fields:
        name, raw_fields, is_cert = "publicKey", public_key, False
    elif "x509Certificate" in fields:
        name, raw_fields, is_cert = "x509Certificate", certificate, True
    else:
        raise V2RequestError("invalid verifier: missing signature public key or X.509 "
                             "certificate")
    raw = b64_bytes(raw_fields["rawBytes"], f"verifier.{name}.rawBytes") \
        if "rawBytes" in raw_fields else b""
    if not raw:
        what = "X.509 certificate" if is_cert else "public key"
        raise V2RequestError(f"invalid verifier: missing {what} raw bytes")
    try:
        key = X509PublicKey.from_der(raw, certificate=is_cert)
    except PKIError as e:
        raise V2RequestError(f"parsing verifier: {e}") from e
    return key, {name: {"rawBytes": base64.b64encode(raw).decode()}}


def _algorithm(fields: dict[str, Any], key: X509PublicKey) -> tuple[str, Algorithm]:
    if "keyDetails" not in fields:
        raise V2RequestError("missing keyDetails")
    details = enum(fields["keyDetails"], _KEY_DETAILS_NAMES, "verifier.keyDetails")
    algorithm = ALGORITHMS.get(details)
    if algorithm is None:
        raise V2RequestError(f"unsupported signing algorithm {details}: this log takes "
                             f"{', '.join(ALGORITHMS)}")
    if not algorithm.fits(key.public_key):
        raise V2RequestError(f"keyDetails {details} does not match the verifier's key "
                             f"({_describe(key.public_key)})")
    return details, algorithm


def _describe(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else type(key).__name__


def canonical_body(digest: bytes, proto_hash: str, signature: bytes,
                   verifier: dict[str, Any]) -> bytes:
    """The leaf: JCS of the Entry's protobuf JSON, as rekor-tiles stores it.
    `verifier` is {"publicKey" | "x509Certificate": {"rawBytes": b64}, "keyDetails"}."""
    return jcs.dumps({
        "apiVersion": VERSION,
        "kind": KIND,
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": proto_hash, "digest": base64.b64encode(digest).decode()},
            "signature": {"content": base64.b64encode(signature).decode(),
                          "verifier": verifier},
        }},
    })

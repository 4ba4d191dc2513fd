"""OpenPGP signature mathematics: what a v4 signature hashes and whether a key signed it.

Owns: the hashed input of each signature kind (RFC 4880 §5.2.4: documents,
canonical text, user-ID certifications, subkey bindings, key revocations),
and go-crypto's PublicKey.VerifySignature for RSA (PKCS#1 v1.5), DSA, ECDSA
(NIST, secp256k1, Brainpool), legacy EdDSA and Ed25519/Ed448, with its
error texts. The primitives come from `cryptography`.

Leaves to others: packet parsing (pgp_packets, pgp_key_packets,
pgp_signature_packets, pgp_wire), which key to try and when it was valid
(pgp_entity, pgp).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, utils

from rekor_py.pki.pgp_key_packets import (
    DSA,
    ECDSA,
    ED448,
    ED25519,
    EDDSA_LEGACY,
    OID_BRAINPOOL256,
    OID_BRAINPOOL384,
    OID_BRAINPOOL512,
    OID_ED25519_LEGACY,
    OID_P256,
    OID_P384,
    OID_P521,
    OID_SECP256K1,
    RSA,
    RSA_SIGN_ONLY,
    PublicKeyPacket,
)
from rekor_py.pki.pgp_signature_packets import HASHES, SignaturePacket
from rekor_py.pki.pgp_wire import InvalidArgumentError, SignatureError

__all__ = [
    "canonical_text",
    "document_digest",
    "key_binding_digest",
    "key_digest",
    "user_id_digest",
    "verify_signature",
]

_CRYPTO_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_512": hashes.SHA3_512,
}

_CURVES: dict[bytes, type[ec.EllipticCurve]] = {
    OID_P256: ec.SECP256R1,
    OID_P384: ec.SECP384R1,
    OID_P521: ec.SECP521R1,
    OID_SECP256K1: ec.SECP256K1,
    OID_BRAINPOOL256: ec.BrainpoolP256R1,
    OID_BRAINPOOL384: ec.BrainpoolP384R1,
    OID_BRAINPOOL512: ec.BrainpoolP512R1,
}


def canonical_text(data: bytes) -> bytes:
    """go-crypto's canonicalTextHash: a bare LF becomes CRLF; a CR and the byte after it are kept."""
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x0D:
            out += data[i : i + 2]  # CR and whatever follows it, untouched
            i += 2
            continue
        out += b"\r\n" if c == 0x0A else bytes([c])
        i += 1
    return bytes(out)


def _finish(sig: SignaturePacket, *parts: bytes) -> bytes:
    h = hashlib.new(HASHES[sig.hash_id])
    for part in parts:
        h.update(part)
    h.update(sig.hash_suffix())
    return h.digest()


def document_digest(sig: SignaturePacket, data: bytes) -> bytes:
    """The digest a binary (0x00) or text (0x01) document signature signs."""
    return _finish(sig, canonical_text(data) if sig.sig_type == 0x01 else data)


def user_id_digest(sig: SignaturePacket, key: PublicKeyPacket, user_id: bytes) -> bytes:
    """A certification of `user_id` on `key` (types 0x10-0x13 and 0x30)."""
    return _finish(sig, key.hash_prefix(), b"\xb4" + len(user_id).to_bytes(4, "big"), user_id)


def key_binding_digest(sig: SignaturePacket, primary: PublicKeyPacket, subkey: PublicKeyPacket) -> bytes:
    """A subkey binding (0x18), subkey revocation (0x28) or primary-key binding (0x19)."""
    return _finish(sig, primary.hash_prefix(), subkey.hash_prefix())


def key_digest(sig: SignaturePacket, key: PublicKeyPacket) -> bytes:
    """A key revocation (0x20) or direct-key signature (0x1F)."""
    return _finish(sig, key.hash_prefix())


def verify_signature(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes) -> None:
    """go-crypto PublicKey.VerifySignature for a v4 signature; raises PGPError.

    v4 signatures are not rejected for a wrong hash tag (go-crypto checks it only for v5+).
    """
    if not key.can_sign():
        raise InvalidArgumentError("public key cannot generate signatures")
    if key.algorithm != sig.algorithm:
        raise InvalidArgumentError("public key and signature use different algorithms")
    algorithm = _CRYPTO_HASHES[HASHES[sig.hash_id]]()
    if key.algorithm in (RSA, RSA_SIGN_ONLY):
        _check(_verify_rsa, key, sig, digest, algorithm, "RSA verification failure")
    elif key.algorithm == DSA:
        _check(_verify_dsa, key, sig, digest, algorithm, "DSA verification failure")
    elif key.algorithm == ECDSA:
        _check(_verify_ecdsa, key, sig, digest, algorithm, "ECDSA verification failure")
    elif key.algorithm == EDDSA_LEGACY:
        _check(_verify_eddsa_legacy, key, sig, digest, algorithm, "EdDSA verification failure")
    elif key.algorithm == ED25519:
        _check(_verify_ed25519, key, sig, digest, algorithm, "Ed25519 verification failure")
    elif key.algorithm == ED448:
        _check(_verify_ed448, key, sig, digest, algorithm, "ed448 verification failure")
    else:
        raise SignatureError("Unsupported public key algorithm used in signature")


def _check(fn: Any, key: PublicKeyPacket, sig: SignaturePacket, digest: bytes,
           algorithm: hashes.HashAlgorithm, message: str) -> None:
    try:
        ok = fn(key, sig, digest, algorithm)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm, TypeError) as e:
        raise SignatureError(message) from e
    if ok is False:
        raise SignatureError(message)


def _int(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _verify_rsa(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes, algorithm: hashes.HashAlgorithm) -> None:
    n, e = key.fields
    public = rsa.RSAPublicNumbers(_int(e), _int(n)).public_key()
    size = (public.key_size + 7) // 8
    # go-crypto padToKeySize: a short signature value is left-padded with zeros.
    value = sig.values[0].rjust(size, b"\x00")
    public.verify(value, digest, padding.PKCS1v15(), utils.Prehashed(algorithm))


def _verify_dsa(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes, algorithm: hashes.HashAlgorithm) -> None:
    p, q, g, y = (_int(v) for v in key.fields)
    public = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
    r, s = (_int(v) for v in sig.values)
    # OpenSSL truncates the digest to the subgroup size, as FIPS 186-3 §4.6 and go-crypto do.
    public.verify(utils.encode_dss_signature(r, s), digest, utils.Prehashed(algorithm))


def _verify_ecdsa(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes, algorithm: hashes.HashAlgorithm) -> None:
    public = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[key.oid](), key.fields[0])
    r, s = (_int(v) for v in sig.values)
    public.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(algorithm)))


def _verify_eddsa_legacy(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes,
                         algorithm: hashes.HashAlgorithm) -> bool:
    # TODO(rekor-py): legacy Ed448 (OID 1.3.101.113) is not verified.
    point = key.fields[0]
    if key.oid != OID_ED25519_LEGACY or len(point) != 33:
        return False
    r, s = sig.values
    if len(r) > 32 or len(s) > 32:
        return False
    public = ed25519.Ed25519PublicKey.from_public_bytes(point[1:])
    public.verify(r.rjust(32, b"\x00") + s.rjust(32, b"\x00"), digest)
    return True


def _verify_ed25519(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes, algorithm: hashes.HashAlgorithm) -> None:
    ed25519.Ed25519PublicKey.from_public_bytes(key.fields[0]).verify(sig.values[0], digest)


def _verify_ed448(key: PublicKeyPacket, sig: SignaturePacket, digest: bytes, algorithm: hashes.HashAlgorithm) -> None:
    ed448.Ed448PublicKey.from_public_bytes(key.fields[0]).verify(sig.values[0], digest)

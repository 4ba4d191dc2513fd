"""OpenPGP public-key packets (RFC 4880 §5.5 / RFC 9580 §5.5) as go-crypto v1.4.1 reads and writes them.

Owns: the public-key algorithm ids (RFC 9580 §9.1) and the curve OIDs
go-crypto knows, parsing v4 public and secret key and subkey packets (the
algorithm-specific material, with go-crypto's checks and error texts), the
v4 fingerprint and key ID (RFC 4880 §12.2), and re-serialization as
go-crypto writes it: a secret key as its public counterpart, the body as
parsed.

Scope: v4 keys only; v3/v5/v6 keys are "unsupported" here (go-crypto skips
v3 packets too, and parses v5/v6 ones; TODO(rekor-py): v6 keys).

Leaves to others: headers, the body reader and error kinds (pgp_wire),
where a key packet sits in the input (pgp_packets), what a signature over a
key hashes and its mathematics (pgp_verify).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rekor_py.pki.pgp_wire import (
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    Cursor,
    StructuralError,
    UnsupportedError,
    mpi_value,
    serialize_header,
)

__all__ = ["PublicKeyPacket", "parse_public_key"]

# Public-key algorithms (RFC 9580 §9.1).
RSA, RSA_ENCRYPT_ONLY, RSA_SIGN_ONLY = 1, 2, 3
ELGAMAL, DSA, ECDH, ECDSA, EDDSA_LEGACY = 16, 17, 18, 19, 22
X25519, X448, ED25519, ED448 = 25, 26, 27, 28
_FIXED_KEY_SIZES = {X25519: 32, X448: 56, ED25519: 32, ED448: 57}

# Curve OIDs (DER contents) go-crypto knows, by the algorithms that may use them.
OID_P256 = bytes.fromhex("2a8648ce3d030107")
OID_P384 = bytes.fromhex("2b81040022")
OID_P521 = bytes.fromhex("2b81040023")
OID_SECP256K1 = bytes.fromhex("2b8104000a")
OID_BRAINPOOL256 = bytes.fromhex("2b2403030208010107")
OID_BRAINPOOL384 = bytes.fromhex("2b240303020801010b")
OID_BRAINPOOL512 = bytes.fromhex("2b240303020801010d")
OID_CURVE25519 = bytes.fromhex("2b060104019755010501")
OID_X448 = bytes.fromhex("2b656f")
OID_ED25519_LEGACY = bytes.fromhex("2b06010401da470f01")
OID_ED448_LEGACY = bytes.fromhex("2b6571")
_GENERIC_CURVES = frozenset(
    {OID_P256, OID_P384, OID_P521, OID_SECP256K1, OID_BRAINPOOL256, OID_BRAINPOOL384, OID_BRAINPOOL512}
)
_ECDH_CURVES = _GENERIC_CURVES | {OID_CURVE25519, OID_X448}
_EDDSA_CURVES = frozenset({OID_ED25519_LEGACY, OID_ED448_LEGACY})
_ALL_CURVES = _ECDH_CURVES | _EDDSA_CURVES


@dataclass
class PublicKeyPacket:
    """A v4 public (or secret) key or subkey; `material` is the algorithm-specific part as read."""

    is_subkey: bool
    is_secret: bool
    version: int
    created: int
    algorithm: int
    material: bytes
    fields: tuple[bytes, ...]  # MPI values or fixed-size points, in packet order
    oid: bytes = b""  # DER contents of the curve OID, for EC algorithms
    fingerprint: bytes = b""
    key_id: int = 0

    def body(self) -> bytes:
        return bytes([self.version]) + self.created.to_bytes(4, "big") + bytes([self.algorithm]) + self.material

    def hash_prefix(self) -> bytes:
        """What a v4 key signature hashes for this key: 0x99, a two-octet length, the body."""
        body = self.body()
        return b"\x99" + len(body).to_bytes(2, "big") + body

    def serialize(self) -> bytes:
        # Secret keys are written as their public counterparts (Entity.Serialize).
        tag = TAG_PUBLIC_SUBKEY if self.is_subkey else TAG_PUBLIC_KEY
        body = self.body()
        return serialize_header(tag, len(body)) + body

    def can_sign(self) -> bool:
        return self.algorithm not in (RSA_ENCRYPT_ONLY, ELGAMAL, ECDH)


# ---- public keys ----------------------------------------------------------------------


def parse_public_key(cursor: Cursor, is_subkey: bool, is_secret: bool) -> PublicKeyPacket:
    head = cursor.read(6)
    version = head[0]
    if version != 4:
        raise UnsupportedError(f"public key version {version}")
    algorithm = head[5]
    start = cursor.pos
    fields, oid = _parse_key_material(cursor, algorithm)
    key = PublicKeyPacket(
        is_subkey=is_subkey,
        is_secret=is_secret,
        version=version,
        created=int.from_bytes(head[1:5], "big"),
        algorithm=algorithm,
        material=cursor.data[start : cursor.pos],
        fields=fields,
        oid=oid,
    )
    key.fingerprint = hashlib.sha1(key.hash_prefix()).digest()
    key.key_id = int.from_bytes(key.fingerprint[12:20], "big")
    return key


def _parse_key_material(cursor: Cursor, algorithm: int) -> tuple[tuple[bytes, ...], bytes]:
    if algorithm in (RSA, RSA_ENCRYPT_ONLY, RSA_SIGN_ONLY):
        n, e = cursor.mpi(), cursor.mpi()
        if len(mpi_value(e)) > 3:
            raise UnsupportedError("large public exponent")
        return (mpi_value(n), mpi_value(e)), b""
    if algorithm in (DSA, ELGAMAL):
        count = 4 if algorithm == DSA else 3
        return tuple(mpi_value(cursor.mpi()) for _ in range(count)), b""
    if algorithm in (ECDSA, ECDH, EDDSA_LEGACY):
        return _parse_ec_material(cursor, algorithm)
    if algorithm in _FIXED_KEY_SIZES:
        return (cursor.read(_FIXED_KEY_SIZES[algorithm]),), b""
    raise UnsupportedError(f"public key type: {algorithm}")


def _parse_ec_material(cursor: Cursor, algorithm: int) -> tuple[tuple[bytes, ...], bytes]:
    oid = cursor.oid()[1:]
    if oid not in _ALL_CURVES:
        raise UnsupportedError(f"unknown oid: {(bytes([len(oid)]) + oid).hex()}")
    point = mpi_value(cursor.mpi())
    allowed = {ECDSA: _GENERIC_CURVES, ECDH: _ECDH_CURVES, EDDSA_LEGACY: _EDDSA_CURVES}[algorithm]
    if oid not in allowed:
        raise UnsupportedError(f"unsupported oid: {(bytes([len(oid)]) + oid).hex()}")
    if algorithm == ECDH:
        kdf = cursor.oid()[1:]
        if len(kdf) < 3:
            raise UnsupportedError(f"unsupported ECDH KDF length: {len(kdf)}")
        if kdf[0] != 0x01:
            raise UnsupportedError(f"unsupported KDF reserved field: {kdf[0]}")
        return (point, kdf), oid
    if algorithm == EDDSA_LEGACY:
        if not point:
            raise StructuralError("empty EdDSA public key")
        if point[0] != 0x40:
            raise UnsupportedError(f"unsupported EdDSA compression: {point[0]}")
    return (point,), oid

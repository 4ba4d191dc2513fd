"""OpenPGP signature packets (RFC 4880 §5.2 / RFC 9580 §5.2) as go-crypto v1.4.1 reads and writes them.

Owns: parsing v4 signature packets and their subpackets (the ones go-crypto
interprets, and the checks it makes on the others, with its error texts),
the hash ids a signature may name, the v4 hash suffix (RFC 4880 §5.2.4), and
re-serialization as go-crypto's Signature.Serialize writes it: the hashed
area verbatim, the unhashed subpackets re-encoded.

Scope: v4 signatures only; v3/v5/v6 ones are "unsupported" here (go-crypto
skips v3 packets too, and parses v5/v6 ones; TODO(rekor-py): v6 signatures).

Leaves to others: headers, the body reader and error kinds (pgp_wire), key
packets and algorithm ids (pgp_key_packets), where a signature packet sits
in the input (pgp_packets), signature mathematics (pgp_verify).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rekor_py import limits
from rekor_py.pki.pgp_key_packets import (
    DSA,
    ECDSA,
    ED448,
    ED25519,
    EDDSA_LEGACY,
    RSA,
    RSA_SIGN_ONLY,
    PublicKeyPacket,
)
from rekor_py.pki.pgp_wire import (
    TAG_SIGNATURE,
    Cursor,
    StructuralError,
    UnsupportedError,
    mpi_value,
    serialize_header,
)

__all__ = ["SignaturePacket", "Subpacket", "parse_signature"]

# Algorithms a v4 signature packet may name (go-crypto Signature.parse).
_SIGNATURE_ALGORITHMS = frozenset({RSA, RSA_SIGN_ONLY, DSA, ECDSA, EDDSA_LEGACY, ED25519, ED448})
_FIXED_SIG_SIZES = {ED25519: 64, ED448: 114}
_MPI_SIG_COUNTS = {RSA: 1, RSA_SIGN_ONLY: 1, DSA: 2, ECDSA: 2, EDDSA_LEGACY: 2}

# Hash ids a v4 signature may use (go-crypto HashIdToHashWithSha1) -> hashlib name.
HASHES = {2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224", 12: "sha3_256", 14: "sha3_512"}

# Signature subpacket types go-crypto understands; an unknown critical one
# in the hashed area makes the whole signature "unsupported".
_KNOWN_SUBPACKETS = frozenset({2, 3, 4, 5, 6, 9, 11, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 35, 39})


@dataclass(frozen=True)
class Subpacket:
    type: int
    critical: bool
    contents: bytes

    def encode(self) -> bytes:
        # go-crypto serializeSubpacketLength: 1, 2 or 5 length octets.
        n = len(self.contents) + 1
        if n < 192:
            length = bytes([n])
        elif n < 16320:
            length = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
        else:
            length = b"\xff" + n.to_bytes(4, "big")
        return length + bytes([self.type | (0x80 if self.critical else 0)]) + self.contents


@dataclass
class SignaturePacket:
    """A v4 signature packet with the subpackets go-crypto interprets."""

    version: int
    sig_type: int
    algorithm: int
    hash_id: int
    hashed_area: bytes  # the hashed subpackets, verbatim
    unhashed: list[Subpacket]
    hash_tag: bytes
    material: bytes  # signature MPIs (or fixed-size value), verbatim
    values: tuple[bytes, ...]
    created: int = 0
    sig_lifetime: int | None = None
    key_lifetime: int | None = None
    issuer_key_id: int | None = None
    issuer_fingerprint: bytes | None = None
    flags: int | None = None  # None: no key-flags subpacket
    is_primary_id: bool | None = None
    revocation_reason: int | None = None
    embedded: SignaturePacket | None = None
    critical_notations: list[str] = field(default_factory=list)

    def hash_suffix(self) -> bytes:
        """The bytes hashed after the signed data (RFC 4880 §5.2.4): fields, area, 0x04 0xFF, length."""
        head = bytes([self.version, self.sig_type, self.algorithm, self.hash_id])
        fields = head + len(self.hashed_area).to_bytes(2, "big") + self.hashed_area
        return fields + bytes([self.version, 0xFF]) + len(fields).to_bytes(4, "big")

    def serialize(self) -> bytes:
        head = bytes([self.version, self.sig_type, self.algorithm, self.hash_id])
        unhashed = b"".join(s.encode() for s in self.unhashed)
        body = b"".join(
            [
                head,
                len(self.hashed_area).to_bytes(2, "big"),
                self.hashed_area,
                len(unhashed).to_bytes(2, "big"),
                unhashed,
                self.hash_tag,
                self.material,
            ]
        )
        return serialize_header(TAG_SIGNATURE, len(body)) + body

    def check_issuer(self, key: PublicKeyPacket) -> bool:
        """go-crypto CheckKeyIdOrFingerprint: the fingerprint if present, else the key ID."""
        if self.issuer_fingerprint is not None and len(self.issuer_fingerprint) >= 20:
            return self.issuer_fingerprint == key.fingerprint
        return self.issuer_key_id is not None and self.issuer_key_id == key.key_id

    def sig_expired(self, now: int) -> bool:
        if self.created > now:
            return True
        if not self.sig_lifetime:
            return False
        return now > self.created + self.sig_lifetime


# ---- signatures -----------------------------------------------------------------------


def parse_signature(cursor: Cursor, depth: int = 0) -> SignaturePacket:
    """One v4 signature packet body, with go-crypto's checks and error texts.

    `depth` counts the signatures this one is embedded in (cross-certifications
    embed one signature in another); past `max_pgp_nesting` the packet is
    refused, so a hostile key cannot drive the recursion (go-crypto has no bound).
    """
    version = cursor.byte()
    if version != 4:
        raise UnsupportedError(f"signature packet version {version}")
    sig_type, algorithm, hash_id = cursor.read(3)
    if algorithm not in _SIGNATURE_ALGORITHMS:
        raise UnsupportedError(f"public key algorithm {algorithm}")
    if hash_id not in HASHES:
        raise UnsupportedError(f"hash function {hash_id}")
    hashed_area = cursor.read(int.from_bytes(cursor.read(2), "big"))
    sig = SignaturePacket(version, sig_type, algorithm, hash_id, hashed_area, [], b"", b"", ())
    _parse_subpackets(sig, hashed_area, True, depth)
    unhashed = cursor.read(int.from_bytes(cursor.read(2), "big"))
    _parse_subpackets(sig, unhashed, False, depth)
    sig.hash_tag = cursor.read(2)
    start = cursor.pos
    if algorithm in _FIXED_SIG_SIZES:
        sig.values = (cursor.read(_FIXED_SIG_SIZES[algorithm]),)
    else:
        sig.values = tuple(mpi_value(cursor.mpi()) for _ in range(_MPI_SIG_COUNTS[algorithm]))
    sig.material = cursor.data[start : cursor.pos]
    return sig


def _parse_subpackets(sig: SignaturePacket, area: bytes, hashed: bool, depth: int) -> None:
    pos = 0
    while pos < len(area):
        pos = _parse_subpacket(sig, area, pos, hashed, depth)
    if sig.created == 0:
        raise StructuralError("no creation time in signature")


def _subpacket_length(area: bytes, pos: int) -> tuple[int, int]:
    first = area[pos]
    if first < 192:
        return first, pos + 1
    if first < 255:
        if pos + 2 > len(area):
            raise StructuralError("signature subpacket truncated")
        return ((first - 192) << 8) + area[pos + 1] + 192, pos + 2
    if pos + 5 > len(area):
        raise StructuralError("signature subpacket truncated")
    return int.from_bytes(area[pos + 1 : pos + 5], "big"), pos + 5


def _parse_subpacket(sig: SignaturePacket, area: bytes, pos: int, hashed: bool, depth: int) -> int:
    length, pos = _subpacket_length(area, pos)
    if length > len(area) - pos:
        raise StructuralError("signature subpacket truncated")
    if length == 0:
        raise StructuralError("zero length signature subpacket")
    kind, critical, body = area[pos] & 0x7F, bool(area[pos] & 0x80), area[pos + 1 : pos + length]
    if not hashed:
        sig.unhashed.append(Subpacket(kind, critical, body))
        # go-crypto interprets only these three outside the hashed area.
        if kind not in (16, 32, 33):
            return pos + length
    _interpret_subpacket(sig, kind, critical, body, depth)
    return pos + length


def _u32(body: bytes, what: str) -> int:
    if len(body) != 4:
        raise StructuralError(what)
    return int.from_bytes(body, "big")


def _interpret_subpacket(sig: SignaturePacket, kind: int, critical: bool, body: bytes, depth: int) -> None:
    if kind == 2:
        if len(body) != 4:
            raise StructuralError("signature creation time not four bytes")
        sig.created = int.from_bytes(body, "big")
    elif kind == 3:
        sig.sig_lifetime = _u32(body, "expiration subpacket with bad length")
    elif kind == 4:
        if not body or body[0] == 0:
            raise UnsupportedError("signature with non-exportable certification")
    elif kind == 9:
        sig.key_lifetime = _u32(body, "key expiration subpacket with bad length")
    elif kind == 16:
        if len(body) != 8:
            raise StructuralError("issuer subpacket with bad length")
        sig.issuer_key_id = int.from_bytes(body, "big")
    elif kind == 20:
        _interpret_notation(sig, critical, body)
    elif kind == 25:
        if len(body) != 1:
            raise StructuralError("primary user id subpacket with bad length")
        sig.is_primary_id = body[0] > 0
    elif kind == 27:
        sig.flags = body[0] if body else 0
    elif kind == 29:
        if not body:
            raise StructuralError("empty revocation reason subpacket")
        sig.revocation_reason = body[0]
    elif kind == 32:
        _interpret_embedded(sig, body, depth)
    elif kind == 33:
        _interpret_issuer_fingerprint(sig, body)
    else:
        _check_other_subpacket(kind, critical, body)


def _interpret_notation(sig: SignaturePacket, critical: bool, body: bytes) -> None:
    if len(body) < 8:
        raise StructuralError("notation data subpacket with bad length")
    name_len, value_len = int.from_bytes(body[4:6], "big"), int.from_bytes(body[6:8], "big")
    if len(body) != name_len + value_len + 8:
        raise StructuralError("notation data subpacket with bad length")
    if critical:
        sig.critical_notations.append(body[8 : 8 + name_len].decode("utf-8", "replace"))


def _interpret_embedded(sig: SignaturePacket, body: bytes, depth: int) -> None:
    if sig.embedded is not None:
        raise StructuralError("Cannot have multiple embedded signatures")
    limit = limits.current().max_pgp_nesting
    if depth + 1 > limit:
        raise StructuralError(limits.limit_error_message("max_pgp_nesting", depth + 1, limit,
                                                         "the nesting of embedded signatures"))
    sig.embedded = parse_signature(Cursor(body), depth + 1)
    if sig.embedded.sig_type != 0x19:
        raise StructuralError(f"cross-signature has unexpected type {sig.embedded.sig_type}")


def _interpret_issuer_fingerprint(sig: SignaturePacket, body: bytes) -> None:
    if not body:
        raise StructuralError("empty issuer fingerprint subpacket")
    version, fpr = body[0], body[1:]
    if (version >= 5 and len(fpr) != 32) or (version < 5 and len(fpr) != 20):
        raise StructuralError("bad fingerprint length")
    sig.issuer_fingerprint = fpr
    sig.issuer_key_id = int.from_bytes(fpr[0:8] if version >= 5 else fpr[12:20], "big")


def _check_other_subpacket(kind: int, critical: bool, body: bytes) -> None:
    # The remaining checks go-crypto makes on subpackets it parses but Rekor never uses.
    if kind == 5 and len(body) != 2:
        raise StructuralError("trust subpacket with bad length")
    if kind == 6 and (not body or body[-1] != 0):
        raise StructuralError("regexp subpacket with bad length" if not body
                              else "expected regular expression to be null-terminated")
    if kind == 35 and (not body or (body[0] >= 5 and len(body) != 33) or (body[0] < 5 and len(body) != 21)):
        raise StructuralError("invalid fingerprint length" if body else "invalid intended recipient fingerpring length")
    if kind == 39 and len(body) % 2:
        raise StructuralError("invalid aead cipher suite length")
    if kind not in _KNOWN_SUBPACKETS and critical:
        raise UnsupportedError(f"unknown critical signature subpacket type {kind}")

"""OpenPGP packets (RFC 4880 / RFC 9580) as ProtonMail go-crypto v1.4.1 reads and writes them.

Owns: packet framing (old and new headers, partial lengths), parsing of the
packets a key or a detached signature holds (public and secret keys, user
IDs, signatures and their subpackets), go-crypto's error kinds and texts, and
re-serialization the way go-crypto's `Serialize` methods write packets: always
a new-format header with the shortest length, the key or signature body as
parsed, and the unhashed subpackets re-encoded.

Why by hand: Rekor stores keys re-serialized by go-crypto; no Python OpenPGP
library reproduces those bytes (see docs/notes/pgp-library.md).

Scope: v4 keys and v4 signatures, which is what GnuPG, go-crypto and most
tools emit. v3/v5/v6 packets are "unsupported" here; go-crypto skips v3 packets
too, and parses v5/v6 ones (TODO(rekor-py): v6 keys and signatures).

Leaves to others: which packets form an entity (pgp_entity), signature
mathematics (pgp_verify), armor (pgp_armor).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = [
    "CriticalUnknownPacketTypeError",
    "InvalidArgumentError",
    "OtherPacket",
    "PGPError",
    "Packet",
    "PacketReader",
    "PublicKeyPacket",
    "SignaturePacket",
    "SignatureError",
    "StructuralError",
    "Subpacket",
    "UnknownPacketTypeError",
    "UnsupportedError",
    "UserIdPacket",
    "serialize_header",
]

# Packet tags (RFC 9580 §5).
TAG_SIGNATURE, TAG_SECRET_KEY, TAG_PUBLIC_KEY, TAG_SECRET_SUBKEY = 2, 5, 6, 7
TAG_MARKER, TAG_TRUST, TAG_USER_ID, TAG_PUBLIC_SUBKEY = 10, 12, 13, 14
# Packets go-crypto parses (and, in a keyring, ignores) besides the ones above.
_OTHER_KNOWN_TAGS = frozenset({1, 3, 4, 8, 9, 11, 17, 18, 20, 21})

# Public-key algorithms (RFC 9580 §9.1).
RSA, RSA_ENCRYPT_ONLY, RSA_SIGN_ONLY = 1, 2, 3
ELGAMAL, DSA, ECDH, ECDSA, EDDSA_LEGACY = 16, 17, 18, 19, 22
X25519, X448, ED25519, ED448 = 25, 26, 27, 28
# Algorithms a v4 signature packet may name (go-crypto Signature.parse).
_SIGNATURE_ALGORITHMS = frozenset({RSA, RSA_SIGN_ONLY, DSA, ECDSA, EDDSA_LEGACY, ED25519, ED448})
_FIXED_KEY_SIZES = {X25519: 32, X448: 56, ED25519: 32, ED448: 57}
_FIXED_SIG_SIZES = {ED25519: 64, ED448: 114}
_MPI_SIG_COUNTS = {RSA: 1, RSA_SIGN_ONLY: 1, DSA: 2, ECDSA: 2, EDDSA_LEGACY: 2}

# Hash ids a v4 signature may use (go-crypto HashIdToHashWithSha1) -> hashlib name.
HASHES = {2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224", 12: "sha3_256", 14: "sha3_512"}

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

# Signature subpacket types go-crypto understands; an unknown critical one
# in the hashed area makes the whole signature "unsupported".
_KNOWN_SUBPACKETS = frozenset({2, 3, 4, 5, 6, 9, 11, 16, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 35, 39})

UNEXPECTED_EOF = "unexpected EOF"


# ---- go-crypto's error kinds -----------------------------------------------------------


class PGPError(Exception):
    """An error with go-crypto's (or Go's io) text; the kind decides what readers skip."""


class StructuralError(PGPError):
    def __init__(self, reason: str) -> None:
        super().__init__("openpgp: invalid data: " + reason)


class UnsupportedError(PGPError):
    def __init__(self, reason: str) -> None:
        super().__init__("openpgp: unsupported feature: " + reason)


class SignatureError(PGPError):
    def __init__(self, reason: str) -> None:
        super().__init__("openpgp: invalid signature: " + reason)


class InvalidArgumentError(PGPError):
    def __init__(self, reason: str) -> None:
        super().__init__("openpgp: invalid argument: " + reason)


class UnknownPacketTypeError(PGPError):
    def __init__(self, tag: int) -> None:
        super().__init__(f"openpgp: unknown packet type: {tag}")


class CriticalUnknownPacketTypeError(PGPError):
    def __init__(self, tag: int) -> None:
        super().__init__(f"openpgp: unknown critical packet type: {tag}")


# ---- a bounded cursor (Go's spanReader + readFull) -------------------------------------


class _Cursor:
    def __init__(self, data: bytes, truncated: bool = False) -> None:
        self.data, self.pos, self.truncated = data, 0, truncated

    def rest(self) -> bytes:
        """Everything left (io.ReadAll): a body cut short by the end of input is an error."""
        if self.truncated:
            raise PGPError(UNEXPECTED_EOF)
        return self.read(len(self.data) - self.pos)

    def read(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PGPError(UNEXPECTED_EOF)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        return self.read(1)[0]

    def mpi(self) -> bytes:
        """One MPI: returns its encoded bytes (bit count + value), kept verbatim as go-crypto does."""
        head = self.read(2)
        bits = int.from_bytes(head, "big")
        return head + self.read((bits + 7) // 8)

    def oid(self) -> bytes:
        length = self.byte()
        if length in (0, 0xFF):
            raise UnsupportedError("reserved for future extensions")
        return bytes([length]) + self.read(length)


def mpi_value(encoded: bytes) -> bytes:
    """The value bytes of an encoded MPI (without its two-byte bit count)."""
    return encoded[2:]


# ---- packets --------------------------------------------------------------------------


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


@dataclass
class UserIdPacket:
    id: bytes

    def serialize(self) -> bytes:
        return serialize_header(TAG_USER_ID, len(self.id)) + self.id


@dataclass
class OtherPacket:
    """A packet go-crypto parses but a keyring ignores (user attributes, padding, ...)."""

    tag: int


@dataclass
class _Marker:
    pass


Packet = PublicKeyPacket | SignaturePacket | UserIdPacket | OtherPacket | _Marker


def serialize_header(tag: int, length: int) -> bytes:
    """go-crypto serializeHeader: a new-format tag and the shortest length encoding."""
    if length < 192:
        encoded = bytes([length])
    elif length < 8384:
        encoded = bytes([((length - 192) >> 8) + 192, (length - 192) & 0xFF])
    else:
        encoded = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + encoded


# ---- framing --------------------------------------------------------------------------


class PacketReader:
    """go-crypto's packet.Reader over bytes: Read, Next (skipping what Go skips) and Unread."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self._unread: list[Packet] = []
        self._truncated = False

    def at_eof(self) -> bool:
        return not self._unread and self.pos >= len(self.data)

    def unread(self, packet: Packet) -> None:
        self._unread.append(packet)

    def next(self) -> Packet | None:
        """The next packet, or None at the end; skips markers, unknown and unsupported packets."""
        while True:
            try:
                packet = self.read()
            except (UnknownPacketTypeError, UnsupportedError):
                continue
            if not isinstance(packet, _Marker):
                return packet

    def read(self) -> Packet | None:
        """One packet (packet.Read): None at the end of input, raises PGPError on a bad one."""
        if self._unread:
            return self._unread.pop()
        if self.pos >= len(self.data):
            return None
        tag, body, body_start, end = self._header()
        cursor = _Cursor(body, truncated=self._truncated)
        try:
            packet = _parse(tag, cursor)
        except PGPError:
            self.pos = end  # consumeAll
            raise
        # go-crypto does not drain what a parser left unread: the next packet
        # header is read right after the parsed bytes (partial bodies aside).
        self.pos = end if body_start is None else body_start + cursor.pos
        return packet

    def _header(self) -> tuple[int, bytes, int | None, int]:
        """(tag, body, where the body starts or None if it was reassembled, where it ends)."""
        data, pos = self.data, self.pos
        first = data[pos]
        pos += 1
        self._truncated = False
        if first & 0x80 == 0:
            self.pos = len(data)
            raise StructuralError("tag byte does not have MSB set")
        if first & 0x40 == 0:
            tag, length_type = (first & 0x3F) >> 2, first & 3
            if length_type == 3:  # indeterminate: the rest of the input
                return tag, data[pos:], pos, len(data)
            n = 1 << length_type
            length = int.from_bytes(self._take(pos, n), "big")
            pos += n
        else:
            tag = first & 0x3F
            length, partial, pos = self._new_length(pos)
            if partial:
                body, end = self._partial_body(length, pos)
                return tag, body, None, end
        self._truncated = pos + length > len(data)
        end = min(pos + length, len(data))
        return tag, data[pos:end], pos, end

    def _take(self, pos: int, n: int) -> bytes:
        if pos + n > len(self.data):
            self.pos = len(self.data)
            raise PGPError(UNEXPECTED_EOF)
        return self.data[pos : pos + n]

    def _new_length(self, pos: int) -> tuple[int, bool, int]:
        first = self._take(pos, 1)[0]
        if first < 192:
            return first, False, pos + 1
        if first < 224:
            second = self._take(pos + 1, 1)[0]
            return ((first - 192) << 8) + second + 192, False, pos + 2
        if first < 255:
            return 1 << (first & 0x1F), True, pos + 1
        return int.from_bytes(self._take(pos + 1, 4), "big"), False, pos + 5

    def _partial_body(self, length: int, pos: int) -> tuple[bytes, int]:
        # Partial body lengths: gather every chunk up front (keys and
        # signatures never use them; go-crypto reads them as one stream).
        chunks = bytearray()
        while True:
            chunks += self.data[pos : pos + length]
            pos += length
            if pos >= len(self.data):
                return bytes(chunks), len(self.data)
            length, partial, pos = self._new_length(pos)
            if not partial:
                chunks += self.data[pos : pos + length]
                return bytes(chunks), min(pos + length, len(self.data))


def _parse(tag: int, cursor: _Cursor) -> Packet:
    if tag == TAG_SIGNATURE:
        return parse_signature(cursor)
    if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
        secret = tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY)
        key = _parse_public_key(cursor, tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY), secret)
        if secret:
            # TODO(rekor-py): the secret part is not checked the way go-crypto's
            # PrivateKey.parse does; it is consumed whole and never serialized.
            cursor.rest()
        return key
    if tag == TAG_USER_ID:
        return UserIdPacket(cursor.rest())
    if tag == TAG_MARKER:
        if cursor.read(3) != b"PGP":
            raise StructuralError("invalid marker")
        return _Marker()
    if tag in _OTHER_KNOWN_TAGS:
        cursor.rest()
        return OtherPacket(tag)
    if tag == TAG_TRUST or tag >= 40:
        raise UnknownPacketTypeError(tag)
    raise CriticalUnknownPacketTypeError(tag)


# ---- public keys ----------------------------------------------------------------------


def _parse_public_key(cursor: _Cursor, is_subkey: bool, is_secret: bool) -> PublicKeyPacket:
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


def _parse_key_material(cursor: _Cursor, algorithm: int) -> tuple[tuple[bytes, ...], bytes]:
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


def _parse_ec_material(cursor: _Cursor, algorithm: int) -> tuple[tuple[bytes, ...], bytes]:
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


# ---- signatures -----------------------------------------------------------------------


def parse_signature(cursor: _Cursor) -> SignaturePacket:
    """One v4 signature packet body, with go-crypto's checks and error texts."""
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
    _parse_subpackets(sig, hashed_area, hashed=True)
    unhashed = cursor.read(int.from_bytes(cursor.read(2), "big"))
    _parse_subpackets(sig, unhashed, hashed=False)
    sig.hash_tag = cursor.read(2)
    start = cursor.pos
    if algorithm in _FIXED_SIG_SIZES:
        sig.values = (cursor.read(_FIXED_SIG_SIZES[algorithm]),)
    else:
        sig.values = tuple(mpi_value(cursor.mpi()) for _ in range(_MPI_SIG_COUNTS[algorithm]))
    sig.material = cursor.data[start : cursor.pos]
    return sig


def _parse_subpackets(sig: SignaturePacket, area: bytes, hashed: bool) -> None:
    pos = 0
    while pos < len(area):
        pos = _parse_subpacket(sig, area, pos, hashed)
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


def _parse_subpacket(sig: SignaturePacket, area: bytes, pos: int, hashed: bool) -> int:
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
    _interpret_subpacket(sig, kind, critical, body)
    return pos + length


def _u32(body: bytes, what: str) -> int:
    if len(body) != 4:
        raise StructuralError(what)
    return int.from_bytes(body, "big")


def _interpret_subpacket(sig: SignaturePacket, kind: int, critical: bool, body: bytes) -> None:
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
        _interpret_embedded(sig, body)
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


def _interpret_embedded(sig: SignaturePacket, body: bytes) -> None:
    if sig.embedded is not None:
        raise StructuralError("Cannot have multiple embedded signatures")
    sig.embedded = parse_signature(_Cursor(body))
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
        raise StructuralError("regexp subpacket with bad length" if not body else "expected regular expression to be null-terminated")
    if kind == 35 and (not body or (body[0] >= 5 and len(body) != 33) or (body[0] < 5 and len(body) != 21)):
        raise StructuralError("invalid fingerprint length" if body else "invalid intended recipient fingerpring length")
    if kind == 39 and len(body) % 2:
        raise StructuralError("invalid aead cipher suite length")
    if kind not in _KNOWN_SUBPACKETS and critical:
        raise UnsupportedError(f"unknown critical signature subpacket type {kind}")

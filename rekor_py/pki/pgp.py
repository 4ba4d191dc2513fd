"""The pgp signature format: OpenPGP keys and detached signatures, as Rekor v1 handles them
(docs/rekor-compat.md#rekord).

Owns: Rekor's pkg/pki/pgp rules on top of go-crypto: which inputs parse
(armored or binary keyrings and signatures, private key blocks refused only
when every entity has an encryption subkey), the canonical values Rekor
stores (a binary signature armored, an armored one kept byte for byte; every
key entity re-serialized into one armor), the UID emails for the index, and
detached verification with key validity evaluated at the signature's
creation time.

Leaves to others: OpenPGP armor, packets, entities and signature maths
(pgp_armor; pgp_packets, pgp_key_packets, pgp_signature_packets, pgp_wire;
pgp_entity; pgp_verify), the rekord entry (types/).

Error texts are Rekor's and go-crypto's (github.com/sigstore/rekor
pkg/pki/pgp/pgp.go at v1.5.4 with go-crypto v1.4.1); they name no secrets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Self, cast

from rekor_py import limits
from rekor_py.lru import ByteLRU
from rekor_py.pki.base import HashName, InputLimitError, InvalidKeyError, InvalidSignatureError
from rekor_py.pki.govalidator_email import is_email
from rekor_py.pki.pgp_armor import decode_armor, encode_armor
from rekor_py.pki.pgp_entity import (
    FLAG_SIGN,
    Entity,
    check_key_validity,
    keys_by_id_usage,
    read_keyring,
)
from rekor_py.pki.pgp_packets import PacketReader
from rekor_py.pki.pgp_signature_packets import SignaturePacket
from rekor_py.pki.pgp_verify import document_digest, verify_signature
from rekor_py.pki.pgp_wire import PGPError, StructuralError, UnsupportedError

__all__ = ["PGPPublicKey", "PGPSignature"]

PUBLIC_KEY_TYPE = "PGP PUBLIC KEY BLOCK"
PRIVATE_KEY_TYPE = "PGP PRIVATE KEY BLOCK"
SIGNATURE_TYPE = "PGP SIGNATURE"

# Go's bufio.Scanner refuses longer lines (MaxScanTokenSize).
_MAX_SCAN_LINE = 64 * 1024
_ARMOR_START, _ARMOR_END = b"-----BEGIN PGP", b"-----END PGP"
# Go's `EOF` error text, which Rekor wraps when the input ends too early.
_EOF = "EOF"


@dataclass(frozen=True)
class PGPPublicKey:
    """A parsed OpenPGP keyring (one or more entities)."""

    entities: tuple[Entity, ...]
    # The bytes this key was parsed from: its cache key (see _KEY_CACHE).
    _source: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Rekor's pgp.NewPublicKey: armored block(s) or a binary keyring; raises InvalidKeyError."""
        data = bytes(data)
        # Bounds the parsing work a request can cause (Rekor has no such limit).
        limit = limits.current().max_key_bytes
        if len(data) > limit:
            raise InputLimitError("unable to read PGP public key: "
                                  + limits.limit_error_message("max_key_bytes", len(data), limit,
                                                               "the public key size in bytes"))
        if cls is PGPPublicKey:
            # Uploaders reuse keys: a key that verified a signature is kept,
            # with its canonical value (about 0.3 ms to serialize and armor).
            found = _KEY_CACHE.get(data)
            if found is not None:
                return cast(Self, found)
        return cls(_parse_keyring(data), _source=data)

    def canonical_value(self) -> bytes:
        """Every entity's public parts, go-crypto Entity.Serialize, in one armor without trailing newline."""
        return self._canonical

    @functools.cached_property
    def _canonical(self) -> bytes:
        return encode_armor(PUBLIC_KEY_TYPE, b"".join(e.serialize() for e in self.entities))

    def identities(self) -> list[str]:
        """Rekor's EmailAddresses: each user ID's email that govalidator.IsEmail accepts."""
        return [
            email
            for entity in self.entities
            for identity in entity.identities.values()
            if is_email(email := _user_id_email(identity.user_id.id))
        ]

    def verify(self, signature: bytes, data: bytes) -> None:
        """Verify a detached signature (armored or binary) over `data`; raises InvalidSignatureError."""
        PGPSignature.from_bytes(signature).verify(data, self)

    def verify_digest(self, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        """pgp keys are not accepted by hashedrekord: always raises InvalidSignatureError."""
        raise InvalidSignatureError("PGP signatures cannot be verified over a precomputed digest")


@dataclass(frozen=True)
class PGPSignature:
    """A detached OpenPGP signature as the client sent it (armored or binary)."""

    raw: bytes
    armored: bool
    body: bytes  # the packet bytes (the armor decoded)
    body_error: str | None = None  # a fault in the armor after `body` (Go reads it lazily)
    # The first packet when it is a signature read as is (nothing skipped before it),
    # and where the next packet starts: Go reads that packet three times (NewSignature,
    # Verify, CheckDetachedSignature); the parse is pure, so it is done once (10 us).
    first: SignaturePacket | None = field(default=None, compare=False, repr=False)
    first_end: int = field(default=0, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Rekor's pgp.NewSignature: the first packet must be a signature; raises InvalidSignatureError."""
        data = bytes(data)
        limit = limits.current().max_signature_bytes
        if len(data) > limit:
            raise InputLimitError("unable to read PGP signature: "
                                  + limits.limit_error_message("max_signature_bytes", len(data), limit,
                                                               "the signature size in bytes"))
        block = decode_armor(data)
        if block is not None and block.type != SIGNATURE_TYPE:
            raise InvalidSignatureError("invalid PGP signature provided")
        body, body_error = (block.body, block.error) if block is not None else (data, None)
        reader = PacketReader(body)
        try:
            plain = reader.read()
        except PGPError:
            plain = None  # _first_signature_packet reads again and says why
        if isinstance(plain, SignaturePacket):
            # What next() returns too: it returns the first packet read unless a marker.
            return cls(data, block is not None, body, body_error, plain, reader.pos)
        first = _first_signature_packet(body, body_error)
        if not isinstance(first, SignaturePacket):
            raise InvalidSignatureError("valid PGP signature was not detected")
        return cls(data, block is not None, body, body_error)

    def canonical_value(self) -> bytes:
        """Armored input byte for byte; binary input in go-crypto's armor, no trailing newline."""
        return self.raw if self.armored else encode_armor(SIGNATURE_TYPE, self.raw)

    def verify(self, data: bytes, key: object) -> None:
        """Rekor's Signature.Verify: go-crypto CheckDetachedSignature at the signature's creation time."""
        if not isinstance(key, PGPPublicKey):
            raise InvalidSignatureError("cannot use Verify with a non-PGP signature")
        if self.body_error is not None:
            raise InvalidSignatureError(f"error reading armored PGP signature: {self.body_error}")
        first = self.first
        if first is None:
            try:
                packet = PacketReader(self.body).read()
            except PGPError as e:
                raise InvalidSignatureError(f"error reading PGP signature: {e}") from e
            if packet is None:
                raise InvalidSignatureError(f"error reading PGP signature: {_EOF}")
            if not isinstance(packet, SignaturePacket):
                raise InvalidSignatureError("valid PGP signature was not detected")
            first = packet
        try:
            _check_detached(key.entities, data, self.body, now=first.created,
                            first=(self.first, self.first_end) if self.first is not None else None)
        except PGPError as e:
            raise InvalidSignatureError(str(e)) from e
        if type(key) is PGPPublicKey and key._source:
            _KEY_CACHE.put(key._source, key)


# ---- keys -----------------------------------------------------------------------------


# Parsed keys, by the bytes they were parsed from, kept only once they have
# verified a signature (never what a search or a failed upload sends).  An
# armored key is its own canonical form up to armor headers, so the input is
# the key here.  Parsed entities weigh about 4x their packets.
_KEY_CACHE_BYTES = 16 * 1024 * 1024
_KEY_CACHE: ByteLRU[bytes, PGPPublicKey] = ByteLRU(_KEY_CACHE_BYTES, lambda k, _: 5 * len(k))


def _parse_keyring(data: bytes) -> tuple[Entity, ...]:
    # Entities are never mutated after parsing, so sharing them is safe.
    if len(data) < len(_ARMOR_START):
        raise InvalidKeyError(f"unable to read PGP public key: {_EOF}")
    if data.startswith(_ARMOR_START):
        entities = _read_armored_keyrings(data)
    else:
        try:
            entities = read_keyring(data)
        except PGPError as e:
            raise InvalidKeyError(f"error reading binary PGP public key: {e}") from e
    # Rekor's (odd) test for "only private keys": as many entities as
    # decryption-capable secret subkeys.
    if len(entities) == sum(e.decryption_key_count() for e in entities):
        raise InvalidKeyError("no PGP public keys could be read")
    return tuple(entities)


def _read_armored_keyrings(data: bytes) -> list[Entity]:
    # Rekor scans lines and decodes each chunk that ends with an "-----END PGP"
    # line; text after the last such line is ignored.
    entities: list[Entity] = []
    chunk: list[bytes] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if len(raw) >= _MAX_SCAN_LINE:
            raise InvalidKeyError("error reading PGP public key: bufio.Scanner: token too long")
        chunk.append(line + b"\n")
        if line.startswith(_ARMOR_END):
            entities += _read_armored_chunk(b"".join(chunk))
            chunk = []
    return entities


def _read_armored_chunk(chunk: bytes) -> list[Entity]:
    block = decode_armor(chunk)
    if block is None:
        raise InvalidKeyError(f"invalid PGP public key provided: {_EOF}")
    if block.type not in (PUBLIC_KEY_TYPE, PRIVATE_KEY_TYPE):
        raise InvalidKeyError("invalid PGP type detected")
    try:
        entities = read_keyring(block.body)
    except PGPError as e:
        raise InvalidKeyError(f"error reading PGP public key: {block.error or e}") from e
    if block.error is not None:
        raise InvalidKeyError(f"error reading PGP public key: {block.error}")
    return entities


# ---- signatures -----------------------------------------------------------------------


def _first_signature_packet(body: bytes, body_error: str | None) -> object:
    """packet.NewReader(body).Next() as NewSignature calls it; raises InvalidSignatureError."""
    reader = PacketReader(body)
    try:
        packet = reader.next()
    except PGPError as e:
        # A packet cut short by an armor fault reports the armor's error, as Go's reader does.
        raise InvalidSignatureError(f"invalid PGP signature: {body_error or e}") from e
    if packet is None:
        raise InvalidSignatureError(f"invalid PGP signature: {body_error or _EOF}")
    return packet


def _check_detached(entities: tuple[Entity, ...], data: bytes, body: bytes, now: int,
                    first: tuple[SignaturePacket, int] | None = None) -> None:
    """go-crypto CheckDetachedSignature with Config.Time = `now`; raises PGPError.

    `first`: the body's first packet, a signature, already read, and where the next
    starts (see PGPSignature.first)."""
    packets = PacketReader(body)
    known: SignaturePacket | None = None
    if first is not None:
        known, packets.pos = first
    while True:
        packet: object = known if known is not None else packets.next()
        known = None
        if packet is None:
            raise PGPError("openpgp: signature made by unknown entity")
        if not isinstance(packet, SignaturePacket):
            raise StructuralError("non signature packet found")
        if packet.issuer_key_id is None:
            raise StructuralError("signature doesn't have an issuer")
        keys = keys_by_id_usage(list(entities), packet.issuer_key_id, FLAG_SIGN)
        if keys:
            break
    sig = packet
    if sig.sig_type not in (0x00, 0x01):
        raise UnsupportedError(f"unsupported signature type: {sig.sig_type}")
    digest = document_digest(sig, data)
    error: PGPError | None = None
    for key in keys:
        try:
            verify_signature(key.key, sig, digest)
        except PGPError as e:
            error = e
            continue
        check_key_validity(key, sig, now)
        return
    assert error is not None
    raise error


# ---- user IDs and emails ----------------------------------------------------------------


def _user_id_email(user_id: bytes) -> str:
    """go-crypto parseUserId's email: the text in <...>, or the whole name if it has an '@'."""
    spans = {"name": [0, 0], "comment": [0, 0], "email": [0, 0]}
    state = 0
    for offset, c in enumerate(user_id):
        if state == 0:
            spans["name"][0], state = offset, 1
        if state == 1:
            if c == ord("("):
                state, spans["name"][1] = 2, offset
            elif c == ord("<"):
                state, spans["name"][1] = 5, offset
            continue
        if state == 2:
            spans["comment"][0], state = offset, 3
        if state == 3:
            if c == ord(")"):
                state, spans["comment"][1] = 4, offset
            continue
        if state == 4:
            if c == ord("<"):
                state = 5
            continue
        if state == 5:
            spans["email"][0], state = offset, 6
        if state == 6 and c == ord(">"):
            state, spans["email"][1] = 7, offset
    for name, ending_state in (("name", 1), ("comment", 3), ("email", 6)):
        if state == ending_state:
            spans[name][1] = len(user_id)
    name = _go_trim(user_id[spans["name"][0] : spans["name"][1]])
    email = _go_trim(user_id[spans["email"][0] : spans["email"][1]])
    if not email and "@" in name:
        return name
    return email


def _go_trim(value: bytes) -> str:
    return value.decode("utf-8", "replace").strip()

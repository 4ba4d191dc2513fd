"""OpenPGP entities (keys with their user IDs and subkeys) as go-crypto v1.4.1 builds them.

Owns: go-crypto's ReadKeyRing / ReadEntity (which packets form an entity,
which self-signatures are checked, which broken entities are skipped),
Entity.Serialize (the public parts, in go-crypto's order), KeysByIdUsage and
the key-validity checks of CheckDetachedSignature at a given time.

One deliberate difference: go-crypto keeps identities in a Go map, so a key
with several user IDs serializes them in a random order on every call; this
module keeps them in the order of the input, which is one of Go's orders and
is stable.

Leaves to others: armor and the Rekor-level rules (pgp), packet bytes
(pgp_packets, pgp_key_packets, pgp_signature_packets, pgp_wire), signature
mathematics (pgp_verify).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rekor_py.pki.pgp_key_packets import PublicKeyPacket
from rekor_py.pki.pgp_packets import PacketReader, UserIdPacket
from rekor_py.pki.pgp_signature_packets import SignaturePacket
from rekor_py.pki.pgp_verify import key_binding_digest, key_digest, user_id_digest, verify_signature
from rekor_py.pki.pgp_wire import PGPError, SignatureError, StructuralError, UnsupportedError

__all__ = ["Entity", "Identity", "Key", "Subkey", "check_key_validity", "keys_by_id_usage", "read_keyring"]

# Signature types (RFC 4880 §5.2.1) and key flags (§5.2.3.21).
_CERTIFICATIONS = frozenset({0x10, 0x11, 0x12, 0x13})
_CERT_REVOCATION, _SUBKEY_BINDING, _SUBKEY_REVOCATION, _KEY_REVOCATION = 0x30, 0x18, 0x28, 0x20
FLAG_SIGN, FLAG_ENCRYPT = 0x02, 0x04 | 0x08
_KEY_COMPROMISED = 2

KEY_REVOKED = "openpgp: signature made by revoked key"
KEY_EXPIRED = "openpgp: key expired"
SIGNATURE_EXPIRED = "openpgp: signature expired"


@dataclass
class Identity:
    user_id: UserIdPacket
    self_signature: SignaturePacket | None = None
    revocations: list[SignaturePacket] = field(default_factory=list)
    signatures: list[SignaturePacket] = field(default_factory=list)


@dataclass
class Subkey:
    key: PublicKeyPacket
    sig: SignaturePacket
    revocations: list[SignaturePacket]


@dataclass
class Entity:
    primary: PublicKeyPacket
    identities: dict[bytes, Identity] = field(default_factory=dict)
    revocations: list[SignaturePacket] = field(default_factory=list)
    subkeys: list[Subkey] = field(default_factory=list)

    def serialize(self) -> bytes:
        """go-crypto Entity.Serialize: key, revocations, each user ID with its signatures, subkeys."""
        out = [self.primary.serialize()] + [r.serialize() for r in self.revocations]
        for identity in self.identities.values():
            out.append(identity.user_id.serialize())
            out += [s.serialize() for s in identity.signatures]
        for sub in self.subkeys:
            out.append(sub.key.serialize())
            out += [r.serialize() for r in sub.revocations]
            out.append(sub.sig.serialize())
        return b"".join(out)

    def primary_identity(self) -> Identity | None:
        """go-crypto PrimaryIdentity: fewest revocations, then the primary flag, then the newest."""
        best: Identity | None = None
        for identity in self.identities.values():
            if _prefer(best, identity):
                best = identity
        return best

    def decryption_key_count(self) -> int:
        """len(EntityList.DecryptionKeys()) for this entity: secret subkeys flagged for encryption."""
        return sum(1 for s in self.subkeys if s.key.is_secret and s.sig.flags is not None
                   and s.sig.flags & FLAG_ENCRYPT)


def _prefer(existing: Identity | None, new: Identity) -> bool:
    if existing is None:
        return True
    if len(existing.revocations) != len(new.revocations):
        return len(existing.revocations) > len(new.revocations)
    if existing.self_signature is None:
        return True
    if new.self_signature is None:
        return False  # go-crypto would dereference nil here; keep the existing one
    existing_primary = bool(existing.self_signature.is_primary_id)
    new_primary = bool(new.self_signature.is_primary_id)
    if existing_primary != new_primary:
        return new_primary
    return new.self_signature.created > existing.self_signature.created


# ---- reading --------------------------------------------------------------------------


def read_keyring(data: bytes) -> list[Entity]:
    """go-crypto ReadKeyRing: every readable entity; raises PGPError when none could be read.

    Entities that are structurally broken or unsupported are skipped, as in Go;
    any other error (e.g. truncated input) fails the whole keyring.
    """
    packets = PacketReader(data)
    entities: list[Entity] = []
    last_skipped: PGPError | None = None
    while True:
        try:
            entity = _read_entity(packets)
        except (StructuralError, UnsupportedError) as e:
            last_skipped = e
            if not _skip_to_next_public_key(packets):
                break
            continue
        if entity is None:
            break
        entities.append(entity)
    if not entities and last_skipped is not None:
        raise last_skipped
    return entities


def _skip_to_next_public_key(packets: PacketReader) -> bool:
    """go-crypto readToNextPublicKey; False at the end of input."""
    while True:
        packet = packets.next()
        if packet is None:
            return False
        if isinstance(packet, PublicKeyPacket) and not packet.is_secret and not packet.is_subkey:
            packets.unread(packet)
            return True


def _read_entity(packets: PacketReader) -> Entity | None:
    first = packets.next()
    if first is None:
        return None
    if not isinstance(first, PublicKeyPacket):
        packets.unread(first)
        raise StructuralError("first packet was not a public/private key")
    if not first.can_sign():
        raise StructuralError("primary key cannot be used for signatures")
    entity = Entity(first)
    revocations: list[SignaturePacket] = []
    while (packet := packets.next()) is not None:
        if isinstance(packet, UserIdPacket):
            _add_user_id(entity, packets, packet)
        elif isinstance(packet, SignaturePacket):
            # Direct-key signatures count only for v6 keys; others attach to nothing.
            if packet.sig_type == _KEY_REVOCATION:
                revocations.append(packet)
        elif isinstance(packet, PublicKeyPacket):
            if not packet.is_subkey:
                packets.unread(packet)
                break
            _add_subkey(entity, packets, packet)
    if not entity.identities:
        raise StructuralError(f"v{first.version} entity without any identities")
    for revocation in revocations:
        try:
            verify_signature(first, revocation, key_digest(revocation, first))
        except PGPError as e:
            raise StructuralError("revocation signature signed by alternate key") from e
        entity.revocations.append(revocation)
    return entity


def _add_user_id(entity: Entity, packets: PacketReader, uid: UserIdPacket) -> None:
    identity = Identity(uid)
    while (packet := packets.next()) is not None:
        if not isinstance(packet, SignaturePacket):
            packets.unread(packet)
            break
        if packet.sig_type not in _CERTIFICATIONS and packet.sig_type != _CERT_REVOCATION:
            raise StructuralError("user ID signature with wrong type")
        if packet.check_issuer(entity.primary):
            try:
                verify_signature(entity.primary, packet, user_id_digest(packet, entity.primary, uid.id))
            except PGPError as e:
                raise StructuralError("user ID self-signature invalid: " + str(e)) from e
            if packet.sig_type == _CERT_REVOCATION:
                identity.revocations.append(packet)
            elif identity.self_signature is None or packet.created > identity.self_signature.created:
                identity.self_signature = packet
            identity.signatures.append(packet)
            entity.identities[uid.id] = identity
        else:
            identity.signatures.append(packet)  # third-party certifications are kept unverified


def _add_subkey(entity: Entity, packets: PacketReader, key: PublicKeyPacket) -> None:
    binding: SignaturePacket | None = None
    revocations: list[SignaturePacket] = []
    while True:
        try:
            packet = packets.next()
        except PGPError as e:
            raise StructuralError("subkey signature invalid: " + str(e)) from e
        if packet is None:
            break
        if not isinstance(packet, SignaturePacket):
            packets.unread(packet)
            break
        if packet.sig_type not in (_SUBKEY_BINDING, _SUBKEY_REVOCATION):
            raise StructuralError("subkey signature with wrong type")
        try:
            _verify_key_signature(entity.primary, key, packet)
        except PGPError as e:
            raise StructuralError("subkey signature invalid: " + str(e)) from e
        if packet.sig_type == _SUBKEY_REVOCATION:
            revocations.append(packet)
        elif binding is None or packet.created > binding.created:
            binding = packet  # only the newest binding is kept (and re-serialized)
    if binding is None:
        raise StructuralError("subkey packet not followed by signature")
    entity.subkeys.append(Subkey(key, binding, revocations))


def _verify_key_signature(primary: PublicKeyPacket, subkey: PublicKeyPacket, sig: SignaturePacket) -> None:
    # go-crypto PublicKey.VerifyKeySignature, with the cross-signature signing subkeys need.
    verify_signature(primary, sig, key_binding_digest(sig, primary, subkey))
    if sig.flags is None or not sig.flags & FLAG_SIGN:
        return
    if sig.embedded is None:
        raise StructuralError("signing subkey is missing cross-signature")
    try:
        verify_signature(subkey, sig.embedded, key_binding_digest(sig.embedded, primary, subkey))
    except PGPError as e:
        raise StructuralError("error while verifying cross-signature: " + str(e)) from e


# ---- using keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One (sub)key of an entity with the self-signature that binds it (go-crypto's Key)."""

    entity: Entity
    key: PublicKeyPacket
    self_signature: SignaturePacket | None
    revocations: tuple[SignaturePacket, ...]


def keys_by_id_usage(entities: list[Entity], key_id: int, usage: int) -> list[Key]:
    """go-crypto EntityList.KeysByIdUsage: keys with this ID whose self-signature grants `usage`."""
    found: list[Key] = []
    for entity in entities:
        if entity.primary.key_id == key_id:
            identity = entity.primary_identity()
            self_sig = identity.self_signature if identity else None
            found.append(Key(entity, entity.primary, self_sig, tuple(entity.revocations)))
        found.extend(Key(entity, sub.key, sub.sig, tuple(sub.revocations))
                     for sub in entity.subkeys if sub.key.key_id == key_id)
    return [k for k in found
            if k.self_signature is not None
            and (k.self_signature.flags or 0) & usage == usage
            and k.self_signature.flags is not None]


def _revoked(revocations: tuple[SignaturePacket, ...] | list[SignaturePacket], now: int) -> bool:
    # A "key compromised" revocation counts even before its creation time.
    return any(r.revocation_reason == _KEY_COMPROMISED or not r.sig_expired(now) for r in revocations)


def _key_expired(key: PublicKeyPacket, sig: SignaturePacket, now: int) -> bool:
    if key.created > now:
        return True  # a key created after `now` is not valid yet
    if not sig.key_lifetime:
        return False
    return now > key.created + sig.key_lifetime


def check_key_validity(key: Key, sig: SignaturePacket, now: int) -> None:
    """go-crypto checkMessageSignatureDetails at time `now` (Unix seconds); raises PGPError."""
    identity = key.entity.primary_identity()
    primary_sig = identity.self_signature if identity else None
    if primary_sig is None:
        raise StructuralError("no self-signature found")  # go-crypto would dereference nil here
    by_subkey = key.key is not key.entity.primary
    to_check = [sig, primary_sig]
    if by_subkey and key.self_signature is not None:
        to_check.append(key.self_signature)
        if key.self_signature.embedded is not None:
            to_check.append(key.self_signature.embedded)
    for checked in to_check:
        if checked.critical_notations:
            raise SignatureError("unknown critical notation: " + checked.critical_notations[0])
    if _revoked(key.entity.revocations, now) or (by_subkey and _revoked(key.revocations, now)) or (
        identity is not None and _revoked(identity.revocations, now)
    ):
        raise PGPError(KEY_REVOKED)
    if _key_expired(key.entity.primary, primary_sig, now):
        raise PGPError(KEY_EXPIRED)
    if by_subkey and key.self_signature is not None and _key_expired(key.key, key.self_signature, now):
        raise PGPError(KEY_EXPIRED)
    if any(s.sig_expired(now) for s in to_check):
        raise PGPError(SIGNATURE_EXPIRED)

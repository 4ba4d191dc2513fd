"""OpenPGP packet sequences (RFC 4880 §4 / RFC 9580 §4) as ProtonMail go-crypto v1.4.1 reads them.

Owns: go-crypto's packet.Reader over bytes: old and new packet headers,
their lengths (partial lengths included), which tag goes to which parser,
which packets a reader skips (markers, unknown and unsupported ones) and how
far it moves after a bad one; and the small packets a key holds besides keys
and signatures (user IDs, RFC 9580 §5.11, and the ones a keyring ignores).

Why by hand: Rekor stores keys re-serialized by go-crypto; no Python OpenPGP
library reproduces those bytes (see docs/decisions/2026-12-01-pgp-library.md).

Leaves to others: the error kinds, body reader and header writer (pgp_wire),
key packets (pgp_key_packets), signature packets (pgp_signature_packets),
which packets form an entity (pgp_entity), signature mathematics
(pgp_verify), armor (pgp_armor).
"""

from __future__ import annotations

from dataclasses import dataclass

from rekor_py.pki.pgp_key_packets import PublicKeyPacket, parse_public_key
from rekor_py.pki.pgp_signature_packets import SignaturePacket, parse_signature
from rekor_py.pki.pgp_wire import (
    TAG_MARKER,
    TAG_PUBLIC_KEY,
    TAG_PUBLIC_SUBKEY,
    TAG_SECRET_KEY,
    TAG_SECRET_SUBKEY,
    TAG_SIGNATURE,
    TAG_TRUST,
    TAG_USER_ID,
    UNEXPECTED_EOF,
    CriticalUnknownPacketTypeError,
    Cursor,
    PGPError,
    StructuralError,
    UnknownPacketTypeError,
    UnsupportedError,
    serialize_header,
)

__all__ = ["OtherPacket", "Packet", "PacketReader", "UserIdPacket"]

# Packets go-crypto parses (and, in a keyring, ignores) besides the tags imported above.
_OTHER_KNOWN_TAGS = frozenset({1, 3, 4, 8, 9, 11, 17, 18, 20, 21})


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
        cursor = Cursor(body, truncated=self._truncated)
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


def _parse(tag: int, cursor: Cursor) -> Packet:
    if tag == TAG_SIGNATURE:
        return parse_signature(cursor)
    if tag in (TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
        secret = tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY)
        key = parse_public_key(cursor, tag in (TAG_PUBLIC_SUBKEY, TAG_SECRET_SUBKEY), secret)
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

"""OpenPGP wire basics every packet module shares, as ProtonMail go-crypto v1.4.1 has them.

Owns: the packet tags (RFC 9580 §5), go-crypto's error kinds and their
texts, the bounded reader over one packet body (Go's spanReader and readFull,
with MPIs, RFC 9580 §3.2, and length-prefixed curve OIDs), and go-crypto's
serializeHeader: a new-format packet header with the shortest length
(RFC 9580 §4.2).

Leaves to others: splitting input into packets and the simple packets
(pgp_packets), key packets (pgp_key_packets), signature packets and their
subpackets (pgp_signature_packets).
"""

from __future__ import annotations

__all__ = [
    "CriticalUnknownPacketTypeError",
    "Cursor",
    "InvalidArgumentError",
    "PGPError",
    "SignatureError",
    "StructuralError",
    "UnknownPacketTypeError",
    "UnsupportedError",
    "mpi_value",
    "serialize_header",
]

# Packet tags (RFC 9580 §5).
TAG_SIGNATURE, TAG_SECRET_KEY, TAG_PUBLIC_KEY, TAG_SECRET_SUBKEY = 2, 5, 6, 7
TAG_MARKER, TAG_TRUST, TAG_USER_ID, TAG_PUBLIC_SUBKEY = 10, 12, 13, 14

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


class Cursor:
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


# ---- writing a packet header ----------------------------------------------------------


def serialize_header(tag: int, length: int) -> bytes:
    """go-crypto serializeHeader: a new-format tag and the shortest length encoding."""
    if length < 192:
        encoded = bytes([length])
    elif length < 8384:
        encoded = bytes([((length - 192) >> 8) + 192, (length - 192) & 0xFF])
    else:
        encoded = b"\xff" + length.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + encoded

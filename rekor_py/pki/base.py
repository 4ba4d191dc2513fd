"""The small protocol every signature format shares: x509, PGP, SSH and minisign.

A format module parses a key from the bytes a client sent, re-encodes it in
the one canonical form Rekor stores, names the identities it carries (for the
search index), and verifies signatures. Formats raise the errors below with a
client-safe reason; the entry types turn them into InvalidEntry, adding the
context Rekor adds (e.g. "verifying signature: ...").  A format never imports
another format and knows nothing about entry kinds or HTTP.
"""

from __future__ import annotations

import binascii
import re
from typing import Literal, Protocol, Self

__all__ = [
    "HashName",
    "decode_std_base64",
    "InvalidKeyError",
    "InvalidSignatureError",
    "PKIError",
    "PublicKey",
    "Signature",
]

# The digest names hashedrekord uses on the wire (its `data.hash.algorithm` enum).
HashName = Literal["sha256", "sha384", "sha512"]


# Standard base64 with mandatory `=` padding (RFC 4648 §4), whole quanta only.
_STD_B64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def decode_std_base64(data: bytes) -> bytes | None:
    """Decode like Go's base64.StdEncoding.Decode; None where Go reports an error.

    Go skips every CR and LF (anywhere, even inside padding), requires padding
    and rejects any other byte, including spaces. It ignores non-zero trailing
    bits (StdEncoding is not Strict), and so does binascii.
    """
    stripped = data.replace(b"\r", b"").replace(b"\n", b"")
    if _STD_B64.fullmatch(stripped) is None:
        return None
    return binascii.a2b_base64(stripped)


class PKIError(ValueError):
    """Base of the format errors; str(e) is safe to show a client."""


class InvalidKeyError(PKIError):
    """The key (or certificate, or chain) does not parse or is not acceptable."""


class InvalidSignatureError(PKIError):
    """The signature is malformed or does not verify under the key."""


class PublicKey(Protocol):
    """A parsed public key of one signature format.

    Implementations are immutable and cheap to keep; parsing does all checks
    that do not need a signature, so a parsed key is always canonicalizable.
    """

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse the bytes a client supplied; raises InvalidKeyError."""
        ...

    def canonical_value(self) -> bytes:
        """The exact bytes Rekor stores for this key (deterministic)."""
        ...

    def identities(self) -> list[str]:
        """Subjects this key speaks for (SANs, emails), in the format's order; may be empty."""
        ...

    def verify(self, signature: bytes, data: bytes) -> None:
        """Verify `signature` over the whole message `data`; raises InvalidSignatureError."""
        ...

    def verify_digest(self, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        """Verify `signature` over a precomputed digest (hashedrekord); raises InvalidSignatureError.

        Formats that cannot sign a prehash raise InvalidSignatureError.
        """
        ...


class Signature(Protocol):
    """A parsed detached signature of one signature format (rekord's `signature.content`).

    Parsing checks the encoding only; `verify` checks it against a key of the
    same format.  Implementations are immutable.
    """

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse the bytes a client supplied; raises InvalidSignatureError."""
        ...

    def canonical_value(self) -> bytes:
        """The exact bytes Rekor stores for this signature (deterministic)."""
        ...

    def verify(self, data: bytes, key: PublicKey) -> None:
        """Verify this signature over the whole message `data` with `key`; raises InvalidSignatureError.

        `key` must be of this signature's format (a parsed key of another format
        raises InvalidSignatureError, never TypeError).
        """
        ...

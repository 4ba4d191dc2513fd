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
from typing import Literal, Protocol, Self

__all__ = [
    "HashName",
    "InputLimitError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "PKIError",
    "PublicKey",
    "Signature",
    "decode_std_base64",
    "decode_url_base64",
    "is_padded_std_base64",
]

# The digest names hashedrekord uses on the wire (its `data.hash.algorithm` enum).
HashName = Literal["sha256", "sha384", "sha512"]


_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def decode_std_base64(data: bytes) -> bytes | None:
    """Decode like Go's base64.StdEncoding.Decode; None where Go reports an error.

    Go skips every CR and LF (anywhere, even inside padding), requires padding
    and rejects any other byte, including spaces. It ignores non-zero trailing
    bits (StdEncoding is not Strict), and so does binascii.
    """
    stripped = _padded_base64(data, _STD_ALPHABET)
    return None if stripped is None else binascii.a2b_base64(stripped)


def decode_url_base64(data: bytes) -> bytes | None:
    """Decode like Go's base64.URLEncoding.Decode (padding required); None where Go errs."""
    stripped = _padded_base64(data, _URL_ALPHABET)
    if stripped is None:
        return None
    return binascii.a2b_base64(stripped.translate(bytes.maketrans(b"-_", b"+/")))


def is_padded_std_base64(text: str | bytes) -> bool:
    """Whether `text` is whole, padded quanta of standard base64 (no line breaks, may be empty).

    What the schemas' base64 patterns and Go's decoder accept, checked
    without a regular expression: `re` keeps backtracking state for every
    repetition of a group, so a pattern over a large body costs memory too."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            return False
    return b"\r" not in text and b"\n" not in text and _padded_base64(text, _STD_ALPHABET) is not None


def _padded_base64(data: bytes, alphabet: bytes) -> bytes | None:
    """`data` without CR/LF if it is whole padded quanta of `alphabet`, else None.

    Checked with C-speed bytes operations only (no regular expression), so a
    32 MiB body costs a few copies, not a backtracking match.
    """
    stripped = data.replace(b"\r", b"").replace(b"\n", b"")
    if len(stripped) % 4:
        return None
    body = stripped.rstrip(b"=")
    if len(stripped) - len(body) > 2 or body.translate(None, alphabet):
        return None  # 3+ pad characters, "=" inside, or a byte outside the alphabet
    return stripped


class PKIError(ValueError):
    """Base of the format errors; str(e) is safe to show a client."""


class InvalidKeyError(PKIError):
    """The key (or certificate, or chain) does not parse or is not acceptable."""


class InvalidSignatureError(PKIError):
    """The signature is malformed or does not verify under the key."""


class InputLimitError(InvalidKeyError, InvalidSignatureError):
    """An input exceeds one of rekor_py.limits; str(e) names the limit (a 400, never a 500).

    Both a key and a signature error, so that every caller that maps either
    kind of fault to a client error maps this one too."""


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

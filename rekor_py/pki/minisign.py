"""The minisign signature format, which also covers signify (docs/rekor-compat.md#rekord).

Owns: parsing minisign/signify public keys and signatures the way Rekor's
pkg/pki/minisign does (with jedisct1/go-minisign's decoders), the canonical
bytes Rekor stores for each, and Ed25519 verification, prehashed (`ED`,
BLAKE2b-512 of the data) or not (`Ed`).

Wire formats (all base64 is standard, padded; CR and LF inside it are skipped,
as Go's decoder does):

    key       = b64(alg[2] || keyid[8] || ed25519_pk[32])
    key file  = <any first line> "\\n" key            (minisign.pub, signify .pub)
    sig line  = b64(alg[2] || keyid[8] || ed25519_sig[64])
    .minisig  = <untrusted comment> "\\n" sig line "\\n" <trusted comment> "\\n" b64(global_sig[64])
    signify   = <untrusted comment> "\\n" sig line ["\\n"]

Canonical key: `key` with no newline. Canonical signature:
`"untrusted comment:\\n" + sig line`, no trailing newline; the trusted comment
and the global signature are dropped, so they are never checked (as in Rekor).

Written on `cryptography` and hashlib.blake2b rather than a library: py-minisign
insists on four lines and comment prefixes, so it refuses signify signatures and
Rekor's canonical form; the `minisign` package has been dead since 2020. The
format is small enough to own.

Leaves to others: which entry kinds accept minisign (types/), HTTP (api/).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.pki.base import (
    HashName,
    InvalidKeyError,
    InvalidSignatureError,
    PublicKey,
    decode_std_base64,
)

__all__ = ["MAX_INPUT_BYTES", "MinisignPublicKey", "MinisignSignature"]

# Real keys are ~110 bytes and signatures ~300; the cap only bounds work on junk.
MAX_INPUT_BYTES = 65536

# Signature algorithms (go-minisign's own Verify accepts exactly these two).
ALG_PURE = b"Ed"
ALG_PREHASHED = b"ED"  # minisign >= 0.8 default: Ed25519 over BLAKE2b-512(data)

_NO_KEY_ID = bytes(8)  # Rekor's legacy bare-key form carries no key id


@dataclass(frozen=True)
class MinisignPublicKey:
    """A minisign or signify Ed25519 public key: algorithm, key id and key bytes."""

    algorithm: bytes
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a key file, a bare base64 key, or 32 raw key bytes; raises InvalidKeyError.

        Rekor's order (pkg/pki/minisign NewPublicKey): everything after the
        first LF as a base64 key, then the whole input as one, then 32 raw bytes
        (the legacy form Rekor stored before PR #562: alg `Ed`, key id 0).
        """
        data = bytes(data)
        if len(data) > MAX_INPUT_BYTES:
            raise InvalidKeyError("unable to read minisign public key: input too large")
        first_lf = data.find(b"\n")
        if first_lf >= 0:
            key = _decode_key(data[first_lf + 1 :])
            if key is not None:
                return cls(*key)
        key = _decode_key(data)
        if key is not None:
            return cls(*key)
        if len(data) == 32:
            return cls(ALG_PURE, _NO_KEY_ID, data)
        # go-minisign's NewPublicKey error, wrapped as Rekor wraps it.
        raise InvalidKeyError("unable to read minisign public key: Invalid encoded public key")

    def canonical_value(self) -> bytes:
        """b64(alg || keyid || pubkey), no newline: the form Rekor stores."""
        return base64.b64encode(self.algorithm + self.key_id + self.public_key)

    def identities(self) -> list[str]:
        """Minisign keys name no one (Rekor indexes no subject for them)."""
        return []

    def verify(self, signature: bytes, data: bytes) -> None:
        """Parse `signature` (a .minisig or signify file) and verify it over `data`."""
        MinisignSignature.from_bytes(signature).verify(data, self)

    def verify_digest(self, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        """Minisign signs whole messages only, so this always raises InvalidSignatureError."""
        raise InvalidSignatureError("minisign signatures cannot be verified against a precomputed digest")


def _decode_key(text: bytes) -> tuple[bytes, bytes, bytes] | None:
    # go-minisign NewPublicKey: base64.StdEncoding.DecodeString, exactly 42 bytes.
    raw = decode_std_base64(text)
    if raw is None or len(raw) != 42:
        return None
    return raw[0:2], raw[2:10], raw[10:42]


@dataclass(frozen=True)
class MinisignSignature:
    """The signature line of a minisign or signify signature (comments and global signature dropped)."""

    algorithm: bytes
    key_id: bytes
    signature: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse a 4-line .minisig, else a 2-line signify signature; raises InvalidSignatureError.

        Follows Rekor's NewSignature: go-minisign's DecodeSignature first, and on
        any failure the signify reading, whose errors are the ones reported.
        """
        data = bytes(data)
        if len(data) > MAX_INPUT_BYTES:
            raise InvalidSignatureError("invalid signature provided: input too large")
        parsed = _decode_minisig(data)
        if parsed is None:
            parsed = _decode_signify(data)
        return cls(*parsed)

    def canonical_value(self) -> bytes:
        """`untrusted comment:\\n` + b64(alg || keyid || sig), no trailing newline (Rekor's bytes)."""
        return b"untrusted comment:\n" + base64.b64encode(self.algorithm + self.key_id + self.signature)

    def verify(self, data: bytes, key: PublicKey) -> None:
        """Verify over the whole of `data` with a MinisignPublicKey; raises InvalidSignatureError.

        Stricter than Rekor in two ways, both taken from go-minisign's own
        Verify: the algorithms must be `Ed`/`ED` (key `Ed`), and the key ids
        must match, except for a key with id 0 (Rekor's legacy bare-key form,
        which must keep verifying signatures made by the real key). Rekor
        checks neither and treats any algorithm but `?D` as pure Ed25519.
        """
        if not isinstance(key, MinisignPublicKey):
            raise InvalidSignatureError("cannot use Verify with a non-minisign key")
        if key.algorithm != ALG_PURE:
            raise InvalidSignatureError("Incompatible signature algorithm")
        if self.algorithm not in (ALG_PURE, ALG_PREHASHED):
            raise InvalidSignatureError("Unsupported signature algorithm")
        if key.key_id != _NO_KEY_ID and key.key_id != self.key_id:
            raise InvalidSignatureError("Incompatible key identifiers")
        message = hashlib.blake2b(data).digest() if self.algorithm == ALG_PREHASHED else data
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(key.public_key).verify(self.signature, message)
        except (InvalidSignature, ValueError) as e:
            # sigstore's ED25519Verifier wording, which Rekor passes through.
            raise InvalidSignatureError("failed to verify signature") from e


def _decode_minisig(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """go-minisign DecodeSignature: SplitN(data, "\\n", 4); line 2 is 74 bytes, the rest 64."""
    lines = data.split(b"\n", 3)
    if len(lines) < 4:
        return None
    line = decode_std_base64(lines[1])
    # lines[3] is everything after the third LF: Go decodes all of it, so a
    # trailing newline is fine (LF is skipped) but any further line is not.
    global_sig = decode_std_base64(lines[3])
    if line is None or len(line) != 74 or global_sig is None or len(global_sig) != 64:
        return None
    return line[0:2], line[2:10], line[10:74]


def _decode_signify(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Rekor's signify fallback: exactly two lines once trailing LFs are cut; raises InvalidSignatureError."""
    lines = data.rstrip(b"\n").split(b"\n")
    if len(lines) != 2:
        raise InvalidSignatureError(f"invalid signature provided: {len(lines)} lines detected")
    line = decode_std_base64(lines[1])
    if line is None:
        raise InvalidSignatureError("invalid signature provided: base64 decoding failed")
    if len(line) != 74:
        raise InvalidSignatureError(f"invalid signature provided: incorrect size {len(line)} detected")
    return line[0:2], line[2:10], line[10:74]

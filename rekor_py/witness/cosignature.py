"""Ed25519 checkpoint cosignatures, c2sp.org/tlog-cosignature (signature type 0x04).

A witness cosigns a checkpoint by signing

    "cosignature/v1\n" "time <unix seconds>\n" <checkpoint body>

with Ed25519.  Its signature line is `— <witness name> <base64(key ID ‖ time ‖ sig)>`
where the key ID is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte key)[:4] and time is
an 8-byte big-endian integer.  Its verifier key (vkey) is
`<name>+<hex key ID>+<base64(0x04 ‖ key)>`.  The checkpoint body is the note
text up to its blank line (origin, size, root hash, any extension lines).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.checkpoint import CheckpointError
from rekor_py.log.signer import KeyFileError, Signer, as_signer

__all__ = ["SIG_COSIGNATURE", "CosignatureSigner", "CosignatureVerifier", "Cosigned",
           "signature_lines"]

SIG_COSIGNATURE = 0x04
_LABEL = b"cosignature/v1\n"
_VKEY_RE = re.compile(r"([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})")
_LINE_RE = re.compile("\u2014 ([^\\s+]+) ([A-Za-z0-9+/]+={0,2})\n")
# key ID (4) + timestamp (8) + Ed25519 signature (64)
_SIGNATURE_SIZE = 4 + 8 + 64


def _key_id(name: str, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([SIG_COSIGNATURE]) + raw).digest()[:4]


def _message(body: bytes, timestamp: int) -> bytes:
    return _LABEL + b"time %d\n" % timestamp + body


@dataclass(frozen=True)
class Cosigned:
    """One verified cosignature: who, when (Unix seconds) and its note line."""

    name: str
    timestamp: int
    line: str


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's cosignature key: its name, key ID and raw Ed25519 key."""

    name: str
    key_id: bytes
    key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a type 0x04 vkey; raises CheckpointError for anything else."""
        m = _VKEY_RE.fullmatch(vkey.strip())
        if not m:
            raise CheckpointError(f"not a verifier key: {vkey[:80]!r}")
        try:
            blob = base64.b64decode(m[3], validate=True)
        except (binascii.Error, ValueError) as e:
            raise CheckpointError("verifier key is not valid base64") from e
        if len(blob) != 33 or blob[0] != SIG_COSIGNATURE:
            raise CheckpointError(f"verifier key {m[1]} is not an Ed25519 cosignature key "
                                  "(type 0x04)")
        verifier = cls(m[1], bytes.fromhex(m[2]), blob[1:])
        if _key_id(verifier.name, verifier.key) != verifier.key_id:
            raise CheckpointError(f"verifier key {m[1]}: key ID {m[2]} does not match the key")
        return verifier

    @classmethod
    def of(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> CosignatureVerifier:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name, _key_id(name, raw), raw)

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([SIG_COSIGNATURE]) + self.key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def find(self, note: str, body: bytes) -> Cosigned | None:
        """This witness's valid cosignature among the signature lines of `note` (a
        checkpoint or a witness's answer), over checkpoint `body`.  None if it has
        none; raises CheckpointError if it has a line with our name and key ID that
        does not verify (a witness's answer must not carry a bad one)."""
        for name, blob in signature_lines(note):
            if name != self.name or len(blob) != _SIGNATURE_SIZE or blob[:4] != self.key_id:
                continue
            (timestamp,) = struct.unpack(">Q", blob[4:12])
            try:
                ed25519.Ed25519PublicKey.from_public_bytes(self.key).verify(
                    blob[12:], _message(body, timestamp))
            except (InvalidSignature, ValueError) as e:
                raise CheckpointError(f"cosignature by {self.name} does not verify") from e
            line = f"\u2014 {name} {base64.b64encode(blob).decode()}\n"
            return Cosigned(name, timestamp, line)
        return None


class CosignatureSigner:
    """A witness's Ed25519 key (in memory, or a Signer such as a key in a token) and name."""

    def __init__(self, name: str, key: Signer | ed25519.Ed25519PrivateKey) -> None:
        signer = as_signer(key)
        public = signer.public_key
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise KeyFileError(f"a witness key must be Ed25519, not {signer!r}")
        self.verifier = CosignatureVerifier.of(name, public)
        self._key = signer

    def cosign(self, body: bytes, timestamp: int | None = None) -> str:
        """The signature line cosigning checkpoint `body` (now, by default)."""
        when = int(time.time()) if timestamp is None else timestamp
        sig = self._key.sign(_message(body, when))
        blob = self.verifier.key_id + struct.pack(">Q", when) + sig
        return f"\u2014 {self.verifier.name} {base64.b64encode(blob).decode()}\n"


def signature_lines(text: str) -> list[tuple[str, bytes]]:
    """(name, decoded signature) of each well-formed signature line in `text`;
    other lines are skipped (a note's body, an answer's blank lines)."""
    out = []
    for line in text.splitlines(keepends=True):
        m = _LINE_RE.fullmatch(line if line.endswith("\n") else line + "\n")
        if not m:
            continue
        try:
            out.append((m[1], base64.b64decode(m[2], validate=True)))
        except (binascii.Error, ValueError):
            continue
    return out

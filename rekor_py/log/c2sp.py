"""C2SP checkpoints for the tile API: note keys, key IDs, vkeys, signing and verifying.

This module owns the c2sp.org/tlog-checkpoint form of the log's tree head, which
the tile API serves at `<prefix>/checkpoint`.  The Rekor v1 form (origin
"<hostname> - <tree_id>", key hint SHA-256(SPKI)[:4], key name = bare hostname)
stays in checkpoint.py; the note grammar (body lines, signature lines, strict
parsing) is shared with it through `Checkpoint` and `parse_checkpoint`.

Exact bytes of a served checkpoint (`—` is U+2014, `\\n` is 0x0A):

    <origin>\\n                          e.g. "rekor.example.org" or "rekor.example.org/tiles"
    <tree size>\\n                       decimal, no leading zeros
    <b64 root hash>\\n
    \\n
    — <origin> <b64(key ID ‖ ECDSA DER signature)>\\n     by the log key (type 0x02)
    — <origin> <b64(key ID ‖ Ed25519 signature)>\\n       by the note key (type 0x01)

Both signatures cover the three body lines.  Key names equal the origin, as
tlog-checkpoint recommends.  Key IDs follow c2sp.org/signed-note:

- Ed25519 (type 0x01): SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4].
- ECDSA (type 0x02): SHA-256(DER SubjectPublicKeyInfo)[:4].  signed-note assigns
  0x02 to ECDSA with exactly this ID, which is also Rekor v1's key hint, so the
  line verifies with Rekor's own checkpoint code.  The name is not part of it.
- An Ed25519 log key gets a type 0x01 line (name-bound ID); an RSA log key has
  no signed-note type and signs no C2SP line (the Ed25519 line remains).

Verifier keys ("vkeys"), one a line, as served at `<prefix>/checkpoint.vkeys`:
`<name>+<8 hex key ID>+<base64(type ‖ key)>`, where key is the raw 32 bytes for
Ed25519 and the DER SubjectPublicKeyInfo for ECDSA.  Extending: another signer
adds another signature line and another vkey line; verifiers ignore signatures
whose (name, key ID) they do not know.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from rekor_py.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteSignature,
    parse_checkpoint,
)
from rekor_py.log.signer import (
    FileKey,
    KeyFileError,
    LogSigner,
    LogVerifier,
    SignatureError,
    Signer,
    as_signer,
    signs_in_memory,
)
from rekor_py.storage.log_store import TreeRow

__all__ = [
    "shard_c2sp_origin",
    "TreeNotaries",
    "SIG_ECDSA",
    "SIG_ED25519",
    "CheckpointNotary",
    "NoteSigner",
    "NoteVerifier",
    "c2sp_origin",
    "ed25519_key_id",
    "ed25519_log_id",
    "format_c2sp_checkpoint",
    "load_or_create_note_key",
    "verify_c2sp_checkpoint",
]

SIG_ED25519 = 0x01
SIG_ECDSA = 0x02
_KEY_ID_SIZE = 4
_VKEY_RE = re.compile(r"([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})")


def c2sp_origin(checkpoint_name: str, tile_prefix: str) -> str:
    """The tile API's origin: the URL prefix without scheme, "<name><prefix>"."""
    return (checkpoint_name + tile_prefix).rstrip("/")


def shard_c2sp_origin(base: str, tree_id: int) -> str:
    """The tile API's origin for a v1 tree that a rotation started: "<base>/<tree ID>".
    Not Rekor's " - <tree ID>": a signed-note key name, which the origin is for our
    note keys, may hold no space."""
    return f"{base}/{tree_id}"


def ed25519_log_id(name: str, raw_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key): all 32 bytes, the log ID Sigstore
    clients give a Rekor v2 log (its first 4 bytes are the note key ID)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([SIG_ED25519]) + raw_key).digest()


def ed25519_key_id(name: str, raw_key: bytes) -> bytes:
    """SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw key)[:4] (c2sp.org/signed-note)."""
    return ed25519_log_id(name, raw_key)[:_KEY_ID_SIZE]


def _ed25519_raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    """A (name, key ID, type, key) that can check one signature line.

    `key` is the raw Ed25519 key (type 0x01) or the DER SPKI (type 0x02).
    Build with `ed25519`, `ecdsa` or `from_vkey`."""

    name: str
    key_id: bytes
    sig_type: int
    key: bytes

    @classmethod
    def ed25519(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> NoteVerifier:
        raw = _ed25519_raw(public_key)
        return cls(name, ed25519_key_id(name, raw), SIG_ED25519, raw)

    @classmethod
    def ecdsa(cls, name: str, log_key: LogVerifier) -> NoteVerifier:
        """Requires an ECDSA key; its ID is the Rekor key hint SHA-256(SPKI)[:4]."""
        if not isinstance(log_key.public_key, ec.EllipticCurvePublicKey):
            raise KeyFileError("a type 0x02 note key must be ECDSA")
        return cls(name, log_key.key_hint, SIG_ECDSA, log_key.spki_der)

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse `<name>+<hex ID>+<b64(type ‖ key)>`; checks that the ID matches.

        Raises CheckpointError for anything else (unknown types included)."""
        m = _VKEY_RE.fullmatch(vkey.strip())
        if not m:
            raise CheckpointError(f"not a verifier key: {vkey[:80]!r}")
        name, key_id = m[1], bytes.fromhex(m[2])
        try:
            blob = base64.b64decode(m[3], validate=True)
        except (binascii.Error, ValueError) as e:
            raise CheckpointError("verifier key is not valid base64") from e
        # Python's decoder tolerates surplus "=" after the padding; a key must have
        # one spelling, or two vkey strings could name the same key.
        if base64.b64encode(blob).decode() != m[3]:
            raise CheckpointError("verifier key is not canonical base64")
        if not blob:
            raise CheckpointError("verifier key is empty")
        sig_type, key = blob[0], blob[1:]
        if sig_type == SIG_ED25519 and len(key) == 32:
            verifier = cls(name, ed25519_key_id(name, key), SIG_ED25519, key)
        elif sig_type == SIG_ECDSA:
            try:
                verifier = cls.ecdsa(name, LogVerifier.from_der(key))
            except KeyFileError as e:
                raise CheckpointError(f"verifier key {name}: {e}") from e
        else:
            raise CheckpointError(f"verifier key {name}: unsupported type {sig_type:#04x}")
        if verifier.key_id != key_id:
            raise CheckpointError(f"verifier key {name}: key ID {m[2]} does not match the key")
        return verifier

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([self.sig_type]) + self.key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check one signature over `message`; raises SignatureError."""
        if self.sig_type == SIG_ECDSA:
            LogVerifier.from_der(self.key).verify(signature, message)
            return
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.key).verify(signature, message)
        except (InvalidSignature, ValueError) as e:
            raise SignatureError(f"Ed25519 signature by {self.name} does not verify") from e


@dataclass(frozen=True)
class NoteSigner:
    """A verifier plus the function that makes its signatures."""

    verifier: NoteVerifier
    sign: Callable[[bytes], bytes]
    # False for a key in a token: its signatures are made off the event loop.
    in_memory: bool = True

    @classmethod
    def ed25519(cls, name: str, key: Signer | ed25519.Ed25519PrivateKey) -> NoteSigner:
        """An Ed25519 key (in memory or in a token) as a type 0x01 signer."""
        signer = as_signer(key)
        public = signer.public_key
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise KeyFileError(f"a type 0x01 note key must be Ed25519, not {signer!r}")
        return cls(NoteVerifier.ed25519(name, public), signer.sign, signs_in_memory(signer))

    @classmethod
    def for_log_key(cls, name: str, signer: LogSigner) -> NoteSigner | None:
        """The log key's signer: ECDSA as type 0x02, Ed25519 as 0x01, RSA: None."""
        key = signer.public_key
        in_memory = signs_in_memory(signer.signer)
        if isinstance(key, ec.EllipticCurvePublicKey):
            return cls(NoteVerifier.ecdsa(name, signer.verifier), signer.sign, in_memory)
        if isinstance(key, ed25519.Ed25519PublicKey):
            return cls(NoteVerifier.ed25519(name, key), signer.sign, in_memory)
        return None


def format_c2sp_checkpoint(cp: Checkpoint, signers: Sequence[NoteSigner]) -> str:
    """The signed note: body, blank line, one line per signer, in order.

    Requires at least one signer; raises SigningError if signing fails."""
    if not signers:
        raise ValueError("a checkpoint needs at least one signer")
    body = cp.body()
    lines = [NoteSignature(s.verifier.name, s.verifier.key_id, s.sign(body)).format()
             for s in signers]
    return body.decode() + "\n" + "".join(lines)


def verify_c2sp_checkpoint(text: str, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    """Parse strictly and require a valid signature by EVERY one of `verifiers`.

    Signature lines whose (name, key ID) no verifier knows are ignored; a known
    line that fails rejects the note (c2sp.org/signed-note).  Raises CheckpointError.
    """
    if not verifiers:
        raise CheckpointError("no verifier keys to check the checkpoint with")
    signed = parse_checkpoint(text)
    body = signed.checkpoint.body()
    for v in verifiers:
        lines = [s for s in signed.signatures if (s.name, s.key_hint) == (v.name, v.key_id)]
        if not lines:
            raise CheckpointError(f"checkpoint is not signed by {v.name}+{v.key_id.hex()}")
        for line in lines:
            try:
                v.verify(line.signature, body)
            except SignatureError as e:
                raise CheckpointError(
                    f"checkpoint signature by {v.name}+{v.key_id.hex()} does not verify") from e
    return signed.checkpoint


def load_or_create_note_key(path: Path) -> FileKey:
    """The Ed25519 note key at `path` (unencrypted PEM), created there (0600) if absent.

    Reuses LogSigner's file handling: refuses symlinks, non-regular files and
    group/other-accessible modes, and creates atomically (temp file + link), so
    concurrent first starts agree on one key.  Raises KeyFileError.
    """
    try:
        loaded = LogSigner._load_file(path, None)
    except FileNotFoundError:
        fresh = LogSigner(ed25519.Ed25519PrivateKey.generate())
        loaded = fresh if fresh._create_file(path, None) else LogSigner._load_file(path, None)
    key = loaded.signer
    if not isinstance(key, FileKey) or not isinstance(key.public_key, ed25519.Ed25519PublicKey):
        raise KeyFileError(f"note key {path} is not an Ed25519 key")
    return key


class CheckpointNotary:
    """Signs C2SP checkpoints for one origin, caching the note of the latest head.

    Signing happens when a head is first served; a later request for the same
    (size, root) gets the cached text (ECDSA signatures are randomized, so this
    also keeps one note per head)."""

    def __init__(self, origin: str, signers: Sequence[NoteSigner]) -> None:
        Checkpoint(origin, 0, bytes(32))  # checks the origin line
        if not signers:
            raise ValueError("a checkpoint needs at least one signer")
        self.origin = origin
        self.signers = tuple(signers)
        self._last: tuple[int, bytes, str] | None = None

    @property
    def verifiers(self) -> tuple[NoteVerifier, ...]:
        return tuple(s.verifier for s in self.signers)

    def vkeys(self) -> str:
        """One vkey per line, in signature order."""
        return "".join(v.vkey + "\n" for v in self.verifiers)

    def checkpoint(self, size: int, root_hash: bytes) -> str:
        last = self._last
        if last is not None and last[0] == size and last[1] == root_hash:
            return last[2]
        text = format_c2sp_checkpoint(Checkpoint(self.origin, size, root_hash), self.signers)
        self._last = (size, root_hash, text)
        return text

    async def checkpoint_async(self, size: int, root_hash: bytes) -> str:
        """`checkpoint`, signing in a thread when a key is in a token (a device call
        must not hold the event loop); the cached note of the latest head is free."""
        last = self._last
        if (last is not None and last[0] == size and last[1] == root_hash) or all(
                s.in_memory for s in self.signers):
            return self.checkpoint(size, root_hash)
        return await asyncio.to_thread(self.checkpoint, size, root_hash)


class TreeNotaries:
    """The C2SP checkpoint notary of each tree a tile API serves, made once per tree
    by `make`.  A Rekor v1 rotation starts a new tree, which is a new C2SP log
    (another origin, maybe another key) at the same URLs."""

    def __init__(self, make: Callable[[TreeRow], CheckpointNotary]) -> None:
        self._make = make
        self._by_tree: dict[int, CheckpointNotary] = {}

    @classmethod
    def fixed(cls, notary: CheckpointNotary) -> TreeNotaries:
        """One notary whatever the tree (a log that never rotates: Rekor v2)."""
        return cls(lambda _tree: notary)

    def for_tree(self, tree: TreeRow) -> CheckpointNotary:
        notary = self._by_tree.get(tree.tree_id)
        if notary is None:
            notary = self._by_tree[tree.tree_id] = self._make(tree)
        return notary

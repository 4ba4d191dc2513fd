"""Rekor v1 checkpoints: signed-note text over (origin, tree size, root hash).

This module owns the checkpoint wire format (docs/rekor-compat.md#checkpoint):
building and signing one, and parsing and verifying one.  The key and its
signature scheme belong to signer.py; which tree size and root to sign is the
sequencer's business.

Exact bytes (UTF-8), with `\\n` = 0x0A and `—` = U+2014 EM DASH (E2 80 94):

    <origin>\\n                       "<hostname> - <tree_id decimal>"
    <tree size>\\n                    decimal, no sign, no leading zeros ("0" when empty)
    <b64 root hash>\\n                standard base64 with padding of 32 bytes (44 chars)
    [<extra line>\\n ...]             optional, non-empty; signed (e.g. old "Timestamp: <ns>")
    \\n                               the blank line: the note ends before it
    — <name> <b64(key_hint ‖ sig)>\\n one or more signature lines

- The signed message is the note body: everything up to and including the newline
  before the blank line.  The signature block starts after the LAST "\\n\\n".
- Rekor's key name is the bare hostname, not the origin
  (docs/rekor-compat.md#trap-checkpoint-name), and the key hint is
  SHA-256(DER SPKI)[:4] for every key type, i.e. log_id[:4]
  (docs/rekor-compat.md#trap-key-hint).
- Extending: new information goes into extra lines, which are part of the signed
  body; parsers keep them verbatim.  Rekor wrote `Timestamp: <unix ns>` there
  until v1.3.5, and such checkpoints still appear in old bundles.

The parser accepts only canonical input (so `Checkpoint.body()` reproduces the
signed bytes exactly) and refuses text over MAX_CHECKPOINT_BYTES.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from rekor_py.log.signer import LogSigner, LogVerifier, SignatureError

__all__ = [
    "MAX_CHECKPOINT_BYTES",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "NoteSignature",
    "SignedCheckpoint",
    "format_checkpoint",
    "origin_for",
    "parse_checkpoint",
    "verify_checkpoint",
]

# C2SP signed-note asks verifiers to take at least 16 signatures of up to ~5 kB
# (post-quantum); 128 KiB leaves room for that and stops a hostile megabyte.
MAX_CHECKPOINT_BYTES = 128 * 1024
MAX_SIGNATURES = 64
_HASH_SIZE = 32
_MAX_TREE_SIZE = (1 << 63) - 1  # Rekor stores sizes as int64
_KEY_HINT_SIZE = 4
_DASH = "\u2014 "
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,18}")
# No control characters except the newlines that structure the note (c2sp.org/signed-note).
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class CheckpointError(ValueError):
    """A checkpoint that does not parse, or whose signature does not verify."""


def origin_for(hostname: str, tree_id: int) -> str:
    """The origin line Rekor writes: "<hostname> - <tree_id decimal>"."""
    return f"{hostname} - {tree_id}"


@dataclass(frozen=True)
class Checkpoint:
    """The signed body of a checkpoint.  Requires 0 <= size < 2**63, a 32-byte root."""

    origin: str
    size: int
    root_hash: bytes
    extra_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int) \
                or not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(f"tree size must be an int in [0, 2**63), got {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _HASH_SIZE:
            raise CheckpointError("root hash must be 32 bytes")
        for line in self.extra_lines:
            _check_line("extra line", line)

    def body(self) -> bytes:
        """The exact signed note body: every line followed by "\\n"."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(),
                 *self.extra_lines]
        return "".join(line + "\n" for line in lines).encode()


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key hint, raw signature bytes."""

    name: str
    key_hint: bytes
    signature: bytes

    def format(self) -> str:
        """The line, "— <name> <b64(key_hint ‖ signature)>\\n"."""
        return f"{_DASH}{self.name} {base64.b64encode(self.key_hint + self.signature).decode()}\n"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A parsed checkpoint and its signature lines, in input order."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]


def _check_line(what: str, line: str) -> None:
    """A body line: a non-empty str without newlines or control characters."""
    if not isinstance(line, str) or not line:
        raise CheckpointError(f"{what} must be a non-empty string")
    if "\n" in line or _CONTROL_RE.search(line):
        raise CheckpointError(f"{what} must not contain control characters or newlines")


def _check_name(name: str) -> None:
    """A key name: non-empty, no whitespace, no "+" (C2SP signed-note)."""
    if not name or any(c.isspace() or c == "+" for c in name) or _CONTROL_RE.search(name):
        raise CheckpointError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def format_checkpoint(cp: Checkpoint, signer: LogSigner, name: str) -> str:
    """The full signed note: body, blank line, one signature line by `signer` as `name`.

    `name` is the bare hostname for Rekor compatibility
    (docs/rekor-compat.md#trap-checkpoint-name).  Raises
    CheckpointError for an invalid name, SigningError if signing fails.
    """
    _check_name(name)
    body = cp.body()
    sig = NoteSignature(name, signer.key_hint, signer.sign(body))
    return body.decode() + "\n" + sig.format()


def parse_checkpoint(text: str) -> SignedCheckpoint:
    """Parse a signed-note checkpoint strictly (module docstring); raises CheckpointError."""
    if not isinstance(text, str):
        raise CheckpointError("checkpoint must be text")
    if len(text) > MAX_CHECKPOINT_BYTES or len(text.encode()) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint is larger than {MAX_CHECKPOINT_BYTES} bytes")
    if _CONTROL_RE.search(text):
        raise CheckpointError("checkpoint contains control characters")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("checkpoint has no blank line before the signatures")
    body, block = text[: split + 1], text[split + 2:]
    if not block:
        raise CheckpointError("checkpoint has no signature line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"checkpoint has more than {MAX_SIGNATURES} signatures")
    signatures = tuple(_parse_signature_line(line) for line in lines)
    return SignedCheckpoint(_parse_body(body), signatures)


def _parse_body(body: str) -> Checkpoint:
    """Parse "<origin>\\n<size>\\n<b64 root>\\n[<extra>\\n...]"; `body` ends with "\\n"."""
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, tree size and root hash lines")
    origin, size_text, root_text, *extra = lines
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if not _SIZE_RE.fullmatch(size_text) or int(size_text) > _MAX_TREE_SIZE:
        raise CheckpointError(
            f"checkpoint tree size {size_text[:32]!r} is not a decimal int64 without leading zeros"
        )
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != _HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, want 32")
    if any(not line for line in extra):
        raise CheckpointError("checkpoint body has an empty line")
    return Checkpoint(origin, int(size_text), root, tuple(extra))


def _parse_signature_line(line: str) -> NoteSignature:
    """Parse "— <name> <b64(key_hint ‖ sig)>" (without its newline)."""
    if not line.startswith(_DASH):
        raise CheckpointError("signature line must start with an EM DASH (U+2014) and a space")
    parts = line[len(_DASH):].split(" ")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise CheckpointError("signature line must be '— <name> <base64>'")
    name, encoded = parts
    _check_name(name)
    raw = _b64decode(encoded, "signature")
    if len(raw) <= _KEY_HINT_SIZE:
        raise CheckpointError("signature is too short: needs a 4-byte key hint and a signature")
    return NoteSignature(name, raw[:_KEY_HINT_SIZE], raw[_KEY_HINT_SIZE:])


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padded, canonical, nothing outside the alphabet."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CheckpointError(f"{what} is not valid base64") from e
    if base64.b64encode(raw).decode() != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def verify_checkpoint(text: str, verifier: LogVerifier, *, name: str | None = None) -> Checkpoint:
    """Parse `text` and verify the signature made by `verifier`'s key; return the body.

    The signatures considered are those whose key hint is verifier.key_hint (and whose
    name is `name`, when given).  At least one must exist, and every one of them must
    verify over the body bytes (C2SP: a known key's bad signature rejects the note).
    Raises CheckpointError.
    """
    signed = parse_checkpoint(text)
    candidates = [s for s in signed.signatures
                  if s.key_hint == verifier.key_hint and (name is None or s.name == name)]
    if not candidates:
        wanted = f" named {name!r}" if name is not None else ""
        raise CheckpointError(
            f"checkpoint has no signature{wanted} with key hint {verifier.key_hint.hex()}"
        )
    body = signed.checkpoint.body()
    for sig in candidates:
        try:
            verifier.verify(sig.signature, body)
        except SignatureError as e:
            raise CheckpointError(
                f"checkpoint signature by {sig.name!r} does not verify under log key "
                f"{verifier.log_id_hex}"
            ) from e
    return signed.checkpoint

"""Building the entries the client uploads, and checking them before they leave.

Owns reading the user's files (artifact, signature, public key or certificate)
into a hashedrekord 0.0.1 or rekord 0.0.1 proposed entry, and verifying it
with the server's own parser (rekor_py.types), so a bad signature is reported
locally with the message the server would give, and the log's answer can be
checked against the exact leaf we expect.  Raises InputError, fit for a terminal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekor_py.errors import RekorError
from rekor_py.types import parse_entry

__all__ = ["ENTRY_TYPES", "InputError", "Proposal", "artifact_digest", "hashedrekord_proposal",
           "read_file", "rekord_proposal", "signature_bytes"]

ENTRY_TYPES = ("hashedrekord", "rekord")  # the kinds `upload` builds from files
_MAX_INPUT = 64 * 1024 * 1024
_DIGEST_RE = re.compile(r"(sha256|sha384|sha512):([0-9a-fA-F]+)")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
# A signature file holding base64 text (cosign writes these) rather than raw bytes.
_B64_TEXT_RE = re.compile(rb"[A-Za-z0-9+/]+={0,2}\s*")


class InputError(ValueError):
    """The user's input is unusable (missing file, bad hash, signature that fails)."""


@dataclass(frozen=True)
class Proposal:
    """A proposed entry that verified locally, and the leaf the log must store for it."""

    proposed: dict[str, Any]
    canonical_body: bytes


def read_file(path: Path, what: str) -> bytes:
    """The file's bytes (at most 64 MiB); raises InputError."""
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_INPUT + 1)
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > _MAX_INPUT:
        raise InputError(f"{what} {path} is larger than 64 MiB")
    return data


def artifact_digest(artifact: Path | None, artifact_hash: str | None) -> tuple[str, str]:
    """(algorithm, lowercase hex) from a file (SHA-256) or "alg:hex"; raises InputError."""
    if artifact is not None:
        h = hashlib.sha256()
        try:
            with open(artifact, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as e:
            raise InputError(f"cannot read artifact {artifact}: {e.strerror}") from None
        return "sha256", h.hexdigest()
    assert artifact_hash is not None
    match = _DIGEST_RE.fullmatch(artifact_hash.strip())
    if match is None or len(match.group(2)) != _DIGEST_LENGTHS[match.group(1)]:
        raise InputError(f"--artifact-hash must be sha256:, sha384: or sha512: and the "
                         f"digest's hex, got {artifact_hash[:140]!r}")
    return match.group(1), match.group(2).lower()


def signature_bytes(raw: bytes) -> bytes:
    """Raw signature bytes; a file of base64 text is decoded (DER never looks like that)."""
    if _B64_TEXT_RE.fullmatch(raw):
        try:
            return base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            pass
    return raw


def hashedrekord_proposal(digest: tuple[str, str], signature: bytes,
                          public_key: bytes) -> Proposal:
    """A hashedrekord 0.0.1 ProposedEntry, verified as the server would; raises InputError."""
    algorithm, value = digest
    return _checked({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": value}},
            "signature": {
                "content": base64.b64encode(signature_bytes(signature)).decode(),
                "publicKey": {"content": base64.b64encode(public_key).decode()},
            },
        },
    })


def rekord_proposal(artifact: bytes, signature: bytes, public_key: bytes,
                    pki_format: str) -> Proposal:
    """A rekord 0.0.1 ProposedEntry (the artifact inline), verified as the server would.

    x509 signature files may be base64 text; the other formats' files are sent
    as they are (armor and all).  Raises InputError.
    """
    if pki_format == "x509":
        signature = signature_bytes(signature)
    return _checked({
        "apiVersion": "0.0.1",
        "kind": "rekord",
        "spec": {
            "data": {"content": base64.b64encode(artifact).decode()},
            "signature": {
                "format": pki_format,
                "content": base64.b64encode(signature).decode(),
                "publicKey": {"content": base64.b64encode(public_key).decode()},
            },
        },
    })


def _checked(proposed: dict[str, Any]) -> Proposal:
    try:
        body = parse_entry(proposed, insertable_kinds=None).canonicalize()
    except RekorError as e:
        raise InputError(e.client_message) from e
    return Proposal(proposed, body)

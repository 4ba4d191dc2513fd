"""Signature formats: parse keys, canonicalize them, verify signatures (no I/O).

Each format lives in its own module and shares the protocols in base.py; a
format never imports another. This package owns the one table of formats by
their wire name (rekord's `signature.format`, SearchIndex's `publicKey.format`);
entry types pick the formats they accept from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rekor_py.pki.base import (
    HashName,
    InvalidKeyError,
    InvalidSignatureError,
    PKIError,
    PublicKey,
    Signature,
    decode_std_base64,
)
from rekor_py.pki.ed25519ph import Ed25519phError, verify_ed25519ph
from rekor_py.pki.minisign import MinisignPublicKey, MinisignSignature
from rekor_py.pki.pgp import PGPPublicKey, PGPSignature
from rekor_py.pki.ssh import SSHPublicKey, SSHSignature
from rekor_py.pki.x509 import X509PublicKey, X509Signature

__all__ = [
    "FORMATS",
    "Ed25519phError",
    "HashName",
    "InvalidKeyError",
    "InvalidSignatureError",
    "MinisignPublicKey",
    "MinisignSignature",
    "PGPPublicKey",
    "PGPSignature",
    "PKIError",
    "PKIFormat",
    "PublicKey",
    "SSHPublicKey",
    "SSHSignature",
    "Signature",
    "X509PublicKey",
    "X509Signature",
    "decode_std_base64",
    "find_format",
    "verify_ed25519ph",
]


@dataclass(frozen=True)
class PKIFormat:
    """One signature format: its wire name and its key and signature parsers."""

    name: str
    public_key: type[PublicKey]
    signature: type[Signature]


# Filled in below, one line per format, as the format modules land.
FORMATS: dict[str, PKIFormat] = {
    "x509": PKIFormat("x509", X509PublicKey, X509Signature),
    "pgp": PKIFormat("pgp", PGPPublicKey, PGPSignature),
    "ssh": PKIFormat("ssh", SSHPublicKey, SSHSignature),
    "minisign": PKIFormat("minisign", MinisignPublicKey, MinisignSignature),
}


def find_format(name: str) -> PKIFormat | None:
    """The format called `name` on the wire, or None when this server has no parser for it."""
    return FORMATS.get(name)

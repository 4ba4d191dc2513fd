"""Signature formats: parse keys, canonicalize them, verify signatures (no I/O).

Each format lives in its own module and shares the protocol in base.py; a
format never imports another. Entry types pick the format they accept.
"""

from __future__ import annotations

from rekor_py.pki.base import (
    HashName,
    InvalidKeyError,
    InvalidSignatureError,
    PKIError,
    PublicKey,
    decode_std_base64,
)
from rekor_py.pki.ed25519ph import Ed25519phError, verify_ed25519ph
from rekor_py.pki.x509 import X509PublicKey

__all__ = [
    "Ed25519phError",
    "HashName",
    "InvalidKeyError",
    "InvalidSignatureError",
    "PKIError",
    "PublicKey",
    "X509PublicKey",
    "decode_std_base64",
    "verify_ed25519ph",
]

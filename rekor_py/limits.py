"""Input limits: every bound an untrusted request is held to, in one place.

Each limit is checked before the work it bounds (a body is measured before it is
parsed, a key before it is decoded), so the cost of any request is bounded by
construction.  The parsers read the limits in force through `current()`; the
server sets them once at start-up from its settings (`configure`), and so does
every verification worker process, so a parser never needs a Settings object.

A limit that an honest client can reach names itself in the error it raises
(`limit_error`), so the 400/413 tells the client which setting refused it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "configure", "current", "limit_error_message"]


@dataclass(frozen=True)
class Limits:
    """Defaults are generous for honest entries and small for hostile ones.

    Each field is also a setting: `REKOR_PY_<NAME>` (see config.py)."""

    # The whole request body.  Real entries are a few KiB; rekord carries the
    # artifact inline, so this also caps the artifact size of a rekord upload.
    max_body_bytes: int = 4 * 1024 * 1024
    # JSON nesting: a Rekor entry is at most 6 levels deep.
    max_json_depth: int = 64
    # Digits of one JSON number: Go decodes into int64/float64, so anything
    # longer cannot be a valid field (and CPython refuses ints over 4,300 digits).
    max_json_number_chars: int = 40
    # One public key, certificate chain or signature as sent (PEM, armor, wire).
    max_key_bytes: int = 256 * 1024
    max_signature_bytes: int = 64 * 1024
    max_chain_certificates: int = 10
    # DSSE envelopes (intoto, dsse): signatures in one envelope, verifiers given.
    max_envelope_signatures: int = 16
    max_verifiers: int = 16
    # The DSSE/in-toto payload, decoded.
    max_payload_bytes: int = 1024 * 1024
    # Search keys written for one entry (in-toto subjects, SANs, ...).
    max_index_keys: int = 1024
    # RSA as Go's crypto/rsa accepts it.
    max_rsa_bits: int = 16384
    max_rsa_exponent: int = (1 << 31) - 1

    # parsers
    # Signature checks while building one chain.  Go's buildChains stops at
    # 100; a chain holds at most max_chain_certificates, so an honest path
    # needs at most 9 checks and 32 leaves room for cross-signed duplicates.
    # Each check is a public-key operation (up to ~2 ms for RSA-16384 with
    # the largest exponent), so this bounds a chain's CPU cost.
    max_chain_signature_checks: int = 32
    # OpenPGP signatures embedded in signatures (cross-certifications): honest
    # keys nest one level; each level is parsed again, so bound the depth.
    max_pgp_nesting: int = 4
    # PEM header lines in one block (Proc-Type, DEK-Info, ...): real keys have
    # at most a handful; each is a Python object kept until the block is parsed.
    max_pem_headers: int = 64

    # server
    # CPU time one proposed entry may take to parse and verify (a verification
    # worker runs one entry at a time, so wall time in the worker is its CPU
    # time).  Honest entries take about a millisecond; past this the worker is
    # killed and replaced and the request gets 400.
    verify_deadline_s: float = 2.0
    # Requests being verified or waiting for a verification worker; beyond this
    # a request gets 503 with Retry-After instead of queueing without end.
    max_verify_queue: int = 256


_current = Limits()


def current() -> Limits:
    """The limits in force in this process."""
    return _current


def configure(limits: Limits) -> None:
    """Set the limits for this process (server start-up, each pool worker)."""
    global _current
    _current = limits


def limit_error_message(name: str, found: int, limit: int, what: str) -> str:
    """The text of a refusal: what was too big, by how much, and which setting."""
    return (f"{what} is {found}; the limit is {limit} "
            f"(setting {name}, REKOR_PY_{name.upper()})")

"""Signed entry timestamps (SETs): the log's promise to include an entry (docs/rekor-compat.md#set).

This module owns the SET payload and its signature.  The key and scheme belong to
signer.py; the API layer b64-encodes the raw signature into
`verification.signedEntryTimestamp`.

Exact payload bytes: the RFC 8785 (JCS) serialization of exactly four keys, which
JCS sorts as

    {"body":"<b64 canonical body>","integratedTime":<int>,"logID":"<64 hex>","logIndex":<int>}

with no whitespace and integers written without exponent or fraction.  `logIndex`
is the VIRTUAL index (docs/rekor-compat.md#trap-virtual-index), not the leaf
index inside the shard, and `logID` is the ID of the shard whose key signs.
`attestation` and `verification` are never part of it.  Verifiers (cosign, sigstore-go, sigstore-python) rebuild
this payload from the response fields, so it must not be extended.

None of those fields ever changes for a logged entry, so its SET is signed once,
when it is logged (`sign_batch_sets`, by the sequencer under the tree lock), and
stored with it; reads serve the stored one and sign only for rows logged before
it was kept.  Stored form (`stored_set`): an ECDSA signature as r || s, each at
the curve's length (64 B for P-256, against 70-72 B of DER: the storage budget is
100 B an entry besides the body), any other scheme's signature as it is.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from rekor_py.log.signer import LogSigner, LogVerifier, SignatureError

__all__ = ["set_from_stored", "set_payload", "sign_batch_sets", "sign_set", "stored_set",
           "verify_set"]

_LOG_ID_HEX_RE = re.compile(r"[0-9a-f]{64}")
# JCS writes integers exactly only up to 2**53 (IEEE 754 doubles); larger ones
# would not survive a JavaScript verifier either.
_MAX_JSON_INT = (1 << 53) - 1


def _check_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_JSON_INT:
        raise ValueError(f"{name} must be an int in [0, 2**53), got {value!r}")


def set_payload(body: bytes, integrated_time: int, log_id_hex: str, log_index: int) -> bytes:
    """The exact bytes a SET signs (module docstring).

    Requires `body` = the canonical entry body, `log_id_hex` = 64 lowercase hex,
    `log_index` = the virtual index; raises ValueError otherwise.
    """
    if not isinstance(body, bytes):
        raise ValueError("body must be bytes")
    _check_int("integrated_time", integrated_time)
    _check_int("log_index", log_index)
    if not isinstance(log_id_hex, str) or not _LOG_ID_HEX_RE.fullmatch(log_id_hex):
        raise ValueError("log_id_hex must be 64 lowercase hex digits")
    # Written directly: the JCS bytes of these four keys, in their sorted order, with
    # values that need no escaping (base64, lowercase hex, ints checked above), are
    # exactly this; jcs.dumps of the same dict took 8 us of a read's CPU.
    # tests/unit/log/test_set.py checks the two agree.
    return b"".join((b'{"body":"', base64.b64encode(body), b'","integratedTime":',
                     b"%d" % integrated_time, b',"logID":"', log_id_hex.encode(),
                     b'","logIndex":', b"%d" % log_index, b"}"))


def sign_set(signer: LogSigner, body: bytes, integrated_time: int, log_id_hex: str,
             log_index: int) -> bytes:
    """The raw SET signature by `signer`.

    Requires log_id_hex == signer.log_id_hex: an entry's SET is signed by the key of
    the shard that holds it (docs/rekor-compat.md#set).  Raises ValueError, SigningError.
    """
    if log_id_hex != signer.log_id_hex:
        raise ValueError("log_id_hex is not the signer's log ID: sign with the shard's own key")
    return signer.sign(set_payload(body, integrated_time, log_id_hex, log_index))


def _ecdsa_width(verifier: LogVerifier) -> int | None:
    """Bytes of r (and of s) for an ECDSA key; None for other schemes."""
    key = verifier.public_key
    return (key.curve.key_size + 7) // 8 if isinstance(key, ec.EllipticCurvePublicKey) else None


def stored_set(verifier: LogVerifier, signature: bytes) -> bytes:
    """The stored form of a SET signature made by `verifier`'s key (module docstring).
    Raises ValueError if an ECDSA signature is not DER."""
    width = _ecdsa_width(verifier)
    if width is None:
        return signature
    r, s = decode_dss_signature(signature)
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def set_from_stored(verifier: LogVerifier, stored: bytes) -> bytes:
    """The SET signature, as the key made it, from its stored form.  Raises
    ValueError for a stored form the key's scheme cannot have made."""
    width = _ecdsa_width(verifier)
    if width is None:
        return stored
    if len(stored) != 2 * width:
        raise ValueError(f"a stored ECDSA SET has {2 * width} bytes, not {len(stored)}")
    return encode_dss_signature(int.from_bytes(stored[:width], "big"),
                                int.from_bytes(stored[width:], "big"))


def sign_batch_sets(signer: LogSigner, bodies: Sequence[bytes], integrated_time: int,
                    first_virtual_index: int) -> list[bytes]:
    """The stored SETs of entries logged together: bodies[i] at virtual index
    first_virtual_index + i, all at `integrated_time`, in the signer's shard."""
    log_id_hex = signer.log_id_hex
    verifier = signer.verifier
    return [stored_set(verifier, sign_set(signer, body, integrated_time, log_id_hex,
                                          first_virtual_index + i))
            for i, body in enumerate(bodies)]


def verify_set(verifier: LogVerifier, signature: bytes, body: bytes, integrated_time: int,
               log_id_hex: str, log_index: int) -> None:
    """Check a raw SET signature; raises SignatureError (or ValueError for bad fields)."""
    payload = set_payload(body, integrated_time, log_id_hex, log_index)
    try:
        verifier.verify(signature, payload)
    except SignatureError as e:
        raise SignatureError(
            f"signed entry timestamp does not verify under log key {verifier.log_id_hex}"
        ) from e

"""Ed25519 cosignatures (c2sp.org/tlog-cosignature): the signed message, the line, the vkey."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.checkpoint import CheckpointError
from rekor_py.witness.cosignature import CosignatureSigner, CosignatureVerifier

BODY = b"example.com/log\n42\n" + base64.b64encode(bytes(range(32))) + b"\n"


def _signer(name: str = "witness.example/w1") -> CosignatureSigner:
    return CosignatureSigner(name, ed25519.Ed25519PrivateKey.generate())


def test_the_line_signs_the_spec_message_with_the_time() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = CosignatureSigner("w1", key)
    line = signer.cosign(BODY, timestamp=1_700_000_000)
    assert line.startswith("\u2014 w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split()[2])
    raw = signer.verifier.key
    assert blob[:4] == hashlib.sha256(b"w1\n\x04" + raw).digest()[:4]
    assert struct.unpack(">Q", blob[4:12]) == (1_700_000_000,)
    # The signature is over the label, the time line and the body, exactly.
    key.public_key().verify(blob[12:], b"cosignature/v1\ntime 1700000000\n" + BODY)
    found = signer.verifier.find(line, BODY)
    assert found is not None and found.timestamp == 1_700_000_000 and found.line == line


def test_vkey_round_trip_and_checks() -> None:
    verifier = _signer().verifier
    again = CosignatureVerifier.from_vkey(verifier.vkey)
    assert again == verifier
    name, key_id, blob = verifier.vkey.split("+", 2)
    with pytest.raises(CheckpointError, match="does not match"):
        CosignatureVerifier.from_vkey(f"{name}+00000000+{blob}")
    ed25519_note_key = base64.b64encode(b"\x01" + verifier.key).decode()
    with pytest.raises(CheckpointError, match="type 0x04"):
        CosignatureVerifier.from_vkey(f"{name}+{key_id}+{ed25519_note_key}")
    with pytest.raises(CheckpointError):
        CosignatureVerifier.from_vkey("not a key")


def test_a_bad_cosignature_is_refused_and_others_ignored() -> None:
    signer, other = _signer(), _signer("witness.example/w2")
    line = signer.cosign(BODY)
    # Another body: the line does not verify.
    with pytest.raises(CheckpointError, match="does not verify"):
        signer.verifier.find(line, BODY.replace(b"42", b"43"))
    # Another witness's line is not ours; nor a line with our name and another key.
    assert signer.verifier.find(other.cosign(BODY), BODY) is None
    impostor = CosignatureSigner(signer.verifier.name, ed25519.Ed25519PrivateKey.generate())
    assert signer.verifier.find(impostor.cosign(BODY), BODY) is None
    # Lines among a note's body and blank lines are found.
    note = BODY.decode() + "\n\u2014 log.example xyz\n" + line
    assert signer.verifier.find(note, BODY) is not None

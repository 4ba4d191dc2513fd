"""C2SP checkpoints: key IDs, vkeys, signing and verifying (rekor_py.log.c2sp)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import (
    CheckpointNotary,
    NoteSigner,
    NoteVerifier,
    c2sp_origin,
    ed25519_key_id,
    load_or_create_note_key,
    verify_c2sp_checkpoint,
)
from rekor_py.log.checkpoint import Checkpoint, CheckpointError
from rekor_py.log.signer import KeyFileError, LogSigner

ROOT = hashlib.sha256(b"root").digest()


def _notary(origin: str = "log.example/tiles") -> tuple[CheckpointNotary, LogSigner,
                                                         ed25519.Ed25519PrivateKey]:
    log_key, note_key = LogSigner.generate(), ed25519.Ed25519PrivateKey.generate()
    signers = [NoteSigner.for_log_key(origin, log_key), NoteSigner.ed25519(origin, note_key)]
    return CheckpointNotary(origin, [s for s in signers if s is not None]), log_key, note_key


def test_origin_is_the_prefix_without_scheme() -> None:
    assert c2sp_origin("rekor.example.org", "") == "rekor.example.org"
    assert c2sp_origin("127.0.0.1:3000", "/tiles") == "127.0.0.1:3000/tiles"


def test_key_ids() -> None:
    notary, log_key, note_key = _notary()
    ecdsa, ed = notary.verifiers
    assert ecdsa.key_id == hashlib.sha256(log_key.spki_der).digest()[:4] == log_key.key_hint
    raw = ed.key
    assert ed.key_id == hashlib.sha256(b"log.example/tiles\n\x01" + raw).digest()[:4]
    assert ed25519_key_id("log.example/tiles", raw) == ed.key_id


def test_vkey_round_trip_and_rejections() -> None:
    notary, _, _ = _notary()
    for v in notary.verifiers:
        assert NoteVerifier.from_vkey(v.vkey) == v
    ed = notary.verifiers[1]
    name, key_id, blob = ed.vkey.split("+", 2)
    wrong_id = f"{name}+{'0' * 8 if key_id != '0' * 8 else '1' * 8}+{blob}"
    type3 = base64.b64encode(b"\x03" + bytes(32)).decode()
    bad = [wrong_id, f"{name}+{key_id}", f"{name}+{key_id}+!!!!",
           f"{name}+{key_id}+{type3}",
           f"a b+{key_id}+{blob}", ""]
    for text in bad:
        with pytest.raises(CheckpointError):
            NoteVerifier.from_vkey(text)


def test_sign_verify_and_cache() -> None:
    notary, _, _ = _notary()
    text = notary.checkpoint(5, ROOT)
    assert notary.checkpoint(5, ROOT) is text
    assert text.startswith("log.example/tiles\n5\n" + base64.b64encode(ROOT).decode() + "\n\n")
    assert verify_c2sp_checkpoint(text, notary.verifiers) == Checkpoint("log.example/tiles", 5,
                                                                        ROOT)
    # Unknown signers are ignored; a known signer's bad signature rejects.
    other, _, _ = _notary()
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_c2sp_checkpoint(text, other.verifiers)
    lines = text.split("\n")
    sig = base64.b64decode(lines[-2].split(" ")[2])
    lines[-2] = lines[-2].rsplit(" ", 1)[0] + " " + base64.b64encode(
        sig[:-1] + bytes([sig[-1] ^ 1])).decode()
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_c2sp_checkpoint("\n".join(lines), notary.verifiers)
    assert notary.checkpoint(6, ROOT) != text


def test_rsa_log_key_signs_no_line() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    signer = LogSigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert NoteSigner.for_log_key("o", signer) is None


def test_note_key_file(tmp_path: Path) -> None:
    path = tmp_path / "note.pem"
    key = load_or_create_note_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_note_key(path)
    assert again.public_key == key.public_key
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError):
        load_or_create_note_key(path)
    ecdsa_path = tmp_path / "ecdsa.pem"
    LogSigner.load_or_create(ecdsa_path)
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        load_or_create_note_key(ecdsa_path)


async def test_a_token_key_signs_off_the_event_loop() -> None:
    """checkpoint_async signs in a thread when a key is not in memory (a device call
    must not hold the event loop), on the loop's own thread otherwise; a cached note
    is returned without signing."""
    import threading

    key = ed25519.Ed25519PrivateKey.generate()
    threads: list[int] = []

    def sign(data: bytes) -> bytes:
        threads.append(threading.get_ident())
        return key.sign(data)

    for in_memory in (True, False):
        threads.clear()
        verifier = NoteSigner.ed25519("log.example", key).verifier
        notary = CheckpointNotary("log.example", [NoteSigner(verifier, sign, in_memory)])
        text = await notary.checkpoint_async(3, bytes(32))
        assert verify_c2sp_checkpoint(text, [verifier]).size == 3
        assert (threads == [threading.get_ident()]) is in_memory, (in_memory, threads)
        assert await notary.checkpoint_async(3, bytes(32)) == text and len(threads) == 1

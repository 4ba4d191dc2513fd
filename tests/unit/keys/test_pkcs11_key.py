"""Keys in a SoftHSM2 token as Signers: each type signs with log/signer.py's scheme (checked
with cryptography and with our verifiers), the key cannot leave the token, a broken
session is reopened, and every way of opening a key wrongly is one clear KeyFileError."""

from __future__ import annotations

import threading
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e

from rekor_py.config import Settings
from rekor_py.keys import open_note_key, open_uri_key
from rekor_py.log.c2sp import (
    NoteSigner,
    NoteVerifier,
    format_c2sp_checkpoint,
    verify_c2sp_checkpoint,
)
from rekor_py.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_checkpoint,
    verify_checkpoint,
)
from rekor_py.log.set import sign_set, verify_set
from rekor_py.log.signer import KeyFileError, LogSigner, LogVerifier, Signer
from tests.tools.softhsm import SoftHsm, softhsm_token


@pytest.fixture(scope="module")
def hsm() -> SoftHsm:
    return softhsm_token()


def _open(hsm: SoftHsm, uri: str, tmp_path: Path, **settings: object) -> Signer:
    return open_uri_key(uri, Settings(data_dir=tmp_path, **settings), "--signing-key")


@pytest.mark.parametrize(("label", "algorithm"), [
    ("log-p256", "ecdsa-secp256r1"), ("log-p384", "ecdsa-secp384r1"),
    ("note-ed25519", "ed25519"), ("log-rsa", "rsa-2048")])
def test_each_key_type_signs_with_the_log_scheme(hsm: SoftHsm, tmp_path: Path, label: str,
                                                 algorithm: str) -> None:
    signer = LogSigner(_open(hsm, hsm.uri(label), tmp_path))
    assert signer.algorithm == algorithm
    verifier = LogVerifier.from_pem(signer.public_key_pem)
    for message in (b"", b"m", b"x" * 10_000):
        verifier.verify(signer.sign(message), message)  # DER for ECDSA, raw for Ed25519
    # A checkpoint and a SET signed in the token verify with our verifiers.
    text = format_checkpoint(Checkpoint("log.example - 1", 3, bytes(32)), signer, "log.example")
    assert verify_checkpoint(text, verifier).size == 3
    sig = sign_set(signer, b"{}", 1700000000, signer.log_id_hex, 5)
    verify_set(verifier, sig, b"{}", 1700000000, signer.log_id_hex, 5)
    with pytest.raises(ValueError):
        verify_set(verifier, sig, b"{}", 1700000001, signer.log_id_hex, 5)


def test_ed25519_note_key_signs_c2sp_notes(hsm: SoftHsm, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = open_note_key(settings, hsm.uri("v2-ed25519"), "REKOR_PY_V2_SIGNING_KEY")
    assert isinstance(key.public_key, ed25519.Ed25519PublicKey)
    note = format_c2sp_checkpoint(Checkpoint("log.example", 9, bytes(32)),
                                  [NoteSigner.ed25519("log.example", key)])
    verify_c2sp_checkpoint(note, [NoteVerifier.ed25519("log.example", key.public_key)])
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        open_note_key(settings, hsm.uri("log-p256"), "REKOR_PY_NOTE_KEY")


def test_private_key_is_not_extractable(hsm: SoftHsm, tmp_path: Path) -> None:
    """CKA_VALUE of the log key cannot be read: the token keeps it (CKA_SENSITIVE)."""
    _open(hsm, hsm.uri("log-p256"), tmp_path)
    token = pkcs11.lib(hsm.module).get_token(token_label=hsm.label)
    # This process is logged in already (the key above): a login covers every session.
    with token.open() as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="log-p256")
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.SENSITIVE] is True
        with pytest.raises(p11e.AttributeSensitive):
            key[Attribute.VALUE]


def test_extractable_key_is_refused(hsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="extractable or not sensitive"):
        _open(hsm, hsm.uri("extractable-p256"), tmp_path)


def test_select_by_id_and_pin_sources(hsm: SoftHsm, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    by_label = _open(hsm, hsm.uri("log-p256"), tmp_path)
    by_id = _open(hsm, f"pkcs11:token={hsm.label};id=%01?module-path={hsm.module}"
                       f"&pin-value={hsm.pin}", tmp_path)
    assert by_id.public_key == by_label.public_key
    pin_file = tmp_path / "pin"
    pin_file.write_text(hsm.pin + "\n")
    from_file = _open(hsm, hsm.uri("log-p256", pin=False, pin_source=f"file:{pin_file}"),
                      tmp_path)
    assert from_file.public_key == by_label.public_key
    # The environment's PIN and the default module path (settings), nothing in the URI.
    monkeypatch.setenv("REKOR_PY_PKCS11_PIN", hsm.pin)
    bare = _open(hsm, f"pkcs11:token={hsm.label};object=log-p256", tmp_path,
                 pkcs11_module=Path(hsm.module))
    assert bare.public_key == by_label.public_key


@pytest.mark.parametrize(("uri", "message"), [
    ("pkcs11:token={label};object=no-such-key?module-path={module}&pin-value={pin}",
     "has no private key object='no-such-key'"),
    ("pkcs11:token=no-such-token;object=log-p256?module-path={module}&pin-value={pin}",
     "no PKCS#11 token matches token='no-such-token'"),
    ("pkcs11:token={label};object=log-p256?module-path={module}&pin-value=0000",
     "wrong PIN"),
    ("pkcs11:token={label};object=log-p256?module-path=/nonexistent/lib.so&pin-value={pin}",
     "cannot load the PKCS#11 module /nonexistent/lib.so"),
    ("pkcs11:token={label};object=log-p256?module-path={module}&pin-source=/nonexistent/pin",
     "cannot read the PKCS#11 pin-source /nonexistent/pin"),
    ("pkcs11:token={label};object=log-p256;type=public?module-path={module}",
     "type=private"),
    ("pkcs11:token={label};object=log-p256?module-path={module}",
     r"no PIN for the PKCS#11 key object='log-p256': .* or set \$REKOR_PY_PKCS11_PIN"),
])
def test_open_errors_are_one_line(hsm: SoftHsm, tmp_path: Path, uri: str, message: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REKOR_PY_PKCS11_PIN", raising=False)
    text = uri.format(label=hsm.label, module=hsm.module, pin=hsm.pin)
    with pytest.raises(KeyFileError, match="^--signing-key: .*" + message) as info:
        _open(hsm, text, tmp_path)
    assert "\n" not in str(info.value)
    if "0000" not in text:
        assert hsm.pin not in str(info.value)


def test_broken_session_is_reopened(hsm: SoftHsm, tmp_path: Path) -> None:
    key = _open(hsm, hsm.uri("tsa-p256"), tmp_path)
    verifier = LogVerifier(key.public_key)
    session = key._session  # type: ignore[attr-defined]
    before = session.generation
    session._session.close()  # as if the token dropped it
    verifier.verify(key.sign(b"after"), b"after")
    assert session.generation == before + 1


def test_signing_from_many_threads(hsm: SoftHsm, tmp_path: Path) -> None:
    """One session, many threads: the token's lock keeps each call whole."""
    keys = [_open(hsm, hsm.uri(label), tmp_path) for label in ("log-p256", "note-ed25519")]
    failures: list[BaseException] = []

    def work(key: Signer, n: int) -> None:
        try:
            verifier = LogVerifier(key.public_key)
            for i in range(50):
                message = b"%d-%d" % (n, i)
                verifier.verify(key.sign(message), message)
        except BaseException as e:  # reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(keys[n % 2], n)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures


def test_public_keys_are_the_tokens(hsm: SoftHsm, tmp_path: Path) -> None:
    assert isinstance(_open(hsm, hsm.uri("log-p384"), tmp_path).public_key,
                      ec.EllipticCurvePublicKey)
    assert isinstance(_open(hsm, hsm.uri("log-rsa"), tmp_path).public_key, rsa.RSAPublicKey)


def test_fsck_reads_public_keys_from_the_token(hsm: SoftHsm, tmp_path: Path) -> None:
    """rekor-py fsck's key sources take the same URIs as serve."""
    from rekor_py.audit.source import SourceError, load_v2_key, load_verifier

    settings = Settings(data_dir=tmp_path, signing_key=hsm.uri("log-p256"),
                        v2_signing_key=hsm.uri("v2-ed25519"))
    found = load_verifier(settings, None)
    assert found.verifier == LogVerifier(_open(hsm, hsm.uri("log-p256"), tmp_path).public_key)
    v2_key, note = load_v2_key(settings, None)
    assert v2_key is not None and "pkcs11:" in note
    assert "pin-value=***" in note and hsm.pin not in note and hsm.pin not in found.note
    with pytest.raises(SourceError, match="not an Ed25519 key"):
        load_v2_key(settings.replace(v2_signing_key=hsm.uri("tsa-p256")), None)


def test_witness_cosigns_with_a_token_key(hsm: SoftHsm, tmp_path: Path) -> None:
    from rekor_py.witness.cosignature import CosignatureSigner

    body = b"log.example\n3\n" + b"A" * 43 + b"=\n"
    key = _open(hsm, hsm.uri("note-ed25519"), tmp_path)
    signer = CosignatureSigner("witness.example", key)
    found = signer.verifier.find(signer.cosign(body, timestamp=1_700_000_000), body)
    assert found is not None and found.timestamp == 1_700_000_000
    with pytest.raises(CheckpointError, match="does not verify"):
        signer.verifier.find(signer.cosign(body), body + b"x")
    with pytest.raises(KeyFileError, match="must be Ed25519"):
        CosignatureSigner("witness.example", _open(hsm, hsm.uri("log-p256"), tmp_path))

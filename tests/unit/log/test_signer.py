"""LogSigner / LogVerifier: key loading, identifiers, signature schemes, key files."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from rekor_py.errors import SigningError
from rekor_py.log.signer import KeyFileError, LogSigner, LogVerifier, PrivateKey, SignatureError

_PEM = serialization.Encoding.PEM


def _pem(key: PrivateKey, fmt: serialization.PrivateFormat,
         enc: serialization.KeySerializationEncryption | None = None) -> bytes:
    return key.private_bytes(_PEM, fmt, enc or serialization.NoEncryption())


KEYS: dict[str, Callable[[], PrivateKey]] = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
}


def test_generate_is_p256_and_identifiers() -> None:
    signer = LogSigner.generate()
    key = signer.public_key
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    assert signer.spki_der == der
    assert signer.log_id == hashlib.sha256(der).digest()
    assert signer.log_id_hex == signer.log_id.hex() and len(signer.log_id_hex) == 64
    assert signer.key_hint == signer.log_id[:4]
    assert signer.public_key_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert signer.public_key_pem.endswith(b"-----END PUBLIC KEY-----\n")
    assert LogVerifier.from_pem(signer.public_key_pem) == signer.verifier
    assert LogVerifier.from_der(der).log_id == signer.log_id


def test_production_rekor_key_log_id() -> None:
    # rekor.sigstore.dev's public key (trusted_root.production.json); logID c0d23d6a…,
    # so its checkpoint lines start "wNI9a" (docs/rekor-compat.md#checkpoint).
    import base64
    der = base64.b64decode(
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6"
        "yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==")
    v = LogVerifier.from_der(der)
    assert v.log_id_hex == "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    assert base64.b64encode(v.key_hint + b"\x30").decode().startswith("wNI9a")


@pytest.mark.parametrize("kind, fmt", [
    ("p256", "pkcs8"), ("p256", "traditional"), ("p384", "pkcs8"), ("p384", "traditional"),
    ("ed25519", "pkcs8"), ("rsa2048", "pkcs8"), ("rsa2048", "traditional"),
])
def test_from_pem_round_trip_and_sign(kind: str, fmt: str) -> None:
    key = KEYS[kind]()
    pf = (serialization.PrivateFormat.PKCS8 if fmt == "pkcs8"
          else serialization.PrivateFormat.TraditionalOpenSSL)
    pem = _pem(key, pf)
    if fmt == "traditional":
        assert b"EC PRIVATE KEY" in pem or b"RSA PRIVATE KEY" in pem
    signer = LogSigner.from_pem(pem)
    sig = signer.sign(b"message")
    signer.verifier.verify(sig, b"message")
    with pytest.raises(SignatureError):
        signer.verifier.verify(sig, b"messagf")
    # The scheme is the one Rekor's verifiers expect
    # (docs/rekor-compat.md#log-key), checked independently.
    pub = key.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(sig, b"message", ec.ECDSA(hashes.SHA256()))  # SHA-256 even on P-384
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, b"message", padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        pub.verify(sig, b"message")


def test_ecdsa_signature_is_der() -> None:
    sig = LogSigner.generate().sign(b"x")
    assert sig[0] == 0x30 and sig[1] == len(sig) - 2


@pytest.mark.parametrize("password", [b"s3cret", "s3cret"])
def test_encrypted_pem(password: bytes | str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = _pem(key, serialization.PrivateFormat.PKCS8,
               serialization.BestAvailableEncryption(b"s3cret"))
    assert b"ENCRYPTED PRIVATE KEY" in pem
    signer = LogSigner.from_pem(pem, password)
    assert signer.public_key.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    with pytest.raises(KeyFileError, match="malformed PEM or wrong password"):
        LogSigner.from_pem(pem, b"wrong")
    with pytest.raises(KeyFileError, match="password is required"):
        LogSigner.from_pem(pem)
    with pytest.raises(KeyFileError, match="is not encrypted"):
        LogSigner.from_pem(_pem(key, serialization.PrivateFormat.PKCS8), b"s3cret")


@pytest.mark.parametrize("make, match", [
    (lambda: ec.generate_private_key(ec.SECP521R1()), "unsupported ECDSA curve"),
    (lambda: ec.generate_private_key(ec.SECP256K1()), "unsupported ECDSA curve"),
    (lambda: rsa.generate_private_key(65537, 1024), "too small"),
])
def test_rejected_keys(make: Callable[[], PrivateKey], match: str) -> None:
    pem = _pem(make(), serialization.PrivateFormat.PKCS8)
    with pytest.raises(KeyFileError, match=match):
        LogSigner.from_pem(pem)


def test_rejected_pem() -> None:
    with pytest.raises(KeyFileError):
        LogSigner.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError):
        LogVerifier.from_pem(b"not a key")
    with pytest.raises(KeyFileError):
        LogVerifier.from_der(b"\x30\x00")


def test_verify_rejects_garbage_signature() -> None:
    v = LogSigner.generate().verifier
    for bad in (b"", b"\x30\x00", b"\x00" * 64):
        with pytest.raises(SignatureError):
            v.verify(bad, b"m")


def test_repr_and_pickle_never_show_private_key() -> None:
    signer = LogSigner.generate()
    secret = signer.private_pem()
    text = repr(signer) + str(signer)
    assert signer.log_id_hex in text and "ecdsa-secp256r1" in text
    assert b"PRIVATE" not in text.encode() and secret.decode() not in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_sign_failure_is_signing_error() -> None:
    class BrokenKey:  # e.g. a key whose backend went away
        def sign(self, *args: object) -> bytes:
            raise RuntimeError("backend unplugged")

    signer = LogSigner.generate()
    signer.signer._key = BrokenKey()  # type: ignore[attr-defined]
    with pytest.raises(SigningError):
        signer.sign(b"m")


# ---- key files --------------------------------------------------------------------


def test_load_or_create_creates_0600_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    old = os.umask(0)  # even a permissive umask must not loosen the mode
    try:
        created = LogSigner.load_or_create(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert isinstance(created.public_key, ec.EllipticCurvePublicKey)
    again = LogSigner.load_or_create(path)
    assert again.log_id == created.log_id
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]  # no temp files left


def test_load_or_create_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    created = LogSigner.load_or_create(path, password="pw")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert LogSigner.load_or_create(path, password=b"pw").log_id == created.log_id
    with pytest.raises(KeyFileError):
        LogSigner.load_or_create(path, password="other")
    with pytest.raises(KeyFileError, match="password is required"):
        LogSigner.load_or_create(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_load_or_create_refuses_open_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    LogSigner.load_or_create(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*chmod 600"):
        LogSigner.load_or_create(path)


def test_load_or_create_existing_other_key_types(tmp_path: Path) -> None:
    path = tmp_path / "ed.key"
    key = ed25519.Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(_pem(key, serialization.PrivateFormat.PKCS8))
    signer = LogSigner.load_or_create(path)
    assert signer.algorithm == "ed25519"


def test_load_or_create_refuses_symlink_and_dirs(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    LogSigner.load_or_create(real)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(KeyFileError, match="symbolic link"):
        LogSigner.load_or_create(link)
    (tmp_path / "dir.key").mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        LogSigner.load_or_create(tmp_path / "dir.key")


def test_load_or_create_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot create key file"):
        LogSigner.load_or_create(tmp_path / "nope" / "log.key")


def test_load_or_create_race_keeps_first_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process creates the key between our failed open and our link.
    path = tmp_path / "log.key"
    first = LogSigner.generate()
    real_create = LogSigner._create_file

    def racing(self: LogSigner, p: Path, pw: bytes | str | None) -> bool:
        real_create(first, p, pw)
        return real_create(self, p, pw)

    monkeypatch.setattr(LogSigner, "_create_file", racing)
    assert LogSigner.load_or_create(path).log_id == first.log_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.key"]


def test_empty_password_means_none(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    created = LogSigner.load_or_create(path, password="")
    assert b"ENCRYPTED" not in path.read_bytes()
    assert LogSigner.load_or_create(path, password=b"").log_id == created.log_id

"""The TSA's key and chain: created once in the data directory, checked when loaded."""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import pickle
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rekor_py.config import Settings
from rekor_py.log.signer import KeyFileError
from rekor_py.tsa import TimestampAuthority
from rekor_py.tsa.authority import DEFAULT_CHAIN_FILE, DEFAULT_KEY_FILE
from rekor_py.tsa.certs import chain_pem, check_chain, create_chain

_NOW = datetime.datetime.now(datetime.UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_key_and_chain_then_reuses_them(tmp_path: Path) -> None:
    tsa = TimestampAuthority.load_or_create(tmp_path)
    key_file, chain_file = tmp_path / DEFAULT_KEY_FILE, tmp_path / DEFAULT_CHAIN_FILE
    assert _mode(key_file) == 0o600 and _mode(chain_file) == 0o644
    assert chain_file.read_bytes() == tsa.chain_pem
    assert b"PRIVATE KEY" in key_file.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    again = TimestampAuthority.load_or_create(tmp_path)
    assert again.chain_pem == tsa.chain_pem


def test_created_chain_is_what_verifiers_require(tmp_path: Path) -> None:
    # Now, not at import: the suite may run long after it collected this module.
    now = datetime.datetime.now(datetime.UTC)
    leaf, root = TimestampAuthority.load_or_create(tmp_path).chain
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert leaf.not_valid_before_utc < now < leaf.not_valid_after_utc
    assert leaf.not_valid_after_utc <= root.not_valid_after_utc
    assert leaf.not_valid_after_utc - now > datetime.timedelta(days=4 * 365)
    assert root.not_valid_after_utc - now > datetime.timedelta(days=9 * 365)


def test_from_settings_uses_the_data_dir(tmp_path: Path) -> None:
    tsa = TimestampAuthority.from_settings(Settings(data_dir=tmp_path))
    assert (tmp_path / DEFAULT_CHAIN_FILE).read_bytes() == tsa.chain_pem


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def test_operator_key_and_chain_p384(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    key_path = _write_key(tmp_path / "key.pem", key)
    chain_path = tmp_path / "chain.pem"
    chain_path.write_bytes(chain_pem(create_chain(key)))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tsa = TimestampAuthority.from_settings(
        Settings(data_dir=data_dir, tsa_key=key_path, tsa_chain=chain_path))
    assert tsa.chain_pem == chain_path.read_bytes()
    assert list(data_dir.iterdir()) == []  # nothing of ours created beside them


def test_operator_paths_must_exist(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        TimestampAuthority.load_or_create(tmp_path, key_path=tmp_path / "missing.pem")
    key_path = _write_key(tmp_path / "key.pem", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyFileError, match="does not exist"):
        TimestampAuthority.load_or_create(tmp_path, key_path=key_path,
                                          chain_path=tmp_path / "missing-chain.pem")


def test_chain_for_another_key_is_refused(tmp_path: Path) -> None:
    TimestampAuthority.load_or_create(tmp_path)
    other = _write_key(tmp_path / "other.pem", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyFileError, match="not for the TSA key"):
        TimestampAuthority.load_or_create(tmp_path, key_path=other)


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    TimestampAuthority.load_or_create(tmp_path)
    os.chmod(tmp_path / DEFAULT_KEY_FILE, 0o644)
    with pytest.raises(KeyFileError, match="group or others"):
        TimestampAuthority.load_or_create(tmp_path)


def test_non_ecdsa_key_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "ed.pem"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="ECDSA"):
        TimestampAuthority.load_or_create(tmp_path, key_path=path)


def _leaf(key: ec.EllipticCurvePrivateKey, root_key: ec.EllipticCurvePrivateKey,
          root: x509.Certificate, eku: x509.ExtendedKeyUsage | None, critical: bool,
          not_after: datetime.datetime) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
               .issuer_name(root.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(_NOW - datetime.timedelta(days=2)).not_valid_after(not_after))
    if eku is not None:
        builder = builder.add_extension(eku, critical=critical)
    return builder.sign(root_key, hashes.SHA256())


@pytest.mark.parametrize(("eku", "critical", "not_after", "error"), [
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), False, 1, "critical"),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), True, 1, "timeStamping"),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING,
                            ExtendedKeyUsageOID.CODE_SIGNING]), True, 1, "alone"),
    (None, True, 1, "no ExtendedKeyUsage"),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True, -1, "not now"),
])
def test_check_chain_refuses(eku: x509.ExtendedKeyUsage | None, critical: bool,
                             not_after: int, error: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    good_leaf, root = create_chain(key)
    root_key = ec.generate_private_key(ec.SECP256R1())
    # A root we hold the key of, with the same subject as the generated one.
    own_root = (x509.CertificateBuilder().subject_name(root.subject).issuer_name(root.subject)
                .public_key(root_key.public_key()).serial_number(1)
                .not_valid_before(_NOW - datetime.timedelta(days=3))
                .not_valid_after(_NOW + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(root_key, hashes.SHA256()))
    leaf = _leaf(key, root_key, own_root, eku, critical,
                 _NOW + datetime.timedelta(days=not_after))
    check_chain([_leaf(key, root_key, own_root,
                       x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True,
                       _NOW + datetime.timedelta(days=1)), own_root], key)  # the control
    with pytest.raises(KeyFileError, match=error):
        check_chain([leaf, own_root], key)


def test_check_chain_refuses_a_broken_or_short_chain() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf, _ = create_chain(key)
    _, other_root = create_chain(key)  # same subject, another (dropped) root key
    with pytest.raises(KeyFileError, match="is not signed by"):
        check_chain([leaf, other_root], key)
    with pytest.raises(KeyFileError, match="at least its root"):
        check_chain([leaf], key)


def test_concurrent_first_starts_agree_on_one_key_and_chain(tmp_path: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        chains = set(pool.map(lambda _: TimestampAuthority.load_or_create(tmp_path).chain_pem,
                              range(8)))
    assert chains == {(tmp_path / DEFAULT_CHAIN_FILE).read_bytes()}
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEFAULT_CHAIN_FILE, DEFAULT_KEY_FILE]


def test_the_authority_keeps_its_key_to_itself(tmp_path: Path) -> None:
    tsa = TimestampAuthority.load_or_create(tmp_path)
    with pytest.raises(TypeError):
        pickle.dumps(tsa)
    assert "PRIVATE" not in repr(tsa)

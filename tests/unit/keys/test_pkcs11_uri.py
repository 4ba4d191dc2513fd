"""RFC 7512 parsing: what is honoured, what is refused, and that the PIN stays hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekor_py.config import Settings
from rekor_py.keys import open_uri_key, redact
from rekor_py.keys.pkcs11_uri import Pkcs11UriError, parse_pkcs11_uri
from rekor_py.log.signer import KeyFileError


def test_path_and_query_attributes() -> None:
    uri = parse_pkcs11_uri("pkcs11:token=My%20HSM;object=log-key;id=%01%ff;type=private;"
                           "manufacturer=SoftHSM%20project;serial=abc;model=m;slot-id=7"
                           "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634")
    assert uri.token == "My HSM" and uri.object == "log-key" and uri.id == b"\x01\xff"
    assert (uri.manufacturer, uri.serial, uri.model, uri.slot_id) == (
        "SoftHSM project", "abc", "m", 7)
    assert uri.module_path == "/usr/lib/softhsm/libsofthsm2.so"
    assert uri.pin_value == "12&34"
    assert "12&34" not in repr(uri) and "1234" not in uri.describe()


def test_pin_source_and_defaults() -> None:
    uri = parse_pkcs11_uri("pkcs11:object=k?pin-source=file:/run/secrets/pin")
    assert uri.pin_source == "file:/run/secrets/pin" and uri.token is None
    assert uri.module_path is None and uri.pin_value is None


@pytest.mark.parametrize(("text", "message"), [
    ("pkcs12:object=k", "starts with 'pkcs11:'"),
    ("pkcs11:token=t", "names no key"),
    ("pkcs11:object=k;type=public", "type=private"),
    ("pkcs11:object=k;type=cert", "type=private"),
    ("pkcs11:object=k;object=j", "appears twice"),
    ("pkcs11:object=k;library-version=1", "'library-version' is not supported"),
    ("pkcs11:object=k?module-name=softhsm2", "'module-name' is not supported"),
    ("pkcs11:object", "not name=value"),
    ("pkcs11:object=a b", "percent-encoded"),
    ("pkcs11:object=k;slot-id=x", "slot-id must be a decimal"),
    ("pkcs11:object=k?pin-value=1&pin-source=/f", "both pin-value and pin-source"),
    ("pkcs11:object=%ff", "not UTF-8"),
    ("pkcs11:id=", "id is empty"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(Pkcs11UriError, match=message):
        parse_pkcs11_uri(text)


def test_vendor_attributes_pass() -> None:
    assert parse_pkcs11_uri("pkcs11:object=k;x-vendor=1").object == "k"


def test_settings_keep_a_uri_as_text_and_a_path_as_path(tmp_path: Path) -> None:
    uri = "pkcs11:token=t;object=k?module-path=/usr//lib/x.so"
    settings = Settings(data_dir=tmp_path, signing_key=uri, note_key=uri, tsa_key=uri,
                        v2_signing_key="keys/v2.pem")
    assert settings.signing_key == uri  # "//" kept: not read as a path
    assert settings.note_key_path == uri and settings.tsa_key_file is None
    assert settings.v2_signing_key == Path("keys/v2.pem")
    assert Settings(data_dir=tmp_path, signing_key="C:key.pem").signing_key == Path("C:key.pem")


def test_unknown_scheme_names_the_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_key="awskms:///alias/rekor")
    assert isinstance(settings.signing_key, str)
    with pytest.raises(KeyFileError, match="^--signing-key: unsupported key URI scheme 'awskms'"):
        open_uri_key(settings.signing_key, settings, "--signing-key")


def test_no_module_is_an_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(KeyFileError, match="no PKCS#11 module: give module-path="):
        open_uri_key("pkcs11:token=t;object=k", settings, "--signing-key")


def test_redact_hides_the_pin() -> None:
    assert (redact("pkcs11:object=k?module-path=/m.so&PIN-VALUE=12%2034&x=1")
            == "pkcs11:object=k?module-path=/m.so&PIN-VALUE=***&x=1")
    assert redact("pkcs11:object=k?pin-source=/run/pin") == "pkcs11:object=k?pin-source=/run/pin"

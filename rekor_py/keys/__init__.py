"""Keys that live outside this process's memory, chosen by the URI scheme of a key setting.

Every key setting (`signing_key`, `note_key`, `v2_signing_key`, `tsa_key`) takes a
PEM file path or a key URI.  A URI's scheme picks the opener in `_OPENERS`; the
opener returns a `Signer` (log/signer.py) and the rest of the server cannot tell it
from a key file.  Today: `pkcs11:` (RFC 7512, keys/pkcs11.py).  A cloud KMS is one
more entry (docs/keys.md says how).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rekor_py.log.signer import KeyFileError, Signer

if TYPE_CHECKING:
    from rekor_py.config import Settings

__all__ = ["KEY_SETTINGS", "check_uri_keys", "open_note_key", "open_uri_key", "redact",
           "scheme_of", "uri_of"]


def uri_of(location: Path | str | None) -> str | None:
    """The key URI of a key setting, or None for a file path (Settings keeps URIs as str)."""
    return location if isinstance(location, str) else None


_SECRET_RE = re.compile(r"(pin-value=)[^&;]*", re.IGNORECASE)


def redact(uri: str) -> str:
    """`uri` fit for a log line or a report: any pin-value replaced by "***"."""
    return _SECRET_RE.sub(r"\1***", uri)


def scheme_of(uri: str) -> str:
    return uri.partition(":")[0].lower()


def _open_pkcs11(uri: str, settings: Settings) -> Signer:
    # Imported here: python-pkcs11 loads only on servers configured with a token.
    try:
        from rekor_py.keys.pkcs11 import open_pkcs11_key
    except ImportError as e:
        raise KeyFileError("a pkcs11: key needs python-pkcs11: pip install "
                           "'rekor-py[pkcs11]'") from e
    from rekor_py.keys.pkcs11_uri import parse_pkcs11_uri

    module = str(settings.pkcs11_module) if settings.pkcs11_module is not None else None
    return open_pkcs11_key(parse_pkcs11_uri(uri), default_module=module,
                           pin_env_value=os.environ.get(settings.pkcs11_pin_env) or None,
                           pin_env_name=settings.pkcs11_pin_env)


# scheme -> opener(uri, settings).  An opener returns a Signer whose `sign` applies the
# scheme log/signer.py documents, and raises KeyFileError (or ValueError) with one line.
_OPENERS: dict[str, Callable[[str, Settings], Signer]] = {
    "pkcs11": _open_pkcs11,
}


def open_uri_key(uri: str, settings: Settings, setting: str) -> Signer:
    """The key `uri` names, through its scheme's opener.  Raises KeyFileError whose
    message starts with `setting` (the setting it came from, for the error line)."""
    opener = _OPENERS.get(scheme_of(uri))
    if opener is None:
        raise KeyFileError(f"{setting}: unsupported key URI scheme {scheme_of(uri)!r} "
                           f"(supported: {', '.join(sorted(_OPENERS))}, or a PEM file path)")
    try:
        return opener(uri, settings)
    except ValueError as e:  # KeyFileError and the URI parsers' errors
        raise KeyFileError(f"{setting}: {e}") from e


# The key settings and how an error line names each (flags where there is one).
KEY_SETTINGS = (("signing_key", "--signing-key"), ("note_key", "REKOR_PY_NOTE_KEY"),
                ("v2_signing_key", "REKOR_PY_V2_SIGNING_KEY"), ("tsa_key", "REKOR_PY_TSA_KEY"))


def check_uri_keys(settings: Settings) -> None:
    """Open every key given as a URI once, before anything else starts, so that a
    wrong PIN, a missing object or a bad URI stops `serve` with one error line.
    Raises KeyFileError."""
    from rekor_py.tsa.certs import check_key

    for name, label in KEY_SETTINGS:
        if name == "v2_signing_key" and not settings.rekor_v2:
            continue
        uri = uri_of(getattr(settings, name))
        if uri is None:
            continue
        if name in ("note_key", "v2_signing_key"):
            open_note_key(settings, uri, label)
        elif name == "tsa_key":
            key = open_uri_key(uri, settings, label)
            check_key(key, f"{label}: {key!r}")
        else:
            open_uri_key(uri, settings, label)


def open_note_key(settings: Settings, location: Path | str, setting: str) -> Signer:
    """An Ed25519 note key (C2SP co-signer, or the Rekor v2 log key): the URI's key, or
    the PEM file at `location`, created on first start.  Raises KeyFileError."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from rekor_py.log.c2sp import load_or_create_note_key

    uri = uri_of(location)
    if uri is None:
        return load_or_create_note_key(Path(location))
    key = open_uri_key(uri, settings, setting)
    if not isinstance(key.public_key, ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{setting}: {key!r} is not an Ed25519 key")
    return key

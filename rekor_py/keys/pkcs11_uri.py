"""RFC 7512 PKCS#11 URIs: which token, which key, which module, which PIN.

    pkcs11:token=rekor;object=log-key;type=private?module-path=/usr/lib/...so&pin-source=file

The path (before "?") names the key, its attributes separated by ";"; the query
(after "?") says how to reach it, separated by "&".  Values are percent-decoded
(RFC 7512 section 2.3); `id` is bytes, every other value UTF-8 text.

Attributes honoured, and only these (anything else is refused rather than ignored,
since ignoring a selector could pick another key than the one the operator meant):

- path: `token`, `manufacturer`, `serial`, `model` (the token's label and
  CK_TOKEN_INFO fields), `slot-id` (decimal), `object` (CKA_LABEL), `id` (CKA_ID),
  `type` (only `private`: a signer needs the private key);
- query: `module-path` (the PKCS#11 library), `pin-value`, `pin-source` (a file
  holding the PIN, as a path or a `file:` URI).

Neither `object` nor `id` is optional: a key must be named, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes

__all__ = ["Pkcs11Uri", "Pkcs11UriError", "parse_pkcs11_uri"]

_SCHEME = "pkcs11:"
_PATH_ATTRS = frozenset({"token", "manufacturer", "serial", "model", "slot-id", "object",
                         "id", "type"})
_QUERY_ATTRS = frozenset({"module-path", "pin-value", "pin-source"})
# RFC 7512 pchar: unreserved, pct-encoded and a few sub-delims; anything else (a space,
# a quote) must be percent-encoded, which tells a mistyped URI from a real one.
_VALUE_RE = re.compile(r"(?:[A-Za-z0-9\-._~:\[\]@!$'()*+,=/|]|%[0-9A-Fa-f]{2})*")


class Pkcs11UriError(ValueError):
    """Not an RFC 7512 URI this server can use; the message says which part."""


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed PKCS#11 URI.  `repr` hides the PIN."""

    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    module_path: str | None = None
    pin_value: str | None = None
    pin_source: str | None = None

    def describe(self) -> str:
        """The key's name for error messages: object and id, never the PIN."""
        parts = [f"object={self.object!r}"] if self.object is not None else []
        if self.id is not None:
            parts.append(f"id={self.id.hex()}")
        return ", ".join(parts) or "(no selector)"

    def __repr__(self) -> str:
        return f"Pkcs11Uri({self.describe()})"


def _split(part: str, sep: str, allowed: frozenset[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not part:
        return out
    for item in part.split(sep):
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise Pkcs11UriError(f"PKCS#11 URI {where} attribute {item[:40]!r} is not name=value")
        name = name.lower()
        if name not in allowed and not name.startswith("x-"):
            raise Pkcs11UriError(f"PKCS#11 URI {where} attribute {name!r} is not supported "
                                 f"(supported: {', '.join(sorted(allowed))})")
        if name in out:
            raise Pkcs11UriError(f"PKCS#11 URI attribute {name!r} appears twice")
        if not _VALUE_RE.fullmatch(value):
            raise Pkcs11UriError(f"PKCS#11 URI attribute {name!r} has characters that must "
                                 "be percent-encoded")
        out[name] = value
    return out


def _text(raw: str, name: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise Pkcs11UriError(f"PKCS#11 URI attribute {name!r} is not UTF-8") from None


def parse_pkcs11_uri(uri: str) -> Pkcs11Uri:
    """Parse `uri` strictly (module docstring); raises Pkcs11UriError.

    The message never quotes the PIN."""
    if not uri[:len(_SCHEME)].lower() == _SCHEME:
        raise Pkcs11UriError("a PKCS#11 URI starts with 'pkcs11:'")
    rest = uri[len(_SCHEME):]
    path, _, query = rest.partition("?")
    attrs = _split(path, ";", _PATH_ATTRS, "path")
    params = _split(query, "&", _QUERY_ATTRS, "query")
    if "pin-value" in params and "pin-source" in params:
        raise Pkcs11UriError("PKCS#11 URI gives both pin-value and pin-source: give one")
    kind = _text(attrs["type"], "type") if "type" in attrs else "private"
    if kind != "private":
        raise Pkcs11UriError(f"PKCS#11 URI type={kind!r}: a signing key must be type=private")
    if "object" not in attrs and "id" not in attrs:
        raise Pkcs11UriError("PKCS#11 URI names no key: give object=<label> or id=<%xx bytes>")
    slot_id = None
    if "slot-id" in attrs:
        text = _text(attrs["slot-id"], "slot-id")
        if not text.isdigit():
            raise Pkcs11UriError("PKCS#11 URI slot-id must be a decimal number")
        slot_id = int(text)
    texts = {name: _text(value, name) for name, value in {**attrs, **params}.items()
             if name not in ("id", "slot-id", "type")}
    key_id = unquote_to_bytes(attrs["id"]) if "id" in attrs else None
    if key_id == b"":
        raise Pkcs11UriError("PKCS#11 URI id is empty")
    return Pkcs11Uri(token=texts.get("token"), manufacturer=texts.get("manufacturer"),
                     serial=texts.get("serial"), model=texts.get("model"), slot_id=slot_id,
                     object=texts.get("object"), id=key_id,
                     module_path=texts.get("module-path"), pin_value=texts.get("pin-value"),
                     pin_source=texts.get("pin-source"))

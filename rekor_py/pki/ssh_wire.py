"""SSH wire encoding and public key blobs, as golang.org/x/crypto/ssh reads them (v0.55.0).

Owns: RFC 4251 strings, uint32s and mpints (with x/crypto's Unmarshal errors),
parsing a public key blob (ParsePublicKey) into `KeyBlob`, re-marshalling it
(Marshal, so the canonical form is Go's), and reading one key from
authorized_keys text (ParseAuthorizedKey). Signature checks and SSHSIG live
in ssh.py.

Key types: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, and the FIDO
sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com. x/crypto
also parses ssh-dss and OpenSSH certificates; this log refuses them (DSA is
1024-bit only and gone from OpenSSH 10; certificates need their own policy).

Error texts are x/crypto's, since Rekor passes them to clients unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.pki.base import decode_std_base64

__all__ = [
    "ECDSA_CURVES",
    "EC_CURVES",
    "SK_ECDSA",
    "SK_ED25519",
    "KeyBlob",
    "WireError",
    "WireReader",
    "marshal_mpint",
    "marshal_string",
    "parse_authorized_key",
    "parse_public_key",
]

# Key type -> (nistID, hash its signatures use: x/crypto hashFunc).
ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": ("nistp256", "sha256"),
    "ecdsa-sha2-nistp384": ("nistp384", "sha384"),
    "ecdsa-sha2-nistp521": ("nistp521", "sha512"),
}
_COORDINATE_BYTES = {"nistp256": 32, "nistp384": 48, "nistp521": 66}
EC_CURVES: dict[str, ec.EllipticCurve] = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(),
                                          "nistp521": ec.SECP521R1()}

SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"

# Parsed by x/crypto but refused here (see the module docstring).
_REFUSED = frozenset(
    {"ssh-dss"}
    | {
        f"{t}-cert-v01@openssh.com"
        for t in ("ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                  "ecdsa-sha2-nistp521", "ssh-ed25519")
    }
    | {"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com"}
)
# Signature algorithm names that are not key formats (x/crypto keyFormatForAlgorithm).
_SIG_ONLY = {
    "rsa-sha2-256": "ssh-rsa",
    "rsa-sha2-512": "ssh-rsa",
    "rsa-sha2-256-cert-v01@openssh.com": "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com": "ssh-rsa-cert-v01@openssh.com",
}


class WireError(ValueError):
    """A blob that x/crypto would refuse; str(e) is x/crypto's message."""


SHORT_READ = "ssh: short read"
# x/crypto's parseError(0): empty input, or bytes left over after the last field.
PARSE_ERROR = "ssh: parse error in message type 0"


class WireReader:
    """Reads the fields of one x/crypto Unmarshal target struct, in order.

    `struct` names the Go type for fieldError messages (anonymous structs
    have the empty name, as in Go). Call `done()` after the last field.
    """

    def __init__(self, data: bytes, struct: str = "") -> None:
        if not data:
            raise WireError(PARSE_ERROR)
        self._data, self._pos, self._struct = data, 0, struct

    def fixed(self, n: int) -> bytes:
        if len(self._data) - self._pos < n:
            raise WireError(SHORT_READ)
        self._pos += n
        return self._data[self._pos - n : self._pos]

    def uint32(self) -> int:
        return int.from_bytes(self.fixed(4), "big")

    def _string(self) -> bytes | None:
        if len(self._data) - self._pos < 4:
            return None
        n = int.from_bytes(self._data[self._pos : self._pos + 4], "big")
        if len(self._data) - self._pos - 4 < n:
            return None
        self._pos += 4 + n
        return self._data[self._pos - n : self._pos]

    def bytes_field(self) -> bytes:
        """A Go []byte field: a string whose failure is a short read."""
        s = self._string()
        if s is None:
            raise WireError(SHORT_READ)
        return s

    def string_field(self, name: str) -> bytes:
        """A Go string field: its failure names the field (x/crypto fieldError)."""
        s = self._string()
        if s is None:
            raise WireError(f"ssh: unmarshal error for field {name} of type {self._struct}")
        return s

    def mpint(self) -> int:
        """An mpint as x/crypto parseInt reads it: two's complement, minimal or not."""
        s = self._string()
        if s is None:
            raise WireError(SHORT_READ)
        value = int.from_bytes(s, "big")
        return value - (1 << (8 * len(s))) if s and s[0] & 0x80 else value

    def rest(self) -> bytes:
        """A Go `ssh:"rest"` field: everything left."""
        out, self._pos = self._data[self._pos :], len(self._data)
        return out

    def done(self) -> None:
        if self._pos != len(self._data):
            raise WireError(PARSE_ERROR)


def marshal_string(s: bytes) -> bytes:
    return len(s).to_bytes(4, "big") + s


def marshal_mpint(n: int) -> bytes:
    """x/crypto writeInt: minimal two's complement, zero as the empty string."""
    if n == 0:
        return marshal_string(b"")
    if n > 0:
        body = n.to_bytes((n.bit_length() + 8) // 8, "big")  # room for a clear sign bit
    else:
        body = n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)
    return marshal_string(body)


@dataclass(frozen=True)
class KeyBlob:
    """A parsed public key blob.

    `key_type` is Go's PublicKey.Type(); `blob` is Go's Marshal() of the key,
    which is what MarshalAuthorizedKey encodes. The fields after that are the
    material needed to verify: `key` is the Ed25519 key or EC point (SEC1,
    uncompressed), `rsa_e`/`rsa_n` the RSA numbers, `application` the FIDO
    application string of sk keys.
    """

    key_type: str
    blob: bytes
    key: bytes = b""
    rsa_e: int = 0
    rsa_n: int = 0
    application: bytes = b""


def parse_public_key(data: bytes) -> KeyBlob:
    """x/crypto ParsePublicKey; raises WireError."""
    if len(data) < 4 or len(data) - 4 < int.from_bytes(data[:4], "big"):
        raise WireError(SHORT_READ)
    end = 4 + int.from_bytes(data[:4], "big")
    return _parse_body(data[4:end].decode("utf-8", "replace"), data[end:])


def _parse_body(algo: str, body: bytes) -> KeyBlob:
    if algo == "ssh-ed25519":
        r = WireReader(body)
        raw = r.bytes_field()
        if len(raw) != 32:
            raise WireError(f"invalid size {len(raw)} for Ed25519 public key")
        _no_trailing_junk(r)
        return KeyBlob(algo, marshal_string(algo.encode()) + marshal_string(raw), key=raw)
    if algo == "ssh-rsa":
        return _parse_rsa(body)
    if algo in ECDSA_CURVES:
        r = WireReader(body)
        curve = r.string_field("Curve").decode("utf-8", "replace")
        point = r.bytes_field()
        if algo != "ecdsa-sha2-" + curve:
            raise WireError(
                f'ssh: algorithm type mismatch: expected "{algo}", found curve "{curve}" (type "ecdsa-sha2-{curve}")'
            )
        _check_point(curve, point)
        _no_trailing_junk(r)
        return KeyBlob(algo,
                       marshal_string(algo.encode()) + marshal_string(curve.encode())
                       + marshal_string(point), key=point)
    if algo == SK_ED25519:
        r = WireReader(body)
        raw = r.bytes_field()
        app = r.string_field("Application")
        if len(raw) != 32:
            raise WireError(f"invalid size {len(raw)} for Ed25519 public key")
        _no_trailing_junk(r)
        blob = marshal_string(algo.encode()) + marshal_string(raw) + marshal_string(app)
        return KeyBlob(algo, blob, key=raw, application=app)
    if algo == SK_ECDSA:
        r = WireReader(body)
        curve = r.string_field("Curve").decode("utf-8", "replace")
        point = r.bytes_field()
        app = r.string_field("Application")
        if curve != "nistp256":
            raise WireError("ssh: unsupported curve")
        _check_point(curve, point)
        _no_trailing_junk(r)
        blob = marshal_string(algo.encode()) + marshal_string(b"nistp256") + marshal_string(point) + marshal_string(app)
        return KeyBlob(algo, blob, key=point, application=app)
    if algo in _REFUSED:
        raise WireError(f"ssh: unsupported key algorithm: {algo}")
    if algo in _SIG_ONLY:
        raise WireError(
            f'ssh: signature algorithm "{algo}" isn\'t a key format; '
            f'key is malformed and should be re-encoded with type "{_SIG_ONLY[algo]}"'
        )
    raise WireError(f"ssh: unknown key algorithm: {algo}")


def _parse_rsa(body: bytes) -> KeyBlob:
    r = WireReader(body)
    e, n = r.mpint(), r.mpint()
    if n.bit_length() > 16384:
        raise WireError("ssh: rsa modulus too large")
    if e.bit_length() > 24:
        raise WireError("ssh: exponent too large")
    if e < 3 or e & 1 == 0:
        raise WireError("ssh: incorrect exponent")
    if n <= 0:
        # Go parses it, but no signature can ever verify under it; say so now.
        raise WireError("ssh: invalid RSA modulus")
    _no_trailing_junk(r)
    blob = marshal_string(b"ssh-rsa") + marshal_mpint(e) + marshal_mpint(n)
    return KeyBlob("ssh-rsa", blob, rsa_e=e, rsa_n=n)


def _no_trailing_junk(r: WireReader) -> None:
    # The key structs end in a `rest` field that ParsePublicKey requires empty.
    if r.rest():
        raise WireError("ssh: trailing junk in public key")


def _check_point(curve: str, point: bytes) -> None:
    """Go's elliptic.Unmarshal: uncompressed form, right length, on the curve."""
    size = _COORDINATE_BYTES[curve]
    if len(point) != 1 + 2 * size or point[0] != 4:
        raise WireError("ssh: invalid curve point")
    # On-curve is checked by `cryptography` when the point is loaded.
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(EC_CURVES[curve], point)
    except ValueError as e:
        raise WireError("ssh: invalid curve point") from e


# ---- authorized_keys ---------------------------------------------------------------------


def _parse_key_field(text: bytes) -> tuple[KeyBlob, bytes]:
    """x/crypto parseAuthorizedKey: base64 blob, then the comment; raises WireError."""
    text = text.strip()
    i = _index_any_space(text)
    b64 = text[: i if i >= 0 else len(text)]
    raw = decode_std_base64(b64)
    # Go's message carries the byte offset; ours does not (no client matches on it).
    if raw is None:
        raise WireError("illegal base64 data")
    key = parse_public_key(raw)
    comment = text[len(b64) :].strip()
    return key, comment


def _index_any_space(s: bytes) -> int:
    positions = [p for p in (s.find(b" "), s.find(b"\t")) if p >= 0]
    return min(positions) if positions else -1


def _try_line(declared: bytes, key_field: bytes) -> tuple[KeyBlob, bytes]:
    key, comment = _parse_key_field(key_field)
    # x/crypto >= v0.45: the declared type must match the blob's, as in OpenSSH.
    if declared.decode("utf-8", "replace") != key.key_type:
        raise WireError(
            f'ssh: authorized keys key type mismatch: human-readable type '
            f'"{declared.decode("utf-8", "replace")}", encoded type "{key.key_type}"'
        )
    return key, comment


def parse_authorized_key(data: bytes) -> tuple[KeyBlob, bytes]:
    """The first key in authorized_keys text, with its comment (ParseAuthorizedKey); raises WireError.

    Blank and `#` lines are skipped, an options field before the key type is
    allowed, and unparseable lines are skipped; with no key at all the error is
    "ssh: no key found", plus the last line's parse error if there was one.
    """
    last_error: WireError | None = None
    rest = data
    while rest:
        end = rest.find(b"\n")
        line, rest = (rest[:end], rest[end + 1 :]) if end >= 0 else (rest, b"")
        cr = line.find(b"\r")
        if cr >= 0:
            line = line[:cr]
        line = line.strip()
        if not line or line[0:1] == b"#":
            continue
        i = _index_any_space(line)
        if i < 0:
            continue
        try:
            return _try_line(line[:i], line[i:])
        except WireError as e:
            last_error = e
        # No key type first: maybe an options field (quoted commas and spaces allowed).
        after_options = _skip_options(line)
        if after_options is None:
            continue
        i = _index_any_space(after_options)
        if i < 0:
            continue
        try:
            return _try_line(after_options[:i], after_options[i:])
        except WireError as e:
            last_error = e
    if last_error is not None:
        raise WireError(f"ssh: no key found; last parsing error for ignored line: {last_error}")
    raise WireError("ssh: no key found")


def _skip_options(line: bytes) -> bytes | None:
    """The line after its options field, as x/crypto scans it; None for an unmatched quote."""
    in_quote = False
    i = len(line) - 1  # Go's range variable keeps the last index when the loop runs out
    for j, b in enumerate(line):
        if not in_quote and b in b" \t":
            i = j
            break
        if b == ord('"') and (j == 0 or line[j - 1] != ord("\\")):
            in_quote = not in_quote
    while i < len(line) and line[i] in b" \t":
        i += 1
    if i == len(line):
        return None
    return line[i:]

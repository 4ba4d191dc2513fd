"""The ssh signature format: authorized_keys public keys and SSHSIG signatures
(docs/rekor-compat.md#rekord).

Owns: SSHPublicKey (one authorized_keys line, 64 KiB cap, canonical form
`ssh.MarshalAuthorizedKey`: "<type> <b64 blob>\\n", comment dropped; the
comment is the identity when it is an email, as Rekor's govalidator check
decides), SSHSignature (an armored SSHSIG as `ssh-keygen -Y sign` writes it,
canonical form re-armored the way Rekor's Armor does), and verification of
the signature algorithms x/crypto accepts: ssh-ed25519, rsa-sha2-256/512 and
ssh-rsa (SHA-1, still accepted by x/crypto), ecdsa-sha2-nistp256/384/521,
and the FIDO sk-ssh-ed25519 / sk-ecdsa-sha2-nistp256 forms.

SSHSIG (openssh PROTOCOL.sshsig):

    blob   = "SSHSIG" uint32(1) string(publickey) string(namespace)
             string(reserved) string(hash_algorithm) string(signature)
    signed = "SSHSIG" string(namespace) string(reserved) string(hash_algorithm)
             string(H(message))

Rekor's rules (pkg/pki/ssh): the namespace must be `file`; the hash is
sha256 or sha512 at parse time, but the canonical form always says sha512
and Rekor verifies that form, so only sha512 signatures verify. Here a
sha256 one is refused with its own message instead of a failed signature.
Stricter than Rekor: the key inside the SSHSIG must be the key given (Rekor
ignores it, yet stores it in the canonical signature).

Written on `cryptography`, not the `sshsig` package: sshsig 0.3.1 has no
ECDSA or FIDO keys, reads keys its own way rather than as Go does, and has
its own error texts; what Rekor needs is small.

Leaves to others: wire encoding and key blobs (ssh_wire.py), PEM (pem.py),
which kinds accept ssh (types/).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from rekor_py.pki.base import HashName, InvalidKeyError, InvalidSignatureError, PublicKey
from rekor_py.pki.govalidator_email import is_email
from rekor_py.pki.pem import decode_pem, encode_pem
from rekor_py.pki.ssh_wire import (
    EC_CURVES,
    ECDSA_CURVES,
    SK_ECDSA,
    SK_ED25519,
    KeyBlob,
    WireError,
    WireReader,
    marshal_string,
    parse_authorized_key,
    parse_public_key,
)

__all__ = ["MAX_KEY_BYTES", "MAX_SIGNATURE_BYTES", "SSHPublicKey", "SSHSignature", "is_email"]

# Rekor reads public keys through http.MaxBytesReader(65536) (docs/rekor-compat.md#limits).
MAX_KEY_BYTES = 65536
# Rekor has no cap of its own here; a 16384-bit RSA SSHSIG is under 8 KiB.
MAX_SIGNATURE_BYTES = 65536

_MAGIC = b"SSHSIG"
_NAMESPACE = b"file"
_PEM_TYPE = "SSH SIGNATURE"
_HASHES = {b"sha256": hashlib.sha256, b"sha512": hashlib.sha512}
_CANONICAL_HASH = b"sha512"  # what Rekor's Armor always writes

_VERIFY_FAILED = "ssh: signature did not verify"
_RSA_FAILED = "crypto/rsa: verification error"  # Go's rsa.ErrVerification


# ---- public keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SSHPublicKey:
    """One SSH public key; equal keys have equal blobs, whatever their comments."""

    key: KeyBlob
    comment: str = field(default="", compare=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse the first key of authorized_keys text (ssh.ParseAuthorizedKey); raises InvalidKeyError."""
        data = bytes(data)
        if len(data) > MAX_KEY_BYTES:
            raise InvalidKeyError(f"ssh: public key larger than {MAX_KEY_BYTES} bytes")
        try:
            key, comment = parse_authorized_key(data)
        except WireError as e:
            raise InvalidKeyError(str(e)) from e
        return cls(key, comment.decode("utf-8", "replace"))

    @property
    def key_type(self) -> str:
        return self.key.key_type

    def canonical_value(self) -> bytes:
        """ssh.MarshalAuthorizedKey: "<type> <b64 blob>\\n", no comment."""
        return self.key.key_type.encode() + b" " + base64.b64encode(self.key.blob) + b"\n"

    def identities(self) -> list[str]:
        """The comment, when it is an email address (Rekor's EmailAddresses)."""
        return [self.comment] if is_email(self.comment) else []

    def verify(self, signature: bytes, data: bytes) -> None:
        """Parse `signature` (an armored SSHSIG) and verify it over `data`; raises InvalidSignatureError."""
        SSHSignature.from_bytes(signature).verify(data, self)

    def verify_digest(self, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        """SSHSIG signs a message it hashes itself, so this always raises InvalidSignatureError."""
        raise InvalidSignatureError("ssh signatures cannot be verified against a precomputed digest")


# ---- signatures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SSHSignature:
    """An SSHSIG: the signer's key, the hash it used and the inner SSH signature."""

    public_key: KeyBlob
    hash_algorithm: str
    sig_format: str
    sig_blob: bytes
    sig_rest: bytes = b""

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse an armored SSHSIG like Rekor's ssh.Decode; raises InvalidSignatureError."""
        data = bytes(data)
        if len(data) > MAX_SIGNATURE_BYTES:
            raise InvalidSignatureError(f"ssh signature larger than {MAX_SIGNATURE_BYTES} bytes")
        block, _ = decode_pem(data)
        if block is None:
            raise InvalidSignatureError("unable to decode pem file")
        if block.type != _PEM_TYPE:
            raise InvalidSignatureError(f"wrong pem block type: {block.type}. Expected SSH-SIGNATURE")
        try:
            return cls._from_blob(block.data)
        except WireError as e:
            raise InvalidSignatureError(str(e)) from e

    @classmethod
    def _from_blob(cls, blob: bytes) -> Self:
        # ssh.Unmarshal into Rekor's WrappedSig, then its checks, in its order.
        r = WireReader(blob, "WrappedSig")
        magic, version = r.fixed(6), r.uint32()
        public_key = r.string_field("PublicKey")
        namespace = r.string_field("Namespace")
        r.string_field("Reserved")  # ignored by Rekor, and written back empty
        hash_algorithm = r.string_field("HashAlgorithm")
        signature = r.string_field("Signature")
        r.done()
        if version != 1:
            raise WireError(f"unsupported signature version: {version}")
        if magic != _MAGIC:
            raise WireError(f"invalid magic header: {_go_str(magic)}")
        if namespace != _NAMESPACE:
            raise WireError(f"invalid signature namespace: {_go_str(namespace)}")
        if hash_algorithm not in _HASHES:
            raise WireError(f"unsupported hash algorithm: {_go_str(hash_algorithm)}")
        s = WireReader(signature, "Signature")
        sig_format, sig_blob, sig_rest = s.string_field("Format"), s.bytes_field(), s.rest()
        key = parse_public_key(public_key)
        return cls(key, hash_algorithm.decode(), _go_str(sig_format), sig_blob, sig_rest)

    def canonical_value(self) -> bytes:
        """Rekor's Armor: the SSHSIG rebuilt with namespace file and hash sha512, as 64-column PEM."""
        inner = marshal_string(self.sig_format.encode()) + marshal_string(self.sig_blob) + self.sig_rest
        blob = (
            _MAGIC
            + (1).to_bytes(4, "big")
            + marshal_string(self.public_key.blob)
            + marshal_string(_NAMESPACE)
            + marshal_string(b"")
            + marshal_string(_CANONICAL_HASH)
            + marshal_string(inner)
        )
        return encode_pem(_PEM_TYPE, blob)

    def verify(self, data: bytes, key: PublicKey) -> None:
        """Verify over the whole of `data` with an SSHPublicKey; raises InvalidSignatureError."""
        if not isinstance(key, SSHPublicKey):
            raise InvalidSignatureError("invalid public key type: not an ssh public key")
        if self.hash_algorithm != _CANONICAL_HASH.decode():
            raise InvalidSignatureError(
                f"unsupported hash algorithm: {self.hash_algorithm} (only sha512 SSHSIG signatures verify)"
            )
        signed = (
            _MAGIC
            + marshal_string(_NAMESPACE)
            + marshal_string(b"")
            + marshal_string(_CANONICAL_HASH)
            + marshal_string(hashlib.sha512(data).digest())
        )
        _verify_ssh(key.key, signed, self.sig_format, self.sig_blob, self.sig_rest)
        # After the signature check, so a wrong key reads as Rekor would report it.
        if self.public_key.blob != key.key.blob:
            raise InvalidSignatureError("ssh: the public key in the signature is not the public key given")


def _go_str(b: bytes) -> str:
    return b.decode("utf-8", "replace")


# ---- signature algorithms (x/crypto PublicKey.Verify) ----------------------------------------

# Signature formats an ssh-rsa key accepts (x/crypto algorithmsForKeyFormat), with their hashes.
_RSA_FORMATS: dict[str, hashes.HashAlgorithm] = {
    "rsa-sha2-256": hashes.SHA256(),
    "rsa-sha2-512": hashes.SHA512(),
    "ssh-rsa": hashes.SHA1(),
}
_EC_HASHES: dict[str, hashes.HashAlgorithm] = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                                               "sha512": hashes.SHA512()}


def _verify_ssh(key: KeyBlob, signed: bytes, sig_format: str, blob: bytes, rest: bytes) -> None:
    """x/crypto's Verify for `key`'s type; raises InvalidSignatureError with x/crypto's texts."""
    try:
        if key.key_type == "ssh-rsa":
            _verify_rsa(key, signed, sig_format, blob)
            return
        if sig_format != key.key_type:
            raise WireError(f"ssh: signature type {sig_format} for key type {key.key_type}")
        if key.key_type == "ssh-ed25519":
            _verify_ed25519(key.key, blob, signed)
        elif key.key_type in ECDSA_CURVES:
            nist_id, hash_name = ECDSA_CURVES[key.key_type]
            _verify_ecdsa(EC_CURVES[nist_id], key.key, blob,
                          hashlib.new(hash_name, signed).digest(), _EC_HASHES[hash_name])
        elif key.key_type in (SK_ED25519, SK_ECDSA):
            _verify_sk(key, signed, blob, rest)
        else:  # pragma: no cover - parse_public_key returns no other type
            raise WireError(f"ssh: unknown key algorithm: {key.key_type}")
    except WireError as e:
        raise InvalidSignatureError(str(e)) from e


def _verify_rsa(key: KeyBlob, signed: bytes, sig_format: str, blob: bytes) -> None:
    algorithm = _RSA_FORMATS.get(sig_format)
    if algorithm is None:
        raise WireError(f"ssh: signature type {sig_format} for key type ssh-rsa")
    size = (key.rsa_n.bit_length() + 7) // 8
    if key.rsa_n.bit_length() < 1024:
        # Go >= 1.24 refuses RSA keys under 1024 bits for every operation.
        raise WireError(f"crypto/rsa: {key.rsa_n.bit_length()}-bit keys are insecure")
    # x/crypto pads signatures that lost leading zero bytes (PuTTY, SSH.NET do this).
    blob = blob.rjust(size, b"\0")
    try:
        public = rsa.RSAPublicNumbers(key.rsa_e, key.rsa_n).public_key()
        public.verify(blob, signed, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError) as e:
        raise WireError(_RSA_FAILED) from e


def _verify_ed25519(raw_key: bytes, signature: bytes, message: bytes) -> None:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except (InvalidSignature, ValueError) as e:
        raise WireError(_VERIFY_FAILED) from e


def _verify_ecdsa(curve: ec.EllipticCurve, point: bytes, blob: bytes, digest: bytes,
                  algorithm: hashes.HashAlgorithm) -> None:
    # RFC 5656 §3.1.2: mpint r, mpint s, nothing else (x/crypto Unmarshal).
    r = WireReader(blob)
    sig_r, sig_s = r.mpint(), r.mpint()
    r.done()
    _verify_ecdsa_numbers(curve, point, sig_r, sig_s, digest, algorithm)


def _verify_ecdsa_numbers(
    curve: ec.EllipticCurve, point: bytes, sig_r: int, sig_s: int, digest: bytes, algorithm: hashes.HashAlgorithm
) -> None:
    if sig_r <= 0 or sig_s <= 0:  # Go's ecdsa.Verify refuses these; encode_dss_signature cannot hold them
        raise WireError(_VERIFY_FAILED)
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        public.verify(utils.encode_dss_signature(sig_r, sig_s), digest, ec.ECDSA(utils.Prehashed(algorithm)))
    except (InvalidSignature, ValueError) as e:
        raise WireError(_VERIFY_FAILED) from e


def _verify_sk(key: KeyBlob, signed: bytes, blob: bytes, rest: bytes) -> None:
    """FIDO keys (openssh PROTOCOL.u2f): the authenticator signs app hash, flags, counter, data hash."""
    # x/crypto's order: the signature blob, then the FIDO fields after it.
    if key.key_type == SK_ED25519:
        ed_sig = WireReader(blob).rest()  # struct{Signature []byte `ssh:"rest"`}: must be non-empty
    else:
        r = WireReader(blob)
        sig_r, sig_s = r.mpint(), r.mpint()
        r.done()
    extra = WireReader(rest)
    flags, counter = extra.fixed(1), extra.fixed(4)
    extra.done()
    if flags[0] & 0x01 == 0:
        raise WireError("ssh: signature missing required user presence flag")
    original = hashlib.sha256(key.application).digest() + flags + counter + hashlib.sha256(signed).digest()
    if key.key_type == SK_ED25519:
        _verify_ed25519(key.key, ed_sig, original)
    else:
        _verify_ecdsa_numbers(EC_CURVES["nistp256"], key.key, sig_r, sig_s,
                              hashlib.sha256(original).digest(), hashes.SHA256())

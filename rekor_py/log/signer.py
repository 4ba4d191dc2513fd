"""The log's signing key: load or create it, sign with it, and name it.

This module owns the `Signer` protocol (a public key and `sign(message)`), its
in-memory implementation `FileKey`, and the identifiers derived from the public
half (docs/rekor-compat.md#identifiers and #log-key).  Keys held elsewhere (a
PKCS#11 token, see rekor_py/keys/) implement the same protocol; everything that
signs (checkpoints, SETs, C2SP notes, TSA tokens) signs only through it
(docs/keys.md).  It leaves the formats that get signed to checkpoint.py (signed
notes) and set.py (signed entry timestamps).

Identifiers, for every key type:

- `spki_der`: DER SubjectPublicKeyInfo of the public key.
- `log_id`: SHA-256(spki_der), 32 bytes; `log_id_hex` is the lowercase hex form that
  appears as `logID` in LogEntry responses.
- `key_hint`: log_id[:4], the key ID in checkpoint signature lines.  Rekor uses this
  for Ed25519 too, not the C2SP signed-note key ID
  (docs/rekor-compat.md#trap-key-hint).

Signature schemes (docs/rekor-compat.md#log-key), identical for checkpoints and SETs:

- ECDSA P-256 and P-384: ASN.1 DER over SHA-256(message).  P-384 also hashes with
  SHA-256, because Rekor's own verifiers pass a SHA-256 digest.
- Ed25519: pure Ed25519 over the message.
- RSA (>= 2048 bits): PKCS#1 v1.5 over SHA-256(message).

The private key never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import NoReturn, Protocol, TypeAlias, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from rekor_py.errors import SigningError
from rekor_py.statefile import create_new_file

__all__ = [
    "FileKey",
    "KeyFileError",
    "LogSigner",
    "LogVerifier",
    "PrivateKey",
    "PublicKey",
    "SignatureError",
    "Signer",
    "as_signer",
    "signs_in_memory",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

_CURVES = (ec.SECP256R1, ec.SECP384R1)
_MIN_RSA_BITS = 2048
# A PEM key file is a few KiB at most (RSA-4096 is about 3.3 KiB); refuse anything
# much larger instead of reading it into memory.
_MAX_KEY_FILE_BYTES = 64 * 1024


class SignatureError(ValueError):
    """A signature does not verify under the log's public key."""


class KeyFileError(ValueError):
    """A key cannot be loaded: unreadable, unsafe permissions, wrong password, bad type."""


@runtime_checkable
class Signer(Protocol):
    """A signing key wherever it lives: its public half and a `sign` that applies the
    scheme its type dictates (module docstring).  Implementations must be safe to
    call from several threads, so that callers may sign off the event loop, and
    raise SigningError (rekor_py.errors) when the key cannot sign."""

    @property
    def public_key(self) -> PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


class FileKey:
    """A private key held in this process's memory (loaded from a PEM file or made
    here): the Signer for keys that are not in a token.  cryptography's keys are
    safe to use from several threads."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: PrivateKey) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                          | rsa.RSAPrivateKey):
            raise KeyFileError(f"unsupported private key type {type(key).__name__}")
        self._public = _check_public_key(key.public_key())
        self._key = key

    @property
    def private_key(self) -> PrivateKey:
        return self._key

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Sign `message` with the scheme of the key's type; raises SigningError."""
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key.sign(message, ec.ECDSA(hashes.SHA256()))
            if isinstance(key, rsa.RSAPrivateKey):
                return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            return key.sign(message)
        except Exception as e:  # a local key should never fail; be explicit if it does
            raise SigningError from e

    def __repr__(self) -> str:
        return f"FileKey({_algorithm(self._public)})"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the private key into whatever stores the pickle.
        raise TypeError("FileKey cannot be pickled")


def as_signer(key: Signer | PrivateKey) -> Signer:
    """`key` as a Signer: a cryptography private key is wrapped in a FileKey."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                  | rsa.RSAPrivateKey):
        return FileKey(key)
    if isinstance(key, Signer):
        return key
    raise KeyFileError(f"unsupported private key type {type(key).__name__}")


def signs_in_memory(signer: Signer) -> bool:
    """True for a key in this process (microseconds, CPU only); False for one in a
    token or service, whose calls wait on a device or network and so are made off
    the event loop (the sequencer and the log service hand them to a thread)."""
    return isinstance(signer, FileKey)


def _check_public_key(key: object) -> PublicKey:
    """Return `key` if it is a type and size the log may use; raise KeyFileError otherwise."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _CURVES):
            raise KeyFileError(f"unsupported ECDSA curve {key.curve.name}: use P-256 or P-384")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise KeyFileError(f"RSA key of {key.key_size} bits is too small (minimum 2048)")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise KeyFileError(f"unsupported key type {type(key).__name__}: use ECDSA, Ed25519 or RSA")


def _algorithm(key: PublicKey) -> str:
    """A short, non-secret description of the key, for reprs and logs."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ecdsa-{key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    return "ed25519"


class LogVerifier:
    """The log's public key: identifiers and `verify`.  Build with from_pem/from_der."""

    __slots__ = ("_key", "_spki_der", "_log_id")

    def __init__(self, key: PublicKey) -> None:
        self._key = _check_public_key(key)
        self._spki_der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._log_id = hashlib.sha256(self._spki_der).digest()

    @classmethod
    def from_pem(cls, data: bytes | str) -> LogVerifier:
        """Load a PEM SubjectPublicKeyInfo; raises KeyFileError."""
        raw = data.encode("ascii", "replace") if isinstance(data, str) else data
        try:
            key = serialization.load_pem_public_key(raw)
        except (ValueError, UnsupportedAlgorithm) as e:
            raise KeyFileError("not a PEM SubjectPublicKeyInfo public key") from e
        return cls(_check_public_key(key))

    @classmethod
    def from_der(cls, data: bytes) -> LogVerifier:
        """Load a DER SubjectPublicKeyInfo; raises KeyFileError."""
        try:
            key = serialization.load_der_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as e:
            raise KeyFileError("not a DER SubjectPublicKeyInfo public key") from e
        return cls(_check_public_key(key))

    @property
    def public_key(self) -> PublicKey:
        return self._key

    @property
    def spki_der(self) -> bytes:
        """DER SubjectPublicKeyInfo: the bytes whose SHA-256 is the log ID."""
        return self._spki_der

    @property
    def public_key_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo, as served by GET /api/v1/log/publicKey."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def log_id(self) -> bytes:
        """SHA-256 of the DER SubjectPublicKeyInfo (32 bytes)."""
        return self._log_id

    @property
    def log_id_hex(self) -> str:
        return self._log_id.hex()

    @property
    def key_hint(self) -> bytes:
        """The 4-byte key ID of checkpoint signature lines: log_id[:4]."""
        return self._log_id[:4]

    @property
    def algorithm(self) -> str:
        """"ecdsa-secp256r1", "ecdsa-secp384r1", "ed25519" or "rsa-<bits>"."""
        return _algorithm(self._key)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check `signature` over `message` with the log's scheme; raises SignatureError."""
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                key.verify(signature, message)
        except (InvalidSignature, ValueError) as e:
            raise SignatureError(f"signature does not verify under log key {self.log_id_hex}") from e

    def __repr__(self) -> str:
        return f"LogVerifier({self.algorithm}, log_id={self.log_id_hex})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogVerifier) and other._spki_der == self._spki_der

    def __hash__(self) -> int:
        return hash(self._log_id)


class LogSigner:
    """The log's key (any Signer) with its identifiers.  Build with a Signer or a
    private key, or with generate/from_pem/load_or_create."""

    __slots__ = ("_signer", "_verifier")

    def __init__(self, key: Signer | PrivateKey) -> None:
        self._signer = as_signer(key)
        self._verifier = LogVerifier(self._signer.public_key)

    @classmethod
    def generate(cls) -> LogSigner:
        """A fresh ECDSA P-256 key (like Rekor's `memory` signer)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, data: bytes | str, password: bytes | str | None = None) -> LogSigner:
        """Load a PEM private key: PKCS#8 (optionally encrypted), SEC1 or PKCS#1.

        Raises KeyFileError for a wrong or missing password, a malformed key, or a key
        type or size the log does not use.
        """
        raw = data.encode("ascii", "replace") if isinstance(data, str) else data
        secret = _secret(password)
        try:
            key = serialization.load_pem_private_key(raw, password=secret)
        except TypeError as e:
            # cryptography: password given for a plain key, or missing for an encrypted one.
            hint = "is not encrypted" if secret else "is encrypted: a password is required"
            raise KeyFileError(f"private key {hint}") from e
        except (ValueError, UnsupportedAlgorithm) as e:
            # The cause may quote key material: keep it out of our message.
            raise KeyFileError("cannot load the private key: malformed PEM or wrong password") from e
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                          | rsa.RSAPrivateKey):
            raise KeyFileError(f"unsupported private key type {type(key).__name__}")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path, password: bytes | str | None = None) -> LogSigner:
        """Load the key file at `path`, or create an ECDSA P-256 one there (mode 0600).

        Creation is atomic: the key is written to a temporary file and linked into
        place, so a crash or a concurrent start never leaves a partial or second key.
        An existing file that group or others can access is refused.  Raises
        KeyFileError.
        """
        path = Path(path)
        try:
            return cls._load_file(path, password)
        except FileNotFoundError:
            pass
        signer = cls.generate()
        if not signer._create_file(path, password):
            # Someone else created it between our read and our link: use theirs.
            return cls._load_file(path, password)
        return signer

    @classmethod
    def _load_file(cls, path: Path, password: bytes | str | None) -> LogSigner:
        """Read an existing key file; FileNotFoundError passes through."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise KeyFileError(f"key file {path} is a symbolic link: refusing it") from e
            raise KeyFileError(f"cannot open key file {path}: {e.strerror}") from e
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise KeyFileError(f"key file {path} is not a regular file")
        with os.fdopen(fd, "rb") as f:
            if st.st_mode & 0o077:
                raise KeyFileError(
                    f"key file {path} has mode {stat.S_IMODE(st.st_mode):04o}: it must not be "
                    f"accessible by group or others (chmod 600 {path})"
                )
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
        if len(data) > _MAX_KEY_FILE_BYTES:
            raise KeyFileError(f"key file {path} is larger than {_MAX_KEY_FILE_BYTES} bytes")
        return cls.from_pem(data, password)

    def _create_file(self, path: Path, password: bytes | str | None) -> bool:
        """Write our key to `path` atomically (0600); False if `path` appeared
        meanwhile (never replace a key)."""
        try:
            return create_new_file(path, self.private_pem(password), 0o600)
        except OSError as e:
            raise KeyFileError(f"cannot create key file {path}: {e.strerror}") from e

    @property
    def signer(self) -> Signer:
        """The key that signs: a FileKey, or one held in a token."""
        return self._signer

    def private_pem(self, password: bytes | str | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when a password is given.

        Only for a key in memory (FileKey); raises KeyFileError otherwise."""
        if not isinstance(self._signer, FileKey):
            raise KeyFileError(f"{self._signer!r} is not a key in memory: it cannot be exported")
        secret = _secret(password)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret) if secret
            else serialization.NoEncryption()
        )
        return self._signer.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def verifier(self) -> LogVerifier:
        """The public half, for verification and publication."""
        return self._verifier

    @property
    def public_key(self) -> PublicKey:
        return self._verifier.public_key

    @property
    def spki_der(self) -> bytes:
        return self._verifier.spki_der

    @property
    def public_key_pem(self) -> bytes:
        return self._verifier.public_key_pem

    @property
    def log_id(self) -> bytes:
        return self._verifier.log_id

    @property
    def log_id_hex(self) -> str:
        return self._verifier.log_id_hex

    @property
    def key_hint(self) -> bytes:
        return self._verifier.key_hint

    @property
    def algorithm(self) -> str:
        return self._verifier.algorithm

    def sign(self, message: bytes) -> bytes:
        """Sign `message` with the log's scheme (module docstring); raises SigningError."""
        return self._signer.sign(message)

    def __repr__(self) -> str:
        return f"LogSigner({self.algorithm}, log_id={self.log_id_hex})"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the private key into whatever stores the pickle.
        raise TypeError("LogSigner cannot be pickled")


def _secret(password: bytes | str | None) -> bytes | None:
    """A password as bytes; an empty one means none."""
    secret = password.encode() if isinstance(password, str) else password
    return secret or None

"""A signing key held in a PKCS#11 token (an HSM; SoftHSM2 in tests): the Signer.

The private key never leaves the token: we hold a handle to it and ask the token
to sign.  A key the token would let go of (CKA_EXTRACTABLE true or CKA_SENSITIVE
false) is refused, so "in hardware" means what it says.

Schemes, as log/signer.py defines them for every key, with the token's mechanism:

- ECDSA P-256/P-384: we hash the message with SHA-256 and the token signs the
  digest with CKM_ECDSA; it answers r ‖ s (each the curve's size, PKCS#11 section
  2.3.1), which we re-encode as the ASN.1 DER that verifiers expect.
- Ed25519: CKM_EDDSA over the message itself (pure Ed25519).
- RSA: CKM_SHA256_RSA_PKCS over the message (PKCS#1 v1.5 with SHA-256).

The public key comes from the token: RSA's modulus and exponent from the private
object; for EC and Ed25519 (whose private objects do not carry the point) from the
public key object with the same CKA_ID, else the same label.  On opening, a probe
message is signed and verified with that public key, so a public object that does
not belong to the private key is an error at start-up, not bad signatures later.

Sessions: PKCS#11 forbids using one session from two threads at once, and the
server signs from the event loop and from worker threads.  All keys of one token
(module, token, PIN) share one `TokenSession`, whose lock serializes every call.
A token whose session breaks (the HSM restarted, the session was closed, a network
HSM reconnected) gets one new session, logged in again, and the call is retried
once; the keys' object handles are looked up again in the new session.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from rekor_py.errors import SigningError
from rekor_py.keys.pkcs11_uri import Pkcs11Uri
from rekor_py.log.signer import KeyFileError, PublicKey

__all__ = ["Pkcs11Key", "TokenSession", "open_pkcs11_key"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# DER of the curves' OIDs, as CKA_EC_PARAMS holds them (namedCurve).
_CURVES: dict[bytes, ec.EllipticCurve] = {
    bytes.fromhex("06082a8648ce3d030107"): ec.SECP256R1(),
    bytes.fromhex("06052b81040022"): ec.SECP384R1(),
}
# Ed25519's CKA_EC_PARAMS: the OID 1.3.101.112, or (PKCS#11 3.0) the curve's name as
# a PrintableString.
_ED25519_PARAMS = (bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519")
# Errors after which the session, not the key or the request, is at fault.
_SESSION_ERRORS: tuple[type[Exception], ...] = (
    p11e.SessionClosed, p11e.SessionHandleInvalid, p11e.DeviceRemoved, p11e.TokenNotPresent,
    p11e.UserNotLoggedIn, p11e.DeviceError, p11e.KeyHandleInvalid, p11e.ObjectHandleInvalid,
)
_PROBE = b"rekor-py: does the token's key pair match?"


class TokenSession:
    """One logged-in session to one token, shared by its keys, used under a lock."""

    def __init__(self, module: str, uri: Pkcs11Uri, pin: str | None) -> None:
        self._module = module
        self._uri = uri
        self._pin = pin
        self._lock = threading.Lock()
        self._session: Any = None
        # Bumped on every new session: keys re-find their handles when it changes.
        self.generation = 0
        self._token = self._find_token()
        with self._lock:
            self._open()

    @property
    def label(self) -> str:
        return str(self._token.label)

    def _find_token(self) -> Any:
        try:
            lib = pkcs11.lib(self._module)
        except (RuntimeError, OSError) as e:
            raise KeyFileError(f"cannot load the PKCS#11 module {self._module}: {e}") from e
        uri = self._uri
        matches = []
        for slot in lib.get_slots(token_present=True):
            if uri.slot_id is not None and slot.slot_id != uri.slot_id:
                continue
            token = slot.get_token()
            wanted = ((uri.token, token.label), (uri.manufacturer, token.manufacturer_id),
                      (uri.model, token.model), (uri.serial, _text(token.serial)))
            if all(want is None or want == _text(have) for want, have in wanted):
                matches.append(token)
        if not matches:
            raise KeyFileError(f"no PKCS#11 token matches {_token_selector(uri)} in module "
                               f"{self._module}")
        if len(matches) > 1:
            raise KeyFileError(f"{len(matches)} PKCS#11 tokens match {_token_selector(uri)}: "
                               "name one (token=, serial= or slot-id=)")
        return matches[0]

    def _open(self) -> None:
        """A new session, logged in as the user (caller holds the lock)."""
        try:
            self._session = self._token.open(user_pin=self._pin)
        except p11e.PinIncorrect:
            raise KeyFileError(f"PKCS#11 token {self.label!r}: wrong PIN") from None
        except p11e.PinLocked:
            raise KeyFileError(f"PKCS#11 token {self.label!r}: the PIN is locked") from None
        except (p11e.PinLenRange, p11e.ArgumentsBad):
            raise KeyFileError(f"PKCS#11 token {self.label!r}: "
                               + ("no PIN given" if not self._pin else "the PIN is malformed")
                               ) from None
        except p11e.UserAlreadyLoggedIn:
            # Another session of this process is logged in: that login covers ours.
            self._session = self._token.open()
        except p11e.PKCS11Error as e:
            raise KeyFileError(f"PKCS#11 token {self.label!r}: cannot open a session "
                               f"({type(e).__name__})") from e
        self.generation += 1

    def run(self, call: Callable[[Any, int], T]) -> T:
        """`call(session, generation)` under the lock; after a session error, one new
        session and one retry."""
        with self._lock:
            try:
                return call(self._session, self.generation)
            except _SESSION_ERRORS as e:
                log.warning("PKCS#11 token %r: %s; opening a new session", self.label,
                            type(e).__name__)
                self._close_quietly()
                self._open()
                return call(self._session, self.generation)

    def _close_quietly(self) -> None:
        # A broken session may refuse to close: it is gone either way.
        with contextlib.suppress(p11e.PKCS11Error):
            self._session.close()

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def __reduce__(self) -> NoReturn:
        raise TypeError("a PKCS#11 session cannot be pickled")


class Pkcs11Key:
    """A private key in a token, as a Signer (module docstring).  Thread-safe."""

    def __init__(self, session: TokenSession, uri: Pkcs11Uri) -> None:
        self._session = session
        self._uri = uri
        self._handle: tuple[int, Any] | None = None
        self._key_type, self._public = session.run(self._inspect)
        self._check_pair()

    # -- opening --------------------------------------------------------------------

    def _selector(self) -> dict[Attribute, Any]:
        attrs: dict[Attribute, Any] = {}
        if self._uri.object is not None:
            attrs[Attribute.LABEL] = self._uri.object
        if self._uri.id is not None:
            attrs[Attribute.ID] = self._uri.id
        return attrs

    def _find(self, session: Any, object_class: ObjectClass,
              attrs: dict[Attribute, Any]) -> list[Any]:
        return list(session.get_objects({Attribute.CLASS: object_class, **attrs}))

    def _private(self, session: Any, generation: int) -> Any:
        """The private key object in this session (cached per session)."""
        if self._handle is not None and self._handle[0] == generation:
            return self._handle[1]
        found = self._find(session, ObjectClass.PRIVATE_KEY, self._selector())
        if not found:
            raise KeyFileError(f"PKCS#11 token {self._session.label!r} has no private key "
                               f"{self._uri.describe()}")
        if len(found) > 1:
            raise KeyFileError(f"PKCS#11 token {self._session.label!r} has {len(found)} private "
                               f"keys {self._uri.describe()}: name one (object= and id=)")
        self._handle = (generation, found[0])
        return found[0]

    def _inspect(self, session: Any, generation: int) -> tuple[KeyType, PublicKey]:
        key = self._private(session, generation)
        what = f"PKCS#11 key {self._uri.describe()}"
        if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
            raise KeyFileError(f"{what} is extractable or not sensitive: the private key "
                               "could leave the token; generate it with CKA_EXTRACTABLE "
                               "false and CKA_SENSITIVE true")
        if not key[Attribute.SIGN]:
            raise KeyFileError(f"{what} may not sign (CKA_SIGN is false)")
        key_type = KeyType(key[Attribute.KEY_TYPE])
        if key_type == KeyType.RSA:
            modulus = int.from_bytes(key[Attribute.MODULUS], "big")
            exponent = int.from_bytes(key[Attribute.PUBLIC_EXPONENT], "big")
            return key_type, rsa.RSAPublicNumbers(exponent, modulus).public_key()
        if key_type not in (KeyType.EC, KeyType.EC_EDWARDS):
            raise KeyFileError(f"{what} is of type {key_type.name}: use ECDSA, Ed25519 or RSA")
        public = self._public_object(session, key)
        params, point = bytes(public[Attribute.EC_PARAMS]), _point(public[Attribute.EC_POINT])
        try:
            if key_type == KeyType.EC_EDWARDS:
                if params not in _ED25519_PARAMS:
                    raise KeyFileError(f"{what} is an Edwards key but not Ed25519")
                return key_type, ed25519.Ed25519PublicKey.from_public_bytes(point)
            curve = _CURVES.get(params)
            if curve is None:
                raise KeyFileError(f"{what} is on an unsupported curve: use P-256 or P-384")
            return key_type, ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        except ValueError as e:
            raise KeyFileError(f"{what}: its public key object holds no valid point") from e

    def _public_object(self, session: Any, private: Any) -> Any:
        """The public key object of the pair: by CKA_ID, else by label."""
        for attrs in ({Attribute.ID: private[Attribute.ID]},
                      {Attribute.LABEL: private[Attribute.LABEL]}):
            if not next(iter(attrs.values())):
                continue
            found = self._find(session, ObjectClass.PUBLIC_KEY, attrs)
            if len(found) == 1:
                return found[0]
        raise KeyFileError(f"PKCS#11 token {self._session.label!r} has no single public key "
                           f"object for {self._uri.describe()} (same id or label): the public "
                           "key is needed to publish the log's key and derive its ID")

    def _check_pair(self) -> None:
        signature = self.sign(_PROBE)
        try:
            _verify(self._public, signature, _PROBE)
        except InvalidSignature:
            raise KeyFileError(f"PKCS#11 key {self._uri.describe()}: the public key object "
                               "does not belong to the private key") from None

    # -- the Signer -------------------------------------------------------------------

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        """Sign `message` in the token with the scheme of the key's type; raises SigningError."""
        def call(session: Any, generation: int) -> bytes:
            key = self._private(session, generation)
            if self._key_type == KeyType.RSA:
                return bytes(key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS))
            if self._key_type == KeyType.EC_EDWARDS:
                return bytes(key.sign(message, mechanism=Mechanism.EDDSA))
            raw = bytes(key.sign(hashlib.sha256(message).digest(), mechanism=Mechanism.ECDSA))
            half = len(raw) // 2
            return encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                        int.from_bytes(raw[half:], "big"))

        try:
            return self._session.run(call)
        except (p11e.PKCS11Error, KeyFileError) as e:
            raise SigningError(f"the PKCS#11 token could not sign ({type(e).__name__})") from e

    def __repr__(self) -> str:
        return f"Pkcs11Key({self._session.label!r}, {self._uri.describe()})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a PKCS#11 key cannot be pickled")


def _verify(public: PublicKey, signature: bytes, message: bytes) -> None:
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    elif isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        public.verify(signature, message)


def _point(value: bytes) -> bytes:
    """CKA_EC_POINT: a DER OCTET STRING around the point (the standard), or (some
    tokens) the bare point."""
    data = bytes(value)
    if len(data) >= 2 and data[0] == 0x04:
        length, start = data[1], 2
        if length & 0x80:
            n = length & 0x7F
            length, start = int.from_bytes(data[2:2 + n], "big"), 2 + n
        if start + length == len(data) and length in (32, 65, 97):
            return data[start:]
    return data


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip(" \x00")
    return str(value).rstrip(" \x00")


def _token_selector(uri: Pkcs11Uri) -> str:
    parts = [f"{k}={v!r}" for k, v in (("token", uri.token), ("manufacturer", uri.manufacturer),
                                       ("model", uri.model), ("serial", uri.serial),
                                       ("slot-id", uri.slot_id)) if v is not None]
    return ", ".join(parts) or "(any token)"


# Keys of one token share its session: PKCS#11 logs in per application, not per
# session, and one lock per token keeps its calls in order.
_SESSIONS: dict[tuple[str, Pkcs11Uri, str | None], TokenSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _pin(uri: Pkcs11Uri, pin_env_value: str | None) -> str | None:
    """pin-value, else pin-source's file (first line), else the environment's PIN."""
    if uri.pin_value is not None:
        return uri.pin_value
    if uri.pin_source is not None:
        source = uri.pin_source
        # RFC 7512 allows a file: URI or a plain path.
        for prefix in ("file://", "file:"):
            if source.startswith(prefix):
                source = source[len(prefix):]
                break
        path = Path(source)
        try:
            return path.read_text().splitlines()[0] if path.stat().st_size else ""
        except (OSError, UnicodeDecodeError) as e:
            raise KeyFileError(f"cannot read the PKCS#11 pin-source {path}: "
                               f"{getattr(e, 'strerror', None) or e}") from e
    return pin_env_value


def open_pkcs11_key(uri: Pkcs11Uri, *, default_module: str | None,
                    pin_env_value: str | None,
                    pin_env_name: str = "REKOR_PY_PKCS11_PIN") -> Pkcs11Key:
    """The key `uri` names, its token opened and logged in (or the session this
    process already has to it).  Raises KeyFileError with one clear line."""
    module = uri.module_path or default_module
    if not module:
        raise KeyFileError("no PKCS#11 module: give module-path= in the URI or set "
                           "REKOR_PY_PKCS11_MODULE")
    pin = _pin(uri, pin_env_value)
    if pin is None:
        # Without a login a token shows no private keys: say what is missing rather
        # than "no such key".
        raise KeyFileError(f"no PIN for the PKCS#11 key {uri.describe()}: give pin-source= "
                           f"or pin-value= in the URI, or set ${pin_env_name}")
    token_part = Pkcs11Uri(token=uri.token, manufacturer=uri.manufacturer, serial=uri.serial,
                           model=uri.model, slot_id=uri.slot_id)
    cache_key = (module, token_part, pin)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(cache_key)
        # A token has one user PIN, and a login covers the whole process: a second key
        # of a logged-in token given another PIN would open without one (C_Login says
        # "already logged in").  Say that its PIN is wrong instead.
        if session is None and any(m == module and t == token_part
                                   for m, t, _ in _SESSIONS):
            raise KeyFileError(f"PKCS#11 token {_token_selector(token_part)}: wrong PIN (not "
                               "the PIN this server logged in to the token with)")
        if session is None:
            session = TokenSession(module, token_part, pin)
            _SESSIONS[cache_key] = session
    try:
        return Pkcs11Key(session, uri)
    except (p11e.PKCS11Error, SigningError) as e:
        # A token that answers the inspection or the probe signature with an error:
        # name the key and the PKCS#11 error, not a traceback.
        raise KeyFileError(f"PKCS#11 key {uri.describe()} in token {session.label!r}: "
                           f"{type(e).__name__} {e}".rstrip()) from e

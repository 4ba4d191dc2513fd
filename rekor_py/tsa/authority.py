"""TimestampAuthority: requests in, signed RFC 3161 responses out.

Each token gets a fresh random 128-bit serial number (RFC 3161 wants serials unique
per TSA; random ones need no shared counter between server processes), genTime is
now in UTC to the second with an accuracy of one second, and the nonce is echoed.

The policy is 1.3.6.1.4.1.57264.2, sigstore/timestamp-authority's default
(--default-policy-oid), so a client that pins Sigstore's policy accepts our tokens;
a request naming another policy is refused, as that server refuses one it was not
configured to accept.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cryptography import x509

from rekor_py.log.signer import KeyFileError, PrivateKey, Signer, signs_in_memory
from rekor_py.tsa import certs
from rekor_py.tsa.request import (
    TimestampRequest,
    TimestampRequestError,
    parse_der_request,
    parse_json_request,
)
from rekor_py.tsa.token import granted_response, sign_tst_info, tst_info

if TYPE_CHECKING:
    from rekor_py.config import Settings

__all__ = ["DEFAULT_CHAIN_FILE", "DEFAULT_KEY_FILE", "DEFAULT_POLICY_OID", "TimestampAuthority"]

DEFAULT_POLICY_OID = "1.3.6.1.4.1.57264.2"
DEFAULT_KEY_FILE = "tsa-signing-key.pem"
DEFAULT_CHAIN_FILE = "tsa-chain.pem"
_ACCURACY = datetime.timedelta(seconds=1)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TimestampAuthority:
    """A TSA signing with `key` (an ECDSA key in memory or in a token) under `chain`
    (TSA certificate first, root last)."""

    __slots__ = ("_key", "_chain", "_chain_pem", "_policy", "_clock")

    def __init__(self, key: Signer | PrivateKey, chain: Sequence[x509.Certificate], *,
                 policy: str = DEFAULT_POLICY_OID,
                 clock: Callable[[], datetime.datetime] = _utc_now) -> None:
        signer = certs.check_key(key, "the TSA key")
        certs.check_chain(chain, signer, clock())
        self._key = signer
        self._chain = tuple(chain)
        self._chain_pem = certs.chain_pem(chain)
        self._policy = policy
        self._clock = clock

    @classmethod
    def load_or_create(cls, data_dir: Path, key_path: Path | Signer | None = None,
                       chain_path: Path | None = None) -> TimestampAuthority:
        """The TSA whose key and chain are at the given paths, or in `data_dir`.

        A path left out defaults to `data_dir`/tsa-signing-key.pem or tsa-chain.pem,
        created on first start (a P-256 key; a root and TSA certificate for it).  A
        path given must exist: an operator's chain is never replaced by our own.
        `key_path` may also be a Signer already opened (a key in a token); its chain
        is then created for it in `data_dir` when no chain path is given.
        Raises KeyFileError."""
        key: Signer = (key_path if isinstance(key_path, Signer) else
                       certs.load_or_create_key(key_path or Path(data_dir) / DEFAULT_KEY_FILE,
                                                create=key_path is None))
        chain = certs.load_or_create_chain(chain_path or Path(data_dir) / DEFAULT_CHAIN_FILE,
                                           key, create=chain_path is None)
        return cls(key, chain)

    @classmethod
    def from_settings(cls, settings: Settings, key: Signer | None = None) -> TimestampAuthority:
        """From Settings.tsa_key and tsa_chain (default: created in data_dir).  A tsa_key
        that is a key URI must be opened by the caller (rekor_py.keys) and given as
        `key`; raises KeyFileError if it is not."""
        if key is None and isinstance(settings.tsa_key, str):
            raise KeyFileError(f"the TSA key {settings.tsa_key.partition(':')[0]}: URI "
                               "must be opened with rekor_py.keys.open_uri_key")
        return cls.load_or_create(settings.data_dir, key or settings.tsa_key_file,
                                  settings.tsa_chain)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._chain

    @property
    def chain_pem(self) -> bytes:
        """The PEM chain, TSA certificate first, as GET /api/v1/timestamp/certchain serves it."""
        return self._chain_pem

    @property
    def certificate(self) -> x509.Certificate:
        """The TSA certificate, whose key signs the tokens."""
        return self._chain[0]

    @property
    def signs_in_memory(self) -> bool:
        """False for a key in a token: callers on an event loop sign in a thread."""
        return signs_in_memory(self._key)

    @property
    def policy(self) -> str:
        return self._policy

    def respond(self, der_request: bytes) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq; raises TimestampRequestError."""
        return self.timestamp(parse_der_request(der_request))

    def respond_json(self, json_request: bytes) -> bytes:
        """A DER TimeStampResp for the JSON request form; raises TimestampRequestError."""
        return self.timestamp(parse_json_request(json_request))

    def timestamp(self, request: TimestampRequest) -> bytes:
        """Sign a token for a parsed request; raises TimestampRequestError."""
        if request.policy is not None and request.policy != self._policy:
            raise TimestampRequestError(
                "unaccepted policy: requested TSA policy is not supported by the TSA")
        info = tst_info(request, policy=self._policy, serial_number=secrets.randbits(128) or 1,
                        gen_time=self._clock(), accuracy=_ACCURACY)
        token = sign_tst_info(info, self._key, self.certificate,
                              include_certificate=request.cert_req)
        return granted_response(token)

    def __repr__(self) -> str:
        return f"TimestampAuthority({self.certificate.subject.rfc4514_string()})"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the private key into whatever stores the pickle.
        raise TypeError("TimestampAuthority cannot be pickled")

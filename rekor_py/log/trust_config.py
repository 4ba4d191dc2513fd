"""The one file an operator hands Sigstore clients: a ClientTrustConfig.

A dev.sigstore.trustroot.v1.ClientTrustConfig (protobuf JSON) holds:

- a TrustedRoot: every log and timestamp authority this server runs, with the
  keys clients verify them by (`sigstore --trust-config`, cosign's
  `--trusted-root` takes the trustedRoot part alone);
- a SigningConfig (v0.2): where clients send entries and timestamp requests,
  and which API version each URL speaks.  Clients take the highest major API
  version they support, so sigstore-python 4.x and cosign 3 write to the v2
  log, older clients to the v1 log.

Fulcio and OIDC belong to the organization's own deployment, not to this
server: their entries are added by the operator (`certificate_authorities`,
`ca_urls`, `oidc_urls`).

Log IDs, as clients compute them: a v1 log's is SHA-256 of its DER
SubjectPublicKeyInfo (the Rekor logID); a v2 log's is the 32-byte signed-note
key ID of its Ed25519 key under the checkpoint origin (log/v2_log.py).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = [
    "CLIENT_TRUST_CONFIG_MEDIA_TYPE",
    "LogInstance",
    "TimestampAuthorityInstance",
    "certificate_authority",
    "client_trust_config",
    "key_details",
    "service",
    "v1_log_id",
]

CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_details(key: Any) -> str:
    """dev.sigstore.common.v1.PublicKeyDetails of a log's public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "PKIX_ECDSA_P256_SHA_256", "secp384r1": "PKIX_ECDSA_P384_SHA_384",
                "secp521r1": "PKIX_ECDSA_P521_SHA_512"}[key.curve.name]
    if isinstance(key, rsa.RSAPublicKey):
        return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256"
    raise ValueError(f"no PublicKeyDetails for a {type(key).__name__}")


@dataclass(frozen=True)
class LogInstance:
    """One transparency log as clients see it."""

    base_url: str
    api_major: int
    public_key_der: bytes  # DER SubjectPublicKeyInfo
    log_id: bytes
    valid_from: datetime.datetime
    operator: str
    # A key a rotation retired: it verifies the entries of its frozen shards only.
    valid_until: datetime.datetime | None = None

    def trusted(self) -> dict[str, Any]:
        key = serialization.load_der_public_key(self.public_key_der)
        valid_for = {"start": _time(self.valid_from)}
        if self.valid_until is not None:
            valid_for["end"] = _time(self.valid_until)
        return {
            "baseUrl": self.base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": _b64(self.public_key_der), "keyDetails": key_details(key),
                          "validFor": valid_for},
            "logId": {"keyId": _b64(self.log_id)},
        }

    def service(self) -> dict[str, Any]:
        return service(self.base_url, self.valid_from, self.operator, self.api_major)


def v1_log_id(public_key_der: bytes) -> bytes:
    return hashlib.sha256(public_key_der).digest()


@dataclass(frozen=True)
class TimestampAuthorityInstance:
    """An RFC 3161 timestamp authority: its URL and certificate chain (leaf first)."""

    url: str
    chain: Sequence[x509.Certificate]
    operator: str

    def trusted(self) -> dict[str, Any]:
        leaf = self.chain[0]

        def attribute(oid: x509.ObjectIdentifier) -> str:
            found = leaf.subject.get_attributes_for_oid(oid)
            return str(found[0].value) if found else ""

        return {
            "subject": {"organization": attribute(x509.NameOID.ORGANIZATION_NAME),
                        "commonName": attribute(x509.NameOID.COMMON_NAME)},
            "uri": self.url,
            "certChain": {"certificates": [
                {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                for c in self.chain]},
            "validFor": {"start": _time(leaf.not_valid_before_utc)},
        }

    def service(self) -> dict[str, Any]:
        return service(self.url, self.chain[0].not_valid_before_utc, self.operator)


def certificate_authority(url: str, chain: Sequence[x509.Certificate]) -> dict[str, Any]:
    """A trustedRoot.certificateAuthorities item (a Fulcio): its chain, leaf first."""
    return TimestampAuthorityInstance(url, chain, "").trusted()


def service(url: str, valid_from: datetime.datetime, operator: str,
            api_major: int = 1) -> dict[str, Any]:
    """A signingConfig Service (caUrls, oidcUrls items)."""
    return {"url": url, "majorApiVersion": api_major,
            "validFor": {"start": _time(valid_from)}, "operator": operator}


def client_trust_config(logs: Sequence[LogInstance],
                        tsas: Sequence[TimestampAuthorityInstance] = (), *,
                        certificate_authorities: Sequence[dict[str, Any]] = (),
                        ctlogs: Sequence[dict[str, Any]] = (),
                        ca_urls: Sequence[dict[str, Any]] = (),
                        oidc_urls: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The ClientTrustConfig naming `logs` (newest API first in the signing config)
    and `tsas`; the Fulcio and OIDC parts are the caller's, in protobuf JSON."""
    ordered = sorted(logs, key=lambda log: -log.api_major)
    return {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [log.trusted() for log in ordered],
            "certificateAuthorities": list(certificate_authorities),
            "ctlogs": list(ctlogs),
            "timestampAuthorities": [tsa.trusted() for tsa in tsas],
        },
        "signingConfig": {
            "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
            "caUrls": list(ca_urls),
            "oidcUrls": list(oidc_urls),
            "rekorTlogUrls": [log.service() for log in ordered if log.valid_until is None],
            "tsaUrls": [tsa.service() for tsa in tsas],
            # ANY: one log and one timestamp suffice.  sigstore-js signs through
            # a Rekor v2 log only with this selector.
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }

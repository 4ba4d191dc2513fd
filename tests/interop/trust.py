"""Trust material naming our log, as an organization with a private deployment writes it.

`trusted_root` builds a Sigstore TrustedRoot (the JSON form of
dev.sigstore.trustroot.v1.TrustedRoot, the file cosign's `--trusted-root`,
sigstore-go's `root.NewTrustedRootFromPath` and sigstore-js read): one transparency log
(our log's key, its URL, its log ID), and optionally the test CA and CT log of a
`FulcioPKI`.  Clients then verify SETs, inclusion proofs, checkpoints, certificate
chains and SCTs offline, with no public Sigstore service.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.tools.fulcio import FulcioPKI, spki_der

__all__ = ["trusted_root", "write_trusted_root"]

MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_details(key: ec.EllipticCurvePublicKey) -> str:
    # The names of dev.sigstore.common.v1.PublicKeyDetails for the curves we use.
    return {"secp256r1": "PKIX_ECDSA_P256_SHA_256", "secp384r1": "PKIX_ECDSA_P384_SHA_384",
            "secp521r1": "PKIX_ECDSA_P521_SHA_512"}[key.curve.name]


def _log_instance(url: str, key: ec.EllipticCurvePublicKey,
                  valid_from: datetime.datetime) -> dict[str, Any]:
    der = spki_der(key)
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": _b64(der), "keyDetails": _key_details(key),
                      "validFor": {"start": _time(valid_from)}},
        # Clients look a log up by this: SHA-256 of the key's DER SubjectPublicKeyInfo,
        # which is also the logID our entries carry.
        "logId": {"keyId": _b64(hashlib.sha256(der).digest())},
    }


def trusted_root(log_url: str, log_public_key_pem: bytes, pki: FulcioPKI | None = None, *,
                 valid_from: datetime.datetime | None = None) -> dict[str, Any]:
    """A TrustedRoot naming the log at `log_url` with its PEM public key, and `pki`'s CA
    chain and CT log.  `valid_from` (default: a day ago) starts each key's validity:
    clients refuse SETs integrated before it."""
    start = valid_from or datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    key = serialization.load_pem_public_key(log_public_key_pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TypeError("Go clients verify a Rekor v1 log's SETs with ECDSA keys only")
    root: dict[str, Any] = {
        "mediaType": MEDIA_TYPE,
        "tlogs": [_log_instance(log_url, key, start)],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }
    if pki is not None:
        name = pki.root.subject
        root["certificateAuthorities"].append({
            "subject": {
                "organization": name.get_attributes_for_oid(
                    x509.NameOID.ORGANIZATION_NAME)[0].value,
                "commonName": name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value,
            },
            "uri": "https://fulcio.rekor-py.test",
            "certChain": {"certificates": [
                {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                for c in pki.chain]},
            "validFor": {"start": _time(pki.not_before)},
        })
        root["ctlogs"].append(
            _log_instance("https://ctfe.rekor-py.test", pki.ct_key.public_key(), start))
    return root


def write_trusted_root(path: Path, log_url: str, log_public_key_pem: bytes,
                       pki: FulcioPKI | None = None, **kwargs: Any) -> Path:
    path.write_text(json.dumps(trusted_root(log_url, log_public_key_pem, pki, **kwargs),
                               indent=2))
    return path

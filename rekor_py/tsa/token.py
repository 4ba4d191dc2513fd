"""Time-stamp tokens: TSTInfo (RFC 3161) signed as CMS SignedData (RFC 5652).

The token is what verifiers in the Sigstore ecosystem check (rfc3161-client for
sigstore-python, digitorus/timestamp for sigstore-go and cosign, sigstore-js's own
code, and `openssl ts -verify`):

- SignedData version 3 (its content is not id-data), one digest algorithm, the
  TSTInfo DER as eContent of type id-ct-TSTInfo;
- the TSA certificate in `certificates` when the request asked for it (certReq),
  only that one, as sigstore/timestamp-authority does by default: verifiers take
  the rest of the chain from their trust root;
- one SignerInfo, version 1, naming the signer by issuerAndSerialNumber (rfc3161-client
  and sigstore-js find the certificate that way), with signed attributes
  content-type, message-digest and signing-certificate-v2 (RFC 5816: ESSCertIDv2,
  SHA-256 of the TSA certificate, which binds the signature to that certificate;
  openssl refuses a token without a signing-certificate attribute);
- digest SHA-256 and signature ecdsa-with-SHA256, for P-256 and P-384 keys alike:
  the key signs through the Signer protocol (log/signer.py), whose ECDSA scheme is
  SHA-256 for every curve, so a key in a token signs exactly as one in a file.

The signature covers the DER of the signed attributes as a SET OF (RFC 5652 section
5.4); asn1crypto sorts a SET OF when it encodes one, as DER requires.
"""

from __future__ import annotations

import datetime
import hashlib

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rekor_py.log.signer import Signer
from rekor_py.tsa.request import TimestampRequest

__all__ = ["granted_response", "sign_tst_info", "tst_info"]


def tst_info(request: TimestampRequest, *, policy: str, serial_number: int,
             gen_time: datetime.datetime,
             accuracy: datetime.timedelta | None = None) -> bytes:
    """The DER TSTInfo for `request` (RFC 3161 section 2.4.2).

    `gen_time` is encoded to the second, with no fraction, as sigstore/timestamp-authority
    does (Go writes GeneralizedTime so): some verifiers do not read fractions."""
    info: dict[str, object] = {
        "version": "v1",
        "policy": policy,
        "message_imprint": request.message_imprint(),
        "serial_number": serial_number,
        "gen_time": gen_time.astimezone(datetime.UTC).replace(microsecond=0),
    }
    if accuracy is not None:
        seconds, micros = divmod(int(accuracy / datetime.timedelta(microseconds=1)), 1_000_000)
        millis, micros = divmod(micros, 1000)
        acc = {k: v for k, v in (("seconds", seconds), ("millis", millis), ("micros", micros))
               if v}
        if acc:
            info["accuracy"] = acc
    if request.nonce is not None:
        info["nonce"] = request.nonce
    return bytes(tsp.TSTInfo(info).dump())


# The Signer's ECDSA scheme hashes with SHA-256 (log/signer.py); the content digest
# and the signature algorithm must name the same hash.
_DIGEST = "sha256"


def sign_tst_info(tst_info_der: bytes, key: Signer, certificate: x509.Certificate, *,
                  include_certificate: bool) -> bytes:
    """The TimeStampToken: a DER ContentInfo of SignedData over `tst_info_der`, signed
    by `key` (an ECDSA Signer); raises SigningError."""
    digest_name = _DIGEST
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    cert = asn1_x509.Certificate.load(cert_der)
    content_digest = hashlib.new(digest_name, tst_info_der).digest()
    signing_certificate = tsp.SigningCertificateV2({"certs": [{
        # hashAlgorithm is left out: SHA-256 is its DEFAULT, which DER never encodes.
        "cert_hash": hashlib.sha256(cert_der).digest(),
        "issuer_serial": {
            "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
            "serial_number": cert.serial_number,
        },
    }]})
    signed_attrs = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [content_digest]},
        {"type": "signing_certificate_v2", "values": [signing_certificate]},
    ])
    signature = key.sign(signed_attrs.dump())
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": cert.issuer, "serial_number": cert.serial_number}),
        "digest_algorithm": {"algorithm": digest_name},
        "signed_attrs": signed_attrs,
        "signature_algorithm": {"algorithm": f"{digest_name}_ecdsa"},
        "signature": signature,
    })
    signed_data = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": digest_name}],
        "encap_content_info": {"content_type": "tst_info",
                               "content": core.ParsableOctetString(tst_info_der)},
        "signer_infos": [signer_info],
    }
    if include_certificate:
        signed_data["certificates"] = [cert]
    token = cms.ContentInfo({"content_type": "signed_data",
                             "content": cms.SignedData(signed_data)})
    return bytes(token.dump())


def granted_response(token_der: bytes) -> bytes:
    """A DER TimeStampResp with status granted carrying `token_der`."""
    return bytes(tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": cms.ContentInfo.load(token_der),
    }).dump())

"""Time-stamp requests: RFC 3161 TimeStampReq (DER) and the JSON form, parsed strictly.

Both become one `TimestampRequest`.  A request the TSA will not serve is an HTTP 400
with the `{"code", "message"}` body, not an RFC 3161 TimeStampResp with status
`rejection`: sigstore/timestamp-authority answers so, and its clients (sigstore-js,
cosign) expect it.  The messages follow that server's wording.

The JSON form is sigstore/timestamp-authority's, which sigstore-js sends:
`{"artifactHash": base64 digest, "hashAlgorithm": "sha256" | "sha384" | "sha512",
"certificates": bool, "nonce": integer, "tsaPolicyOID": "1.2.3"}`; unknown members are
ignored, as Go's decoder does.

DER is checked by re-encoding: asn1crypto also reads BER, so a request whose
encoding is not the one DER allows (long lengths, padded integers, an explicit
certReq FALSE) comes back different and is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from asn1crypto import core, tsp  # type: ignore[import-untyped]

from rekor_py.errors import InvalidRequest

__all__ = [
    "DIGEST_SIZES",
    "MAX_JSON_REQUEST_BYTES",
    "TimestampRequest",
    "TimestampRequestError",
    "parse_der_request",
    "parse_json_request",
]

# The digests a token may carry, by asn1crypto's name, with their lengths.
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_WEAK = {"sha1", "md5", "md2", "md4"}
# sigstore/timestamp-authority's bound on the JSON form: an honest request is about 150
# bytes, and the bound keeps the decimal nonce (CPython converts it in time quadratic
# in its digits) small.  Within it, any nonce that server takes is taken.
MAX_JSON_REQUEST_BYTES = 1024
# The OID text of a JSON tsaPolicyOID: arcs of digits, at most as many as
# sigstore/timestamp-authority accepts (128).
_MAX_OID_ARCS = 128


class TimestampRequestError(InvalidRequest):
    """A time-stamp request the TSA refuses (400)."""

    message = "Error generating timestamp response"


@dataclasses.dataclass(frozen=True, slots=True)
class TimestampRequest:
    """What a token is made from, whichever form the request came in."""

    hash_algorithm: str  # a key of DIGEST_SIZES
    hashed_message: bytes
    nonce: int | None = None
    cert_req: bool = False
    # The policy the client asks for (dotted OID), or None for the TSA's default.
    policy: str | None = None

    def __post_init__(self) -> None:
        _check_digest(self.hash_algorithm, self.hashed_message)

    def message_imprint(self) -> tsp.MessageImprint:
        """The MessageImprint the TSTInfo copies (RFC 3161 section 2.4.2)."""
        return tsp.MessageImprint({"hash_algorithm": {"algorithm": self.hash_algorithm},
                                   "hashed_message": self.hashed_message})


def _check_digest(algorithm: str, digest: bytes) -> None:
    if algorithm in _WEAK:
        raise TimestampRequestError(
            f"Weak hash algorithm in timestamp request: {algorithm}; use sha256, sha384 or sha512")
    size = DIGEST_SIZES.get(algorithm)
    if size is None:
        raise TimestampRequestError(f"unsupported hash algorithm: {algorithm[:80]}")
    if len(digest) != size:
        raise TimestampRequestError(
            "Message digest has incorrect length for specified algorithm: "
            f"expected {size} bytes for {algorithm}, got {len(digest)}")


def parse_der_request(data: bytes) -> TimestampRequest:
    """A DER TimeStampReq; raises TimestampRequestError."""
    try:
        req = tsp.TimeStampReq.load(data, strict=True)
        native = req.native  # asn1crypto parses lazily: this reads every field
        canonical = req.dump(force=True) == data
    except Exception as e:
        # asn1crypto raises ValueError, TypeError, KeyError... on malformed input: every
        # failure to read the client's bytes is the client's fault.
        raise TimestampRequestError("malformed timestamp request: not a DER TimeStampReq") from e
    if not canonical:
        raise TimestampRequestError("malformed timestamp request: not DER-encoded")
    if native["version"] != "v1":
        raise TimestampRequestError(f"unsupported timestamp request version {native['version']}")
    if native["extensions"] is not None:
        raise TimestampRequestError(
            "unaccepted extension: requested extensions are not supported by the TSA")
    # The digest algorithm's parameters are NULL or absent (RFC 5754 section 2): asn1crypto
    # reads anything else as malformed, above.
    imprint = native["message_imprint"]
    return TimestampRequest(hash_algorithm=imprint["hash_algorithm"]["algorithm"],
                            hashed_message=imprint["hashed_message"],
                            nonce=native["nonce"], cert_req=native["cert_req"],
                            policy=native["req_policy"])


def _member(obj: dict[str, Any], name: str, kind: type | tuple[type, ...],
            default: Any) -> Any:
    value = obj.get(name, default)
    if value is None:
        return default
    # bool is an int in Python, not in JSON: a nonce of `true` is refused.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TimestampRequestError(f"failed to parse JSON into request: {name} has the wrong type")
    return value


def parse_json_request(data: bytes) -> TimestampRequest:
    """sigstore/timestamp-authority's JSON request form; raises TimestampRequestError."""
    if len(data) > MAX_JSON_REQUEST_BYTES:
        raise TimestampRequestError(
            f"timestamp request is too large: over {MAX_JSON_REQUEST_BYTES} bytes")
    try:
        # Not json_limits: its number bound (sized for Rekor entries) would refuse a
        # 160-bit nonce, and the size bound above already caps depth and digits.
        obj = json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError too
        raise TimestampRequestError("failed to parse JSON into request: malformed JSON") from e
    if not isinstance(obj, dict):
        raise TimestampRequestError("failed to parse JSON into request: not a JSON object")
    algorithm = _member(obj, "hashAlgorithm", str, "").lower()
    if algorithm not in DIGEST_SIZES and algorithm not in _WEAK:
        raise TimestampRequestError(f"unsupported hash algorithm: {algorithm[:80]!r}")
    try:
        digest = base64.b64decode(_member(obj, "artifactHash", str, ""), validate=True)
    except (binascii.Error, ValueError) as e:
        raise TimestampRequestError(
            "failed to decode base64 encoded artifact hash") from e
    policy = _member(obj, "tsaPolicyOID", str, "") or None
    if policy is not None:
        _check_oid(policy)
    return TimestampRequest(hash_algorithm=algorithm, hashed_message=digest,
                            nonce=_member(obj, "nonce", int, None),
                            cert_req=_member(obj, "certificates", bool, False),
                            policy=policy)


def _check_oid(text: str) -> None:
    arcs = text.split(".")
    if len(arcs) > _MAX_OID_ARCS:
        raise TimestampRequestError("OID should be comprised of at most 128 components")
    try:
        core.ObjectIdentifier(text).dump()
    except (ValueError, TypeError) as e:
        raise TimestampRequestError(f"malformed tsaPolicyOID {text[:80]!r}") from e
    if not all(arc.isascii() and arc.isdigit() for arc in arcs):
        raise TimestampRequestError(f"malformed tsaPolicyOID {text[:80]!r}")


"""An RFC 3161 timestamp authority, for Sigstore clients whose bundles need a signed time.

`certs` holds the key and certificate chain, `request` parses the two request forms,
`token` builds and signs the TSTInfo, `authority` ties them together; the HTTP
routes are in rekor_py/api/timestamp.py.
"""

from rekor_py.tsa.authority import DEFAULT_POLICY_OID, TimestampAuthority
from rekor_py.tsa.request import TimestampRequest, TimestampRequestError

__all__ = ["DEFAULT_POLICY_OID", "TimestampAuthority", "TimestampRequest",
           "TimestampRequestError"]

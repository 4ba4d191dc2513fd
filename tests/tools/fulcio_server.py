"""A Fulcio and an OIDC issuer for keyless signing in tests, with no public service.

`OIDCIssuer.token(email)` mints an identity token (an ES256 JWT with the claims
sigstore-python and sigstore-js read: iss, sub, aud "sigstore", iat, nbf, exp,
email, email_verified).  `FulcioServer` answers Fulcio's `POST /api/v2/signingCert`
as both call it: the token (a Bearer credential from sigstore-python, in
`credentials.oidcIdentityToken` from sigstore-js) is verified against the
issuer's key (signature, audience, issuer, expiry: 401 otherwise), and so is the
proof that the client holds the key (a PEM CSR's signature, or a signature over
the email in `publicKeyRequest.proofOfPossession`: 400 otherwise).  The answer is
a leaf from `FulcioPKI` for the token's email, with an embedded SCT, and its
chain, in `signedCertificateEmbeddedSct.chain.certificates`.

It runs in a thread (the stdlib's ThreadingHTTPServer on 127.0.0.1), so tests
that call client CLIs in subprocesses need no event loop.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI, pem

__all__ = ["FulcioServer", "OIDCIssuer"]

AUDIENCE = "sigstore"
_MAX_BODY = 64 * 1024


class OIDCIssuer:
    """Signs identity tokens; `public_key` verifies them."""

    def __init__(self, issuer: str = OIDC_ISSUER) -> None:
        self.issuer = issuer
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self._key.public_key()

    def token(self, email: str, *, audience: str = AUDIENCE, lifetime_s: int = 300) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": email, "aud": audience, "iat": now, "nbf": now,
                  "exp": now + lifetime_s, "email": email, "email_verified": True}
        return jwt.encode(claims, self._key, algorithm="ES256")


class FulcioServer:
    """`with FulcioServer(pki, issuer) as fulcio:` serves at `fulcio.url`."""

    def __init__(self, pki: FulcioPKI, issuer: OIDCIssuer) -> None:
        self.pki = pki
        self.issuer = issuer
        self.issued: list[x509.Certificate] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="fulcio-stand-in")

    def __enter__(self) -> FulcioServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def signing_cert(self, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer) for a signingCert request: a Bearer token and a CSR
        (sigstore-python), or the token in `credentials` and a public key with a proof
        of possession, a signature over the token's email (sigstore-js)."""
        try:
            request = json.loads(body)
        except ValueError:
            return 400, {"code": 3, "message": "the request is not JSON"}
        if not isinstance(request, dict):
            return 400, {"code": 3, "message": "the request is not a JSON object"}
        scheme, _, token = authorization.partition(" ")
        credentials = request.get("credentials")
        if scheme != "Bearer" and isinstance(credentials, dict):
            scheme, token = "Bearer", str(credentials.get("oidcIdentityToken") or "")
        if scheme != "Bearer" or not token:
            return 401, {"code": 16, "message": "missing identity token"}
        try:
            claims = jwt.decode(token, self.issuer.public_key, algorithms=["ES256"],
                                audience=AUDIENCE, issuer=self.issuer.issuer)
        except jwt.PyJWTError as e:
            return 401, {"code": 16, "message": f"invalid identity token: {e}"}
        if not claims.get("email_verified") or not isinstance(claims.get("email"), str):
            return 400, {"code": 3, "message": "the token has no verified email"}
        key = (self._csr_key(request) if "certificateSigningRequest" in request
               else self._proven_key(request, claims["email"]))
        if isinstance(key, str):
            return 400, {"code": 3, "message": key}
        leaf = self.pki.certify(key, claims["email"], issuer=self.issuer.issuer)
        self.issued.append(leaf)
        chain = [pem(c).decode() for c in (leaf, *self.pki.chain)]
        return 201, {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    @staticmethod
    def _csr_key(request: dict[str, Any]) -> ec.EllipticCurvePublicKey | str:
        """The key of a CSR whose signature verifies, or what is wrong."""
        try:
            csr = x509.load_pem_x509_csr(base64.b64decode(
                request["certificateSigningRequest"], validate=True))
        except (ValueError, TypeError, binascii.Error):
            return "expected a base64 PEM certificateSigningRequest"
        if not csr.is_signature_valid:
            return "the CSR's signature does not verify"
        key = csr.public_key()
        return key if isinstance(key, ec.EllipticCurvePublicKey) else "only ECDSA keys here"

    @staticmethod
    def _proven_key(request: dict[str, Any], email: str) -> ec.EllipticCurvePublicKey | str:
        """publicKeyRequest's key, if its proofOfPossession is its signature over the
        identity (the email), or what is wrong."""
        try:
            wanted = request["publicKeyRequest"]
            key = serialization.load_pem_public_key(wanted["publicKey"]["content"].encode())
            proof = base64.b64decode(wanted["proofOfPossession"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return "expected a publicKeyRequest with a PEM key and a base64 proofOfPossession"
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return "only ECDSA keys here"
        try:
            key.verify(proof, email.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "the proof of possession does not verify"
        return key

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path != "/api/v2/signingCert":
                    self._answer(404, {"code": 5, "message": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._answer(413, {"code": 3, "message": "request too large"})
                    return
                body = self.rfile.read(length)
                self._answer(*server.signing_cert(self.headers.get("Authorization", ""), body))

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: the tests say what failed

        return Handler

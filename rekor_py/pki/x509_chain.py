"""Certificate chain verification the way Go's x509.Certificate.Verify does it (docs/rekor-compat.md#x509).

Owns: building a path leaf -> intermediates -> root with Go's buildChains
search order (roots first), the validity checks Go's isValid makes (critical
extensions, validity window, CA and path length constraints) and
CheckSignatureFrom, with Go's error texts.  Rekor verifies a chain at the
leaf's NotBefore, with any EKU, the last certificate as the only root.

Leaves to x509.py: parsing certificates and keys, and when a chain is checked.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtensionOID

from rekor_py import limits
from rekor_py.pki.base import InvalidSignatureError

__all__ = ["verify_chain"]

# Critical extensions Go's certificate parser understands. Verify() refuses a
# certificate with any other critical extension ("unhandled critical extension").
_GO_HANDLED_EXTENSIONS = frozenset(
    {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)



# ---- chain verification (Go's x509.Certificate.Verify, ExtKeyUsageAny) ---------------------


class _ChainError(Exception):
    pass


def verify_chain(chain: Sequence[x509.Certificate]) -> None:
    """Verify leaf -> intermediates -> root, at the leaf's NotBefore; raises InvalidSignatureError.

    Roots = the last certificate, intermediates = the middle ones, any EKU
    (rekor pkg/pki/x509 verifyCertChain). Expired chains verify, by design.
    TODO(rekor-py): name constraints are not enforced yet (Go does).
    """
    leaf, root = chain[0], chain[-1]
    now = leaf.not_valid_before_utc
    try:
        _check_valid(leaf, now)
        if _raw(leaf) == _raw(root):
            return  # Go: the leaf is itself a trusted root
        state = _SearchState(now, root, list(chain[1:-1]))
        _build(leaf, [leaf], state)
    except _ChainError as e:
        raise InvalidSignatureError(str(e)) from e


@dataclass
class _SearchState:
    now: datetime.datetime
    root: x509.Certificate
    intermediates: list[x509.Certificate]
    signature_checks: int = 0


def _raw(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _build(cert: x509.Certificate, path: list[x509.Certificate], state: _SearchState) -> None:
    """Find a path from `cert` to the root, roots first, like Go's buildChains; raises _ChainError."""
    hint: tuple[str, x509.Certificate] | None = None
    last_error: _ChainError | None = None
    candidates = [(state.root, True)] + [(c, False) for c in state.intermediates]
    for parent, is_root in candidates:
        if parent.subject.public_bytes() != cert.issuer.public_bytes() or _in_path(parent, path):
            continue
        state.signature_checks += 1
        limit = limits.current().max_chain_signature_checks
        if state.signature_checks > limit:
            raise _ChainError("x509: signature check attempts limit reached while verifying certificate chain; "
                              + limits.limit_error_message("max_chain_signature_checks", state.signature_checks,
                                                           limit, "the number of signature checks"))
        try:
            _check_signature_from(cert, parent)
            _check_valid(parent, state.now, path, is_ca=not is_root)
        except _ChainError as e:
            hint = hint or (str(e), parent)
            continue
        if is_root:
            return
        try:
            _build(parent, path + [parent], state)
            return
        except _ChainError as e:
            last_error = e
    if last_error is not None:
        raise last_error
    message = "x509: certificate signed by unknown authority"
    if hint is not None:
        message += (f" (possibly because of {_go_quote(hint[0])} while trying to verify candidate authority"
                    f" certificate {_go_quote(_cert_name(hint[1]))})")
    raise _ChainError(message)


def _in_path(cert: x509.Certificate, path: list[x509.Certificate]) -> bool:
    return any(c.subject == cert.subject and _spki_of(c) == _spki_of(cert) for c in path)


def _spki_of(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_valid(
    cert: x509.Certificate, now: datetime.datetime, path: Sequence[x509.Certificate] = (), is_ca: bool = False
) -> None:
    # Go's Certificate.isValid, minus name constraints.
    for ext in cert.extensions:
        if ext.critical and ext.oid not in _GO_HANDLED_EXTENSIONS:
            raise _ChainError("x509: unhandled critical extension")
    if now < cert.not_valid_before_utc:
        raise _ChainError(f"x509: certificate has expired or is not yet valid: current time {_rfc3339(now)}"
                          f" is before {_rfc3339(cert.not_valid_before_utc)}")
    if now > cert.not_valid_after_utc:
        raise _ChainError(f"x509: certificate has expired or is not yet valid: current time {_rfc3339(now)}"
                          f" is after {_rfc3339(cert.not_valid_after_utc)}")
    bc = _basic_constraints(cert)
    if is_ca and (bc is None or not bc.ca):
        raise _ChainError("x509: certificate is not authorized to sign other certificates")
    if bc is not None and bc.path_length is not None and len(path) - 1 > bc.path_length:
        raise _ChainError("x509: too many intermediates for path length constraint")


def _check_signature_from(child: x509.Certificate, parent: x509.Certificate) -> None:
    # Go's Certificate.CheckSignatureFrom with SHA-1 and MD5 refused.
    bc = _basic_constraints(parent)
    if (parent.version == x509.Version.v3 and bc is None) or (bc is not None and not bc.ca):
        raise _ChainError("x509: invalid signature: parent certificate cannot sign this kind of certificate")
    try:
        ku = parent.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            raise _ChainError("x509: invalid signature: parent certificate cannot sign this kind of certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        # An unknown signature algorithm raises here (Go: ErrUnsupportedAlgorithm).
        if isinstance(child.signature_hash_algorithm, (hashes.SHA1, hashes.MD5)):
            raise _ChainError("x509: cannot verify signature: insecure algorithm")
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise _ChainError("x509: certificate signature verification failure") from e


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _rfc3339(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cert_name(cert: x509.Certificate) -> str:
    # Go's UnknownAuthorityError: CommonName, else first Organization, else serial.
    for oid in (x509.NameOID.COMMON_NAME, x509.NameOID.ORGANIZATION_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            value = attrs[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return f"serial:{cert.serial_number}"


def _go_quote(s: str) -> str:
    # Close to Go's %q for the ASCII text used here.
    return json.dumps(s, ensure_ascii=False)

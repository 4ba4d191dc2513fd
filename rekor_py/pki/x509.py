"""The x509 signature format: PEM keys, certificates and chains (docs/rekor-compat.md#x509).

Owns: parsing a `PUBLIC KEY`, a `CERTIFICATE` or a chain of up to 10
certificates (PEM itself is pem.py), the canonical PEM Rekor stores, leaf
subjects for the index, chain verification the way Go's x509.Certificate.Verify
does it (any EKU, time = the leaf's NotBefore), and
signature checks: RSA PKCS#1 v1.5, ECDSA (DER or IEEE-P1363), Ed25519 and
Ed25519ph for digests.

Leaves to others: which hash a kind uses and the client algorithm policy
(types/), turning these errors into HTTP answers (api/).

Error texts follow Rekor/Go's wording where clients may match on them.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import ObjectIdentifier

from rekor_py import limits
from rekor_py.lru import ByteLRU
from rekor_py.pki.base import (
    HashName,
    InputLimitError,
    InvalidKeyError,
    InvalidSignatureError,
)
from rekor_py.pki.ed25519ph import Ed25519phError, verify_ed25519ph

# PEM lives in its own module (shared with ssh); re-exported here for existing importers.
from rekor_py.pki.pem import PemBlock, decode_pem, encode_pem
from rekor_py.pki.x509_chain import verify_chain

__all__ = [
    "MAX_CHAIN_CERTIFICATES",
    "PemBlock",
    "X509PublicKey",
    "X509Signature",
    "decode_pem",
    "encode_pem",
]

# Rekor's limit (docs/rekor-compat.md#x509): chains longer than this are refused before any
# parsing work (limits.max_chain_certificates; this is its default, kept for importers).
MAX_CHAIN_CERTIFICATES = 10

# Go's crypto/rsa (1.24+) refuses to verify with a modulus under 1,024 bits.
_MIN_RSA_BITS = 1024

# Parsed keys, by their canonical PEM, kept once they verified a signature
# (so what a search or a failed upload sends is never kept): uploaders reuse
# keys.  The weight is the canonical text plus the parsed objects (~2x DER).
_KEY_CACHE_BYTES = 16 * 1024 * 1024
_KEY_CACHE: ByteLRU[bytes, X509PublicKey] = ByteLRU(_KEY_CACHE_BYTES, lambda k, _: 3 * len(k))

VerifyingKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
# The ECDSA algorithm objects over each digest (immutable: made once, not per entry).
_ECDSA_PREHASHED = {name: ec.ECDSA(utils.Prehashed(h)) for name, h in _HASHES.items()}
# Go's crypto.Hash.String(), used in the "unsupported hash algorithm" message.
_GO_HASH_NAMES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}

# The curves Go's x509.ParsePKIXPublicKey accepts; anything else is "unsupported".
_CURVES = (ec.SECP224R1, ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

# Fulcio's OtherName SAN (a UTF8String identity), sigstore cryptoutils.OIDOtherName.
_FULCIO_OTHERNAME_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")

# The ECDSA entries of sigstore's supportedAlgorithms (curve with its own hash, or SHA-256).
_ECDSA_ALGORITHMS = frozenset(
    {
        "ecdsa-sha2-256-nistp256",
        "ecdsa-sha2-384-nistp384",
        "ecdsa-sha2-256-nistp384",
        "ecdsa-sha2-512-nistp521",
        "ecdsa-sha2-256-nistp521",
    }
)

# ---- parsing ----------------------------------------------------------------------------


def _parse_spki(der: bytes) -> VerifyingKey:
    """Parse SubjectPublicKeyInfo DER the way Go's x509.ParsePKIXPublicKey accepts it."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise InvalidKeyError("x509: failed to parse public key") from e
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, _CURVES):
        raise InvalidKeyError("x509: unsupported elliptic curve")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise InvalidKeyError("x509: unknown public key algorithm")
    _check_rsa_size(key)
    # Go accepts exactly the encodings it would produce itself (NULL RSA
    # parameters, named curves, uncompressed points, no trailing data), so a
    # key whose DER does not re-encode to the input is one Go rejects.
    if _spki_der(key) != der:
        raise InvalidKeyError("x509: failed to parse public key: non-canonical encoding")
    return key


def _spki_der(key: VerifyingKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _parse_certificate(der: bytes) -> x509.Certificate:
    return _parse_certificate_and_key(der)[0]


def _parse_certificate_and_key(der: bytes) -> tuple[x509.Certificate, object]:
    """The certificate and its public key (each `public_key()` call builds a new key
    object: callers that need it take this one)."""
    try:
        # cryptography warns (instead of failing) on some encodings Go refuses,
        # e.g. negative serial numbers; treat those warnings as parse errors.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key()
            # Extensions parse lazily; Go's ParseCertificate refuses a malformed or
            # duplicated one, and a late ValueError would be a 500 (tests/fuzz).
            _ = cert.extensions
    except (ValueError, UnsupportedAlgorithm, Warning, x509.DuplicateExtension, x509.InvalidVersion) as e:
        # InvalidVersion (not a ValueError): a version field of 1 (v2), which Go
        # accepts but cryptography cannot parse; refused rather than a 500.
        raise InvalidKeyError("x509: malformed certificate") from e
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, _CURVES):
        raise InvalidKeyError("x509: unsupported elliptic curve")
    _check_rsa_size(key)
    return cert, key


def _check_rsa_size(key: object) -> None:
    """Refuse an RSA key whose modulus or public exponent exceeds the limits, before any use.

    Go's crypto/rsa refuses e > 2^31-1 when verifying; a huge exponent (or
    modulus) makes every verification with the key, and every chain check
    by a CA certificate holding it, that much slower."""
    if not isinstance(key, rsa.RSAPublicKey):
        return
    current = limits.current()
    if key.key_size > current.max_rsa_bits:
        raise InputLimitError(limits.limit_error_message("max_rsa_bits", key.key_size, current.max_rsa_bits,
                                                         "the RSA modulus size in bits"))
    e = key.public_numbers().e
    if e > current.max_rsa_exponent:
        raise InputLimitError(limits.limit_error_message("max_rsa_exponent", e, current.max_rsa_exponent,
                                                         "the RSA public exponent"))


def _parse_chain(data: bytes) -> tuple[x509.Certificate, ...]:
    # sigstore cryptoutils.UnmarshalCertificatesFromPEMLimited(data, 10).
    certs: list[x509.Certificate] = []
    rest = data.strip()
    max_certs = limits.current().max_chain_certificates
    while rest:
        if len(certs) == max_certs:
            raise InvalidKeyError("too many certificates specified in PEM block; "
                                  + limits.limit_error_message("max_chain_certificates", len(certs) + 1, max_certs,
                                                               "the number of certificates"))
        block, rest = decode_pem(rest)
        if block is None:
            raise InvalidKeyError("error during PEM decoding")
        # Go parses any block's bytes as a certificate; we insist on the label
        # too, so a PUBLIC KEY mixed into a chain gets a clear message.
        if block.type != "CERTIFICATE":
            raise InvalidKeyError(f"invalid public key: cannot handle type {block.type} in a certificate chain")
        certs.append(_parse_certificate(block.data))
    return tuple(certs)


# ---- the key ------------------------------------------------------------------------------


@dataclass(frozen=True)
class X509PublicKey:
    """A PEM public key, certificate, or certificate chain (leaf first).

    Exactly one of `key_only` / `certificates` describes the input: a raw key has
    no certificates; a single certificate or a chain has them, leaf first.
    """

    public_key: VerifyingKey
    certificates: tuple[x509.Certificate, ...]
    # The canonical PEM when parsing already made it (one PEM block): see _parse.
    known_canonical: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse as Rekor does (docs/rekor-compat.md#x509); raises InvalidKeyError (DER,
        wrong PEM type, >10 certs, ...).

        The input is measured first (limits.max_key_bytes).  A key that has
        verified a signature before is taken from a cache keyed by its
        canonical PEM, which text around the PEM blocks does not change."""
        data = bytes(data)
        limit = limits.current().max_key_bytes
        if len(data) > limit:
            raise InputLimitError(limits.limit_error_message("max_key_bytes", len(data), limit,
                                                             "the public key size in bytes"))
        if cls is X509PublicKey:
            # Most clients send the canonical PEM itself: look that up as is first.
            found = _KEY_CACHE.get(data)
            if found is not None:
                return cast(Self, found)
        return cls._parse(data)

    @classmethod
    def from_der(cls, der: bytes, *, certificate: bool) -> Self:
        """A DER SubjectPublicKeyInfo, or with `certificate` a DER certificate, parsed
        as Go's x509.ParsePKIXPublicKey / ParseCertificate accept them (Rekor v2's
        verifiers); raises InvalidKeyError, InputLimitError past limits.max_key_bytes."""
        der = bytes(der)
        limit = limits.current().max_key_bytes
        if len(der) > limit:
            raise InputLimitError(limits.limit_error_message("max_key_bytes", len(der), limit,
                                                             "the public key size in bytes"))
        if certificate:
            cert, key = _parse_certificate_and_key(der)
            return cls(_leaf_key(key), (cert,))
        return cls(_parse_spki(der), ())

    @classmethod
    def _parse(cls, data: bytes) -> Self:
        trimmed = data.strip(b" \t\n\r\v\f")
        block, rest = decode_pem(trimmed)
        if block is None:
            raise InvalidKeyError("invalid public key: failure decoding PEM")
        if rest:
            # Anything after the first block: the whole input must be a chain.
            if cls is X509PublicKey:
                canonical = _canonical_blocks(data)
                found = _KEY_CACHE.get(canonical) if canonical is not None else None
                if found is not None:
                    return cast(Self, found)
            chain = _parse_chain(trimmed)
            return cls(_leaf_key(chain[0].public_key()), chain)
        if block.type not in ("PUBLIC KEY", "CERTIFICATE"):
            raise InvalidKeyError(f"invalid public key: cannot handle type {block.type}")
        # One block: its canonical PEM is the block's DER re-encoded (for a key,
        # _parse_spki refuses DER that does not re-marshal to itself; for a
        # certificate it is the raw DER, as Rekor's cert.Raw).  So the cache is
        # asked before any DER parsing, and the text is the key's canonical value.
        pem = encode_pem(block.type, block.data)
        if cls is X509PublicKey:
            found = _KEY_CACHE.get(pem)
            if found is not None:
                return cast(Self, found)
        if block.type == "PUBLIC KEY":
            return cls(_parse_spki(block.data), (), pem)
        cert, key = _parse_certificate_and_key(block.data)
        return cls(_leaf_key(key), (cert,), pem)

    def canonical_value(self) -> bytes:
        """PEM PUBLIC KEY of the re-marshalled SPKI, or each certificate's raw DER as PEM."""
        return self._canonical

    @functools.cached_property
    def _canonical(self) -> bytes:
        # Computed once per parsed key: it is the cache key, the stored value and the index key.
        if self.known_canonical is not None:
            return self.known_canonical
        if not self.certificates:
            return encode_pem("PUBLIC KEY", _spki_der(self.public_key))
        # cryptography writes a certificate back as the DER it parsed (its ASN.1
        # parser accepts strict DER only), which is Rekor's cert.Raw.
        return b"".join(
            encode_pem("CERTIFICATE", c.public_bytes(serialization.Encoding.DER)) for c in self.certificates
        )

    def identities(self) -> list[str]:
        """Leaf SANs in Rekor's order: DNS, email, IP, URI, then Fulcio's OtherName."""
        if not self.certificates:
            return []
        return _subjects(self.certificates[0])

    def verify(self, signature: bytes, data: bytes, sha256_digest: bytes | None = None,
               *, check_chain: bool = True) -> None:
        """Verify over a whole message: SHA-256 for RSA/ECDSA, pure Ed25519 (rekord, dsse).

        `sha256_digest`, when given, is SHA-256(data) computed once by a caller
        that checks many signatures over the same message (a DSSE envelope).
        `check_chain=False` uses the leaf key alone, as Rekor's DSSE verifiers do."""
        key = self._verified_leaf_key(signature, check_chain)
        if isinstance(key, ed25519.Ed25519PublicKey):
            try:
                key.verify(signature, data)
            except InvalidSignature as e:
                raise InvalidSignatureError("failed to verify signature") from e
        else:
            digest = sha256_digest if sha256_digest is not None else hashlib.sha256(data).digest()
            self._verify_prehashed(key, signature, digest, "sha256")
        self._remember()

    def verify_digest(self, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        """Verify over a digest (hashedrekord); Ed25519 keys use Ed25519ph and need sha512."""
        key = self._verified_leaf_key(signature)
        if len(digest) != _HASHES[hash_name].digest_size:
            raise InvalidSignatureError("unexpected length of digest for hash function specified")
        self._verify_prehashed(key, signature, digest, hash_name)
        self._remember()

    def _remember(self) -> None:
        # Only after a signature verified: see _KEY_CACHE.
        if type(self) is X509PublicKey and _KEY_CACHE.get(self._canonical) is not self:
            _KEY_CACHE.put(self._canonical, self)

    def signing_algorithms(self, hash_name: HashName) -> frozenset[str]:
        """The sigstore algorithm names (flag values) that match this key with `hash_name`.

        Mirrors sigstore's AlgorithmRegistryConfig.IsAlgorithmPermitted: a key
        and hash pair is permitted if any of these names is permitted.
        """
        key = self.public_key
        if isinstance(key, rsa.RSAPublicKey):
            # Go compares rsa.PublicKey.Size()*8: the modulus length rounded up to bytes.
            bits = (key.key_size + 7) // 8 * 8
            if hash_name != "sha256" or bits not in (2048, 3072, 4096):
                return frozenset()
            return frozenset({f"rsa-sign-pkcs1-{bits}-sha256", f"rsa-sign-pss-{bits}-sha256"})
        if isinstance(key, ec.EllipticCurvePublicKey):
            curve = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}.get(key.curve.name)
            if curve is None:
                return frozenset()
            name = f"ecdsa-sha2-{hash_name[3:]}-{curve}"
            return frozenset({name}) & _ECDSA_ALGORITHMS
        # Ed25519: "ed25519" needs hash "none", which hashedrekord never names.
        return frozenset({"ed25519-ph"}) if hash_name == "sha512" else frozenset()

    def _verified_leaf_key(self, signature: bytes, check_chain: bool = True) -> VerifyingKey:
        # Rekor's x509.Signature.Verify: empty signature first, then the chain.
        if not signature:
            raise InvalidSignatureError("X509 signature has not been initialized")
        limit = limits.current().max_signature_bytes
        if len(signature) > limit:
            raise InputLimitError(limits.limit_error_message("max_signature_bytes", len(signature), limit,
                                                             "the signature size in bytes"))
        if check_chain and len(self.certificates) > 1:
            verify_chain(self.certificates)
        return self.public_key

    @staticmethod
    def _verify_prehashed(key: VerifyingKey, signature: bytes, digest: bytes, hash_name: HashName) -> None:
        if isinstance(key, rsa.RSAPublicKey):
            _verify_rsa(key, signature, digest, hash_name)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            _verify_ecdsa(key, signature, digest, hash_name)
        else:
            _verify_ed25519ph(key, signature, digest, hash_name)


@dataclass(frozen=True)
class X509Signature:
    """rekord's x509 signature: raw bytes (RSA PKCS#1 v1.5, ECDSA DER or P1363, Ed25519), stored as sent."""

    raw: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls(bytes(data))

    def canonical_value(self) -> bytes:
        return self.raw

    def verify(self, data: bytes, key: object) -> None:
        """SHA-256 for RSA and ECDSA, pure Ed25519, over the whole message
        (docs/rekor-compat.md#rekord)."""
        if not isinstance(key, X509PublicKey):
            raise InvalidSignatureError("invalid public key type for x509 signature")
        key.verify(self.raw, data)


def _leaf_key(key: object) -> VerifyingKey:
    """A certificate's key, if Rekor can verify with it."""
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        # Go parses such certificates but cannot load a verifier for them.
        raise InvalidKeyError("unsupported public key type")
    return key


# ---- signature checks ---------------------------------------------------------------------


def _verify_rsa(key: rsa.RSAPublicKey, signature: bytes, digest: bytes, hash_name: HashName) -> None:
    # Always PKCS#1 v1.5: Rekor never loads a PSS verifier for x509 keys.
    # Go's crypto/rsa checks the modulus size before the signature.  (Exponents
    # Go refuses, e < 2 or even, never get here: cryptography refuses to load them.)
    if key.key_size < _MIN_RSA_BITS:
        raise InvalidSignatureError(f"crypto/rsa: {key.key_size}-bit keys are insecure "
                                    "(see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)")
    try:
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(_HASHES[hash_name]))
    except (InvalidSignature, ValueError) as e:
        raise InvalidSignatureError("crypto/rsa: verification error") from e


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, digest: bytes, hash_name: HashName) -> None:
    # sigstore's ECDSAVerifier: if the bytes parse as an ASN.1 SEQUENCE of two
    # INTEGERs (Go's lenient asn1.Unmarshal), they must verify as strict DER;
    # otherwise they are read as IEEE-P1363 r||s, halves of any equal length.
    algorithm = _ECDSA_PREHASHED[hash_name]
    if _looks_like_der_signature(signature):
        try:
            key.verify(signature, digest, algorithm)
        except (InvalidSignature, ValueError) as e:
            raise InvalidSignatureError("invalid signature when validating ASN.1 encoded signature") from e
        return
    if not signature or len(signature) > 132 or len(signature) % 2:
        raise InvalidSignatureError("ecdsa: Invalid IEEE_P1363 encoded bytes")
    half = len(signature) // 2
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    try:
        key.verify(utils.encode_dss_signature(r, s), digest, algorithm)
    except (InvalidSignature, ValueError) as e:
        raise InvalidSignatureError("invalid signature when validating IEEE_P1363 encoded signature") from e


def _verify_ed25519ph(key: ed25519.Ed25519PublicKey, signature: bytes, digest: bytes, hash_name: HashName) -> None:
    if hash_name != "sha512":
        # sigstore's ComputeDigestForVerifying wording, Go's %q and %v formatting.
        raise InvalidSignatureError(f'unsupported hash algorithm: "{_GO_HASH_NAMES[hash_name]}" not in [SHA-512]')
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        verify_ed25519ph(raw, signature, digest)
    except Ed25519phError as e:
        raise InvalidSignatureError(f"failed to verify signature: {e}") from e


def _read_der_tlv(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER TLV at `pos`, or None if malformed."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data) or data[pos] == 0:
            return None  # indefinite, oversized or non-minimal length
        length = int.from_bytes(data[pos : pos + n], "big")
        if length < 0x80:
            return None  # long form where short form fits: not DER
        pos += n
    if pos + length > len(data):
        return None
    return tag, pos, pos + length


def _looks_like_der_signature(sig: bytes) -> bool:
    """Whether Go's asn1.Unmarshal into struct{R, S *big.Int} succeeds (trailing data allowed)."""
    outer = _read_der_tlv(sig, 0)
    if outer is None or outer[0] != 0x30:
        return False
    pos, end = outer[1], outer[2]
    for _ in range(2):
        tlv = _read_der_tlv(sig[:end], pos)
        if tlv is None or tlv[0] != 0x02:
            return False
        body = sig[tlv[1] : tlv[2]]
        if not body:
            return False
        if len(body) > 1 and ((body[0] == 0 and body[1] < 0x80) or (body[0] == 0xFF and body[1] >= 0x80)):
            return False  # "integer not minimally-encoded"
        pos = tlv[2]
    return True


# ---- subjects -----------------------------------------------------------------------------


def _subjects(cert: x509.Certificate) -> list[str]:
    # sigstore cryptoutils.GetSubjectAlternateNames.
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    # One pass over the names, sorted into Rekor's order (get_values_for_type per
    # type would walk them five times).
    dns: list[str] = []
    email: list[str] = []
    ips: list[str] = []
    uris: list[str] = []
    others: list[x509.OtherName] = []
    for name in san:
        kind = type(name)
        if kind is x509.RFC822Name:
            email.append(name.value)
        elif kind is x509.DNSName:
            dns.append(name.value)
        elif kind is x509.IPAddress:
            ips.append(_go_ip_string(name.value))
        elif kind is x509.UniformResourceIdentifier:
            uris.append(name.value)
        elif kind is x509.OtherName:
            others.append(name)
    names = dns + email + ips + uris
    other = _fulcio_other_name(others)
    if other:
        names.append(other)
    return names


def _go_ip_string(ip: object) -> str:
    # Go prints an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as plain IPv4.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _fulcio_other_name(others: Sequence[x509.OtherName]) -> str | None:
    # Exactly one OtherName, of Fulcio's OID, holding a UTF8String; otherwise
    # sigstore's UnmarshalOtherNameSAN errs and the subject is silently skipped.
    if len(others) != 1 or others[0].type_id != _FULCIO_OTHERNAME_OID:
        return None
    value = others[0].value  # DER of the [0] EXPLICIT content: a UTF8String TLV
    tlv = _read_der_tlv(value, 0)
    if tlv is None or tlv[0] != 0x0C or tlv[2] != len(value):
        return None
    try:
        return value[tlv[1] : tlv[2]].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _canonical_blocks(data: bytes) -> bytes | None:
    """The canonical PEM a successful parse of `data` would have, or None.

    Every PEM block re-encoded (what canonical_value() returns for a key or
    chain that parses); None when text other than PEM blocks follows the
    first block, which only a failing parse has."""
    rest = data.strip(b" \t\n\r\v\f")
    parts: list[bytes] = []
    while rest:
        block, after = decode_pem(rest)
        if block is None or len(after) >= len(rest):
            return None
        parts.append(encode_pem(block.type, block.data))
        rest = after.strip()
    return b"".join(parts) if parts else None

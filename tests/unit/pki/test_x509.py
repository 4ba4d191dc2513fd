"""x509 format: Go-compatible PEM, key/cert/chain parsing, subjects, chain and signature checks."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.x509.oid import ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.pki.base import InvalidKeyError, InvalidSignatureError, decode_std_base64
from rekor_py.pki.ed25519ph import _sign_ed25519ph
from rekor_py.pki.x509 import X509PublicKey, decode_pem, encode_pem
from tests.unit.pki import DAY, T0, cert_pem, make_cert, make_chain, spki_pem, with_version_field

VECTORS = Path(__file__).parents[2] / "vectors" / "types" / "hashedrekord" / "0.0.1" / "client-algos"
EC_PEM = (VECTORS / "ec_public.pem").read_bytes()


# ---- PEM ----------------------------------------------------------------------------------


def test_encode_pem_is_go_layout() -> None:
    pem = encode_pem("PUBLIC KEY", bytes(range(100)))
    lines = pem.split(b"\n")
    assert lines[0] == b"-----BEGIN PUBLIC KEY-----"
    assert [len(line) for line in lines[1:-2]] == [64, 64, 8]
    assert lines[-2] == b"-----END PUBLIC KEY-----" and lines[-1] == b""


@given(st.binary(max_size=300))
def test_pem_round_trip(data: bytes) -> None:
    block, rest = decode_pem(encode_pem("CERTIFICATE", data))
    assert block is not None and block.data == data and block.type == "CERTIFICATE" and rest == b""


def test_decode_pem_skips_preamble_headers_and_broken_blocks() -> None:
    body = EC_PEM.split(b"\n")[1:3]
    text = (
        b"junk line\n-----BEGIN BROKEN-----\nno end here\n"
        b"-----BEGIN PUBLIC KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n\r\n"
        + b"  ".join(body)
        + b"\r\n-----END PUBLIC KEY-----   \r\ntrailer"
    )
    block, rest = decode_pem(text)
    assert block is not None and block.type == "PUBLIC KEY"
    assert block.headers == (("Proc-Type", "4,ENCRYPTED"),)
    assert rest == b"trailer"


@pytest.mark.parametrize(
    "text",
    [b"", b"no pem at all", b"-----BEGIN X-----\nAAAA\n-----END Y-----\n", b"-----BEGIN X-----\nA\n-----END X-----\n"],
)
def test_decode_pem_none(text: bytes) -> None:
    assert decode_pem(text) == (None, text)


@pytest.mark.parametrize(
    ("text", "want"),
    [(b"", b""), (b"QUJD", b"ABC"), (b"QQ\r\n==", b"A"), (b"QR==", b"A"), (b"QQ=", None),
     (b"Q Q==", None), (b"QQ==QQ==", None), (b"A===", None), (b"QUJ-", None)],
)
def test_decode_std_base64_like_go(text: bytes, want: bytes | None) -> None:
    assert decode_std_base64(text) == want


# ---- keys ---------------------------------------------------------------------------------


def test_canonical_key_drops_headers_and_rewraps() -> None:
    der = base64.b64decode(b"".join(EC_PEM.split(b"\n")[1:3]))
    b64 = base64.b64encode(der)
    messy = (b"\n  -----BEGIN PUBLIC KEY-----\nComment: hi\n\n" + b64[:10] + b"\n" + b64[10:]
             + b"\n-----END PUBLIC KEY-----\n\n")
    assert X509PublicKey.from_bytes(messy).canonical_value() == EC_PEM


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(65537, 2048),
        ec.generate_private_key(ec.SECP224R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["rsa2048", "p224", "p384", "p521", "ed25519"],
)
def test_key_round_trip(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
    pem = spki_pem(key)
    parsed = X509PublicKey.from_bytes(pem)
    assert parsed.canonical_value() == pem
    assert parsed.identities() == []


def _ec_point(compressed: bool) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    fmt = serialization.PublicFormat.CompressedPoint if compressed else serialization.PublicFormat.UncompressedPoint
    return key.public_bytes(serialization.Encoding.X962, fmt)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "invalid public key: failure decoding PEM"),
        (base64.b64decode(b"".join(EC_PEM.split(b"\n")[1:3])), "invalid public key: failure decoding PEM"),
        (EC_PEM.replace(b"PUBLIC KEY", b"EC PUBLIC KEY"), "invalid public key: cannot handle type EC PUBLIC KEY"),
        (
            rsa.generate_private_key(65537, 2048).public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
            "invalid public key: cannot handle type RSA PUBLIC KEY",
        ),
        (encode_pem("PUBLIC KEY", b"\x30\x00"), "x509: failed to parse public key"),
        (spki_pem(ec.generate_private_key(ec.SECP256K1())), "x509: unsupported elliptic curve"),
        (EC_PEM + b"trailing", "cannot handle type PUBLIC KEY in a certificate chain"),
        (cert_pem(make_cert(ec.generate_private_key(ec.SECP256R1()), "c")) + b"trailing", "error during PEM decoding"),
        (EC_PEM + EC_PEM, "cannot handle type PUBLIC KEY in a certificate chain"),
    ],
    ids=["empty", "der", "ec-public-key", "rsa-public-key", "bad-spki", "secp256k1",
         "key-trailing-garbage", "cert-trailing-garbage", "two-keys"],
)
def test_key_rejections(data: bytes, message: str) -> None:
    with pytest.raises(InvalidKeyError) as e:
        X509PublicKey.from_bytes(data)
    assert message in str(e.value)


def test_compressed_point_rejected() -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _ec_point(compressed=True))
    compressed_spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # Re-encode with a compressed point: same header, 33-byte point.
    header = compressed_spki[: -65]
    der = bytearray(header + key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint))
    der[1] -= 32  # outer SEQUENCE length
    der[-35] -= 32  # BIT STRING length
    with pytest.raises(InvalidKeyError):
        X509PublicKey.from_bytes(encode_pem("PUBLIC KEY", bytes(der)))


# ---- certificates, subjects, chains ----------------------------------------------------------


def test_single_certificate_canonical_and_subjects() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.57264.1.7"), b"\x0c\x08user@idp")
    sans: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier("https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"),
        x509.IPAddress(ipaddress.ip_address("::ffff:10.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.RFC822Name("Alice@Example.com"),
        x509.DNSName("example.com"),
        other,
    ]
    cert = make_cert(key, "leaf", sans=sans)
    parsed = X509PublicKey.from_bytes(b"\n" + cert_pem(cert) + b"\n\n")
    assert parsed.canonical_value() == cert_pem(cert)
    assert parsed.identities() == [
        "example.com",
        "Alice@Example.com",
        "10.0.0.1",
        "2001:db8::1",
        "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
        "user@idp",
    ]


_MUTATED_BASE = make_cert(ec.generate_private_key(ec.SECP256R1()), "leaf",
                          sans=[x509.RFC822Name("a@example.com")]).public_bytes(serialization.Encoding.DER)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_MUTATED_BASE) - 1), st.integers(0, 255)),
                min_size=1, max_size=3))
def test_certificate_canonical_value_is_its_raw_der(flips: list[tuple[int, int]]) -> None:
    """A single certificate's canonical PEM is made from the DER as sent (Rekor's
    cert.Raw), not written back by cryptography: for any DER that parses, the two
    agree (cryptography's parser takes strict DER only), so nothing stored changed."""
    der = bytearray(_MUTATED_BASE)
    for at, value in flips:
        der[at] = value
    try:
        parsed = X509PublicKey.from_bytes(encode_pem("CERTIFICATE", bytes(der)))
    except InvalidKeyError:
        return
    written_back = parsed.certificates[0].public_bytes(serialization.Encoding.DER)
    assert parsed.canonical_value() == encode_pem("CERTIFICATE", written_back) == encode_pem(
        "CERTIFICATE", bytes(der))


def test_version_2_certificate_is_refused_not_a_crash() -> None:
    """cryptography raises InvalidVersion (not a ValueError) for a version field of 1:
    a 400 like any certificate it cannot parse, never a 500."""
    der = with_version_field(_MUTATED_BASE, 1)
    with pytest.raises(InvalidKeyError, match="malformed certificate"):
        X509PublicKey.from_bytes(encode_pem("CERTIFICATE", der))


def test_other_name_with_foreign_oid_is_ignored() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.OtherName(ObjectIdentifier("1.2.3.4"), b"\x0c\x01x"), x509.DNSName("a.example")]
    assert X509PublicKey.from_bytes(cert_pem(make_cert(key, "leaf", sans=sans))).identities() == ["a.example"]


def _signed(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    return key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_three_certificate_chain_verifies_with_leaf_key() -> None:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    chain = make_chain(leaf_key, sans=[x509.RFC822Name("dev@example.com")])
    parsed = X509PublicKey.from_bytes(cert_pem(*chain))
    assert parsed.canonical_value() == cert_pem(*chain)
    assert parsed.identities() == ["dev@example.com"]
    digest = hashlib.sha256(b"artifact").digest()
    parsed.verify_digest(_signed(leaf_key, digest), digest, "sha256")
    with pytest.raises(InvalidSignatureError, match="ASN.1"):
        parsed.verify_digest(_signed(ec.generate_private_key(ec.SECP256R1()), digest), digest, "sha256")


def test_expired_chain_verifies_at_leaf_not_before() -> None:
    # Rekor evaluates at the leaf's NotBefore, so short-lived (Fulcio) chains keep verifying.
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = make_cert(root_key, "root", ca=True, not_before=T0 - DAY, not_after=T0 + DAY)
    leaf = make_cert(leaf_key, "leaf", root_key, "root", not_before=T0, not_after=T0 + DAY / 144)
    digest = hashlib.sha256(b"x").digest()
    X509PublicKey.from_bytes(cert_pem(leaf, root)).verify_digest(_signed(leaf_key, digest), digest, "sha256")


def _chain_error(*certs: x509.Certificate) -> str:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    parsed = X509PublicKey.from_bytes(cert_pem(*certs))
    with pytest.raises(InvalidSignatureError) as e:
        parsed.verify_digest(b"\x30\x00", bytes(32), "sha256")
    del leaf_key
    return str(e.value)


def test_chain_rejections() -> None:
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = make_cert(root_key, "root", ca=True)
    stranger = make_cert(ec.generate_private_key(ec.SECP256R1()), "root", ca=True)
    leaf = make_cert(leaf_key, "leaf", root_key, "root")
    assert _chain_error(leaf, stranger).startswith("x509: certificate signed by unknown authority (possibly because of")
    # An intermediate that is not a CA may not sign.
    not_ca = make_cert(inter_key, "inter", root_key, "root", ca=False)
    leaf2 = make_cert(leaf_key, "leaf", inter_key, "inter")
    assert "parent certificate cannot sign" in _chain_error(leaf2, not_ca, root)
    # The root must be valid at the leaf's NotBefore.
    old_root = make_cert(root_key, "root", ca=True, not_before=T0 - 10 * DAY, not_after=T0 - DAY)
    assert "certificate has expired or is not yet valid" in _chain_error(leaf, old_root)
    # Path length 0 on the root forbids an intermediate.
    short_root = make_cert(root_key, "root", ca=True, path_length=0)
    inter = make_cert(inter_key, "inter", root_key, "root", ca=True)
    assert "too many intermediates" in _chain_error(leaf2, inter, short_root)
    # An unknown critical extension is refused (Go: unhandled critical extension).
    odd = make_cert(
        leaf_key, "leaf", root_key, "root",
        extra=[(x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), True)]
    )
    assert _chain_error(odd, root) == "x509: unhandled critical extension"


def test_more_than_ten_certificates_rejected() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_cert(key, "self", ca=True)
    X509PublicKey.from_bytes(cert_pem(*[cert] * 10))
    with pytest.raises(InvalidKeyError, match="too many certificates specified in PEM block"):
        X509PublicKey.from_bytes(cert_pem(*[cert] * 11))


# ---- signatures ---------------------------------------------------------------------------


def test_ecdsa_accepts_der_and_p1363() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    parsed = X509PublicKey.from_bytes(spki_pem(key))
    digest = hashlib.sha384(b"data").digest()
    der = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    r, s = utils.decode_dss_signature(der)
    p1363 = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    parsed.verify_digest(der, digest, "sha384")
    parsed.verify_digest(p1363, digest, "sha384")
    with pytest.raises(InvalidSignatureError, match="IEEE_P1363 encoded signature"):
        parsed.verify_digest(p1363[:-1] + bytes([p1363[-1] ^ 1]), digest, "sha384")
    with pytest.raises(InvalidSignatureError, match="Invalid IEEE_P1363 encoded bytes"):
        parsed.verify_digest(p1363[:-1], digest, "sha384")
    with pytest.raises(InvalidSignatureError, match="ASN.1 encoded signature"):
        parsed.verify_digest(der + b"\0", digest, "sha384")  # Go parses it as DER, then strict verify fails


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_rsa_pkcs1v15(bits: int) -> None:
    key = rsa.generate_private_key(65537, bits)
    parsed = X509PublicKey.from_bytes(spki_pem(key))
    digest = hashlib.sha256(b"data").digest()
    sig = key.sign(digest, rsa_padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    parsed.verify_digest(sig, digest, "sha256")
    parsed.verify(key.sign(b"data", rsa_padding.PKCS1v15(), hashes.SHA256()), b"data")
    pss = key.sign(digest, rsa_padding.PSS(rsa_padding.MGF1(hashes.SHA256()), 32), utils.Prehashed(hashes.SHA256()))
    with pytest.raises(InvalidSignatureError, match="crypto/rsa: verification error"):
        parsed.verify_digest(pss, digest, "sha256")
    assert parsed.signing_algorithms("sha256") == {f"rsa-sign-pkcs1-{bits}-sha256", f"rsa-sign-pss-{bits}-sha256"}
    assert parsed.signing_algorithms("sha512") == frozenset()


def test_ed25519_pure_and_prehashed() -> None:
    seed = bytes(range(32))
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    parsed = X509PublicKey.from_bytes(spki_pem(key))
    parsed.verify(key.sign(b"msg"), b"msg")
    digest = hashlib.sha512(b"msg").digest()
    _, sig = _sign_ed25519ph(seed, digest)
    parsed.verify_digest(sig, digest, "sha512")
    with pytest.raises(InvalidSignatureError, match=r'unsupported hash algorithm: "SHA-256" not in \[SHA-512\]'):
        parsed.verify_digest(sig, hashlib.sha256(b"msg").digest(), "sha256")
    with pytest.raises(InvalidSignatureError, match="failed to verify signature: ed25519: invalid signature"):
        parsed.verify_digest(key.sign(b"msg"), digest, "sha512")
    assert parsed.signing_algorithms("sha512") == {"ed25519-ph"}


def test_empty_signature_and_digest_length() -> None:
    parsed = X509PublicKey.from_bytes(EC_PEM)
    with pytest.raises(InvalidSignatureError, match="X509 signature has not been initialized"):
        parsed.verify_digest(b"", bytes(32), "sha256")
    with pytest.raises(InvalidSignatureError, match="unexpected length of digest"):
        parsed.verify_digest(b"\x30\x00", bytes(31), "sha256")


@pytest.mark.parametrize(
    ("curve", "hash_name", "want"),
    [
        (ec.SECP256R1(), "sha256", {"ecdsa-sha2-256-nistp256"}),
        (ec.SECP256R1(), "sha384", set()),
        (ec.SECP384R1(), "sha384", {"ecdsa-sha2-384-nistp384"}),
        (ec.SECP384R1(), "sha256", {"ecdsa-sha2-256-nistp384"}),
        (ec.SECP521R1(), "sha512", {"ecdsa-sha2-512-nistp521"}),
        (ec.SECP224R1(), "sha256", set()),
    ],
)
def test_ecdsa_signing_algorithms(curve: ec.EllipticCurve, hash_name: str, want: set[str]) -> None:
    parsed = X509PublicKey.from_bytes(spki_pem(ec.generate_private_key(curve)))
    assert parsed.signing_algorithms(hash_name) == want  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", [b"\x80", b"\xff", b"\x00"], ids=["-128", "-1", "zero"])
def test_certificate_with_a_serial_not_positive_is_refused(serial: bytes) -> None:
    """Go refuses a negative serial number; cryptography parses it with a warning (and
    zero too): refused as malformed, and the warning goes no further."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "serial")])
    der = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(0x7F)
           .not_valid_before(T0).not_valid_after(T0 + DAY)
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    version_and_serial = b"\xa0\x03\x02\x01\x02\x02\x01\x7f"
    assert der.count(version_and_serial) == 1
    mutated = der.replace(version_and_serial, version_and_serial[:-1] + serial)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidKeyError, match="malformed certificate"):
            X509PublicKey.from_bytes(encode_pem("CERTIFICATE", mutated))
    assert [str(w.message) for w in caught] == []  # refused, not parsed with a warning
    X509PublicKey.from_bytes(encode_pem("CERTIFICATE", der))  # 127 is fine

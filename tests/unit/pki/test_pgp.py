"""The pgp format: real GnuPG keys and signatures, and Rekor's own pgp vectors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rekor_py.pki import FORMATS, InvalidKeyError, InvalidSignatureError, pgp
from rekor_py.pki.pgp import PGPPublicKey, PGPSignature
from rekor_py.pki.pgp_armor import crc24, decode_armor, encode_armor
from tests.tools.gpg import GnuPG

# Rekor's pgp vectors (pkg/pki/pgp/testdata), and its end-to-end ones in e2e/ (see SOURCE.md there).
PGP_DATA = Path(__file__).parents[2] / "vectors" / "pki" / "pgp"
E2E = PGP_DATA / "e2e"
DATA = b"rekor-py pgp test artifact\n"


def _read(path: Path) -> bytes:
    return path.read_bytes()


@dataclass
class Keys:
    gpg: GnuPG
    fprs: dict[str, str]  # name -> fingerprint
    public: dict[str, bytes]  # armored public keys
    expired: str  # fingerprint of a key that expired before it signed
    other_home: GnuPG  # a second keyring, for "a different key"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    gpg = GnuPG.create(tmp_path_factory.mktemp("gnupg"))
    fprs = {
        "rsa3072": gpg.generate("RSA Signer <rsa@example.com>", "rsa3072", "sign"),
        "ed25519": gpg.generate("Ed Signer <ed@example.com>", "ed25519", "sign"),
        "nistp256": gpg.generate("P256 Signer <p256@example.com>", "nistp256", "sign"),
    }
    # Created in 2020 with a one-day lifetime, so it had expired long before "now".
    expired = gpg.generate("Old Signer <old@example.com>", "ed25519", "sign", "1d", faked_time="20200101T000000")
    # Created in 2021; used below to sign "in 2020", before it existed.
    fprs["late"] = gpg.generate("Late Signer <late@example.com>", "ed25519", "sign", faked_time="20210101T000000")
    other = GnuPG.create(tmp_path_factory.mktemp("gnupg-other"))
    fprs["other"] = other.generate("Other Signer <other@example.com>", "ed25519", "sign")
    public = {name: gpg.export(fpr) for name, fpr in fprs.items() if name != "other"}
    public["other"] = other.export(fprs["other"])
    return Keys(gpg, fprs, public, expired, other)


# ---- gpg-made keys and signatures -------------------------------------------------------------


@pytest.mark.parametrize("algo", ["rsa3072", "ed25519", "nistp256"])
@pytest.mark.parametrize("armor", [True, False])
def test_gpg_detached_signature_verifies(keys: Keys, algo: str, armor: bool) -> None:
    key = PGPPublicKey.from_bytes(keys.public[algo])
    sig_bytes = keys.gpg.sign(keys.fprs[algo], DATA, armor=armor)
    sig = PGPSignature.from_bytes(sig_bytes)
    sig.verify(DATA, key)
    key.verify(sig_bytes, DATA)
    # The stored form verifies as well.
    PGPSignature.from_bytes(sig.canonical_value()).verify(DATA, PGPPublicKey.from_bytes(key.canonical_value()))


def test_only_keys_that_verified_a_signature_are_cached(keys: Keys) -> None:
    pgp._KEY_CACHE.clear()
    armored = keys.public["ed25519"]
    first = PGPPublicKey.from_bytes(armored)
    assert PGPPublicKey.from_bytes(armored) is not first and len(pgp._KEY_CACHE) == 0  # a search keeps nothing
    with pytest.raises(InvalidSignatureError):
        first.verify(keys.gpg.sign(keys.fprs["ed25519"], DATA, armor=True), b"other data")
    assert len(pgp._KEY_CACHE) == 0  # nor does a failed verification
    first.verify(keys.gpg.sign(keys.fprs["ed25519"], DATA, armor=True), DATA)
    assert PGPPublicKey.from_bytes(armored) is first and pgp._KEY_CACHE.bytes_used <= pgp._KEY_CACHE.max_bytes


@pytest.mark.parametrize("algo", ["rsa3072", "ed25519", "nistp256"])
def test_canonical_key_is_stable_and_gpg_accepts_it(keys: Keys, algo: str, tmp_path: Path) -> None:
    armored = PGPPublicKey.from_bytes(keys.public[algo])
    binary = PGPPublicKey.from_bytes(keys.gpg.export(keys.fprs[algo], armor=False))
    canonical = armored.canonical_value()
    assert canonical == binary.canonical_value()
    assert canonical.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n")
    assert canonical.endswith(b"\n-----END PGP PUBLIC KEY BLOCK-----")
    assert PGPPublicKey.from_bytes(canonical).canonical_value() == canonical
    status = GnuPG.create(tmp_path / "fresh").import_key(canonical).decode()
    assert f"IMPORT_OK 1 {keys.fprs[algo]}" in status
    assert armored.identities() == [
        f"{ {'rsa3072': 'rsa', 'ed25519': 'ed', 'nistp256': 'p256'}[algo] }@example.com".replace(" ", "")
    ]


def test_canonical_key_bytes_are_the_go_crypto_packets(keys: Keys) -> None:
    # gpg writes old-format headers; go-crypto re-serializes with new-format ones.
    key = PGPPublicKey.from_bytes(keys.public["ed25519"])
    block = decode_armor(key.canonical_value())
    assert block is not None and block.error is None
    assert block.body[0] == 0xC6  # new-format public-key packet
    original = decode_armor(keys.public["ed25519"])
    assert original is not None and original.body[0] == 0x98  # gpg: old format, 1-byte length
    # Same packet bodies, only the headers differ: an old 1-byte-length header
    # and a new one are both two bytes, so the lengths match.
    assert len(block.body) == len(original.body)


def test_armored_signature_kept_byte_for_byte(keys: Keys) -> None:
    sig_bytes = keys.gpg.sign(keys.fprs["ed25519"], DATA, armor=True)
    assert sig_bytes.endswith(b"\n")  # gpg's armor ends with a newline, and it is kept
    assert PGPSignature.from_bytes(sig_bytes).canonical_value() == sig_bytes


def test_binary_signature_armored_the_go_crypto_way(keys: Keys) -> None:
    raw = keys.gpg.sign(keys.fprs["rsa3072"], DATA, armor=False)
    b64 = base64.b64encode(raw).decode()
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    crc = base64.b64encode(crc24(raw).to_bytes(3, "big")).decode()
    want = f"-----BEGIN PGP SIGNATURE-----\n\n{lines}\n={crc}\n-----END PGP SIGNATURE-----".encode()
    assert PGPSignature.from_bytes(raw).canonical_value() == want


def test_crc24_and_armor_of_empty_and_exact_lines() -> None:
    assert crc24(b"") == 0xB704CE
    assert encode_armor("PGP SIGNATURE", b"\x00" * 48) == (
        b"-----BEGIN PGP SIGNATURE-----\n\n" + b"A" * 64
        + b"\n=" + base64.b64encode(crc24(b"\x00" * 48).to_bytes(3, "big"))
        + b"\n-----END PGP SIGNATURE-----"
    )


def test_signature_by_key_that_expired_later_still_verifies(keys: Keys) -> None:
    # Signed while valid (2020-01-01 12:00), verified years after expiry: Rekor
    # evaluates key validity at the signature's creation time.
    sig = keys.gpg.sign(keys.expired, DATA, armor=True, faked_time="20200101T120000")
    PGPSignature.from_bytes(sig).verify(DATA, PGPPublicKey.from_bytes(keys.gpg.export(keys.expired)))


def test_keyring_with_several_entities(keys: Keys) -> None:
    ring = PGPPublicKey.from_bytes(keys.public["rsa3072"] + keys.public["ed25519"])
    assert len(ring.entities) == 2
    assert ring.identities() == ["rsa@example.com", "ed@example.com"]
    for algo in ("rsa3072", "ed25519"):
        ring.verify(keys.gpg.sign(keys.fprs[algo], DATA, armor=False), DATA)
    block = decode_armor(ring.canonical_value())
    assert block is not None and ring.canonical_value().count(b"-----BEGIN") == 1


# ---- rejections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    name: str
    error: type[Exception]
    message: str


def _rejections(keys: Keys) -> Iterator[tuple[Rejection, object]]:
    fpr = keys.fprs["ed25519"]
    good = keys.gpg.sign(fpr, DATA, armor=False)
    key = keys.public["ed25519"]
    yield (Rejection("wrong-key", InvalidSignatureError, "openpgp: signature made by unknown entity"),
           lambda: PGPSignature.from_bytes(keys.other_home.sign(keys.fprs["other"], DATA, armor=False))
           .verify(DATA, PGPPublicKey.from_bytes(key)))
    yield (Rejection("tampered-data", InvalidSignatureError,
                     "openpgp: invalid signature: EdDSA verification failure"),
           lambda: PGPSignature.from_bytes(good).verify(DATA + b"x", PGPPublicKey.from_bytes(key)))
    yield (Rejection("truncated-signature", InvalidSignatureError, "invalid PGP signature: unexpected EOF"),
           lambda: PGPSignature.from_bytes(good[:-10]))
    yield (Rejection("garbage-signature", InvalidSignatureError,
                     "invalid PGP signature: openpgp: invalid data: tag byte does not have MSB set"),
           lambda: PGPSignature.from_bytes(b"this is not a signature"))
    yield (Rejection("empty-signature", InvalidSignatureError, "invalid PGP signature: EOF"),
           lambda: PGPSignature.from_bytes(b""))
    yield (Rejection("key-as-signature", InvalidSignatureError, "invalid PGP signature provided"),
           lambda: PGPSignature.from_bytes(key))
    yield (Rejection("private-key-block", InvalidKeyError, "no PGP public keys could be read"),
           lambda: PGPPublicKey.from_bytes(_read(PGP_DATA / "armored_private.pgp")))
    yield (Rejection("empty-key", InvalidKeyError, "unable to read PGP public key: EOF"),
           lambda: PGPPublicKey.from_bytes(b""))
    yield (Rejection("garbage-key", InvalidKeyError,
                     "error reading binary PGP public key: openpgp: invalid data: "
                     "tag byte does not have MSB set"),
           lambda: PGPPublicKey.from_bytes(b"definitely not an OpenPGP key"))
    yield (Rejection("signature-as-key", InvalidKeyError, "invalid PGP type detected"),
           lambda: PGPPublicKey.from_bytes(keys.gpg.sign(fpr, DATA, armor=True)))
    # gpg will not sign with an expired key, so the key-not-valid-at-signing-time
    # case uses a signature made (with a faked clock) before the key was created;
    # go-crypto reports both as "key expired".
    yield (Rejection("key-not-yet-valid", InvalidSignatureError, "openpgp: key expired"),
           lambda: PGPSignature.from_bytes(
               keys.gpg.sign(keys.fprs["late"], DATA, armor=False, faked_time="20200601T000000",
                             ignore_time_conflict=True)
           ).verify(DATA, PGPPublicKey.from_bytes(keys.public["late"])))
    yield (Rejection("x509-key-object", InvalidSignatureError, "cannot use Verify with a non-PGP signature"),
           lambda: PGPSignature.from_bytes(good).verify(DATA, object()))
    yield (Rejection("digest-verification", InvalidSignatureError,
                     "PGP signatures cannot be verified over a precomputed digest"),
           lambda: PGPPublicKey.from_bytes(key).verify_digest(good, b"\x00" * 32, "sha256"))


REJECTION_NAMES = [
    "wrong-key",
    "tampered-data",
    "truncated-signature",
    "garbage-signature",
    "empty-signature",
    "key-as-signature",
    "private-key-block",
    "empty-key",
    "garbage-key",
    "signature-as-key",
    "key-not-yet-valid",
    "x509-key-object",
    "digest-verification",
]


@pytest.mark.parametrize("name", REJECTION_NAMES)
def test_rejections(keys: Keys, name: str) -> None:
    cases = {r.name: (r, fn) for r, fn in _rejections(keys)}
    assert sorted(cases) == sorted(REJECTION_NAMES)
    rejection, fn = cases[name]
    with pytest.raises(rejection.error) as info:
        fn()  # type: ignore[operator]
    assert str(info.value) == rejection.message


def test_private_key_without_encryption_subkey_is_accepted_like_rekor(keys: Keys) -> None:
    # Rekor refuses a keyring only when every entity has an encryption-capable
    # secret subkey; a sign-only secret key parses, and its canonical value is public.
    secret = keys.gpg.export_secret(keys.fprs["ed25519"])
    key = PGPPublicKey.from_bytes(secret)
    assert key.canonical_value() == PGPPublicKey.from_bytes(keys.public["ed25519"]).canonical_value()


# ---- Rekor's vectors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("hello_world.txt.asc.sig", False),
        ("armored_private.pgp", False),
        ("valid_armored_public.pgp", True),
        ("valid_armored_complex_public.pgp", True),
        ("bogus_binary.pgp", False),
        ("binary_private.pgp", False),
        ("valid_binary_public.pgp", True),
        ("valid_binary_complex_public.pgp", True),
    ],
)
def test_rekor_read_public_key_vectors(name: str, ok: bool) -> None:
    # pkg/pki/pgp/pgp_test.go TestReadPublicKey.
    if ok:
        PGPPublicKey.from_bytes(_read(PGP_DATA / name))
    else:
        with pytest.raises(InvalidKeyError):
            PGPPublicKey.from_bytes(_read(PGP_DATA / name))


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("bogus_armored.pgp", False),
        ("valid_armored_public.pgp", False),
        ("hello_world.txt.asc.sig", True),
        ("hello_world.txt.sig", True),
        ("hello_world.txt.asc.v3.sig", True),
        ("hello_world.txt.v3.sig", True),
    ],
)
def test_rekor_read_signature_vectors(name: str, ok: bool) -> None:
    # TestReadSignature.
    if ok:
        PGPSignature.from_bytes(_read(PGP_DATA / name))
    else:
        with pytest.raises(InvalidSignatureError):
            PGPSignature.from_bytes(_read(PGP_DATA / name))


@pytest.mark.parametrize(("binary", "armored"), [
    ("valid_binary_public.pgp", "valid_armored_public.pgp"),
    ("valid_binary_complex_public.pgp", "valid_armored_complex_public.pgp"),
])
def test_rekor_canonical_key_vectors(binary: str, armored: str) -> None:
    # TestCanonicalValuePublicKey: binary and armored forms canonicalize alike.
    a = PGPPublicKey.from_bytes(_read(PGP_DATA / binary)).canonical_value()
    assert a == PGPPublicKey.from_bytes(_read(PGP_DATA / armored)).canonical_value()
    assert PGPPublicKey.from_bytes(a).canonical_value() == a


def test_rekor_email_vectors() -> None:
    # TestEmailAddresses (Rekor sorts; the order here is the input's).
    assert PGPPublicKey.from_bytes(_read(PGP_DATA / "valid_armored_public.pgp")).identities() == ["not@real.com"]
    complex_key = PGPPublicKey.from_bytes(_read(PGP_DATA / "valid_binary_complex_public.pgp"))
    assert complex_key.identities() == ["linux-packages-keymaster@google.com"] * 2


@pytest.mark.parametrize(
    ("sig", "key", "data", "ok"),
    [
        ("hello_world.txt.asc.sig", "valid_armored_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.asc.sig", "valid_binary_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.sig", "valid_armored_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.sig", "valid_binary_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.asc.v3.sig", "valid_armored_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.asc.v3.sig", "valid_binary_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.v3.sig", "valid_armored_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.v3.sig", "valid_binary_public.pgp", "hello_world.txt", True),
        ("hello_world.txt.sig", "valid_binary_complex_public.pgp", "hello_world.txt", False),
        ("hello_world.txt.sig", "valid_binary_complex_public.pgp", "armored_private.pgp", False),
    ],
)
def test_rekor_verify_vectors(sig: str, key: str, data: str, ok: bool) -> None:
    # TestVerifySignature and TestCanonicalValueSignature (the key expired in 2022;
    # the signatures are from 2020 and still verify).
    parsed = PGPSignature.from_bytes(_read(PGP_DATA / sig))
    pub = PGPPublicKey.from_bytes(_read(PGP_DATA / key))
    if not ok:
        with pytest.raises(InvalidSignatureError, match="^openpgp: signature made by unknown entity$"):
            parsed.verify(_read(PGP_DATA / data), pub)
        return
    parsed.verify(_read(PGP_DATA / data), pub)
    PGPSignature.from_bytes(parsed.canonical_value()).verify(_read(PGP_DATA / data), pub)


def test_rekor_e2e_vectors() -> None:
    # Rekor's tests/test_file.* and tests/node (Node.js v15.4.0 SHASUMS256.txt).
    key = PGPPublicKey.from_bytes(_read(E2E / "test_public_key.key"))
    assert key.identities() == ["lhinds@protonmail.com"]
    PGPSignature.from_bytes(_read(E2E / "test_file.sig")).verify(_read(E2E / "test_file.txt"), key)
    node_key = PGPPublicKey.from_bytes(_read(E2E / "key"))
    assert node_key.identities() == ["adamzdanielle@gmail.com", "danielle.adams@heroku.com"]
    PGPSignature.from_bytes(_read(E2E / "sig")).verify(_read(E2E / "SHASUMS256.txt"), node_key)
    with pytest.raises(InvalidSignatureError, match="^openpgp: invalid signature: RSA verification failure$"):
        PGPSignature.from_bytes(_read(E2E / "sig")).verify(_read(E2E / "SHASUMS256.txt") + b"\n", node_key)
    # sig.asc is a clearsigned message, not a detached signature: Rekor refuses it.
    with pytest.raises(InvalidSignatureError, match="^invalid PGP signature provided$"):
        PGPSignature.from_bytes(_read(E2E / "sig.asc"))


def test_format_table_entry() -> None:
    fmt = FORMATS["pgp"]
    assert (fmt.name, fmt.public_key, fmt.signature) == ("pgp", PGPPublicKey, PGPSignature)

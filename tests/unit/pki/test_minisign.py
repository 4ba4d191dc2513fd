"""minisign format: keys, signatures (minisign and signify), canonical values, verification.

Keys and signatures are made by the real `minisign` 0.11 (prehashed `ED` by
default, legacy `Ed` with -l), plus Rekor's own vectors.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.pki import FORMATS
from rekor_py.pki.base import InvalidKeyError, InvalidSignatureError
from rekor_py.pki.minisign import MAX_INPUT_BYTES, MinisignPublicKey, MinisignSignature
from rekor_py.pki.ssh import SSHPublicKey

# Rekor's own vectors (its pkg/pki/minisign/testdata; see SOURCE.md there).
REKOR = Path(__file__).parents[2] / "vectors" / "pki" / "minisign"

DATA = b"an artifact, signed with minisign\n"


@dataclass
class Minisign:
    pub: bytes  # minisign.pub contents
    prehashed: bytes  # .minisig made by `minisign -S` (ED)
    legacy: bytes  # .minisig made by `minisign -S -l` (Ed)


def _minisign(directory: Path, name: str) -> Minisign:
    d = directory / name
    d.mkdir()
    pub, sec, msg = d / "pub", d / "sec", d / "msg"
    msg.write_bytes(DATA)
    subprocess.run(["minisign", "-G", "-W", "-p", str(pub), "-s", str(sec)], check=True, capture_output=True)
    subprocess.run(["minisign", "-S", "-s", str(sec), "-m", str(msg)], check=True, capture_output=True)
    subprocess.run(["minisign", "-S", "-l", "-s", str(sec), "-m", str(msg), "-x",
                    str(d / "legacy")], check=True, capture_output=True)
    return Minisign(pub.read_bytes(), (d / "msg.minisig").read_bytes(), (d / "legacy").read_bytes())


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Minisign]:
    d = tmp_path_factory.mktemp("minisign")
    return {"main": _minisign(d, "main"), "other": _minisign(d, "other")}


def sig_file(algorithm: bytes, key_id: bytes, signature: bytes) -> bytes:
    """A 4-line .minisig around the given signature line (the global signature is never checked)."""
    line = base64.b64encode(algorithm + key_id + signature)
    return b"untrusted comment: x\n" + line + b"\ntrusted comment: y\n" + base64.b64encode(bytes(64)) + b"\n"


# ---- real minisign output ---------------------------------------------------------------------


@pytest.mark.parametrize(("which", "algorithm"), [("prehashed", b"ED"), ("legacy", b"Ed")])
def test_minisign_signatures_verify(tools: dict[str, Minisign], which: str, algorithm: bytes) -> None:
    made = tools["main"]
    armored = getattr(made, which)
    key = MinisignPublicKey.from_bytes(made.pub)
    sig = MinisignSignature.from_bytes(armored)
    assert sig.algorithm == algorithm and sig.key_id == key.key_id
    sig.verify(DATA, key)
    key.verify(armored, DATA)
    # Canonical key: the second line of minisign.pub, without its newline.
    assert key.canonical_value() == made.pub.split(b"\n")[1]
    assert key.identities() == []
    # Canonical signature: a bare untrusted comment and the signature line, no newline.
    assert sig.canonical_value() == b"untrusted comment:\n" + armored.split(b"\n")[1]
    # Round trips, and the canonical forms still verify.
    assert MinisignPublicKey.from_bytes(key.canonical_value()) == key
    assert MinisignSignature.from_bytes(sig.canonical_value()) == sig
    MinisignSignature.from_bytes(sig.canonical_value()).verify(
        DATA, MinisignPublicKey.from_bytes(key.canonical_value()))


def test_prehashed_means_blake2b_512(tools: dict[str, Minisign]) -> None:
    # The ED signature is plain Ed25519 over BLAKE2b-512(data): check with the raw key.
    key = MinisignPublicKey.from_bytes(tools["main"].pub)
    sig = MinisignSignature.from_bytes(tools["main"].prehashed)
    ed25519.Ed25519PublicKey.from_public_bytes(key.public_key).verify(sig.signature, hashlib.blake2b(DATA).digest())


def test_legacy_bare_key_verifies_real_signatures(tools: dict[str, Minisign]) -> None:
    # Rekor stored just the 32 key bytes before PR #562: alg Ed, key id 0.
    real = MinisignPublicKey.from_bytes(tools["main"].pub)
    bare = MinisignPublicKey.from_bytes(real.public_key)
    assert (bare.algorithm, bare.key_id, bare.public_key) == (b"Ed", bytes(8), real.public_key)
    assert bare.canonical_value() == base64.b64encode(b"Ed" + bytes(8) + real.public_key)
    MinisignSignature.from_bytes(tools["main"].prehashed).verify(DATA, bare)


def test_key_and_signature_text_variants(tools: dict[str, Minisign]) -> None:
    made = tools["main"]
    key = MinisignPublicKey.from_bytes(made.pub)
    b64 = made.pub.split(b"\n")[1]
    for text in [b64, b64 + b"\n", b"any first line\n" + b64, made.pub.replace(b"\n", b"\r\n")]:
        assert MinisignPublicKey.from_bytes(text) == key
    sig = MinisignSignature.from_bytes(made.prehashed)
    assert MinisignSignature.from_bytes(made.prehashed.replace(b"\n", b"\r\n")) == sig
    assert MinisignSignature.from_bytes(made.prehashed.rstrip(b"\n")) == sig


# ---- Rekor's vectors --------------------------------------------------------------------------------

GOLDEN_KEYS = {
    "minisign.pub": b"RWQ/VK4mEZOSnVFf2NhEt9WV8zE1RcN8mtKeOO7mVjj/MCDvb5tSV6RD",
    "minisign_key_only.pub": b"RWQ/VK4mEZOSnVFf2NhEt9WV8zE1RcN8mtKeOO7mVjj/MCDvb5tSV6RD",
    "minisign_hashed.pub": b"RWRIeCI9VBgUB0FAABABUrdfRVLBsRhOC63S9bDOAeWkCmnT38a1sUDb",
    "signify.pub": b"RWSZyj9wTc0QvAfiUA2zFbdxSpPGyXLc/Mcxn+7hd9f6+VP+jHu0bu8b",
}
GOLDEN_SIGS = {
    "hello_world.txt.minisig": b"untrusted comment:\n"
    b"RWQ/VK4mEZOSnVsP2aVAcwlCDu0V5VUqqGeE6mndH9v7wY4++PrZdB0HBRyVpt4/h0VDzQIvLenPpmTRSx1604Bac6Joz08phg4=",
    "hello_world_hashed.txt.minisig": b"untrusted comment:\n"
    b"RURIeCI9VBgUB9kPHyUwRtxZycb78g9wT6d+oRuXEKquv665OMM6CI64Z+hGcKiJg2ErfA50FCgmdiUw4EHErNMivjYajjO4EAQ=",
    "hello_world.txt.signify": b"untrusted comment:\n"
    b"RWSZyj9wTc0QvMrf5en3xQSpQcAZCzNyW23BBPBPjQuFVek3KGzNtNCv60pob32eGBL9ZuuiG36GnvcOwFodj7l9dl1jbzNR6QE=",
}


@pytest.mark.parametrize("name", sorted(GOLDEN_KEYS))
def test_rekor_key_vectors(name: str) -> None:
    key = MinisignPublicKey.from_bytes((REKOR / name).read_bytes())
    assert key.canonical_value() == GOLDEN_KEYS[name]
    assert MinisignPublicKey.from_bytes(key.canonical_value()) == key
    # Rekor's TestReadPublicKey: the raw 32 key bytes parse too.
    assert MinisignPublicKey.from_bytes(key.public_key).public_key == key.public_key


@pytest.mark.parametrize("name", sorted(GOLDEN_SIGS))
def test_rekor_signature_vectors(name: str) -> None:
    sig = MinisignSignature.from_bytes((REKOR / name).read_bytes())
    assert sig.canonical_value() == GOLDEN_SIGS[name]
    assert MinisignSignature.from_bytes(sig.canonical_value()) == sig


# Rekor's TestVerifySignature and TestCanonicalValueSignature, with the error we give.
@pytest.mark.parametrize(
    ("data", "sig", "key", "want_error"),
    [
        ("hello_world.txt", "hello_world.txt.minisig", "minisign.pub", None),
        ("hello_world.txt", "hello_world.txt.minisig", "minisign_key_only.pub", None),
        ("hello_world.txt", "hello_world_hashed.txt.minisig", "minisign_hashed.pub", None),
        ("hello_world.txt", "hello_world.txt.signify", "signify.pub", None),
        ("hello_world.txt", "hello_world.txt.minisig", "signify.pub", "Incompatible key identifiers"),
        ("signify.pub", "hello_world.txt.minisig", "minisign.pub", "failed to verify signature"),
    ],
)
def test_rekor_verify_vectors(data: str, sig: str, key: str, want_error: str | None) -> None:
    parsed_key = MinisignPublicKey.from_bytes((REKOR / key).read_bytes())
    parsed = MinisignSignature.from_bytes((REKOR / sig).read_bytes())
    message = (REKOR / data).read_bytes()
    for candidate in (parsed, MinisignSignature.from_bytes(parsed.canonical_value())):
        if want_error is None:
            candidate.verify(message, parsed_key)
        else:
            with pytest.raises(InvalidSignatureError) as e:
                candidate.verify(message, parsed_key)
            assert str(e.value) == want_error


# Rekor's TestReadPublicKeyErr and TestReadSignature's failures.
def test_rekor_files_of_the_wrong_kind() -> None:
    for name in ("hello_world.txt.minisig", "hello_world.txt"):
        with pytest.raises(InvalidKeyError, match="^unable to read minisign public key: Invalid encoded public key$"):
            MinisignPublicKey.from_bytes((REKOR / name).read_bytes())
    with pytest.raises(InvalidSignatureError, match="^invalid signature provided: incorrect size 42 detected$"):
        MinisignSignature.from_bytes((REKOR / "minisign.pub").read_bytes())


# ---- rejections -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "want_class", "want_message"),
    [
        ("wrong-key", InvalidSignatureError, "Incompatible key identifiers"),
        ("wrong-key-bare", InvalidSignatureError, "failed to verify signature"),
        ("tampered-data", InvalidSignatureError, "failed to verify signature"),
        ("tampered-data-legacy", InvalidSignatureError, "failed to verify signature"),
        ("tampered-signature", InvalidSignatureError, "failed to verify signature"),
        ("prehashed-as-pure", InvalidSignatureError, "failed to verify signature"),
        ("mismatched-keyid", InvalidSignatureError, "Incompatible key identifiers"),
        ("unknown-algorithm", InvalidSignatureError, "Unsupported signature algorithm"),
        ("key-algorithm", InvalidSignatureError, "Incompatible signature algorithm"),
        ("non-minisign-key", InvalidSignatureError, "cannot use Verify with a non-minisign key"),
        ("truncated-signature", InvalidSignatureError, "invalid signature provided: incorrect size 73 detected"),
        ("truncated-file", InvalidSignatureError, "invalid signature provided: 1 lines detected"),
        ("extra-line", InvalidSignatureError, "invalid signature provided: 5 lines detected"),
        ("bad-base64", InvalidSignatureError, "invalid signature provided: base64 decoding failed"),
        ("garbage", InvalidSignatureError, "invalid signature provided: 1 lines detected"),
        ("empty", InvalidSignatureError, "invalid signature provided: 1 lines detected"),
        ("oversized", InvalidSignatureError, "invalid signature provided: input too large"),
        ("empty-key", InvalidKeyError, "unable to read minisign public key: Invalid encoded public key"),
        ("short-key", InvalidKeyError, "unable to read minisign public key: Invalid encoded public key"),
        ("oversized-key", InvalidKeyError, "unable to read minisign public key: input too large"),
    ],
)
def test_rejections(tools: dict[str, Minisign], case: str, want_class: type[Exception], want_message: str) -> None:
    made, other = tools["main"], tools["other"]
    key = MinisignPublicKey.from_bytes(made.pub)
    sig = MinisignSignature.from_bytes(made.prehashed)

    def check(armored: bytes, k: object = key, data: bytes = DATA) -> None:
        MinisignSignature.from_bytes(armored).verify(data, k)  # type: ignore[arg-type]

    with pytest.raises(want_class) as e:
        match case:
            case "wrong-key":
                check(made.prehashed, MinisignPublicKey.from_bytes(other.pub))
            case "wrong-key-bare":
                check(made.prehashed, MinisignPublicKey.from_bytes(MinisignPublicKey.from_bytes(other.pub).public_key))
            case "tampered-data":
                check(made.prehashed, data=DATA + b"!")
            case "tampered-data-legacy":
                check(made.legacy, data=DATA + b"!")
            case "tampered-signature":
                check(sig_file(sig.algorithm, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:]))
            case "prehashed-as-pure":
                check(sig_file(b"Ed", sig.key_id, sig.signature))
            case "mismatched-keyid":
                check(sig_file(sig.algorithm, bytes(8), sig.signature))
            case "unknown-algorithm":
                check(sig_file(b"EX", sig.key_id, sig.signature))
            case "key-algorithm":
                check(made.prehashed, MinisignPublicKey(b"ED", key.key_id, key.public_key))
            case "non-minisign-key":
                check(made.prehashed, SSHPublicKey.from_bytes(
                    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIXffBYeYL+WVzVru8npl5JHt2cjlr4ornFTWzoij9sx"))
            case "truncated-signature":
                line = base64.b64encode(sig.algorithm + sig.key_id + sig.signature[:-1])
                check(b"untrusted comment:\n" + line)
            case "truncated-file":
                check(made.prehashed[:50])
            case "extra-line":
                check(made.prehashed + b"another line\n")
            case "bad-base64":
                check(b"untrusted comment:\nnot base64!")
            case "garbage":
                check(b"\x00\xff garbage")
            case "empty":
                check(b"")
            case "oversized":
                check(made.prehashed + b"\n" * MAX_INPUT_BYTES)
            case "empty-key":
                MinisignPublicKey.from_bytes(b"")
            case "short-key":
                MinisignPublicKey.from_bytes(base64.b64encode(b"Ed" + bytes(8) + bytes(31)))
            case "oversized-key":
                MinisignPublicKey.from_bytes(made.pub + b"\n" * MAX_INPUT_BYTES)
    assert str(e.value) == want_message


def test_key_cannot_verify_a_digest(tools: dict[str, Minisign]) -> None:
    key = MinisignPublicKey.from_bytes(tools["main"].pub)
    with pytest.raises(InvalidSignatureError,
                       match="^minisign signatures cannot be verified against "
                             "a precomputed digest$"):
        key.verify_digest(tools["main"].prehashed, hashlib.sha512(DATA).digest(), "sha512")


def test_formats_table_has_minisign() -> None:
    fmt = FORMATS["minisign"]
    assert (fmt.name, fmt.public_key, fmt.signature) == ("minisign", MinisignPublicKey, MinisignSignature)
